"""Keep the faster of one and N CPU threads while a run trains, as the machine's load changes (issue 44).

On a CPU, torch's N intra-op threads are fastest on an idle machine when libgomp lets them spin-wait between
parallel regions, and 2-50x slower than one thread as soon as another busy process shares the cores: a thread
that waits at a barrier for a peer the scheduler has set aside burns the core the peer needs. One thread never
waits on a peer. Which of the two is faster depends on the load, which changes while a run trains (a second job
starts, a notebook finishes), so it is measured in the run rather than guessed at start-up (docs/scaling.md,
"Threads").
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info


class ThreadChooser:
    """The decision alone: fed the duration of each training step, it says when to switch thread counts.

    It starts on ``start`` (by default the first count, one thread: safe beside a busy process), times ``steps``
    steps at the current count, then (every ``interval`` seconds, or at once when each of the last four steps has
    moved by ``drift`` from the current count's step time when it was chosen) the same number at the other count,
    and keeps the other only if it is faster by ``margin``; an alternative at least twice as slow is given up as
    soon as it has used twice the window's time, so a probe beside a busy process costs about one slow step. The
    first step after every switch is not counted (thread pools wake up), nor are the run's first three. Each
    periodic probe doubles the interval (up to ``max_interval``); a drift starts it again at ``min_interval``. A
    run started on N (the machine was idle) first re-checks one thread after ``max_interval``.
    """

    def __init__(
        self,
        counts: tuple[int, int],
        start: int | None = None,
        steps: int = 8,
        min_interval: float = 10.0,
        max_interval: float = 160.0,
        margin: float = 1.05,
        drift: float = 1.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if len(counts) != 2 or counts[0] == counts[1] or min(counts) < 1:
            raise ValueError(f"ThreadChooser needs two different thread counts >= 1, got {counts}")
        if (
            start not in (None, *counts)
            or steps < 2
            or not 0 < min_interval <= max_interval
            or margin < 1
            or drift <= 1
        ):
            raise ValueError(
                "ThreadChooser needs a start among its counts, steps >= 2, 0 < min_interval <= max_interval, "
                "margin >= 1, drift > 1"
            )
        self.counts, self.steps, self.margin, self.drift = counts, steps, margin, drift
        self.min_interval, self.max_interval = min_interval, max_interval
        self.clock = clock
        self.current = counts[0] if start is None else start  # by default one thread: safe beside a busy process
        # one thread is probed against N as soon as it has a full window; a run started on N (the machine was idle)
        # first re-checks one thread after the longest interval: load that arrives shows as a drift at once
        self.interval = min_interval if self.current == counts[0] else max_interval
        self.next_probe = clock() if self.current == counts[0] else clock() + max_interval
        self._window: deque[float] = deque(maxlen=steps)
        self._chosen_at: float | None = None  # the current count's step time when it was (re)confirmed
        self._expected: float | None = None  # its step time as the last probe measured it
        self._probe: list[float] | None = None  # step times at the other count while probing
        self._reference = 0.0  # the current count's step time the probe is compared with
        self._settle = 3  # steps not counted: a fit's first steps are slow (allocations, caches)
        self.switches: list[tuple[int, float, float]] = []  # (new count, its step time, the old count's)

    @property
    def other(self) -> int:
        return self.counts[0] if self.current == self.counts[1] else self.counts[1]

    def step(self, seconds: float) -> int | None:
        """Record one step's duration; returns the thread count to set now, or None to keep the one in use."""
        if self._probe is not None:
            return self._probing(seconds)
        if self._settle:
            self._settle -= 1
            return None
        self._window.append(seconds)
        moved = self._moved()
        if len(self._window) < self.steps and not moved:
            return None
        now = statistics.median(self._window)
        if self._chosen_at is None:
            self._chosen_at = now
        if self.clock() < self.next_probe and not moved:
            return None
        if moved:
            self.interval = self.min_interval
        self._reference, self._probe, self._settle = now, [], 1
        return self.other

    def _moved(self) -> bool:
        """Each of the last four steps is ``drift`` away from this count's step time when it was chosen (or, in
        the first window since, as the probe measured it): a load that arrived or left. One slow step (a pause, a
        logged step) is not."""
        expected = self._chosen_at if self._chosen_at is not None else self._expected
        latest = list(self._window)[-4:]
        if expected is None or len(latest) < 4:
            return False
        return min(latest) > self.drift * expected or max(latest) * self.drift < expected

    def _probing(self, seconds: float) -> int | None:
        assert self._probe is not None
        self._probe.append(seconds)
        counted = self._probe[1:]  # the first is the settling step
        given_up = sum(self._probe) > 2 * self.steps * self._reference
        if len(counted) < self.steps and not given_up:
            return None
        faster = len(counted) == self.steps and statistics.median(counted) * self.margin < self._reference
        probed, self._probe = self.other, None
        self._window.clear()
        self._chosen_at, self._settle = None, 1
        self._expected = statistics.median(counted) if faster else self._reference
        if faster:
            self.switches.append((probed, self._expected, self._reference))
            self.current = probed
        self.interval = min(2 * self.interval, self.max_interval)  # counts that are close would swap at every probe
        self.next_probe = self.clock() + self.interval
        return self.current  # the probed count kept, or the one in use before the probe set back


class ThreadTuner(L.Callback):
    """Times each training step and sets torch's intra-op threads to what :class:`ThreadChooser` decides.

    Attached by the CLI to a CPU ``fit`` with ``threads: auto`` in one process (gan_module/run/machine.py); not
    with ``trainer.deterministic`` (a thread count can change the last bit of a reduction, so the numbers would
    depend on the machine's load). A switch is one line in the log.
    """

    def __init__(self, counts: tuple[int, int], start: int | None = None, **chooser: Any) -> None:
        self.chooser = ThreadChooser(counts, start, **chooser)
        self._start = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.set_num_threads(self.chooser.current)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        switches = len(self.chooser.switches)
        count = self.chooser.step(time.perf_counter() - self._start)
        if count is not None:
            torch.set_num_threads(count)
        if len(self.chooser.switches) > switches:
            new, seconds, old = self.chooser.switches[-1]
            rank_zero_info(
                f"CPU threads: now {new}, measured faster here (a step took {seconds * 1e3:.1f} ms against "
                f"{old * 1e3:.1f} ms with {self.chooser.other})."
            )
