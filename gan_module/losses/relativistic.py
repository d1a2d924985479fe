"""Relativistic losses, Jolicoeur-Martineau (2018), "The relativistic discriminator", arXiv 1807.00734.

D's raw output C(x) is a critic score; the losses compare scores of real and fake data, so the generator
term reads C on real data too (``generator_needs_real``). The formulas are the paper's; the author's released
code halves the relativistic average losses, which only rescales the learning rate.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gan_module.losses.base import Critique, GANLoss


class _Relativistic(GANLoss):
    generator_needs_real = True
    probabilistic = False  # only differences of outputs are logits, not the outputs themselves

    def _loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """D's loss for outputs ``real``/``fake``; G's is the same with the roles swapped."""
        raise NotImplementedError

    def discriminator_loss(self, critique: Critique) -> Tensor:
        return self._loss(critique.real_logits, critique.fake_logits)

    def generator_loss(self, critique: Critique) -> Tensor:
        return self._loss(critique.fake_logits, critique.real_logits)


class RelativisticLoss(_Relativistic):
    """RSGAN, the relativistic standard GAN: D ``min -E log sigmoid(C(x_r) - C(x_f))``; G: x_r, x_f swapped.

    Pairs are taken index by index, so real and fake batches must have the same size.
    """

    def _loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(fake - real).mean()


class RelativisticAverageLoss(_Relativistic):
    """RaSGAN (relativistic average standard GAN, Algorithm 2 of the paper).

    D: ``min -E log sigmoid(C(x_r) - E C(x_f)) - E log(1 - sigmoid(C(x_f) - E C(x_r)))``; G: roles swapped.
    """

    def _loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


class RelativisticAverageLSLoss(_Relativistic):
    """RaLSGAN: D ``min E (C(x_r) - E C(x_f) - 1)^2 + E (C(x_f) - E C(x_r) + 1)^2``; G: roles swapped."""

    def _loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return ((real - fake.mean() - 1) ** 2).mean() + ((fake - real.mean() + 1) ** 2).mean()


class RelativisticAverageHingeLoss(_Relativistic):
    """RaHingeGAN: D ``min E relu(1 - (C(x_r) - E C(x_f))) + E relu(1 + (C(x_f) - E C(x_r)))``.

    G: roles swapped.
    """

    def _loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - (real - fake.mean())).mean() + F.relu(1 + (fake - real.mean())).mean()
