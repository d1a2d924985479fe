"""The selection study (Motwani & Parmar 2020): train a grid of candidate GANs under one budget and rank them.

``python -m gan_module.study configs/studies/mixtures.yaml`` -- see spec.py for the study file, runner.py for
how runs execute and resume, leaderboard.py, seeds.py, plots.py, answers.py and claims.py for what is written (with
statistics.py -- tuning_noise.py, estimate.py, power.py --, learning.py, control.py, plan.py, pareto.py,
references.py, application.py, pick.py and timing.py behind them).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gan_module.study.answers import write_answers
from gan_module.study.claims import write_claims
from gan_module.study.layout import (
    ANSWERS,
    CLAIMS,
    CURVES,
    LEADERBOARD_CSV,
    LEADERBOARD_MD,
    RECIPES,
    RUNS_CSV,
    RUNS_MD,
    SAMPLES,
    TUNING_MD,
)
from gan_module.study.leaderboard import aggregate, write_leaderboard
from gan_module.study.plots import plot_curves, plot_samples
from gan_module.study.recipes import write_recipes
from gan_module.study.result import RunResult
from gan_module.study.runner import read_result
from gan_module.study.seeds import write_runs
from gan_module.study.spec import Candidate, Study, load_study
from gan_module.study.tuning import write_tuning

__all__ = ["Candidate", "Study", "finished_results", "load_study", "report"]


def finished_results(study: Study) -> list[RunResult]:
    """Every ``result.json`` of the study's runs that exist (finished runs), labelled with the study file's decision
    labels as they are now: a label describes a candidate, so correcting one needs no run again."""
    results = []
    for candidate, seed in study.runs():
        found = read_result(study.layout.result(candidate.name, seed))
        if found is not None:
            results.append(dataclasses.replace(found, decision=dict(candidate.decision)))
    return results


def report(study: Study, storage: str | None = None) -> dict[str, Path | None]:
    """Leaderboard (Markdown, CSV), plots, answers, the claims report and (for a tuned study) the tuning report
    from the finished runs."""
    results = finished_results(study)
    rows = aggregate(study, results)
    csv_path, md_path = write_leaderboard(study, rows)
    runs_csv, runs_md = write_runs(study, results, order=[row["candidate"] for row in rows])
    written = {
        LEADERBOARD_MD: md_path,
        LEADERBOARD_CSV: csv_path,
        RUNS_MD: runs_md,
        RUNS_CSV: runs_csv,
        CURVES: plot_curves(study, results),
        SAMPLES: plot_samples(study, results),
        ANSWERS: write_answers(study, results),
        CLAIMS: write_claims(study, results),
        RECIPES: write_recipes(study),
    }
    if study.tune is not None:
        written[TUNING_MD] = write_tuning(study, storage)
    return written
