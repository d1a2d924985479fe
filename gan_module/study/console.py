"""What the study command shows while it works: one live progress line, and each run's own output in its log file.

A study trains dozens of runs; each run's Lightning output (progress bars, warnings, the model summary) would bury
the study's own news. So every run and tuning trial writes its output to ``run.log`` in its own folder
(:func:`output_to`, at the file-descriptor level, so logging handlers and C libraries are caught too), and the
console shows one line -- tunings and runs done of their total, elapsed time, an estimate of what is left, and
the leader so far -- redrawn in place on a terminal, printed when it changes otherwise (a log file, CI).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # for type hints only
    from gan_module.study.spec import Study

#: seconds between two looks at the study's folder and storage
REFRESH_SECONDS = 2.0
#: while a display shows the progress, the study's own news lines go to this log instead of the console
_NOTES: list[Path] = []


def note(text: str) -> None:
    """One line of the study's own news (a run or trial done): printed, or appended to the study's log while a
    :class:`ProgressDisplay` says the same in its line. Warnings are not news: they go to standard error."""
    if not _NOTES:
        print(text, flush=True)
        return
    _NOTES[-1].parent.mkdir(parents=True, exist_ok=True)
    with open(_NOTES[-1], "a") as log:
        log.write(text + "\n")


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Everything this process writes meanwhile appended to ``path``: file descriptors 1 and 2 (C libraries, child
    processes), ``sys.stdout`` / ``sys.stderr``, and the logging handlers that write to them (Lightning's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = (os.dup(1), os.dup(2))
    streams = (sys.stdout, sys.stderr)
    handlers = [h for h in _stream_handlers() if h.stream in streams]
    try:
        with open(path, "a", buffering=1) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            sys.stdout = sys.stderr = log
            previous = [h.setStream(log) for h in handlers]
            try:
                yield
            finally:
                for handler, stream in zip(handlers, previous, strict=True):
                    handler.setStream(stream)
                sys.stdout, sys.stderr = streams
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    return [h for lg in loggers for h in lg.handlers if type(h) is logging.StreamHandler]


def terminal() -> IO[str]:
    """A writer on this process's standard output as it is now, which later :func:`output_to` leaves alone (the
    stream itself where it has no file descriptor: a notebook, a test's capture)."""
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return sys.stdout


class ProgressDisplay:
    """A background thread that reads the study's progress every :data:`REFRESH_SECONDS` and shows one line.

    ``status`` returns (units done, units in all, the leader's text): a unit is a tuning trial or a reporting
    run. The estimate of what is left assumes the units still to come take as long as those done since the display
    started (a resumed study's finished units do not make it optimistic).
    """

    def __init__(
        self, title: str, status: Callable[[], tuple[int, int, str]], notes: Path, out: IO[str] | None = None
    ) -> None:
        self.title, self.status, self.notes = title, status, notes
        self.out = out or terminal()
        self.live = self.out.isatty()
        self.began = time.monotonic()
        self.done_at_start: int | None = None
        self.shown = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProgressDisplay:
        _NOTES.append(self.notes)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        _NOTES.remove(self.notes)
        with contextlib.suppress(Exception):
            self.show(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            with contextlib.suppress(Exception):  # a half-written file, a busy database: the next look reads it
                self.show()

    def line(self) -> str:
        done, total, leader = self.status()
        if self.done_at_start is None:
            self.done_at_start = done
        elapsed = time.monotonic() - self.began
        recent = done - self.done_at_start
        left = elapsed / recent * (total - done) if recent > 0 and total > done else math.nan
        eta = "done" if done >= total else f"~{_duration(left)} left" if math.isfinite(left) else "estimating"
        return f"[{self.title}] {done}/{total} done, {_duration(elapsed)} elapsed, {eta}; {leader}"

    def show(self, final: bool = False) -> None:
        text = self.line()
        if self.live:
            self.out.write("\r\033[K" + text + ("\n" if final else ""))
        elif text.split(", ")[0] != self.shown.split(", ")[0] or final:  # a line per finished unit
            self.out.write(text + "\n")
        self.out.flush()
        self.shown = text


def study_status(study: Study, storage: str | None = None) -> Callable[[], tuple[int, int, str]]:
    """The status of ``study``'s tunings and runs, read from its folder and storage (nothing is written).

    It is read every :data:`REFRESH_SECONDS` beside the workers, so it stays cheap: one storage connection kept
    (opening one checks the schema), trials counted by the database, and each finished run's record read once."""
    from gan_module.study.result import RunResult

    results: dict[Path, RunResult] = {}  # a finished run's record never changes
    trials_done = _trial_counter(study, storage)

    def status() -> tuple[int, int, str]:
        runs = study.runs()
        for candidate, seed in runs:
            path = study.layout.result(candidate.name, seed)
            if path not in results:
                with contextlib.suppress(ValueError, UnicodeDecodeError):  # damaged: the runner's to name, once
                    found = RunResult.read(path)
                    if found is not None:
                        results[path] = found
        total, done = len(runs), len(results)
        if study.tune is not None:
            total += study.tune.replicates * sum(study.tune.trials_for(c.space) for c in study.candidates())
            done += trials_done()
        return done, total, _leader(study, list(results.values()))

    return status


def _trial_counter(study: Study, storage: str | None) -> Callable[[], int]:
    """Tuning trials finished or pruned so far (each tuning counted up to its budget), from one kept connection."""
    from gan_module.study.layout import tuning_name

    kept: list = []

    def count() -> int:
        import optuna

        if not kept:
            if storage is None and not study.layout.database.is_file():
                return 0  # no trial yet; never create the database
            kept.append(optuna.storages.get_storage(study.layout.storage_url(storage)))
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = 0
        for candidate in study.candidates():
            for replicate in range(study.tune.replicates):
                name = study.layout.optuna_name(tuning_name(candidate.name, replicate))
                try:
                    study_id = kept[0].get_study_id_from_name(name)
                except KeyError:  # not started
                    continue
                done += min(kept[0].get_n_trials(study_id, states), study.tune.trials_for(candidate.space))
        return done

    return count


def _leader(study: Study, results: list) -> str:
    """The candidate with the best mean of the ranking metric over its finished seeds so far."""
    scores: dict[str, list[float]] = {}
    for run in results:
        value = run.metrics.get(study.rank_metric, math.nan)
        if math.isfinite(value):
            scores.setdefault(run.candidate, []).append(value)
    if not scores:
        return "no finished run yet"
    sign = 1 if study.rank_mode == "max" else -1
    name, values = max(scores.items(), key=lambda item: sign * math.fsum(item[1]) / len(item[1]))
    seeds = f"{len(values)} seed{'s' * (len(values) > 1)}"
    return f"leader {name} ({study.rank_metric} {math.fsum(values) / len(values):.4g}, {seeds})"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
