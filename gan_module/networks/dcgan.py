"""DCGAN (Radford et al. 2016): transposed-convolution generator and strided-convolution discriminator.

The number of 2x up/down-sampling stages is derived from the image size: halve while the size is even and
the result at least 4. 28 -> 14 -> 7 (2 stages from 7x7), 32 -> 16 -> 8 -> 4 (3 stages from 4x4),
48 -> 24 -> 12 -> 6 (3 stages from 6x6). Channels double at each stage towards the small end.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from gan_module.errors import ConfigError
from gan_module.networks.layers import OUTPUT_RANGES, output_activation


def stages_for(size: int) -> tuple[int, int]:
    """(number of 2x stages, smallest feature-map size) for a square image of side ``size``."""
    stages = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        stages += 1
    if stages == 0:
        raise ConfigError(f"DCGAN networks need an image side divisible by 2 at least once (>= 8), got {size}.")
    return stages, size


def _square(image_shape: Sequence[int]) -> tuple[int, int]:
    channels, height, width = image_shape
    if height != width:
        raise ConfigError(f"DCGAN networks need square images, got {height}x{width}.")
    return channels, height


class DCGANGenerator(nn.Module):
    """z -> linear to (C_max, s, s) -> [ConvTranspose 4x4 stride 2 -> BN -> ReLU] x stages -> conv 3x3 -> output.

    ``base_channels`` is the width of the last stage; earlier stages double it.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        base_channels: int = 64,
        batch_norm: bool = True,
        output: str = "tanh",
    ) -> None:
        super().__init__()
        channels, size = _square(image_shape)
        stages, self.start = stages_for(size)
        self.image_shape, self.latent_dim = tuple(image_shape), latent_dim
        self.output_range = OUTPUT_RANGES.get(output)
        widths = [base_channels * 2 ** (stages - i) for i in range(stages + 1)]  # e.g. 256, 128, 64
        self.project = nn.Linear(latent_dim, widths[0] * self.start**2)
        self.first = nn.Sequential(nn.BatchNorm2d(widths[0]) if batch_norm else nn.Identity(), nn.ReLU())
        blocks: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(widths):
            blocks += [nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1)]
            blocks += [nn.BatchNorm2d(w_out) if batch_norm else nn.Identity(), nn.ReLU()]
        blocks += [nn.Conv2d(widths[-1], channels, 3, padding=1), output_activation(output)]
        self.blocks = nn.Sequential(*blocks)
        self.widths = widths

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], self.widths[0], self.start, self.start)
        return self.blocks(self.first(h))


class DCGANDiscriminator(nn.Module):
    """x -> [Conv 4x4 stride 2 -> (BN) -> LeakyReLU 0.2] x stages -> linear to one raw output.

    DCGAN put batch norm in every D layer but the first; ``batch_norm: false`` removes it (as SNGAN does and
    as the selection study compares).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        base_channels: int = 64,
        batch_norm: bool = True,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        channels, size = _square(image_shape)
        stages, end = stages_for(size)
        layers: list[nn.Module] = []
        width_in = channels
        for i in range(stages):
            width = base_channels * 2**i
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1)]
            layers += [nn.BatchNorm2d(width)] if batch_norm and i > 0 else []
            layers += [nn.LeakyReLU(negative_slope)]
            width_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width_in * end * end, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)
