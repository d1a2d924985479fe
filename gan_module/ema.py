"""An exponential moving average of G's weights, kept beside G and used for every sample a user sees.

Averaging the generator's iterates (Yazici et al. 2019, "The unusual effectiveness of averaging in GAN
training"; Karras et al. 2018-2020, ProGAN / StyleGAN2-ADA's ``G_ema``) damps the rotation of the two players
around an equilibrium: the average sits nearer its centre than any single iterate.
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
from torch import Tensor, nn

from gan_module.errors import ConfigError

#: the batch-norm buffers that describe G's activations; every other buffer (a spectral-norm power-iteration
#: vector, a batch counter) is copied, since an average of unit vectors or of counters means nothing
_STATISTICS = ("running_mean", "running_var")


class ExponentialMovingAverage(nn.Module):
    """``average <- decay * average + (1 - decay) * G`` after every generator step.

    Args:
        decay: the weight of the old average per G step (0.999: a half-life of 693 steps).
        rampup_kimg: if set, the half-life grows linearly from 0 to its full length over the first
            ``rampup_kimg`` thousand real images (StyleGAN2-ADA's ``ema_rampup``, in kimg): early weights,
            far from anything useful, are forgotten quickly.
        batch_norm: ``average`` keeps a moving average of the batch-norm running statistics too, so the averaged
            weights are normalised by statistics of the same age; ``copy`` takes G's own (StyleGAN2-ADA).
    """

    def __init__(
        self,
        decay: float = 0.999,
        rampup_kimg: float | None = None,
        batch_norm: Literal["average", "copy"] = "average",
    ) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"model.ema.decay must be in [0, 1), got {decay}.")
        if rampup_kimg is not None and rampup_kimg <= 0:
            raise ConfigError(f"model.ema.rampup_kimg must be > 0 (or null for none), got {rampup_kimg}.")
        if batch_norm not in ("average", "copy"):
            raise ConfigError(f"model.ema.batch_norm must be average or copy, got {batch_norm!r}.")
        self.decay, self.rampup_kimg, self.batch_norm = decay, rampup_kimg, batch_norm
        self.average: nn.Module | None = None

    def attach(self, generator: nn.Module) -> None:
        """Start the average at G's current weights (a frozen copy: no gradient, no optimizer)."""
        self.average = copy.deepcopy(generator).requires_grad_(False)

    def decay_at(self, kimg: float) -> float:
        """The decay of the step taken after ``kimg`` thousand real images."""
        if self.rampup_kimg is None or kimg >= self.rampup_kimg:
            return self.decay
        if kimg <= 0:
            return 0.0
        # half-life h steps: decay**h = 1/2; a fraction f of it: decay**(1/f) per step
        return math.exp(math.log(self.decay) * self.rampup_kimg / kimg) if self.decay > 0 else 0.0

    @torch.no_grad()
    def update(self, generator: nn.Module, kimg: float) -> None:
        """One step of the average towards G's weights, after a G step at ``kimg`` thousand real images."""
        if self.average is None:
            raise RuntimeError("ExponentialMovingAverage.update before attach(generator).")
        weight = 1.0 - self.decay_at(kimg)
        averaged, current = _detached(self.average.parameters()), _detached(generator.parameters())
        copied, sources = [], []
        for (name, mine), theirs in zip(self.average.named_buffers(), generator.buffers(), strict=True):
            if self.batch_norm == "average" and name.endswith(_STATISTICS) and mine.is_floating_point():
                averaged.append(mine)
                current.append(theirs)
            else:
                copied.append(mine)
                sources.append(theirs)
        if averaged:
            torch._foreach_lerp_(averaged, current, weight)
        if copied:
            torch._foreach_copy_(copied, sources)

    def extra_repr(self) -> str:
        return f"decay={self.decay}, rampup_kimg={self.rampup_kimg}, batch_norm={self.batch_norm}"


def _detached(tensors) -> list[Tensor]:
    return [t.detach() for t in tensors]
