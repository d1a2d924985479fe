"""What a GAN run carries across a stop beyond its weights: progress, its clock, random states, changed settings.

A part of :class:`gan_module.model.module.GAN` (mixed into it): the checkpoint hooks and the start of a fit. The
mechanics (where training stands, gathering and restoring random states, settings changed on resume) are in
gan_module/run/resume.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info

from gan_module.model.progress import Progress
from gan_module.run.checkpoint import read_checkpoint
from gan_module.run.resume import (
    apply_changed_settings,
    between_batches,
    changed_settings,
    check_compatible,
    describe,
    gather_rng_states,
    is_fixed,
    next_batch,
    restore_rng_states,
)

#: what a GAN checkpoint holds beside Lightning's own keys
PROGRESS, TRAINING_SECONDS, RNG_STATES = "gan_progress", "training_seconds", "rng_states"


@dataclass(frozen=True)
class SavedRun:
    """A GAN checkpoint read back: where training stood, how long fitting took, and the trained weights (the reader
    for whoever inspects a run from outside: the study, benchmarks)."""

    progress: Progress
    training_seconds: float
    weights: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> SavedRun:
        """The checkpoint at ``path`` (read with gan_module/run/checkpoint.py: one line when it cannot be)."""
        checkpoint = read_checkpoint(path)
        progress = Progress()
        progress.load_state_dict(checkpoint.get(PROGRESS, {}))
        return cls(progress, float(checkpoint.get(TRAINING_SECONDS, math.nan)), checkpoint["state_dict"])

    def parameters(self, network: str) -> int:
        """The number of trained weights of one network (floating-point tensors; batch-norm statistics too)."""
        prefix = network + "."
        return sum(t.numel() for k, t in self.weights.items() if k.startswith(prefix) and t.is_floating_point())


class RunState:
    """Checkpoint hooks, the fitting clock, and exact resume."""

    _pending_rng_states: dict[str, Any] | None = None  # the resumed checkpoint's, restored at train start
    _saved_settings: dict[str, Any] | None = None  # the resumed checkpoint's model settings

    def on_train_end(self) -> None:
        self.clock.stop()

    def training_seconds(self) -> float:
        """Wall-clock seconds spent fitting, over every attempt of this run (StyleGAN's ``total_sec``)."""
        return self.clock.seconds()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "loops" in checkpoint and self._trainer is not None and self.trainer.state.fn == "fit":
            between_batches(checkpoint, *next_batch(self.trainer))  # every kind of checkpoint resumes alike
        checkpoint[PROGRESS] = self.progress.state_dict()
        checkpoint[TRAINING_SECONDS] = self.training_seconds()  # wall clock: kept apart from the exact state
        checkpoint[RNG_STATES] = gather_rng_states(self)  # Lightning calls this on every rank; rank 0 writes

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_compatible(self.state_dict(), checkpoint.get("state_dict", {}))
        self.progress.load_state_dict(checkpoint.get(PROGRESS, {}))
        self.clock.before = checkpoint.get(TRAINING_SECONDS, 0.0)
        self._pending_rng_states = checkpoint.get(RNG_STATES)
        self._saved_settings = checkpoint.get("hyper_parameters")

    def on_train_start(self) -> None:
        self.clock.start()
        # Restored here, after Lightning's own start-up, which may draw random numbers of its own.
        restore_rng_states(self._pending_rng_states, self.trainer.global_rank, self.trainer.world_size)
        self._pending_rng_states = None
        self._apply_changed_settings()

    def _apply_changed_settings(self) -> None:
        """A resumed fit trains with this run's optimizer and scheduler settings, not the checkpoint's."""
        saved, self._saved_settings = self._saved_settings, None
        if not saved:
            return
        changes = {key: values for key, values in changed_settings(saved, self.hparams).items() if not is_fixed(key)}
        if changes:
            schedulers = self.lr_schedulers() or []
            schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
            apply_changed_settings(changes, self.optimizers(use_pl_optimizer=False), schedulers)
            rank_zero_info(
                "Resumed with settings changed since the checkpoint (the command line's values apply): "
                + describe(changes)
            )
