"""Losses on one output per sample: the 2014 game, least squares and hinge."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gan_module.losses.base import Critique, GANLoss


class MinimaxLoss(GANLoss):
    """The saturating game of equation 1 in Goodfellow et al. (2014).

    D maximises ``log D(x) + log(1 - D(G(z)))``; G minimises ``log(1 - D(G(z)))``. With ``D = sigmoid(l)``:
    ``-log D(x) = softplus(-l_real)`` and ``log(1 - D(G(z))) = -softplus(l_fake)``. The G gradient vanishes
    when D confidently rejects samples (the reason the paper recommends the non-saturating loss).
    """

    def discriminator_loss(self, critique: Critique) -> Tensor:
        return F.softplus(-critique.real_logits).mean() + F.softplus(critique.fake_logits).mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return -F.softplus(critique.fake_logits).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Equation 1's discriminator with the generator maximising ``log D(G(z))`` (section 3 of the paper).

    Same fixed point as the minimax game, but strong gradients early in training. This is what the paper's
    released code trains with.
    """

    def generator_loss(self, critique: Critique) -> Tensor:
        return F.softplus(-critique.fake_logits).mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN, Mao et al. (2017), equation 2, on raw outputs (no sigmoid).

    D: ``min 0.5 E (D(x) - b)^2 + 0.5 E (D(G(z)) - a)^2``; G: ``min 0.5 E (D(G(z)) - c)^2``. The defaults
    a=0, b=c=1 are the paper's equation 9; a=-1, b=1, c=0 (equation 8) minimises the Pearson chi^2 divergence.
    """

    probabilistic = False

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        self.a, self.b, self.c = a, b, c

    def discriminator_loss(self, critique: Critique) -> Tensor:
        real, fake = critique.real_logits, critique.fake_logits
        return 0.5 * ((real - self.b) ** 2).mean() + 0.5 * ((fake - self.a) ** 2).mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return 0.5 * ((critique.fake_logits - self.c) ** 2).mean()

    def __repr__(self) -> str:
        return f"LeastSquaresLoss(a={self.a}, b={self.b}, c={self.c})"


class HingeLoss(GANLoss):
    """Hinge loss: Lim & Ye (2017), Geometric GAN; in the form of Miyato et al. (2018), "Spectral normalization".

    D: ``min E relu(1 - D(x)) + E relu(1 + D(G(z)))``; G: ``min -E D(G(z))``.
    """

    probabilistic = False

    def discriminator_loss(self, critique: Critique) -> Tensor:
        return F.relu(1 - critique.real_logits).mean() + F.relu(1 + critique.fake_logits).mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return -critique.fake_logits.mean()
