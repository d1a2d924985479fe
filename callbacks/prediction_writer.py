"""``python main.py predict``: the generated samples, saved where the command says (``<run>/predict/``).

Lightning's ``predict`` only returns the outputs of ``predict_step`` to the caller, which the command line
drops. This writer keeps them: ``samples.pt`` (the samples as the model produces them, in the data's value
range, one per image of the test split, of its class for a conditional model; and the generator's iteration
count) and ``samples.png`` (the first ``grid_size`` on a grid).

Memory: the samples are taken batch by batch as ``predict_step`` makes them and held once (Lightning is told
not to keep a second copy), then saved in one tensor; so at most ``max_samples`` are written, and a larger
prediction is refused in one line before the first batch is generated.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from callbacks.images import run_dir
from gan_module.checkpoint_io import write_atomically
from gan_module.errors import ConfigError
from gan_module.run.faults import naming

#: the most samples ``predict`` writes by default: one tensor of them is held until it is saved (a CIFAR-10
#: sample is 3,072 float32 values: 100,000 samples are 1.2 GB); the shipped test splits have at most 10,000 images
PREDICT_LIMIT = 100_000


class PredictionWriter(BasePredictionWriter):
    """Saves ``predict``'s samples as a tensor file and a PNG grid (per rank under DDP: ``samples_rank<r>.*``).

    The batches are collected as they are generated; ``trainer.predict`` then returns ``None`` instead of a
    second copy of them (the command line drops what it returns anyway).

    Args:
        grid_size: samples on the PNG grid (0: no grid).
        nrow: samples per grid row.
        max_samples: the most samples one process writes (they are held in memory until saved); a prediction
            of more (a larger test split) is refused before it starts. ``--trainer.limit_predict_batches``
            writes fewer.
    """

    def __init__(self, grid_size: int = 100, nrow: int = 10, max_samples: int = PREDICT_LIMIT) -> None:
        super().__init__(write_interval="batch")
        if grid_size < 0 or nrow < 1:
            raise ConfigError(f"prediction_writer.grid_size must be >= 0 and nrow >= 1, got {grid_size}, {nrow}.")
        if max_samples < 1:
            raise ConfigError(f"prediction_writer.max_samples must be >= 1, got {max_samples}.")
        self.grid_size, self.nrow, self.max_samples = grid_size, nrow, max_samples
        self.written: list[Path] = []
        self._batches: list[Tensor] = []
        self._count = 0

    def on_predict_start(self, trainer, pl_module) -> None:
        trainer.predict_loop.return_predictions = False  # held here once, not also in Lightning's list
        self._batches, self._count = [], 0
        sampler = getattr(pl_module, "sampler", None)
        if sampler is not None:
            sampler.cost.reset()
        planned = _planned_count(trainer)
        if planned is not None and planned > self.max_samples:
            raise ConfigError(self._too_many(planned))

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        self._count += len(prediction)
        if self._count > self.max_samples:  # a loader whose size was not known up front
            raise ConfigError(self._too_many(self._count))
        self._batches.append(prediction.detach().cpu())

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        samples = _joined(self._batches)
        self._batches = []
        stem = "samples" if trainer.world_size == 1 else f"samples_rank{trainer.global_rank}"
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        saved = {"samples": samples, "iterations": pl_module.iterations}
        # whole or not at all, and a full disk is an OSError naming the file (torch.save given a file name
        # raises a RuntimeError that says neither)
        write_atomically(folder / f"{stem}.pt", lambda file: torch.save(saved, file))
        self.written = [folder / f"{stem}.pt"]
        if self.grid_size and samples.dim() == 4:  # images (points have no grid)
            grid = trainer.datamodule.to_unit_interval(samples[: self.grid_size])
            with naming(folder / f"{stem}.png"):
                torchvision.utils.save_image(grid, folder / f"{stem}.png", nrow=self.nrow)
            self.written.append(folder / f"{stem}.png")
        sampler = getattr(pl_module, "sampler", None)
        guided = sampler is not None and sampler.guides
        drawn = f" ({type(sampler).__name__}: {sampler.cost.summary()})" if guided else ""
        print(f"predict: wrote {', '.join(map(str, self.written))}{drawn}")

    def _too_many(self, count: int) -> str:
        return (
            f"predict would write {count} samples (one per image of the test split), more than "
            f"prediction_writer.max_samples={self.max_samples} (they are held in memory until saved). Pass "
            "--trainer.limit_predict_batches=<batches> to write fewer, or raise prediction_writer.max_samples."
        )


def _planned_count(trainer) -> int | None:
    """At most how many samples this process will predict; ``None`` when a loader does not say."""
    loaders = trainer.predict_dataloaders
    loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
    total = 0
    for loader, batches in zip(loaders, trainer.num_predict_batches, strict=False):
        batch_sampler = getattr(loader, "batch_sampler", None)  # Lightning wraps it to record the indices
        size = getattr(loader, "batch_size", None) or getattr(batch_sampler, "batch_size", None)
        sampler = getattr(batch_sampler, "sampler", None) or getattr(loader, "sampler", None)  # this rank's share
        try:
            available = len(sampler)
        except TypeError:
            return None
        if size is None or batches == float("inf"):
            return None
        total += min(int(batches) * size, available)
    return total


def _joined(batches: list[Tensor]) -> Tensor:
    """The batches in one tensor, each freed once copied: the samples are never held twice."""
    if not batches:
        return torch.empty(0)
    first = batches[0]
    joined = first.new_empty((sum(len(b) for b in batches), *first.shape[1:]))
    start = 0
    for index, batch in enumerate(batches):
        joined[start : start + len(batch)] = batch
        start += len(batch)
        batches[index] = None  # type: ignore[call-overload]
    return joined
