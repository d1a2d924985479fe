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

    Args:
        num_samples: images in the grid (points in the scatter plot).
        nrow: images per row.
        every_n_epochs: log after every n-th epoch; 0 turns the grid off.
        at_start: also log the untrained generator's samples when fitting starts.
        seed: seed of the fixed noise.
    """

    def __init__(
        self,
        num_samples: int = 100,
        nrow: int = 10,
        every_n_epochs: int = 1,
        at_start: bool = True,
        seed: int = 1234,
    ) -> None:
        self.num_samples, self.nrow, self.every_n_epochs = num_samples, nrow, every_n_epochs
        self.at_start, self.seed = at_start, seed
        self.last_path = None

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
        images = datamodule.to_unit_interval(samples) if datamodule is not None else samples
        return torchvision.utils.make_grid(images, nrow=self.nrow, padding=2, pad_value=1.0)

    def log_grid(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        self.last_path = log_image(trainer, "samples", self.render(trainer, pl_module), pl_module.iterations)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.every_n_epochs and self.at_start and pl_module.iterations == 0:
            self.log_grid(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_grid(trainer, pl_module)
