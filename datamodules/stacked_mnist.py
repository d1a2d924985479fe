"""Stacked-MNIST (Metz et al. 2017; VEEGAN and PacGAN Table 2): three MNIST digits drawn independently and stacked
as the colour channels of one 28x28 image, so the data has 1,000 modes (the three digits' classes)."""

from __future__ import annotations

import torch
from torch import Tensor

from datamodules.base import ImageArrays
from datamodules.mnist import MNISTDataModule
from gan_module.errors import ConfigError


def stack_digits(images: Tensor, labels: Tensor, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``count`` stacks of three digits drawn independently (with replacement) from ``images`` (N, 1, 28, 28):
    images (count, 3, 28, 28) and their mode, ``100 * first + 10 * second + third`` digit class."""
    picks = torch.randint(len(images), (count, 3), generator=generator)
    stacked = images[picks.flatten()].view(count, 3, *images.shape[2:])
    digits = labels[picks]
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


class StackedMNISTDataModule(MNISTDataModule):
    """Stacked-MNIST from the official MNIST files (:class:`MNISTDataModule`'s folder layouts and checksums).

    The training stacks are drawn from the first 50,000 training digits, the validation stacks from the last
    ``val_size`` (the 2014 split, so no digit is in both), and the test stacks from the official test digits.
    Labels are the modes (0-999). Its mode metric is ``stacked_modes`` (gan_module/metrics/coverage.py), which
    classifies each channel with the digit classifier of :meth:`digits`.

    Args:
        root: the folder that holds the MNIST files (``MNIST/raw/`` or the four files themselves).
        num_train: training stacks (VEEGAN and PacGAN draw 128,000; fewer save memory: 300 MB at 128,000).
        num_test: test stacks.
        stack_seed: seed of the draws (the same data for every run of a comparison).
        **kwargs: :class:`MNISTDataModule`'s and the shared options (batch_size, val_size, value_range, ...).
    """

    image_shape = (3, 28, 28)
    num_classes = 1000

    def __init__(
        self, root: str = "data", num_train: int = 128_000, num_test: int = 10_000, stack_seed: int = 0, **kwargs
    ) -> None:
        super().__init__(root=root, **kwargs)
        if num_train < 1 or num_test < 1:
            raise ConfigError(f"data.num_train and data.num_test must be >= 1, got {num_train} and {num_test}.")
        self.num_train, self.num_test, self.stack_seed = num_train, num_test, stack_seed

    def digits(self) -> MNISTDataModule:
        """The single MNIST digits at this module's scale: what the mode metric's digit classifier learns."""
        return MNISTDataModule(root=str(self.root), val_size=self.val_size, value_range=self.value_range)

    def load(self) -> ImageArrays:
        digits = super().load()
        x, y = digits.images, digits.labels
        if not 0 < self.val_size < len(x):
            raise ConfigError(f"data.val_size must be in 1..{len(x) - 1} for Stacked-MNIST, got {self.val_size}.")
        cut = len(x) - self.val_size
        generator = torch.Generator().manual_seed(self.stack_seed)
        train = stack_digits(x[:cut], y[:cut], self.num_train, generator)
        val = stack_digits(x[cut:], y[cut:], self.val_size, generator)
        test = stack_digits(digits.test_images, digits.test_labels, self.num_test, generator)
        return ImageArrays(*train, *test, *val)
