"""SNGAN-style ResNet generator and discriminator (Miyato et al. 2018, appendix B.4; Gulrajani et al. 2017's CIFAR
ResNet; the conditional versions of Miyato & Koyama 2018).

Generator: z -> linear to (channels, s, s) -> up-sampling residual blocks -> BN -> ReLU -> conv 3x3 -> tanh. Each
block: BN -> ReLU -> 2x nearest up-sampling -> conv 3x3 -> BN -> ReLU -> conv 3x3, plus a shortcut of 2x
up-sampling -> conv 1x1. The start size s and the number of blocks come from the image side like DCGAN's
(:func:`~gan_module.networks.layers.stages_for`): 32 -> 4x4 and 3 blocks (SNGAN's CIFAR-10 G), 28 -> 7x7 and 2,
48 -> 6x6 and 3, 64 -> 4x4 and 4, 128 -> 4x4 and 5 (a user's own images, datamodules/image_folder.py). A
conditional G uses class-conditional batch norm in every block.

Discriminator: an "optimized" first block (conv 3x3 -> ReLU -> conv 3x3 -> 2x2 average pooling; shortcut average
pooling -> conv 1x1), more down-sampling blocks (ReLU -> conv 3x3 -> ReLU -> conv 3x3 -> average pooling;
shortcut conv 1x1 -> average pooling), ``plain_blocks`` blocks without down-sampling (identity shortcut), then
ReLU, a global SUM pooling and a linear layer to one raw output. It halves the image one time fewer than G doubles
it, which at 32x32 is SNGAN's CIFAR-10 D (32 -> 16 -> 8: the optimized block, one down block, two plain blocks);
28 -> 14, 48 -> 24 -> 12, 64 -> 8x8, 128 -> 8x8. A conditional D adds the projection ``<embed(y), h>`` on the
pooled features h.

No batch norm in D and no spectral norm inside either class: the module adds spectral norm to every conv,
linear and embedding weight (the projection embedding included) with ``discriminator_spectral_norm: true``.
Initialisation as in the authors' code: Glorot-uniform weights, gain sqrt(2) on the convolutions of the residual
paths and 1 on the shortcuts, the first linear layer, the last conv and the last linear layer; zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from jsonargparse.typing import PositiveInt
from torch import Tensor, nn

from gan_module.errors import ConfigError
from gan_module.networks.base import Discriminator, Generator
from gan_module.networks.conditioning import (
    ConditionalBatchNorm,
    Projection,
    projected,
    require_labels,
)
from gan_module.networks.layers import square_image, stages_for


def _glorot(module: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Conv2d | nn.Linear:
    nn.init.xavier_uniform_(module.weight, gain)
    nn.init.zeros_(module.bias)
    return module


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return _glorot(nn.Conv2d(c_in, c_out, 3, padding=1), math.sqrt(2))


def _conv1x1(c_in: int, c_out: int) -> nn.Conv2d:
    return _glorot(nn.Conv2d(c_in, c_out, 1))


def _upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def _downsample(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 2)


class GeneratorBlock(nn.Module):
    """BN -> ReLU -> up x2 -> conv 3x3 -> BN -> ReLU -> conv 3x3, plus up x2 -> conv 1x1 (conditional BN if
    ``num_classes``)."""

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0) -> None:
        super().__init__()
        self.b1 = ConditionalBatchNorm(c_in, num_classes) if num_classes else nn.BatchNorm2d(c_in)
        self.c1 = _conv3x3(c_in, c_out)
        self.b2 = ConditionalBatchNorm(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out)
        self.c2 = _conv3x3(c_out, c_out)
        self.shortcut = _conv1x1(c_in, c_out)

    def _norm(self, norm: nn.Module, h: Tensor, y: Tensor | None) -> Tensor:
        return norm(h, y) if isinstance(norm, ConditionalBatchNorm) else norm(h)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.c1(_upsample(F.relu(self._norm(self.b1, x, y))))
        h = self.c2(F.relu(self._norm(self.b2, h, y)))
        return h + self.shortcut(_upsample(x))


class DiscriminatorBlock(nn.Module):
    """ReLU -> conv 3x3 -> ReLU -> conv 3x3 [-> avg pool], plus [conv 1x1 -> avg pool] or the identity."""

    def __init__(self, c_in: int, c_out: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.c1 = _conv3x3(c_in, c_in)
        self.c2 = _conv3x3(c_in, c_out)
        self.shortcut = _conv1x1(c_in, c_out) if downsample or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, skip = _downsample(h), _downsample(skip)
        return h + skip


class OptimizedDiscriminatorBlock(nn.Module):
    """D's first block (no ReLU on the image): conv 3x3 -> ReLU -> conv 3x3 -> avg pool, plus avg pool -> conv 1x1."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.c1 = _conv3x3(c_in, c_out)
        self.c2 = _conv3x3(c_out, c_out)
        self.shortcut = _conv1x1(c_in, c_out)

    def forward(self, x: Tensor) -> Tensor:
        return _downsample(self.c2(F.relu(self.c1(x)))) + self.shortcut(_downsample(x))


class ResNetGenerator(Generator):
    """SNGAN's ResNet generator (module docstring); ``channels`` is the width of every block (SNGAN: 256).

    The output is always tanh (data on [-1, 1]): there is no ``output`` argument, so a config that switches
    ``class_path`` from a sigmoid MLP generator cannot carry ``output: sigmoid`` over by accident.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (3, 32, 32),
        num_classes: int = 0,
        conditional: bool = False,
        latent_dim: PositiveInt = 128,
        channels: PositiveInt = 256,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional, latent_dim, output="tanh")
        image_channels, size = square_image(image_shape, "ResNet networks")
        stages, self.start = stages_for(size, "ResNet networks")
        self.channels = channels
        self.project = _glorot(nn.Linear(latent_dim, channels * self.start**2))
        self.blocks = nn.ModuleList(GeneratorBlock(channels, channels, self.num_classes) for _ in range(stages))
        self.final = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            _glorot(nn.Conv2d(channels, image_channels, 3, padding=1)),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        y = require_labels(self, y, z.shape[0]) if self.num_classes else None
        h = self.project(z).view(z.shape[0], self.channels, self.start, self.start)
        for block in self.blocks:
            h = block(h, y)
        return self.final(h)


class ResNetDiscriminator(Discriminator):
    """SNGAN's ResNet discriminator (module docstring); ``channels`` is the width of every block (SNGAN: 128).

    Args:
        downsamplings: how many blocks halve the image, the optimized first block included; ``None``: one fewer
            than the generator's up-sampling blocks for this image size (at least 1).
        plain_blocks: the blocks after them that keep the size (SNGAN: 2).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (3, 32, 32),
        num_classes: int = 0,
        conditional: bool = False,
        channels: PositiveInt = 128,
        downsamplings: int | None = None,
        plain_blocks: int = 2,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional)
        image_channels, size = square_image(image_shape, "ResNet networks")
        if downsamplings is None:
            downsamplings = max(1, stages_for(size, "ResNet networks")[0] - 1)
        if downsamplings < 1 or size % 2**downsamplings != 0:
            raise ConfigError(
                f"ResNetDiscriminator: downsamplings must be >= 1 and halve the image side {size} exactly each "
                f"time, got {downsamplings}."
            )
        if plain_blocks < 0:
            raise ConfigError(f"ResNetDiscriminator: plain_blocks must be >= 0, got {plain_blocks}.")
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(image_channels, channels)]
        blocks += [DiscriminatorBlock(channels, channels, downsample=True) for _ in range(downsamplings - 1)]
        blocks += [DiscriminatorBlock(channels, channels, downsample=False) for _ in range(plain_blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.head = _glorot(nn.Linear(channels, 1))
        self.projection = Projection(self.num_classes, channels) if self.num_classes else None

    def features(self, x: Tensor) -> Tensor:
        """h: ReLU of the last block's output, summed over all positions (N, channels)."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.features(x)
        return projected(self, self.head(h).squeeze(1), h, y)
