"""Cost measured on its own: each candidate's training timed alone, interleaved with the others, in one process.

A study's runs share the machine (``--jobs 2`` on two busy cores), so their own clocks measure the load as much
as the recipe: on MNIST, SN came out slower than GP on 15.8 vs 14.3 ms a step. Here every candidate trains
``warmup + iterations`` generator iterations in turn -- the same process, one job, the study's own settings and
its tuned ones, evaluation, sample grids and periodic checkpoints off -- and the seconds of the last
``iterations`` are its cost in that round. The order is reversed every other round (A B C, C B A, ...), so a drift
of the machine's load reaches every candidate alike, and rounds pair the candidates in the comparisons (a round is
the unit the claims' cost test pairs on). Cost reads in seconds per 1,000 generator iterations.

``timing.json`` in the study folder holds ``{"iterations": N, "rounds": R, "seconds_per_1000": {candidate:
[round 0, round 1, ...]}}``; the reports read it (:func:`read_timing`) and fall back to the runs' own clocks,
saying so, where it is missing.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import lightning as L

from gan_module.checkpoint_io import write_text_atomically
from gan_module.errors import RunFailedError

_STOPWATCH = "stopwatch.json"
#: what is switched off while timing: work a run does besides training, whose cost is not the recipe's
QUIET = [
    "--evaluation.every_n_epochs=0",
    "--sample_grid.every_n_epochs=0",
    "--sample_grid.at_end=false",
    "--interpolation.every_n_epochs=0",
    "--checkpoint.every_n_epochs=0",
    "--last_checkpoint.every_n_epochs=0",
    "--last_checkpoint.every_minutes=null",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--budget.max_seconds=null",
]


class Stopwatch(L.Callback):
    """Writes the seconds between the start of iteration ``warmup`` and the end of training, and the iterations
    done in them, to ``<run root>/stopwatch.json``."""

    def __init__(self, warmup: int = 10) -> None:
        self.warmup, self.start, self.first = warmup, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.start is None and pl_module.iterations >= self.warmup:
            self.start, self.first = time.perf_counter(), pl_module.iterations

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and self.start is not None:
            done = {"iterations": pl_module.iterations - self.first, "seconds": time.perf_counter() - self.start}
            (Path(trainer.default_root_dir) / _STOPWATCH).write_text(json.dumps(done))


def fit_for_timing(args: list[str]) -> None:
    """``main.py fit ARGS`` in this process (the default way a round trains a candidate)."""
    from gan_module.cli import main

    try:
        main(["fit", *args])
    except SystemExit as stop:
        if stop.code:
            raise RunFailedError(f"its fit stopped with exit {stop.code}") from None


def time_once(args: list[str], folder: Path, iterations: int, warmup: int, fit: Callable = fit_for_timing) -> float:
    """Seconds per 1,000 generator iterations of one fit of ``args`` (a run's ``main.py fit`` arguments), timed
    over ``iterations`` after ``warmup``."""
    stopwatch = {"class_path": f"{__name__}.Stopwatch", "init_args": {"warmup": warmup}}
    fit(
        [
            *args,
            *QUIET,
            f"--budget.max_iterations={warmup + iterations}",
            f"--trainer.default_root_dir={folder}",
            f"--trainer.callbacks+={json.dumps(stopwatch)}",
        ]
    )
    found = sorted(folder.glob(f"**/{_STOPWATCH}"))
    if not found:
        raise RunFailedError(
            f"its fit ended within the {warmup} warm-up iterations: lower `timing.warmup`, or let the "
            "fit train longer (its trainer.max_epochs, trainer.limit_train_batches)"
        )
    done = json.loads(found[-1].read_text())
    return 1000 * done["seconds"] / done["iterations"] if done["iterations"] else math.nan


def time_candidates(
    arguments: Mapping[str, list[str]],
    iterations: int = 200,
    rounds: int = 5,
    warmup: int = 20,
    fit: Callable = fit_for_timing,
) -> dict[str, list[float]]:
    """Each candidate's seconds per 1,000 iterations in every round; round r times the candidates in their
    order, reversed when r is odd. ``arguments``: each candidate's ``main.py fit`` arguments."""
    names = list(arguments)
    found: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="gan-timing-") as scratch:
        for r in range(rounds):
            for name in names if r % 2 == 0 else reversed(names):
                folder = Path(scratch) / f"round{r}" / name
                try:
                    found[name].append(time_once(arguments[name], folder, iterations, warmup, fit))
                except RunFailedError as err:
                    raise RunFailedError(f"timing {name} (round {r + 1} of {rounds}) failed: {err}") from err
    return found


def time_study(study, iterations: int = 200, rounds: int = 5, warmup: int = 20) -> Path:
    """Time every candidate of ``study`` with its tuned settings (replicate 0's) on its first seed, one job, and
    write ``timing.json`` in the study folder."""
    from gan_module.study.runner import cli_args, tuned_settings

    arguments = {}
    for candidate in study.candidates():
        settings = tuned_settings(study, candidate)
        args = cli_args(study, candidate, study.seeds[0], folder=Path("unused"), settings=settings)
        arguments[candidate.name] = [a for a in args if not a.startswith("--trainer.default_root_dir=")]
    measured = time_candidates(arguments, iterations, rounds, warmup)
    path = study.layout.timing
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"iterations": iterations, "rounds": rounds, "warmup": warmup, "seconds_per_1000": measured}
    write_text_atomically(path, json.dumps(payload, indent=1))
    return path


def read_timing(study) -> dict[str, list[float]] | None:
    """Each candidate's seconds per 1,000 iterations per round, from ``timing.json``; None when not timed."""
    path = study.layout.timing
    if not path.is_file():
        return None
    try:
        measured = json.loads(path.read_text())["seconds_per_1000"]
        return {name: [float(v) for v in values] for name, values in measured.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
