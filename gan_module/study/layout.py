"""The layout of one study folder, written down once: every path, lock and report name the study reads or writes.

::

    <runs root>/<study>/                      StudyLayout.root
      <candidate>/seed<S>/version_0/          a reporting run (an ordinary run folder: gan_module/run/layout.py)
      <candidate>/seed<S>/result.json         its numbers, once fit and test both finished (result.py)
      <candidate>/seed<S>/run_seconds.json    the wall clock of every attempt, start-up and test included
      <candidate>/seed<S>/run.log             the run's own output (Lightning's), kept off the study's console
      <candidate>/.seed<S>.lock               held by the worker training it
      tuning/<candidate>/trial<N>/version_0/  a tuning trial's run; .trial<N>.lock beside it
      tuning/<candidate>/best.json            the settings tuning chose (result.py: TunedSettings)
      tuning/<candidate>/.ask.lock            held while a worker asks Optuna for the candidate's next trial
      optuna.db, .optuna.lock                 the default Optuna storage (SQLite), and its creation lock
      timing.json                             each candidate's cost timed alone (timing.py)
      logs/study.log, logs/worker<k>.log      the study command's own messages, and each --jobs worker's
      logs/timing.log                         the output of the timing's fits
      leaderboard.md, answers.md, ...         the reports (REPORTS)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gan_module.run.layout import RunLayout

RESULT, RUN_SECONDS, RUN_LOG, LOGS = "result.json", "run_seconds.json", "run.log", "logs"
TUNING, BEST, DATABASE, TIMING = "tuning", "best.json", "optuna.db", "timing.json"
LEADERBOARD_MD, LEADERBOARD_CSV, RUNS_MD, RUNS_CSV = "leaderboard.md", "leaderboard.csv", "runs.md", "runs.csv"
CURVES, SAMPLES, ANSWERS, CLAIMS, RECIPES, TUNING_MD = (
    "curves.png",
    "samples.png",
    "answers.md",
    "claims.md",
    "recipes.md",
    "tuning.md",
)
#: every report a study writes, in the order the study command lists them
REPORTS = (LEADERBOARD_MD, LEADERBOARD_CSV, RUNS_MD, RUNS_CSV, CURVES, SAMPLES, ANSWERS, CLAIMS, RECIPES, TUNING_MD)


@dataclass(frozen=True)
class StudyLayout:
    """The paths of one study folder."""

    root: Path

    def run_folder(self, candidate: str, seed: int) -> Path:
        """A reporting run's ``default_root_dir`` (it holds one run, ``version_0``, and the run's records)."""
        return self.root / candidate / f"seed{seed}"

    def run(self, candidate: str, seed: int) -> RunLayout:
        return RunLayout.numbered(self.run_folder(candidate, seed), 0)

    def result(self, candidate: str, seed: int) -> Path:
        return self.run_folder(candidate, seed) / RESULT

    def run_seconds(self, candidate: str, seed: int) -> Path:
        return self.run_folder(candidate, seed) / RUN_SECONDS

    def run_log(self, candidate: str, seed: int) -> Path:
        return self.run_folder(candidate, seed) / RUN_LOG

    def trial_log(self, candidate: str, number: int) -> Path:
        return self.trial_folder(candidate, number) / RUN_LOG

    def log(self, name: str) -> Path:
        """The study command's own log (``study``), a worker's (``worker<k>``) or the timing's (``timing``)."""
        return self.root / LOGS / f"{name}.log"

    def tuning(self, candidate: str) -> Path:
        return self.root / TUNING / candidate

    def trial_folder(self, candidate: str, number: int) -> Path:
        return self.tuning(candidate) / f"trial{number}"

    def trial(self, candidate: str, number: int) -> RunLayout:
        return RunLayout.numbered(self.trial_folder(candidate, number), 0)

    def best(self, candidate: str) -> Path:
        return self.tuning(candidate) / BEST

    def ask_lock(self, candidate: str) -> Path:
        return self.tuning(candidate) / ".ask.lock"

    @property
    def database(self) -> Path:
        return self.root / DATABASE

    @property
    def timing(self) -> Path:
        return self.root / TIMING

    @property
    def database_lock(self) -> Path:
        return self.root / ".optuna.lock"

    def report(self, name: str) -> Path:
        """One of :data:`REPORTS` (or claims.md of several studies read together)."""
        return self.root / name

    def optuna_name(self, candidate: str) -> str:
        """The candidate's study in the Optuna storage (one per candidate): ``<study name>/<candidate>``."""
        return f"{self.root.name}/{candidate}"

    def storage_url(self, url: str | None = None) -> str:
        """The Optuna storage every worker of this study uses: ``url``, else the study's own SQLite file."""
        return url or f"sqlite:///{self.database.resolve()}"


def tuning_name(candidate: str, replicate: int = 0) -> str:
    """The folder and Optuna name of one independent tuning of a candidate: the candidate's own name for the first
    (a study tuned once keeps its layout), ``<candidate>@tuning<r>`` for replicate r."""
    return candidate if replicate == 0 else f"{candidate}@tuning{replicate}"


def damaged_copy(folder: Path) -> Path:
    """Where a run folder whose checkpoint cannot be read is kept aside, so it is neither lost nor resumed."""
    return folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
