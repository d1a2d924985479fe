"""A grid of samples from the same fixed noise every few epochs, so a run's progress can be watched."""

from __future__ import annotations

import lightning as L
import torch
import torchvision

from callbacks.images import log_image


class SampleGrid(L.Callback):
    """Samples G on fixed noise (drawn once from ``seed``) and logs them as one grid image.

    The noise is the same in every epoch and after a resume, so successive grids show how each sample evolves.

    Args:
        num_samples: images in the grid.
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

    def fixed_noise(self, pl_module) -> torch.Tensor:
        return pl_module.sample_noise(self.num_samples, torch.Generator().manual_seed(self.seed))

    def log_grid(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        images = pl_module.generate(self.fixed_noise(pl_module))
        images = trainer.datamodule.to_unit_interval(images) if trainer.datamodule is not None else images
        grid = torchvision.utils.make_grid(images.float().cpu(), nrow=self.nrow, padding=2, pad_value=1.0)
        self.last_path = log_image(trainer, "samples", grid, pl_module.iterations)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.every_n_epochs and self.at_start and pl_module.iterations == 0:
            self.log_grid(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_grid(trainer, pl_module)
