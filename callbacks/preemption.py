"""Preemption: SIGTERM or Ctrl-C while fitting saves a checkpoint that resumes to the same result, then exits.

Clusters end jobs with SIGTERM (SLURM preemption or time limit, ``scancel``, spot instances, Kubernetes) and a
few seconds' grace; people press Ctrl-C. A checkpoint written at that instant could catch a half-made iteration
(D updated, G not yet), so the handler only raises a flag; the check before the next batch saves
``<run>/checkpoints/last.ckpt`` between two iterations, where the weights, optimizers, schedulers, random
streams and the data order's position are consistent, and stops with :class:`~gan_module.errors.PreemptedError`
(exit code 143 for SIGTERM, 130 for Ctrl-C). ``python main.py fit ... --ckpt_path last`` then continues as if
nothing had happened. A second Ctrl-C aborts at once, without saving.
"""

from __future__ import annotations

import signal
import threading

import lightning as L
from lightning.pytorch.utilities import rank_zero_info

from callbacks.last_checkpoint import save_last
from gan_module.errors import ConfigError, PreemptedError


class Preemption(L.Callback):
    """Turns SIGTERM / SIGINT during fitting into "save a resumable checkpoint and stop".

    Under DDP the ranks agree (one all-reduce of a flag per iteration) so that all of them save and stop after
    the same iteration, whichever rank got the signal.

    Args:
        signals: the signals to handle, by name.
    """

    def __init__(self, signals: list[str] | None = None) -> None:
        names = ["SIGTERM", "SIGINT"] if signals is None else list(signals)
        unknown = [n for n in names if not isinstance(getattr(signal, n, None), signal.Signals)]
        if unknown:
            raise ConfigError(f"preemption.signals: unknown signal names {unknown}; use e.g. SIGTERM, SIGINT, SIGUSR1.")
        self.signals = [signal.Signals[n] for n in names]
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    # ----------------------------------------------------------------- signal handling
    def _handle(self, signum: int, frame) -> None:
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        self.received = signum
        hint = " (Ctrl-C again to abort without saving)" if signum == signal.SIGINT else ""
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this iteration{hint}", flush=True)

    def on_train_start(self, trainer, pl_module) -> None:
        self.received = None
        if threading.current_thread() is not threading.main_thread():
            rank_zero_info("Preemption: not in the main thread, so signals cannot be caught here.")
            return
        for signum in self.signals:  # replaces Lightning's SIGTERM handler for the length of the fit
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore()

    # ----------------------------------------------------------------- the check
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        # Between two iterations: the previous one is complete, this batch has not touched anything yet.
        stop = self.received is not None
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        path = save_last(trainer)  # on every rank: the module gathers each rank's random state
        raise PreemptedError(self.received or signal.SIGTERM, str(path), pl_module.iterations)
