"""Every run's own row: what each seed gave, beside the leaderboard's means.

A user picks a recipe for how it behaves on *their* seed, so the report keeps every (candidate, seed): its final
value of each study metric, whether it reached each of the study's ``targets``, its status and its cost.
``runs.csv`` holds every column; ``runs.md`` is the same as one Markdown table, candidates in the leaderboard's
order, seeds ascending.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_module.names import EVAL
from gan_module.study.layout import RUNS_CSV, RUNS_MD
from gan_module.study.result import RunResult

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

#: the marks of a target in runs.md: reached, missed, not this candidate's target
REACHED, MISSED, NOT_APPLICABLE = "yes", "no", "–"


def run_rows(study: Study, results: list[RunResult], order: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per finished run: candidate, seed, status, each study metric, each target's mark, cost.

    ``order``: the candidates' order (the leaderboard's ranking); the study's own order otherwise."""
    candidates = {c.name: c for c in study.candidates()}
    rank = {name: i for i, name in enumerate(order or list(candidates))}
    replicated = any(r.tuning for r in results)  # the tuning replicate each run trained with (tuning_noise.py)
    rows = []
    for run in sorted(results, key=lambda r: (rank.get(r.candidate, len(rank)), r.tuning, r.seed)):
        row: dict[str, Any] = {"candidate": run.candidate, "seed": run.seed, "status": run.status}
        row |= {"tuning": run.tuning} if replicated else {}
        row |= {metric: run.metrics.get(metric, math.nan) for metric in study.metrics}
        for target in study.targets:
            if not target.applies(candidates[run.candidate]):
                row[target.label] = NOT_APPLICABLE
            else:
                row[target.label] = REACHED if target.reached(run.metrics.get(target.metric, math.nan)) else MISSED
        row |= {"iterations": run.iterations, "training_seconds": run.training_seconds}
        rows.append(row)
    return rows


def write_runs(study: Study, results: list[RunResult], order: list[str] | None = None) -> tuple[Path, Path]:
    """``runs.csv`` and ``runs.md`` in the study folder."""
    rows = run_rows(study, results, order)
    study.folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = study.layout.report(RUNS_CSV), study.layout.report(RUNS_MD)
    columns = list(rows[0]) if rows else ["candidate", "seed", "status", *study.metrics]
    with open(csv_path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(_markdown(columns, rows))
    return csv_path, md_path


def _markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    header = [c.removeprefix(EVAL) for c in columns]
    lines = [
        "Every run's final values (a diverged run was not tested: no values); targets: whether this seed reached it.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if c in ("candidate", "status") else "---:" for c in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)
