"""The Wasserstein GAN's critic and generator objectives (Lipschitz regularisers live elsewhere)."""

from __future__ import annotations

from torch import Tensor

from gan_module.losses.base import Critique, GANLoss


class WassersteinLoss(GANLoss):
    """WGAN, Arjovsky et al. (2017), equation 3 and Algorithm 1.

    Critic: ``min E D(G(z)) - E D(x)`` (the negated Kantorovich-Rubinstein estimate of W1); G: ``min -E D(G(z))``.
    The critic must be kept Lipschitz (weight clipping or a gradient penalty), which this loss does not do.
    """

    probabilistic = False

    def discriminator_loss(self, critique: Critique) -> Tensor:
        return critique.fake_logits.mean() - critique.real_logits.mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return -critique.fake_logits.mean()
