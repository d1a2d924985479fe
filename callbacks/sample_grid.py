"""A grid of samples from the same fixed noise every few epochs, so a run's progress can be watched."""

from __future__ import annotations

import lightning as L
import torch
import torchvision
from torch import Tensor

from callbacks.images import log_image, scatter_image


class SampleGrid(L.Callback):
    """Samples G on fixed noise (drawn once from ``seed``) and logs them as one grid image.

    The noise is the same in every epoch and after a resume, so successive grids show how each sample evolves.
    A conditional model gets one row per class (row r shows class r mod num_classes). Samples of 2-D data
    (the Gaussian mixtures) are drawn as a scatter plot over the training points instead of a grid.

    With ``nearest_neighbours``, each sample is followed by its nearest training image (Euclidean distance in
    pixel space), as in Figure 2 of Goodfellow et al. (2014): a model that copies its training set shows
    identical pairs.

    Args:
        num_samples: images in the grid (points in the scatter plot).
        nrow: images per row.
        every_n_epochs: log after every n-th epoch; 0 turns the grid off.
        at_start: also log the untrained generator's samples when fitting starts.
        at_end: also log the final samples when fitting ends (unless the last epoch just did), e.g. when an
            iteration budget stops training between two grids; the selection study turns it on.
        seed: seed of the fixed noise.
        nearest_neighbours: put each sample's nearest training image beside it (pairs, 2 x nrow columns).
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
    ) -> None:
        self.num_samples, self.nrow, self.every_n_epochs = num_samples, nrow, every_n_epochs
        self.at_start, self.seed, self.nearest_neighbours = at_start, seed, nearest_neighbours
        self.at_end = at_end
        self._logged_iteration: int | None = None

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
            neighbours = nearest_training_images(samples, datamodule)
            samples = torch.stack([samples, neighbours], dim=1).flatten(0, 1)  # s1, nn1, s2, nn2, ...
            nrow = 2 * self.nrow
        images = datamodule.to_unit_interval(samples) if datamodule is not None else samples
        return torchvision.utils.make_grid(images, nrow=nrow, padding=2, pad_value=1.0)

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


@torch.no_grad()
def nearest_training_images(samples: Tensor, datamodule, chunk: int = 4096) -> Tensor:
    """For each sample, the training image closest in Euclidean distance, in the data's value range.

    The training split is scanned in chunks, scaled as it goes, so CIFAR-10's 45,000 images never sit in memory
    as floats all at once.
    """
    datamodule.setup()  # a no-op once the splits exist
    train = datamodule.splits["train"].tensors[0]
    flat = samples.flatten(1).float()
    best_distance = torch.full((len(samples),), float("inf"))
    best_index = torch.zeros(len(samples), dtype=torch.long)
    for start in range(0, len(train), chunk):
        block = datamodule.scale(train[start : start + chunk]).flatten(1).float()
        distance, index = torch.cdist(flat, block).min(dim=1)
        closer = distance < best_distance
        best_distance[closer], best_index[closer] = distance[closer], index[closer] + start
    return datamodule.scale(train[best_index]).float()
