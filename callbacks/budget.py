"""A training budget in the units GAN comparisons use: generator iterations, or wall-clock time.

Lightning's ``max_steps`` counts optimizer steps (k + 1 per iteration of Algorithm 1), so it gives a WGAN with
k = 5 a third of the generator updates a k = 1 loss gets. The selection study (Motwani & Parmar 2020) compares
candidates on the same number of generator iterations (or the same time), which this callback enforces.
"""

from __future__ import annotations

import time

import lightning as L

from gan_module.errors import ConfigError


class IterationBudget(L.Callback):
    """Stops fitting after ``max_iterations`` generator steps or ``max_seconds`` of training, whichever first.

    The check runs after every batch. A budget usually ends in the middle of an epoch; callbacks.LastCheckpoint
    saves that final state to ``last.ckpt`` (which ``test`` evaluates), and it resumes exactly. Both counts
    carry over a resume (the iterations live in the module, the seconds in this callback's checkpoint state),
    and a run resumed with its budget spent trains nothing. ``null`` means no limit.

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
        self._start = None  # the clock of this attempt starts below
        if self.active and self.spent(trainer, pl_module):  # resumed after the budget ran out: nothing to train
            trainer.should_stop = True
        self._start = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.active and self.spent(trainer, pl_module):
            trainer.should_stop = True

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds()}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.seconds_before = float(state_dict.get("seconds", 0.0))
