"""A training budget in the units GAN comparisons use: generator iterations, or wall-clock time.

Lightning's ``max_steps`` counts optimizer steps (k + 1 per iteration of Algorithm 1), so it gives a WGAN with
k = 5 a third of the generator updates a k = 1 loss gets. The selection study (Motwani & Parmar 2020) compares
candidates on the same number of generator iterations (or the same time), which this callback enforces.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L

from gan_module.errors import ConfigError


class IterationBudget(L.Callback):
    """Stops fitting after ``max_iterations`` generator steps or ``max_seconds`` of training, whichever first.

    The check runs after every batch. A budget usually ends in the middle of an epoch, where ModelCheckpoint
    writes nothing (its ``last.ckpt`` follows its periodic saves), so this callback saves
    ``<checkpoint dirpath>/last.ckpt`` itself when training ends on the budget: the file then always holds the
    final state, which ``test`` evaluates. Both counts carry over a resume (the iterations live in the module,
    the seconds in this callback's checkpoint state), and a run resumed with its budget spent trains nothing.
    ``null`` means no limit.

    Args:
        max_iterations: generator iterations (the module's ``iterations``).
        max_seconds: wall-clock seconds of training, summed over resumes.
    """

    def __init__(self, max_iterations: int | None = None, max_seconds: float | None = None) -> None:
        if (max_iterations is not None and max_iterations < 1) or (max_seconds is not None and max_seconds <= 0):
            raise ConfigError(
                f"budget.max_iterations must be >= 1 and budget.max_seconds > 0 (or null), got {max_iterations} "
                f"and {max_seconds}."
            )
        self.max_iterations, self.max_seconds = max_iterations, max_seconds
        self.seconds_before = 0.0  # training time of earlier attempts of this run (from the checkpoint)
        self.stopped = False
        self._start: float | None = None

    @property
    def active(self) -> bool:
        return self.max_iterations is not None or self.max_seconds is not None

    def seconds(self) -> float:
        """Training seconds so far, earlier attempts included."""
        return self.seconds_before + (time.monotonic() - self._start if self._start is not None else 0.0)

    def spent(self, trainer, pl_module) -> bool:
        done = self.max_iterations is not None and pl_module.iterations >= self.max_iterations
        late = self.max_seconds is not None and self.seconds() >= self.max_seconds
        if self.max_seconds is not None and trainer.world_size > 1:
            # clocks differ between ranks: all stop if one is out of time, or DDP would hang on the next step
            late = trainer.strategy.reduce_boolean_decision(late, all=False)
        return done or late

    def on_train_start(self, trainer, pl_module) -> None:
        self._start, self.stopped = None, False  # the clock of this attempt starts below
        if self.active and self.spent(trainer, pl_module):  # resumed after the budget ran out: nothing to train
            self.stopped = trainer.should_stop = True
        self._start = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.active and self.spent(trainer, pl_module):
            self.stopped = trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        # Runs before ModelCheckpoint's own hook (Lightning puts checkpoint callbacks last), which at most
        # rewrites the same state into the same file.
        if self.stopped:
            path = self.last_checkpoint(trainer)
            if getattr(trainer.checkpoint_callback, "dirpath", None) == str(path.parent):
                trainer.checkpoint_callback.last_model_path = str(path)  # its last.ckpt, not a last-v1.ckpt beside
            trainer.save_checkpoint(path)  # on every rank: the module gathers each rank's random state

    @staticmethod
    def last_checkpoint(trainer) -> Path:
        """``last.ckpt`` beside the periodic checkpoints: what ``--ckpt_path last`` resumes."""
        folder = getattr(trainer.checkpoint_callback, "dirpath", None) or Path(trainer.default_root_dir) / "checkpoints"
        return Path(folder) / "last.ckpt"

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds()}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.seconds_before = float(state_dict.get("seconds", 0.0))
