"""Training-step numbers to the loggers: one rule for "is this step logged", one write per logged step.

Lightning's ``self.log`` keeps every key logged in the epoch and, after *every* batch, walks all of them to
refresh the progress bar and the callback metrics, whether or not the loggers keep that step. For a small GAN
whose whole step takes a few milliseconds, the module's dozen step numbers cost a third of the step that way.
The loggers only keep every ``log_every_n_steps``-th step, so the module and the callbacks put their numbers
into a :class:`StepLog` on those steps only, and the module writes them once, at the end of the batch, at
Lightning's own step number (the rows line up with the learning-rate monitor's and validation's). Tensors
are read with one device synchronisation for the whole dict.

Numbers shown in the progress bar (the losses, the number of active training issues) are kept in
``StepLog.bar``, which :class:`callbacks.progress_bar.ProgressBar` shows.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
import torch
from torch import Tensor


def is_logging_step(trainer: L.Trainer | None) -> bool:
    """Whether the loggers keep the current training batch: Lightning's own rule (every ``log_every_n_steps``
    batches, counted over resumes). Without a trainer (a module used by hand) every step counts."""
    if trainer is None:
        return True
    if trainer.log_every_n_steps == 0 or not trainer.loggers:
        return False
    return (_batches_done(trainer) + 1) % trainer.log_every_n_steps == 0


def _batches_done(trainer: L.Trainer) -> int:
    # Lightning's logging step: training batches completed, restored from checkpoints (no public accessor)
    return trainer.fit_loop.epoch_loop._batches_that_stepped


class StepLog:
    """The numbers of the current training step that the loggers will keep, and the progress bar's numbers."""

    def __init__(self) -> None:
        self.values: dict[str, Tensor | float] = {}
        self.bar: dict[str, float] = {}
        self.logging = True  # whether the loggers keep the current step (set by :meth:`begin`)

    def begin(self, trainer: L.Trainer | None) -> None:
        """A training step starts: decide once whether the loggers keep it (:func:`is_logging_step`)."""
        self.logging = is_logging_step(trainer)

    def add(self, values: Mapping[str, Tensor | float]) -> None:
        self.values.update(values)

    def write(self, trainer: L.Trainer, **extra: float) -> dict[str, float]:
        """Send this step's numbers to every logger (with ``extra`` ones) and start the next step empty."""
        values, self.values = self.values, {}
        if not values:
            return {}
        scalars = _as_floats(values) | extra
        scalars.setdefault("epoch", trainer.current_epoch)
        step = _batches_done(trainer)
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
        return scalars


def _as_floats(values: Mapping[str, Tensor | float]) -> dict[str, float]:
    """Python floats, reading all tensors in one go (one synchronisation with a GPU, not one per number)."""
    keys = [k for k, v in values.items() if isinstance(v, Tensor)]
    floats = {k: float(v) for k, v in values.items() if not isinstance(v, Tensor)}
    if keys:
        device = values[keys[0]].device
        stacked = torch.stack([values[k].detach().float().reshape(()).to(device) for k in keys]).tolist()
        floats.update(zip(keys, stacked, strict=True))
    return floats
