"""``python main.py predict``: the generated samples, saved where the command says (``<run>/predict/``).

Lightning's ``predict`` only returns the outputs of ``predict_step`` to the caller, which the command line
drops. This writer keeps them: ``samples.pt`` (the samples as the model produces them, in the data's value
range, one per image of the test split, of its class for a conditional model; and the generator's iteration
count) and ``samples.png`` (the first ``grid_size`` on a grid).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from lightning.pytorch.callbacks import BasePredictionWriter

from callbacks.images import run_dir
from gan_module.errors import ConfigError


class PredictionWriter(BasePredictionWriter):
    """Saves ``predict``'s samples as a tensor file and a PNG grid (per rank under DDP: ``samples_rank<r>.*``).

    Args:
        grid_size: samples on the PNG grid (0: no grid).
        nrow: samples per grid row.
    """

    def __init__(self, grid_size: int = 100, nrow: int = 10) -> None:
        super().__init__(write_interval="epoch")
        if grid_size < 0 or nrow < 1:
            raise ConfigError(f"prediction_writer.grid_size must be >= 0 and nrow >= 1, got {grid_size}, {nrow}.")
        self.grid_size, self.nrow = grid_size, nrow
        self.written: list[Path] = []

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        samples = torch.cat([b.detach().cpu() for b in batches]) if batches else torch.empty(0)
        stem = "samples" if trainer.world_size == 1 else f"samples_rank{trainer.global_rank}"
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save({"samples": samples, "iterations": pl_module.iterations}, folder / f"{stem}.pt")
        self.written = [folder / f"{stem}.pt"]
        if self.grid_size and samples.dim() == 4:  # images (points have no grid)
            grid = trainer.datamodule.to_unit_interval(samples[: self.grid_size])
            torchvision.utils.save_image(grid, folder / f"{stem}.png", nrow=self.nrow)
            self.written.append(folder / f"{stem}.png")
        print(f"predict: wrote {', '.join(map(str, self.written))}")
