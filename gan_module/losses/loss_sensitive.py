"""Loss-Sensitive GAN: Qi (2017), "Loss-Sensitive Generative Adversarial Networks on Lipschitz Densities",
arXiv 1701.06264."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.losses.base import Critique, GANLoss

DISTANCES = ("l1", "l2")


class LossSensitiveLoss(GANLoss):
    """LS-GAN (Qi 2017, the paper's objectives S for L and T for G): D's raw output is a loss L(x), low on real data.

    D: ``min E L(x_r) + lam * E relu(Delta(x_r, x_f) + L(x_r) - L(x_f))``, real and fake paired by index, so
    a fake must score at least the margin Delta above its real partner; G: ``min E L(x_f)``. Delta is per
    sample: ``"l1"`` the mean absolute difference over all pixels (the L1 distance normalised per pixel, as
    in the paper's code), ``"l2"`` the mean squared difference. The Lipschitz condition on L is a regularizer
    beside the loss (gan_module.regularizers.LipschitzPenalty; configs/losses/loss_sensitive.yaml adds it).
    """

    probabilistic = False

    def __init__(self, lam: float = 1.0, distance: str = "l1") -> None:
        if distance not in DISTANCES:
            raise ConfigError(f"Unknown loss-sensitive distance {distance!r}: choose one of {list(DISTANCES)}.")
        if not lam >= 0:  # also rejects nan
            raise ConfigError(f"LossSensitiveLoss needs lam >= 0, got {lam!r}.")
        self.lam, self.distance = lam, distance

    def margin(self, real: Tensor, fake: Tensor) -> Tensor:
        """Delta(x_r, x_f), shape (N,)."""
        diff = (real - fake).flatten(1)
        return diff.abs().mean(1) if self.distance == "l1" else diff.pow(2).mean(1)

    def discriminator_loss(self, critique: Critique) -> Tensor:
        if critique.real is None or critique.fake is None:
            raise ValueError("LossSensitiveLoss needs the samples critique.real and critique.fake.")
        loss_real, loss_fake = critique.real_logits, critique.fake_logits
        delta = self.margin(critique.real, critique.fake).to(loss_real.dtype)
        return loss_real.mean() + self.lam * F.relu(delta + loss_real - loss_fake).mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return critique.fake_logits.mean()

    def __repr__(self) -> str:
        return f"LossSensitiveLoss(lam={self.lam}, distance={self.distance!r})"
