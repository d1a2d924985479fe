"""Where a study's tuning lives: one folder per candidate under ``<study>/tuning/``, each trial's run in
``trial<N>/version_0``, and ``best.json`` (the chosen settings the reporting runs use) once tuning finished.

The Optuna storage defaults to ``sqlite:///<study>/optuna.db`` beside them (nothing to start); ``--storage URL``
points every worker at a PostgreSQL server instead when several machines share a study.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gan_module.checkpoint_io import write_text_atomically
from gan_module.study.spec import Candidate, Study

TUNING, BEST, DATABASE = "tuning", "best.json", "optuna.db"


def tuning_folder(study: Study, candidate: Candidate) -> Path:
    return study.folder / TUNING / candidate.name


def trial_folder(study: Study, candidate: Candidate, number: int) -> Path:
    return tuning_folder(study, candidate) / f"trial{number}"


def storage_url(study: Study, url: str | None = None) -> str:
    """The Optuna storage every worker of this study uses: ``url``, else the study's own SQLite file."""
    return url or f"sqlite:///{(study.folder / DATABASE).resolve()}"


def optuna_name(study: Study, candidate: Candidate) -> str:
    """One Optuna study per candidate: ``<study name>/<candidate>``."""
    return f"{study.name}/{candidate.name}"


def trial_metric(study: Study) -> str:
    """The metric tuning trials are scored and pruned by: ``tune.metric``, else the study's quality metric."""
    return study.tune.metric or study.objectives["quality"].metric


def read_best(study: Study, candidate: Candidate) -> dict[str, Any] | None:
    """The candidate's chosen settings (``{"params", "settings", "value", "trial"}``), or None before tuning ends."""
    path = tuning_folder(study, candidate) / BEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_best(study: Study, candidate: Candidate, best: dict[str, Any]) -> None:
    path = tuning_folder(study, candidate) / BEST
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(best, indent=1))
