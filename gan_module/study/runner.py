"""Running a study: each (candidate, seed) is an ordinary ``main.py fit`` then ``main.py test``, in its own folder.

Both happen in one CLI in the worker's process (fit_then_test.py): a worker imports Lightning once and parses
each run's config once.

``runs/studies/<study>/<candidate>/seed<S>/version_0`` holds the run's logs, images and checkpoints, like any
run. ``result.json`` beside it is written only once fit and test have both finished, so a study that was
interrupted (Ctrl-C, a cluster's time limit) skips what is done, resumes a run that has a ``last.ckpt`` and
restarts one that has none.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from gan_module.checkpoint_io import write_text_atomically
from gan_module.errors import RunFailedError
from gan_module.model.run_state import SavedRun
from gan_module.names import EVAL, ISSUES, ITERATIONS, issue_key
from gan_module.run.checkpoint import loads
from gan_module.run.layout import RunLayout
from gan_module.run.locks import RunBusyError, lock_beside
from gan_module.study.console import note, output_to
from gan_module.study.layout import damaged_copy, tuning_name
from gan_module.study.result import DIVERGED, DONE, RunResult, TunedSettings
from gan_module.study.spec import Candidate, Study


def cli_args(
    study: Study,
    candidate: Candidate,
    seed: int,
    folder: Path | None = None,
    settings: dict[str, Any] | None = None,
    budget: tuple[int | None, float | None] | None = None,
) -> list[str]:
    """The ``main.py`` arguments of one run (after the subcommand): a reporting run by default; a tuning trial
    gives its own ``folder``, the trial's ``settings`` (after the study's and the candidate's) and ``budget``
    (iterations, seconds)."""
    args: list[str] = []
    for config in [*study.base, *candidate.configs]:
        args += ["--config", config]
    # the seed also seeds the data (its shuffling; the points of a 2-D mixture), so seeds differ in every
    # source of randomness; the study's and the candidate's settings come after and may override it
    args += [f"--seed_everything={seed}", f"--data.init_args.seed={seed}"]
    args.append("--sample_grid.at_end=true")  # the final samples, even when the budget ends between grids
    settings = {**study.args, **dict(candidate.args), **(settings or {})}
    args += [f"--{key}={_cli_value(value)}" for key, value in settings.items()]
    args.append(f"--trainer.default_root_dir={folder or study.layout.run_folder(candidate.name, seed)}")
    iterations, seconds = budget or (study.iterations, study.wall_time)
    if iterations is not None:
        args.append(f"--budget.max_iterations={iterations}")
    if seconds is not None:
        args.append(f"--budget.max_seconds={seconds}")
    return args


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def fit_and_test(args: list[str], log: Path, cli: type | None = None) -> int:
    """``python main.py fit ARGS`` then ``test`` of its last.ckpt, in this process, its output appended to ``log``;
    the exit code (0: done, 1: the run diverged, and was not tested). ``cli``: a subclass of FitThenTestCLI (a
    tuning trial's)."""
    from gan_module.cli import main
    from gan_module.study.fit_then_test import FitThenTestCLI

    with output_to(log), warnings.catch_warnings():
        # LightningCLI warns that args were given beside the study command's own sys.argv: they are meant to be
        warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter is intended")
        try:
            main(["fit", *args], cli=cli or FitThenTestCLI)
        except SystemExit as stop:
            return int(stop.code or 0)
    return 0


def run_one(study: Study, candidate: Candidate, seed: int, wait: bool = False) -> RunResult | None:
    """Train and evaluate one (candidate, seed), or return its stored result when it already finished; None when
    another worker (a second copy of the study, another array task) holds it now (``wait``: wait for it)."""
    folder = study.layout.run_folder(candidate.name, seed)
    try:
        lock = lock_beside(folder, wait)
    except RunBusyError as err:
        note(f"[study {study.name}] {candidate.name} seed {seed}: another worker (process {err.holder}) trains it")
        return None
    with lock:
        return _run_locked(study, candidate, seed)


def _run_locked(study: Study, candidate: Candidate, seed: int) -> RunResult:
    layout = study.layout
    folder, result_file = layout.run_folder(candidate.name, seed), layout.result(candidate.name, seed)
    stored = read_result(result_file)
    if stored is not None:
        return stored
    result_file.unlink(missing_ok=True)  # damaged (read_result said so): its run is resumed and tested again
    run = layout.run(candidate.name, seed)
    last = run.last_checkpoint
    if last.is_file() and not loads(last):
        damaged = damaged_copy(folder)
        print(f"warning: {last} cannot be read; kept as {damaged} and the run starts over", file=sys.stderr)
        folder.rename(damaged)
    if folder.exists() and not last.is_file():
        shutil.rmtree(folder)  # started but saved nothing: start over
    replicate = study.replicate_of(seed)
    settings = tuned_settings(study, candidate, replicate)
    args = cli_args(study, candidate, seed, settings=settings)
    timing = layout.run_seconds(candidate.name, seed)  # every attempt of this run, start-up and test included
    spent = _seconds(timing)
    start = time.perf_counter()
    log = layout.run_log(candidate.name, seed)
    code = fit_and_test([*args, *(["--ckpt_path=last"] if last.is_file() else [])], log)
    spent += time.perf_counter() - start
    if folder.exists():  # also before a stop: an interrupted attempt's seconds count when the run resumes
        write_text_atomically(timing, json.dumps({"seconds": spent}))
    if code in (130, 143):  # Ctrl-C or SIGTERM: the run saved a checkpoint; stop the whole study here
        raise SystemExit(code)
    if code not in (0, 1):
        raise RunFailedError(f"{candidate.name} seed {seed} failed (exit {code}): {last_error(log)} (its log: {log})")
    result = collect(run, study, candidate, seed, DIVERGED if code == 1 else DONE, settings, spent)
    result.tuning = replicate
    result.write(result_file)
    return result


def last_error(log: Path) -> str:
    """The last ``error:`` line of a run's log (the CLI's one-line reason), or its last line."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["the log is empty"])[-1]


def tuned_settings(study: Study, candidate: Candidate, replicate: int = 0) -> dict[str, Any]:
    """The settings a tuning replicate chose for the candidate (nothing when the study does not tune); tuning
    must have finished (tuning.ensure_tuned) before a reporting run starts."""
    if study.tune is None:
        return {}
    best = read_best(study, candidate, replicate)
    if best is None:
        raise RuntimeError(f"{candidate.name}: tuning has not finished; its reporting runs wait for best.json.")
    return dict(best.settings)


def read_best(study: Study, candidate: Candidate, replicate: int = 0) -> TunedSettings | None:
    """What a tuning replicate chose for the candidate, or None before it has finished (or when best.json is
    damaged: the tuning then writes it again from the trials in the storage)."""
    try:
        return TunedSettings.read(study.layout.best(tuning_name(candidate.name, replicate)))
    except (ValueError, UnicodeDecodeError):
        return None


def read_result(path: Path) -> RunResult | None:
    """A finished run's stored result; None when there is none, or (said in one line) when it is damaged."""
    try:
        return RunResult.read(path)
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        print(
            f"warning: {path} is damaged ({type(err).__name__}: {err}); its run counts as unfinished", file=sys.stderr
        )
        return None


def _seconds(timing: Path) -> float:
    """Seconds spent by earlier attempts of a run (0 when the file is missing or damaged)."""
    try:
        return float(json.loads(timing.read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def collect(
    run: RunLayout,
    study: Study,
    candidate: Candidate,
    seed: int,
    status: str,
    settings: dict[str, Any] | None = None,
    run_seconds: float = math.nan,
) -> RunResult:
    """A finished run's record: final metrics (from ``test``), issue shares, curve, cost, sample image."""
    tested = _rows(run.evaluation("test").metrics)
    metrics = {key: float(value) for row in tested for key, value in row.items() if key.startswith(EVAL) and value}
    trained = _rows(run.metrics)
    stability = {}
    for issue in ISSUES:
        flags = [float(row[issue_key(issue)]) for row in trained if row.get(issue_key(issue))]
        stability[issue] = sum(flags) / len(flags) if flags else math.nan
    saved = SavedRun.read(run.last_checkpoint) if run.last_checkpoint.is_file() else None
    iterations = saved.progress.iterations if saved else 0
    seconds = saved.training_seconds if saved else math.nan  # the fit's own clock, over every attempt
    samples = run.latest_image("samples")
    return RunResult(
        candidate=candidate.name,
        seed=seed,
        status=status,
        values=dict(candidate.values),
        decision=dict(candidate.decision),
        metrics=metrics,
        stability=stability,
        curve=_curve(trained, study.rank_metric),
        untrained=_untrained(trained),
        iterations=iterations,
        d_steps=saved.progress.d_steps if saved else 0,
        training_seconds=seconds,
        iterations_per_second=iterations / seconds if seconds > 0 else math.nan,
        seconds_per_iteration=seconds / iterations if iterations > 0 else math.nan,
        parameters={net: saved.parameters(net) if saved else 0 for net in ("generator", "discriminator")},
        samples=str(samples) if samples else None,
        run_seconds=run_seconds,
        settings=dict(settings or {}),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _curve(rows: list[dict[str, str]], metric: str) -> list[tuple[int, float]]:
    """(generator iterations, metric) at each evaluation during fitting, from iteration 0 (the untrained
    generator, evaluated at the start of a fit from scratch).

    An evaluation row that carries its iteration count (the one at iteration 0) is read as it says; the others
    are logged at epoch ends in rows of their own, and take the count of the last training row at or before
    their logging step.
    """
    iterations_at: dict[int, int] = {}
    for row in rows:
        if row.get(ITERATIONS) and not _evaluated(row):
            iterations_at[int(row["step"])] = int(float(row[ITERATIONS]))
    curve = []
    for row in rows:
        if row.get(metric):
            step = int(row["step"])
            earlier = [s for s in iterations_at if s <= step]
            at = int(float(row[ITERATIONS])) if row.get(ITERATIONS) else iterations_at[max(earlier)] if earlier else 0
            curve.append((at, float(row[metric])))
    return curve


def _untrained(rows: list[dict[str, str]]) -> dict[str, float]:
    """Every metric of the evaluation at iteration 0 (the untrained generator): the fixed reference the pick's
    scales start from (references.py); empty when the run did not evaluate at its start."""
    for row in rows:
        if _evaluated(row) and row.get(ITERATIONS) and float(row[ITERATIONS]) == 0:
            return {key: float(value) for key, value in row.items() if key.startswith(EVAL) and value}
    return {}


def _evaluated(row: dict[str, str]) -> bool:
    return any(key.startswith(EVAL) and value for key, value in row.items())


def run_indices(study: Study, indices: list[int]) -> list[RunResult]:
    """Run the given runs of ``study.runs()`` one after another in this process. A run another worker holds (a
    second copy of the study, another array task) is left to it, and waited for at the end: every run is
    trained once, whoever trains it."""
    runs = study.runs()
    results, elsewhere = [], []
    for i in indices:
        began = time.perf_counter()
        result = run_one(study, *runs[i])
        if result is None:
            elsewhere.append(i)
        else:
            results.append(_said(study, i, result, time.perf_counter() - began))
    for i in elsewhere:  # finished by its holder by now, or resumed here if the holder died
        began = time.perf_counter()
        results.append(_said(study, i, run_one(study, *runs[i], wait=True), time.perf_counter() - began))
    return results


def _said(study: Study, i: int, result: RunResult, seconds: float) -> RunResult:
    """Print one run's line of progress."""
    summary = f"{study.rank_metric} {result.metrics.get(study.rank_metric, math.nan):.4g}"
    note(
        f"[study {study.name}] run {i + 1}/{len(study.runs())} {result.candidate} seed {result.seed}: "
        f"{result.status}, {summary} ({seconds:.1f} s)"
    )
    return result


def run_parallel(
    study: Study, jobs: int, runs_root: Path | None = None, storage: str | None = None, settings: list[str] = ()
) -> None:
    """``jobs`` worker processes, each running every ``jobs``-th run, with the CPU threads shared out; each
    worker's messages go to its log (``logs/worker<k>.log``), and a failed worker is one line naming it."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    root = ["--runs-root", str(runs_root)] if runs_root is not None else []
    root += ["--storage", storage] if storage is not None else []
    root += [part for setting in settings for part in ("--set", setting)]
    command = [sys.executable, "-m", "gan_module.study", str(study.path), "--no-report", *root]
    logs = [study.layout.log(f"worker{k}") for k in range(jobs)]
    logs[0].parent.mkdir(parents=True, exist_ok=True)
    # each worker in its own session: a terminal's Ctrl-C reaches the parent only, which passes it on once
    workers = []
    for k, log in enumerate(logs):
        with open(log, "ab") as out:
            workers.append(
                subprocess.Popen(
                    [*command, "--shard", f"{k}/{jobs}"], env=env, start_new_session=True, stdout=out, stderr=out
                )
            )

    def pass_on(signum: int, frame) -> None:
        # a scheduler stopping the job signals the parent: the workers save their runs, and the parent waits
        print(f"[study {study.name}] {signal.Signals(signum).name}: stopping the workers after their checkpoints")
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [w.wait() for w in workers]
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    stopped = [c for c in codes if c in (130, 143, -signal.SIGTERM, -signal.SIGINT)]
    if stopped:
        raise SystemExit(143 if 143 in stopped or -signal.SIGTERM in stopped else 130)
    failed = [(k, code) for k, code in enumerate(codes) if code]
    if failed:
        k, code = failed[0]
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        raise RunFailedError(
            f"study worker {k} {how}: {last_error(logs[k])} (its log: {logs[k]}); rerun the same command to resume."
        )
