"""``<run>/checkpoints/last.ckpt``: the file ``--ckpt_path last`` resumes, never older than an epoch or a few minutes.

Lightning's ModelCheckpoint refreshes its ``last.ckpt`` only when it saves a periodic checkpoint (every 5 or 20
epochs with the shipped configs), so a job killed before then (``kill -9``, out of memory, a node failure)
left nothing to resume. This callback owns ``last.ckpt``: it rewrites it after every epoch, every few minutes
of training, and when training ends, whatever ended it (``max_epochs``, ``max_steps``, the budget). Every
checkpoint resumes exactly (gan_module/run/resume.py) and is written atomically (gan_module/checkpoint_io.py),
so the file is always a whole, consistent state between two iterations.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L

from gan_module.errors import ConfigError
from gan_module.run.layout import LAST_CHECKPOINT, RunLayout


def last_checkpoint_path(trainer) -> Path:
    """``last.ckpt`` beside the periodic checkpoints: what ``--ckpt_path last`` resumes."""
    folder = getattr(trainer.checkpoint_callback, "dirpath", None)
    return Path(folder) / LAST_CHECKPOINT if folder else RunLayout(Path(trainer.default_root_dir)).last_checkpoint


def save_last(trainer) -> Path:
    """Write the current state to ``last.ckpt`` (call it on every rank: the module gathers their random states)."""
    path = last_checkpoint_path(trainer)
    if getattr(trainer.checkpoint_callback, "dirpath", None) == str(path.parent):
        # ModelCheckpoint then treats this file as its own last checkpoint: a resumed run overwrites it instead
        # of writing last-v1.ckpt beside it
        trainer.checkpoint_callback.last_model_path = str(path)
    for logger in trainer.loggers:  # rows the checkpoint covers reach the disk first: a resume loses none of them
        logger.save()
    trainer.save_checkpoint(path, weights_only=False)  # the full state, said so: unsaid, Lightning logs that it chose
    return path


class LastCheckpoint(L.Callback):
    """Saves ``last.ckpt`` every ``every_n_epochs`` epochs, every ``every_minutes`` of training and at the end.

    Args:
        every_n_epochs: epochs between saves at an epoch's end (0: none).
        every_minutes: minutes of training between saves within an epoch, checked after each iteration (null:
            none). All ranks of a distributed run agree on when.
    """

    def __init__(self, every_n_epochs: int = 1, every_minutes: float | None = 5.0) -> None:
        if every_n_epochs < 0 or (every_minutes is not None and every_minutes <= 0):
            raise ConfigError(
                f"last_checkpoint.every_n_epochs must be >= 0 and every_minutes > 0 (or null), got {every_n_epochs} "
                f"and {every_minutes}."
            )
        self.every_n_epochs, self.every_minutes = every_n_epochs, every_minutes
        self._saved_at = time.monotonic()
        self._saved_step: int | None = None  # trainer.global_step of this fit's latest save

    def _save(self, trainer) -> None:
        save_last(trainer)
        self._saved_at, self._saved_step = time.monotonic(), trainer.global_step

    def on_train_start(self, trainer, pl_module) -> None:
        self._saved_at, self._saved_step = time.monotonic(), None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.every_minutes is None:
            return
        due = time.monotonic() - self._saved_at >= 60.0 * self.every_minutes
        if trainer.world_size > 1:  # clocks differ between ranks; all must save together
            due = trainer.strategy.reduce_boolean_decision(due, all=False)
        if due:
            self._save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        # the final state, whatever ended training (`test` evaluates this file); an epoch-end save that already
        # holds it (max_epochs ends at an epoch's end) is not written twice
        if self._saved_step != trainer.global_step:
            self._save(trainer)
