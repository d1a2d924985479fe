"""The one place that knows how each logger takes an image; every image callback goes through it."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
import torchvision
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from torch import Tensor

from gan_module.run.faults import naming
from gan_module.run.layout import RunLayout


def run_dir(trainer: L.Trainer) -> Path:
    """The run folder: the first logger's folder when it has one (main.py puts it in the run folder).

    Not ``trainer.log_dir``: that broadcasts from rank 0, a collective that hangs when rank 0 alone calls it.
    """
    logger = trainer.loggers[0] if trainer.loggers else None
    folder = logger.log_dir if isinstance(logger, CSVLogger | TensorBoardLogger) else None
    return Path(folder or trainer.default_root_dir)


def log_image(trainer: L.Trainer, key: str, image: Tensor, iteration: int, caption: str | None = None) -> Path:
    """Save ``image`` (C, H, W) in [0, 1] as ``<run>/images/<key>/iter_<iteration>.png`` and send it to loggers.

    Returns the PNG's path. Call it from global rank 0 only.
    """
    path = RunLayout(run_dir(trainer)).image(key, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path):  # a full disk fails PIL's write, whose OSError names no file
        torchvision.utils.save_image(image, path)
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            # no step: W&B requires monotonic steps and Lightning logs metrics at its own batch counter
            logger.log_image(key=key, images=[str(path)], caption=[caption or f"iteration {iteration}"])
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=iteration)
    return path


def scatter_image(points: Tensor, reference: Tensor | None = None, centers: Tensor | None = None) -> Tensor:
    """A scatter plot of 2-D ``points`` (red) over ``reference`` data (grey) and mode ``centers`` (black x),
    rendered to a (3, H, W) tensor in [0, 1] so it goes through :func:`log_image` like any image."""
    import matplotlib

    matplotlib.use("Agg")  # no display on clusters; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    # plot() with point markers draws one path for all points, twice as fast as scatter()'s one per point
    if reference is not None:
        ax.plot(reference[:, 0], reference[:, 1], ".", ms=1.2, mew=0, c="0.75", label="data")
    ax.plot(points[:, 0], points[:, 1], ".", ms=1.7, mew=0, c="tab:red", label="samples")
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], s=20, c="black", marker="x", label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=6, markerscale=3)
    fig.tight_layout()
    fig.canvas.draw()
    rgba = torch.from_numpy(np.asarray(fig.canvas.buffer_rgba()).copy())
    plt.close(fig)
    return rgba[..., :3].permute(2, 0, 1).float() / 255.0
