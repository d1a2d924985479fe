"""A grid of samples from the same fixed noise every few epochs, so a run's progress can be watched."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import torch
import torchvision
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from callbacks.images import log_image, scatter_image
from gan_module.errors import ConfigError

#: the most training images searched for a grid's neighbours when the split is read from files
NEIGHBOURS_POOL = 10_000
#: bytes of float32 images a neighbour search holds at once, besides the samples and the pool
BLOCK_BYTES = 64 * 2**20


class SampleGrid(L.Callback):
    """Samples G on fixed noise (drawn once from ``seed``) and logs them as one grid image.

    The noise is the same in every epoch and after a resume, so successive grids show how each sample evolves.
    A conditional model gets one row per class (row r shows class r mod num_classes). Samples of 2-D data
    (the Gaussian mixtures) are drawn as a scatter plot over the training points instead of a grid.

    With ``nearest_neighbours``, each sample is followed by its nearest training image (Euclidean distance in
    pixel space), as in Figure 2 of Goodfellow et al. (2014): a model that copies its training set shows
    identical pairs. A training split held in memory is searched whole, in blocks; one read from files (a folder,
    a stream) is searched in at most ``neighbours_pool`` of its images, drawn with a fixed seed, decoded once and
    kept as uint8 for the run (pool x C x H x W bytes: 10,000 RGB images of 64x64 are 117 MiB), said in one line;
    null searches every image, read in batches at every grid (memory of a few batches, a pass over the files
    each time).

    Args:
        num_samples: images in the grid (points in the scatter plot).
        nrow: images per row.
        every_n_epochs: log after every n-th epoch; 0 turns the grid off.
        at_start: also log the untrained generator's samples when fitting starts.
        at_end: also log the final samples when fitting ends (unless the last epoch just did), e.g. when an
            iteration budget stops training between two grids; the selection study turns it on.
        seed: seed of the fixed noise.
        nearest_neighbours: put each sample's nearest training image beside it (pairs, 2 x nrow columns).
        neighbours_pool: the most training images searched for neighbours when the split is read from files.
    """

    def __init__(
        self,
        num_samples: int = 100,
        nrow: int = 10,
        every_n_epochs: int = 1,
        at_start: bool = True,
        seed: int = 1234,
        nearest_neighbours: bool = False,
        at_end: bool = False,
        neighbours_pool: int | None = NEIGHBOURS_POOL,
    ) -> None:
        if neighbours_pool is not None and neighbours_pool < 1:
            raise ConfigError(f"sample_grid.neighbours_pool must be >= 1 or null (all), got {neighbours_pool}.")
        self.num_samples, self.nrow, self.every_n_epochs = num_samples, nrow, every_n_epochs
        self.at_start, self.seed, self.nearest_neighbours = at_start, seed, nearest_neighbours
        self.at_end, self.neighbours_pool = at_end, neighbours_pool
        self._logged_iteration: int | None = None
        self._pool: Tensor | None = None  # the sampled training images searched for neighbours, drawn once

    def fixed_noise(self, pl_module) -> Tensor:
        return pl_module.sample_noise(self.num_samples, torch.Generator().manual_seed(self.seed))

    def fixed_labels(self, pl_module) -> Tensor | None:
        """Row r of the grid asks for class r (mod the number of classes); ``None`` when unconditional."""
        if not getattr(pl_module, "num_classes", 0):
            return None
        rows = torch.arange(self.num_samples) // self.nrow
        return (rows % pl_module.num_classes).to(pl_module.device)

    def render(self, trainer: L.Trainer, pl_module) -> Tensor:
        """The picture to log, (3, H, W) in [0, 1]."""
        samples = pl_module.generate(self.fixed_noise(pl_module), self.fixed_labels(pl_module)).float().cpu()
        datamodule = trainer.datamodule
        if samples.dim() == 2:  # points, not images
            reference = datamodule.split_images("train")[:5000] if datamodule is not None else None
            return scatter_image(samples, reference, getattr(datamodule, "centers", None))
        nrow = self.nrow
        if self.nearest_neighbours and datamodule is not None:
            neighbours = self.neighbours(samples, datamodule)
            samples = torch.stack([samples, neighbours], dim=1).flatten(0, 1)  # s1, nn1, s2, nn2, ...
            nrow = 2 * self.nrow
        images = datamodule.to_unit_interval(samples) if datamodule is not None else samples
        return torchvision.utils.make_grid(images, nrow=nrow, padding=2, pad_value=1.0)

    def neighbours(self, samples: Tensor, datamodule) -> Tensor:
        """Each sample's nearest training image: searched in the split itself when it is in memory (or when the
        pool is null: read in batches at every grid), else in the pool, drawn, decoded and announced once."""
        datamodule.setup()
        if datamodule.in_memory("train") or self.neighbours_pool is None:
            return nearest_training_images(samples, datamodule)
        if self._pool is None:
            total, count = len(datamodule.reader("train")), datamodule.sample_size("train", self.neighbours_pool)
            self._pool = datamodule.split_sample("train", self.neighbours_pool)[0]
            among = f"all {total:,}" if count == total else f"{count:,} of the {total:,}"
            rank_zero_info(
                f"sample grid: nearest neighbours among {among} training images (decoded once for the run, "
                f"{self._pool.nbytes / 2**20:.0f} MiB; sample_grid.neighbours_pool sets how many)"
            )
        return nearest_images(samples, self._pool.split(block_size(self._pool)), datamodule.scale)

    def log_grid(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        log_image(trainer, "samples", self.render(trainer, pl_module), pl_module.iterations)
        self._logged_iteration = pl_module.iterations

    def on_train_start(self, trainer, pl_module) -> None:
        if self.every_n_epochs and self.at_start and pl_module.iterations == 0:
            self.log_grid(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_grid(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and self.at_end and self._logged_iteration != pl_module.iterations:
            self.log_grid(trainer, pl_module)


def block_size(images: Tensor) -> int:
    """Images per block of a neighbour search: about ``BLOCK_BYTES`` once scaled to float32."""
    return max(1, BLOCK_BYTES // (4 * max(1, images[0].numel() if len(images) else 1)))


@torch.no_grad()
def nearest_training_images(samples: Tensor, datamodule, chunk: int | None = None) -> Tensor:
    """For each sample, the training image closest in Euclidean distance, in the data's value range.

    The training split is read in chunks of ``chunk`` images (default: about ``BLOCK_BYTES`` of floats) through
    :meth:`~datamodules.base.ImageDataModule.split_batches`, scaled as it goes, so neither CIFAR-10's 45,000
    images as floats nor a folder's files are ever all in memory.
    """
    chunk = chunk or block_size(samples)
    return nearest_images(samples, (x for x, _ in datamodule.split_batches("train", chunk)), datamodule.scale)


@torch.no_grad()
def nearest_images(samples: Tensor, blocks: Iterable[Tensor], scale: Callable[[Tensor], Tensor]) -> Tensor:
    """For each sample, the closest image among ``blocks`` (raw images, read one block at a time), scaled: only
    the best image so far is kept per sample, so memory is one block and the samples' own size."""
    flat = samples.flatten(1).float()
    best_distance = torch.full((len(samples),), float("inf"))
    best = torch.zeros_like(samples, dtype=torch.float32)
    for block in blocks:
        scaled = scale(block).float()
        distance, index = torch.cdist(flat, scaled.flatten(1)).min(dim=1)
        closer = distance < best_distance
        best_distance[closer], best[closer] = distance[closer], scaled[index[closer]]
    return best
