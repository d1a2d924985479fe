"""The contract every generator and discriminator keeps, in code (gan_module/networks/__init__.py says it in prose).

Subclasses call ``super().__init__(image_shape, num_classes, conditional, ...)`` first and build their layers
after; the module, the callbacks and the set-up checks rely only on what these bases set. A generator of your
own need not derive from them (any ``nn.Module`` with ``latent_dim`` works, setup_checks.py), but then it keeps the
contract by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from gan_module.networks.conditioning import conditioning_classes
from gan_module.networks.layers import OUTPUT_RANGES


class Network(nn.Module):
    """What both players have: the data's shape and the number of classes they are conditioned on (0: none)."""

    def __init__(self, image_shape: Sequence[int], num_classes: int, conditional: bool) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = conditioning_classes(type(self).__name__, num_classes, conditional)


class Generator(Network):
    """Maps noise (N, latent_dim) [and int64 labels (N,)] to samples (N, *image_shape) in ``output_range``."""

    def __init__(
        self, image_shape: Sequence[int], num_classes: int, conditional: bool, latent_dim: int, output: str
    ) -> None:
        super().__init__(image_shape, num_classes, conditional)
        self.latent_dim = latent_dim
        #: the interval the last activation maps to; None for a linear output (checked against the data's range;
        #: an unknown ``output`` is the subclass's layers.output_activation error)
        self.output_range = OUTPUT_RANGES.get(output)


class Discriminator(Network):
    """Maps samples (N, *image_shape) [and labels] to raw outputs (N,): logits or critic values, no sigmoid."""
