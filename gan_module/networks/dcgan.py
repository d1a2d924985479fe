"""DCGAN (Radford et al. 2016): transposed-convolution generator and strided-convolution discriminator.

The number of 2x up/down-sampling stages is derived from the image size: halve while the size is even and
the result at least 4. 28 -> 14 -> 7 (2 stages from 7x7), 32 -> 16 -> 8 -> 4 (3 stages from 4x4),
48 -> 24 -> 12 -> 6 (3 stages from 6x6), 64 -> 4x4 in 4 stages (DCGAN's own 64x64 networks: G from 1024
channels), 128 -> 4x4 in 5. Channels double at each stage towards the small end, up to ``max_channels`` (1024:
only 128x128 and larger images with ``base_channels: 64`` reach it; G would otherwise start at 2048 channels and
48M parameters; 30M capped).

Conditional versions (``conditional: true``): G replaces each batch norm by class-conditional batch norm
(Miyato & Koyama 2018), or without batch norm concatenates a label embedding to z (Mirza & Osindero 2014); D adds
the projection term ``<embed(y), h>`` on its flattened features h.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from jsonargparse.typing import PositiveInt
from torch import Tensor, nn

from gan_module.networks.base import Discriminator, Generator
from gan_module.networks.conditioning import (
    ConditionalBatchNorm,
    ConditionalSequential,
    LabelEmbedding,
    Projection,
    projected,
    require_labels,
)
from gan_module.networks.layers import BinomialBlur, output_activation, square_image, stages_for


class DCGANGenerator(Generator):
    """z -> linear to (C_max, s, s) -> [ConvTranspose 4x4 stride 2 -> BN -> ReLU] x stages -> conv 3x3 -> output.

    ``base_channels`` is the width of the last stage; earlier stages double it. A conditional G uses
    class-conditional batch norm in place of every batch norm; with ``batch_norm: false`` it concatenates a label
    embedding to z instead (``embedding_dim``: ``None`` learns one of z's size, 0 uses one-hot labels).
    ``blur_output: true`` ends G with a fixed 3x3 binomial blur (layers.BinomialBlur): D judges, and a user gets,
    the smoothed samples. ``max_channels`` caps every width (see the module docstring).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        conditional: bool = False,
        latent_dim: PositiveInt = 100,
        base_channels: PositiveInt = 64,
        batch_norm: bool = True,
        output: str = "tanh",
        embedding_dim: int | None = None,
        blur_output: bool = False,
        max_channels: PositiveInt = 1024,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional, latent_dim, output)
        channels, size = square_image(image_shape)
        stages, self.start = stages_for(size)
        widths = [min(base_channels * 2 ** (stages - i), max_channels) for i in range(stages + 1)]  # e.g. 256, 128, 64
        concat = bool(self.num_classes) and not batch_norm
        embedding_size = latent_dim if embedding_dim is None else embedding_dim
        self.embedding = LabelEmbedding(self.num_classes, embedding_size) if concat else None

        def norm(width: int) -> nn.Module:
            if not batch_norm:
                return nn.Identity()
            return ConditionalBatchNorm(width, self.num_classes) if self.num_classes else nn.BatchNorm2d(width)

        extra = self.embedding.dim if self.embedding is not None else 0
        self.project = nn.Linear(latent_dim + extra, widths[0] * self.start**2)
        self.first = ConditionalSequential(norm(widths[0]), nn.ReLU())
        blocks: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(widths):
            blocks += [nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1)]
            blocks += [norm(w_out), nn.ReLU()]
        blocks += [nn.Conv2d(widths[-1], channels, 3, padding=1), output_activation(output)]
        blocks += [BinomialBlur(channels)] if blur_output else []
        self.blocks = ConditionalSequential(*blocks)
        self.widths = widths

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            y = require_labels(self, y, z.shape[0])
            if self.embedding is not None:
                z = torch.cat([z, self.embedding(y).to(z.dtype)], dim=1)
        else:
            y = None  # an unconditional G ignores labels
        h = self.project(z).view(z.shape[0], self.widths[0], self.start, self.start)
        return self.blocks(self.first(h, y), y)


class DCGANDiscriminator(Discriminator):
    """x -> [Conv 4x4 stride 2 -> (BN) -> LeakyReLU 0.2] x stages -> linear to one raw output.

    DCGAN put batch norm in every D layer but the first; ``batch_norm: false`` removes it (as SNGAN does and
    as the selection study compares). A conditional D adds ``<embed(y), h>`` on the flattened features h.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        conditional: bool = False,
        base_channels: PositiveInt = 64,
        batch_norm: bool = True,
        negative_slope: float = 0.2,
        max_channels: PositiveInt = 1024,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional)
        channels, size = square_image(image_shape)
        stages, end = stages_for(size)
        layers: list[nn.Module] = []
        width_in = channels
        for i in range(stages):
            width = min(base_channels * 2**i, max_channels)
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1)]
            layers += [nn.BatchNorm2d(width)] if batch_norm and i > 0 else []
            layers += [nn.LeakyReLU(negative_slope)]
            width_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width_in * end * end, 1)
        self.projection = Projection(self.num_classes, width_in * end * end) if self.num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.features(x).flatten(1)
        return projected(self, self.head(h).squeeze(1), h, y)
