"""Building blocks shared by several architectures."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: the interval each supported output activation maps to
OUTPUT_RANGES: dict[str, tuple[float, float]] = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def output_activation(name: str) -> nn.Module:
    """The generator's last activation, by name; it fixes the range the data must be scaled to."""
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    from gan_module.errors import ConfigError

    raise ConfigError(f"Unknown output activation {name!r}: choose one of {sorted(OUTPUT_RANGES)}.")


class Maxout(nn.Module):
    """Maxout unit layer (Goodfellow et al. 2013): ``h_i = max_j (W x + b)_{i,j}`` over ``pieces`` pieces."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


def init_uniform_(module: nn.Module, init_range: float | None) -> None:
    """Pylearn2's ``irange`` initialisation: weights ~ U(-r, r), biases 0. ``None`` keeps PyTorch's default."""
    if init_range is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.uniform_(m.weight, -init_range, init_range)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def num_pixels(image_shape: tuple[int, int, int] | list[int]) -> int:
    return math.prod(image_shape)


def flatten(x: Tensor) -> Tensor:
    return torch.flatten(x, start_dim=1)
