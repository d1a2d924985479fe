"""2-D Gaussian mixtures, the mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

Settings as in PacGAN's released configs (``synthetic_data_experiments/2D{Ring,Grid}_GAN&PacGAN/config.py``), which
follow VEEGAN: the ring is 8 Gaussians with means (cos 2πi/8, sin 2πi/8), i = 0..7, and std 0.01; the grid is 25
Gaussians with means (-4 + 2i, -4 + 2j), i, j = 0..4, and std 0.05; equal weights; 100,000 training points. A
sample is "high quality" within 3 std of its nearest mean, and a mode is covered when it is the nearest mean of a
high-quality sample (VEEGAN's metrics, hence ``centers`` and ``std`` on the instance). The Unrolled GAN paper's
ring (Metz et al. 2017) is ``radius: 2, std: 0.02``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from datamodules.base import ImageArrays, ImageDataModule
from gan_module.errors import ConfigError


class GaussianMixtureDataModule(ImageDataModule):
    """Float32 points (N, 2) from an equal-weight mixture of isotropic Gaussians at ``centers``, each with
    per-axis standard deviation ``std``; a point's label is the index of its component.

    ``num_train + val_size + test_size`` points are drawn once, from ``seed`` with their own generator, and cut
    ``[train | val | test]``. Points are never rescaled, so ``value_range`` is unused. ``centers`` (K, 2) and
    ``std`` stay on the instance for measuring mode coverage; ``num_classes`` is K.

    Args:
        centers: the K component means.
        std: the standard deviation of every component, per axis.
        num_train: training points.
        val_size: validation points.
        test_size: test points.
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, seed, ...).
    """

    image_shape = (2,)

    def __init__(
        self,
        centers: Sequence[Sequence[float]],
        std: float,
        num_train: int = 100_000,
        val_size: int = 10_000,
        test_size: int = 10_000,
        **kwargs,
    ) -> None:
        super().__init__(val_size=val_size, test_size=test_size, **kwargs)
        self.centers = _as_centers(centers)
        if std <= 0 or num_train < 1:
            raise ConfigError(f"data.std must be > 0 and data.num_train >= 1, got {std} and {num_train}.")
        self.std, self.num_train = float(std), num_train
        self.num_classes = len(self.centers)

    def load(self) -> ImageArrays:
        return ImageArrays(*self.sample(self.num_train + self.val_size + self.test_size))

    def sample(self, num: int) -> tuple[Tensor, Tensor]:
        """``num`` points and their component indices, the same for the same ``seed``."""
        g = torch.Generator().manual_seed(self.seed)  # its own generator: training's global RNG stays untouched
        labels = torch.randint(len(self.centers), (num,), generator=g)
        points = self.centers[labels] + self.std * torch.randn(num, 2, generator=g)
        return points, labels


def _as_centers(centers: Sequence[Sequence[float]]) -> Tensor:
    """The means as a float32 (K, 2) tensor; :class:`ConfigError` for anything else."""
    try:
        tensor = torch.tensor(centers, dtype=torch.float32)
    except (TypeError, ValueError):  # ragged or not numbers
        tensor = torch.empty(0)
    if tensor.ndim != 2 or tensor.shape[1] != 2 or len(tensor) == 0:
        raise ConfigError(f"data.centers must be a non-empty list of [x, y] pairs, got {centers}.")
    return tensor


class RingMixtureDataModule(GaussianMixtureDataModule):
    """8 Gaussians evenly spaced on a circle: means (radius cos 2πi/8, radius sin 2πi/8), i = 0..7.

    Args:
        radius: the circle's radius (VEEGAN / PacGAN: 1).
        std: per-axis standard deviation of each Gaussian (VEEGAN / PacGAN: 0.01).
        **kwargs: as for :class:`GaussianMixtureDataModule` (num_train, val_size, batch_size, seed, ...).
    """

    def __init__(self, radius: float = 1.0, std: float = 0.01, **kwargs) -> None:
        angles = [2 * math.pi * i / 8 for i in range(8)]
        super().__init__(centers=[[radius * math.cos(a), radius * math.sin(a)] for a in angles], std=std, **kwargs)


class GridMixtureDataModule(GaussianMixtureDataModule):
    """25 Gaussians on a 5x5 grid centred on the origin: means (spacing (i - 2), spacing (j - 2)), i, j = 0..4,
    component 5i + j.

    Args:
        spacing: the distance between neighbouring means (VEEGAN / PacGAN: 2, means -4..4).
        std: per-axis standard deviation of each Gaussian (VEEGAN / PacGAN: 0.05).
        **kwargs: as for :class:`GaussianMixtureDataModule` (num_train, val_size, batch_size, seed, ...).
    """

    def __init__(self, spacing: float = 2.0, std: float = 0.05, **kwargs) -> None:
        grid = itertools.product(range(-2, 3), repeat=2)
        super().__init__(centers=[[spacing * i, spacing * j] for i, j in grid], std=std, **kwargs)
