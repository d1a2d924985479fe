"""Prior distributions p_z(z) for the generator's input noise."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Noise:
    """Draws a (num, dim) noise batch. ``generator`` lets evaluation draw without touching training's RNG."""

    def sample(
        self,
        num: int,
        dim: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        raise NotImplementedError


class Uniform(Noise):
    """Uniform on [low, high]. The 2014 MNIST model used [-sqrt(3), sqrt(3)] (zero mean, unit variance)."""

    def __init__(self, low: float = -math.sqrt(3.0), high: float = math.sqrt(3.0)) -> None:
        if not high > low:
            from gan_module.errors import ConfigError

            raise ConfigError(f"Uniform noise needs low < high, got low={low}, high={high}.")
        self.low, self.high = low, high

    def sample(self, num, dim, device="cpu", generator=None) -> Tensor:
        u = torch.rand(num, dim, device=device, generator=generator)
        return self.low + (self.high - self.low) * u

    def __repr__(self) -> str:
        return f"Uniform(low={self.low:.4g}, high={self.high:.4g})"


class Gaussian(Noise):
    """Standard normal, the usual choice since DCGAN."""

    def __init__(self, std: float = 1.0) -> None:
        self.std = std

    def sample(self, num, dim, device="cpu", generator=None) -> Tensor:
        return self.std * torch.randn(num, dim, device=device, generator=generator)

    def __repr__(self) -> str:
        return f"Gaussian(std={self.std})"
