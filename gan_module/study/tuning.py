"""Every candidate tuned alike with Optuna before it is compared (the study file's ``tune:`` section, tune_spec.py).

One Optuna study per candidate, ``<study name>/<candidate>``, in an RDB storage (layout.py): SQLite by
default, PostgreSQL with ``--storage`` for many machines. Every worker of the study (``--jobs N``, SLURM array
tasks, other machines) runs the same loop on the same storage:

1. under the candidate's ask lock (an OS lock in the shared runs folder): fail the trials whose worker died
   (their run's lock is free) and queue their settings again; stop once ``trials`` trials finished or were
   pruned; else ask Optuna for a trial and take its run's lock;
2. train the trial as an ordinary study run (``main.py fit`` then ``test``) on a tuning seed, its quality
   metric reported to Optuna's pruner at every evaluation (:class:`TrialReporter`); a pruned trial stops
   at the end of that epoch and is not tested; a diverged one counts as pruned;
3. tell Optuna the tested quality, with the trial's CPU-seconds, seed and settings as user attributes.

Counting under the lock makes the number of finished + pruned trials exact for every candidate, whatever the
number of workers; a killed worker's trial is failed and retried, never counted twice, and re-running the same
command resumes. When a candidate's trials are done its best settings go to ``best.json``; its reporting runs
(on the study's ``seeds``, which the tuning seeds never include) train with them.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_module.errors import ConfigError, RunFailedError
from gan_module.model.run_state import SavedRun
from gan_module.run.checkpoint import loads
from gan_module.run.faults import mask_credentials
from gan_module.run.locks import RunBusyError, lock_beside, lock_file
from gan_module.study.console import note
from gan_module.study.layout import TUNING, TUNING_MD, tuning_name
from gan_module.study.result import DONE, TunedSettings
from gan_module.study.runner import cli_args, collect, fit_and_test, last_error, read_best
from gan_module.study.spec import Candidate, Study
from gan_module.study.tune_spec import settings_of

#: seconds between looks at the storage while other workers finish a candidate's last trials
POLL_SECONDS = 2.0
#: Optuna user attributes of a trial
CPU_SECONDS, SEED, SETTINGS, ENDED, DEFAULT = "cpu_seconds", "seed", "settings", "ended", "own_recipe"
#: a trial's budget as spent: generator iterations and D steps (recorded when it ends, so a report reads no
#: checkpoint)
ITERATIONS, D_STEPS = "iterations", "d_steps"
#: a retried trial's predecessor, and the first trial of its chain (whose seed it keeps)
RETRY_OF, ORIGIN = "retry_of", "origin"


@dataclass
class TrialReporter:
    """Feeds the quality metric along the learning curve to Optuna's pruner (Evaluation calls it after every
    evaluation while fitting) and stops the fit at the end of the epoch when the pruner says so."""

    trial: Any  # optuna.Trial
    metric: str
    pruned: bool = False
    #: the candidate's own recipe (trial 0) always runs to the end: tuning is judged against its full score,
    #: and a pruner comparing it with a trial running beside it would otherwise stop it (it did, on MNIST)
    protected: bool = False
    reported: list[tuple[int, float]] = field(default_factory=list)

    def observer(self, trainer) -> Callable[[int, dict[str, float]], None]:
        def observe(iterations: int, results: dict[str, float]) -> None:
            value = results.get(self.metric)
            if value is None or not math.isfinite(value) or any(i == iterations for i, _ in self.reported):
                return
            self.reported.append((iterations, value))
            self.trial.report(value, step=iterations)
            if not self.protected and self.trial.should_prune():
                self.pruned = True
                trainer.should_stop = True

        return observe


def trial_cli(reporter: TrialReporter) -> type:
    """The study's fit-then-test CLI with the reporter attached to the Evaluation callback; a pruned trial is
    not tested."""
    from callbacks.evaluation import Evaluation
    from gan_module.cli import GANCLI
    from gan_module.study.fit_then_test import FitThenTestCLI

    class TrialCLI(FitThenTestCLI):
        def before_fit(self) -> None:
            super().before_fit()
            for callback in self.trainer.callbacks:
                if isinstance(callback, Evaluation):
                    callback.observers.append(reporter.observer(self.trainer))

        def after_fit(self) -> None:
            if reporter.pruned:
                GANCLI.after_fit(self)  # saved, but not tested: the pruner has its number
            else:
                super().after_fit()

    return TrialCLI


@contextmanager
def storage_errors(study: Study, storage: str | None) -> Iterator[None]:
    """The storage's faults as one line (optuna lets SQLAlchemy's errors through, or wraps them): a damaged SQLite
    file names the file and what to do; a full disk is that fault; an unreachable server its host and port; never
    a password."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, StorageInternalError) as err:
        cause = err if isinstance(err, SQLAlchemyError) else err.__cause__ or err
        url = make_url(study.layout.storage_url(storage))
        reason = " ".join(str(getattr(cause, "orig", None) or cause).split())
        if url.get_backend_name() == "sqlite":
            if "disk is full" in reason:  # SQLite says so in words: the machine's fault, told as the others are
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), url.database) from None
            raise ConfigError(
                f"The tuning database {url.database} cannot be read ({reason}): restore it from a copy, or remove it "
                f"together with {study.layout.root / TUNING} to tune again from the start."
            ) from None
        if isinstance(cause, OperationalError):
            raise ConfigError(
                f"The tuning storage at {url.host}:{url.port or 'its default port'} cannot be used "
                f"({mask_credentials(reason)}): start it or check --storage, then run the same command again."
            ) from None
        shown = mask_credentials(str(url))
        raise ConfigError(f"The tuning storage {shown} failed: {mask_credentials(reason)}") from None


def open_study(study: Study, candidate: Candidate, storage: str | None = None, replicate: int = 0):
    """One tuning's Optuna study in the study's storage (created on first use, with the candidate's own recipe
    and the ``enqueue`` points as its first trials)."""
    import optuna

    layout = study.layout
    trials_made = layout.tuning(tuning_name(candidate.name, replicate))
    if storage is None and not layout.database.is_file() and trials_made.is_dir():
        raise ConfigError(
            f"The tuning database {layout.database} is missing, but {trials_made} holds trials it counted: restore "
            f"the database, or remove {layout.root / TUNING} to tune again from the start (nothing was retrained)."
        )
    url = layout.storage_url(storage)
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # workers starting together would race to create the storage's tables and the study: one at a time
    with lock_file(layout.database_lock, layout.root, wait=True):
        ostudy = optuna.create_study(
            study_name=layout.optuna_name(tuning_name(candidate.name, replicate)),
            storage=optuna.storages.RDBStorage(url, engine_kwargs=engine),
            direction="maximize" if study.objectives["quality"].mode == "max" else "minimize",
            pruner=study.tune.pruner,
            load_if_exists=True,
        )
        if not ostudy.get_trials(deepcopy=False):  # a new study: its first trials
            if study.tune.default_first:  # the recipe as shipped, so tuning cannot end below it
                ostudy.enqueue_trial({}, user_attrs={DEFAULT: True})
            for point in study.tune.enqueued(candidate.space):
                ostudy.enqueue_trial(point)
        return ostudy


def _reap(ostudy, study: Study, name: str) -> None:
    """Fail the running trials whose worker died (their lock is free) and queue their settings again."""
    import optuna

    for trial in ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        folder = study.layout.trial_folder(name, trial.number)
        try:
            lock = lock_beside(folder)
        except RunBusyError:
            continue  # its worker is alive
        with lock:
            running = {t.number for t in ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
            if trial.number not in running:
                continue  # its worker finished it (and let go of its lock) since the list was read
            ostudy.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            kept = {k: v for k, v in trial.user_attrs.items() if k == DEFAULT}
            origin = {ORIGIN: trial.user_attrs.get(ORIGIN, trial.number), RETRY_OF: trial.number}
            ostudy.enqueue_trial(dict(trial.params), user_attrs={**origin, **kept})
            note(f"[tune {study.name}] {name} trial {trial.number}: its worker stopped; retried from its checkpoint")


def tune_candidate(study: Study, candidate: Candidate, storage: str | None = None, replicate: int = 0) -> TunedSettings:
    """Take part in one tuning of the candidate until its trials are all finished or pruned; its best settings."""
    import optuna

    done = read_best(study, candidate, replicate)
    if done is not None:
        return done
    states = optuna.trial.TrialState
    ostudy = open_study(study, candidate, storage, replicate)
    layout, name = study.layout, tuning_name(candidate.name, replicate)
    while True:
        with lock_file(layout.ask_lock(name), layout.tuning(name), wait=True):
            _reap(ostudy, study, name)
            trials = ostudy.get_trials(deepcopy=False)
            finished = sum(t.state in (states.COMPLETE, states.PRUNED) for t in trials)
            running = sum(t.state == states.RUNNING for t in trials)
            trial = lock = None
            if finished + running < study.tune.trials_for(candidate.space):
                ostudy.sampler = study.tune.new_sampler(name, len(trials))
                trial = ostudy.ask()
                lock = lock_beside(layout.trial_folder(name, trial.number), wait=True)
        if trial is not None:
            with lock:
                _run_trial(ostudy, study, candidate, trial, replicate)
        elif finished >= study.tune.trials_for(candidate.space):
            break
        else:
            time.sleep(POLL_SECONDS)  # other workers' last trials: wait (and reap them if their worker dies)
    return _choose(ostudy, study, candidate, replicate)


def _run_trial(ostudy, study: Study, candidate: Candidate, trial, replicate: int) -> None:
    import optuna

    tune, name = study.tune, tuning_name(candidate.name, replicate)
    space = tune.space(candidate.space)
    seeds = tune.seeds_of(replicate)
    seed = seeds[trial.user_attrs.get(ORIGIN, trial.number) % len(seeds)]  # a retried trial keeps its seed
    params = {} if trial.user_attrs.get(DEFAULT) else {p.name: p.suggest(trial) for p in space}
    settings = {**tune.args, **settings_of(space, params)}
    run = study.layout.trial_folder(name, trial.number)
    shutil.rmtree(run, ignore_errors=True)  # a number Optuna gives again never reuses a run
    resume = _take_over(study, name, trial, run)
    budget = (tune.iterations or study.iterations, tune.wall_time or study.wall_time)
    quality = study.trial_metric
    reporter = TrialReporter(trial, quality, protected=bool(trial.user_attrs.get(DEFAULT)))
    cpu, began = time.process_time(), time.perf_counter()
    log = study.layout.trial_log(name, trial.number)
    args = cli_args(study, candidate, seed, folder=run, settings=settings, budget=budget)
    code = fit_and_test([*args, *(["--ckpt_path=last"] if resume else [])], log, cli=trial_cli(reporter))
    if code in (130, 143):  # Ctrl-C or SIGTERM: the trial stays running until a worker finds its lock free
        raise SystemExit(code)
    if code not in (0, 1):  # a setting main.py refused (or a fault): never a scored, pruned or finished trial
        ostudy.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise RunFailedError(f"{name} trial {trial.number} failed (exit {code}): {last_error(log)} (its log: {log})")
    trial.set_user_attr(CPU_SECONDS, time.process_time() - cpu)
    trial.set_user_attr(SEED, seed)
    trial.set_user_attr(SETTINGS, settings)
    trained = study.layout.trial(name, trial.number)
    iterations, d_steps = _steps(trained.last_checkpoint)
    trial.set_user_attr(ITERATIONS, iterations)
    trial.set_user_attr(D_STEPS, d_steps)
    value = None
    if code == 0 and not reporter.pruned:
        value = collect(trained, study, candidate, seed, DONE).metrics.get(quality)
    ended = "pruned" if reporter.pruned else "diverged" if code == 1 else "unscored" if value is None else "done"
    trial.set_user_attr(ENDED, ended)
    if ended == "done" and math.isfinite(value):
        ostudy.tell(trial, value)
    else:  # stopped early by the pruner, diverged, or no score: counted, never chosen
        ostudy.tell(trial, state=optuna.trial.TrialState.PRUNED)
    summary = f"{quality} {value:.4g}" if value is not None else ended
    own = " (its own recipe)" if trial.user_attrs.get(DEFAULT) else ""
    seconds = time.perf_counter() - began
    note(f"[tune {study.name}] {name} trial {trial.number}{own} (seed {seed}): {summary} ({seconds:.1f} s)")


def _take_over(study: Study, name: str, trial, run: Path) -> bool:
    """A retried trial continues its stopped predecessor's run (same settings, same seed) from its last checkpoint
    when that loads: the predecessor's folder becomes this trial's. Whether there was one to continue."""
    previous = trial.user_attrs.get(RETRY_OF)
    if previous is None:
        return False
    folder = study.layout.trial_folder(name, previous)
    if not loads(study.layout.trial(name, previous).last_checkpoint):
        shutil.rmtree(folder, ignore_errors=True)  # nothing saved: this trial starts over
        return False
    folder.rename(run)
    return True


def _choose(ostudy, study: Study, candidate: Candidate, replicate: int) -> TunedSettings:
    """Write best.json (once, whoever gets here first): the best finished trial's settings -- none when the
    candidate's own recipe (trial 0) scored best, or when every trial was pruned or diverged."""
    import optuna

    best = read_best(study, candidate, replicate)
    if best is not None:
        return best
    space = study.tune.space(candidate.space)
    complete = ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    own = next((t.value for t in complete if t.user_attrs.get(DEFAULT)), None)
    best = TunedSettings(default_value=own)  # every trial pruned or diverged: the candidate's own settings
    if complete:
        chosen = ostudy.best_trial
        params = {p.name: p.decode(chosen.params[p.name]) for p in space if p.name in chosen.params}
        kept = bool(chosen.user_attrs.get(DEFAULT))
        settings = settings_of(space, params)
        best = TunedSettings(chosen.number, chosen.value, params, settings, kept_default=kept, default_value=own)
    best.write(study.layout.best(tuning_name(candidate.name, replicate)))
    return best


def ensure_tuned(study: Study, candidates: list[Candidate], storage: str | None = None) -> None:
    """Every tuning of each candidate (taking part in its trials, or waiting for other workers' last ones)."""
    if study.tune is None:
        return
    with storage_errors(study, storage):
        for candidate in candidates:
            for replicate in range(study.tune.replicates):
                tune_candidate(study, candidate, storage, replicate)


def tuning_summary(study: Study, storage: str | None = None) -> list[dict[str, Any]]:
    """Per tuning (candidate and replicate): its space, the chosen settings and their tuning score beside the
    candidate's own recipe's, trials finished / pruned / failed, and what it spent: generator iterations, D steps
    and CPU-seconds."""
    import optuna

    states = optuna.trial.TrialState
    rows = []
    for candidate in study.candidates():
        for replicate in range(study.tune.replicates):
            name = tuning_name(candidate.name, replicate)
            best = read_best(study, candidate, replicate)
            trials = _trials(study, name, storage)
            steps = [_trial_steps(study, name, t) for t in trials]
            rows.append(
                {
                    "candidate": name,
                    "space": candidate.space or study.tune.default_space or "-",
                    "params": best.params if best else None,
                    "value": best.value if best else None,
                    "own": best.default_value if best else None,
                    "kept": bool(best and best.kept_default),
                    "complete": sum(t.state == states.COMPLETE for t in trials),
                    "pruned": sum(t.state == states.PRUNED for t in trials),
                    "failed": sum(t.state == states.FAIL for t in trials),
                    "cpu_seconds": sum(float(t.user_attrs.get(CPU_SECONDS, 0.0)) for t in trials),
                    "iterations": sum(i for i, _ in steps),
                    "d_steps": sum(d for _, d in steps),
                }
            )
    return rows


def _trial_steps(study: Study, name: str, trial) -> tuple[int, int]:
    """A trial's generator iterations and D steps as it recorded them when it ended; read from its last
    checkpoint only for trials tuned before they were recorded."""
    if ITERATIONS in trial.user_attrs:
        return int(trial.user_attrs[ITERATIONS]), int(trial.user_attrs[D_STEPS])
    return _steps(study.layout.trial(name, trial.number).last_checkpoint)


def _steps(checkpoint: Path) -> tuple[int, int]:
    """A trial's generator iterations and D steps (k a G step: WGAN-GP's 5 D steps cost more than NS's 1)."""
    progress = SavedRun.read(checkpoint).progress if checkpoint.is_file() else None
    return (progress.iterations, progress.d_steps) if progress else (0, 0)


def _trials(study: Study, name: str, storage: str | None) -> list:
    """A tuning's trials, read only: a report never creates a storage or an Optuna study."""
    import optuna

    if storage is None and not study.layout.database.is_file():
        return []
    with storage_errors(study, storage):
        try:
            url = study.layout.storage_url(storage)
            loaded = optuna.load_study(study_name=study.layout.optuna_name(name), storage=url)
        except KeyError:  # not tuned yet
            return []
        return loaded.get_trials(deepcopy=False)


def write_tuning(study: Study, storage: str | None = None) -> Path:
    """``tuning.md``: per tuning, what it chose, against the candidate's own recipe, and what it cost (every
    candidate had the same trials)."""
    tune = study.tune
    replicated = f"{tune.replicates} independent tunings of each candidate, " if tune.replicates > 1 else ""
    lines = [
        f"# Tuning of {study.name}",
        "",
        f"{replicated}{tune.trials_said} per tuning ({tune.described}) on tuning seeds {tune.seeds}, "
        f"scored by {study.trial_metric}"
        + ("; trial 0 of each is the candidate's own recipe" if tune.default_first else "")
        + f"; the reporting runs (seeds {study.seeds}) use each tuning's chosen settings. Browse the trials: "
        f"`optuna-dashboard {study.layout.storage_url(storage)}`.",
        "",
        "| tuning | space | chosen settings | tuning score | own recipe's score | trials done | pruned | failed | "
        "G iterations | D steps | tuning CPU-s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in tuning_summary(study, storage):
        params = ", ".join(f"{k}={_short(v)}" for k, v in (row["params"] or {}).items()) or "(its own: none chosen)"
        if row["kept"]:
            params = "(its own recipe: no trial did better)"
        if row["params"] is None:
            params = "(not finished)"
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        own = "-" if row["own"] is None else f"{row['own']:.4g}"
        lines.append(
            f"| {row['candidate']} | {row['space']} | {params} | {value} | {own} | {row['complete']} | "
            f"{row['pruned']} | {row['failed']} | {row['iterations']:,} | {row['d_steps']:,} | "
            f"{row['cpu_seconds']:.0f} |"
        )
    path = study.layout.report(TUNING_MD)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
