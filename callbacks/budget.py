"""A training budget in the units GAN comparisons use: generator iterations, or wall-clock time.

Lightning's ``max_steps`` counts optimizer steps (k + 1 per iteration of Algorithm 1), so it gives a WGAN with
k = 5 a third of the generator updates a k = 1 loss gets. The selection study compares candidates on the same
number of generator iterations (or the same time), which this callback enforces.
"""

from __future__ import annotations

import time

import lightning as L

from gan_module.errors import ConfigError


class IterationBudget(L.Callback):
    """Stops fitting after ``max_iterations`` generator steps or ``max_seconds`` of training, whichever first.

    The check runs after every batch; the epoch then ends as usual, so ``last.ckpt`` holds the final state.
    ``null`` means no limit.

    Args:
        max_iterations: generator iterations (counted over resumes: the module's ``iterations``).
        max_seconds: wall-clock seconds of training in this process.
    """

    def __init__(self, max_iterations: int | None = None, max_seconds: float | None = None) -> None:
        if (max_iterations is not None and max_iterations < 1) or (max_seconds is not None and max_seconds <= 0):
            raise ConfigError(
                f"budget.max_iterations must be >= 1 and budget.max_seconds > 0 (or null), got {max_iterations} "
                f"and {max_seconds}."
            )
        self.max_iterations, self.max_seconds = max_iterations, max_seconds
        self._start: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        spent = self.max_iterations is not None and pl_module.iterations >= self.max_iterations
        late = self.max_seconds is not None and time.monotonic() - self._start >= self.max_seconds
        if spent or late:
            trainer.should_stop = True
