"""The one place that knows how each logger takes an image; every image callback goes through it."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torchvision
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor


def run_dir(trainer: L.Trainer) -> Path:
    """The run folder: the logger's folder when there is one (main.py puts it in the run folder)."""
    return Path(trainer.log_dir or trainer.default_root_dir)


def log_image(trainer: L.Trainer, key: str, image: Tensor, iteration: int, caption: str | None = None) -> Path:
    """Save ``image`` (C, H, W) in [0, 1] as ``<run>/images/<key>/iter_<iteration>.png`` and send it to loggers.

    Returns the PNG's path. Call it from global rank 0 only.
    """
    path = run_dir(trainer) / "images" / key / f"iter_{iteration:08d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    torchvision.utils.save_image(image, path)
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            # no step: W&B requires monotonic steps and Lightning logs metrics at its own batch counter
            logger.log_image(key=key, images=[str(path)], caption=[caption or f"iteration {iteration}"])
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=iteration)
    return path
