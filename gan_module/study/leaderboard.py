"""The leaderboard: every candidate's metrics as mean and spread over seeds, ranked by the study's metric.

The spread is Student's t 95% interval of the mean by default (statistics.py), the standard deviation or
standard error on request. A diverged run has no score; in the ranking metric and the area under the curve -- the
columns that rank -- it counts at the worst value any run of its dataset has (or its own untrained level, when
worse), as in every comparison, and the cell says how many runs diverged: a candidate diverging on 3 of 8 seeds
does not lead on the mean of the other 5. ``Pareto`` marks the candidates on the front of quality, diversity and
cost within their context (pareto.py): those no other candidate of the same dataset beats on all three.
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_module.names import EVAL, ISSUES, issue_key
from gan_module.study.criteria import COST, INSTABILITY, QUALITY, by_candidate, by_seed, contexts, criteria, finite_mean
from gan_module.study.layout import LEADERBOARD_CSV, LEADERBOARD_MD
from gan_module.study.learning import area_under_curve, curve_state, iterations_to, seconds_to
from gan_module.study.pareto import pareto_front
from gan_module.study.references import untrained
from gan_module.study.result import RunResult
from gan_module.study.schema import DECISIONS
from gan_module.study.statistics import mean_interval, rate_interval

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

Row = dict[str, Any]  # one leaderboard row: a column name -> its value (leaderboard.csv's columns)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (std 0 for one value, NaN for none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def worst_filled(values: list[float], context: list[float], higher_is_better: bool) -> list[float]:
    """``values`` with each missing one (a diverged run) at the worst finite value of ``context``."""
    finite = [v for v in context if math.isfinite(v)]
    if not finite:
        return values
    worst = min(finite) if higher_is_better else max(finite)
    return [v if math.isfinite(v) else worst for v in values]


def aggregate(study: Study, results: list[RunResult]) -> list[Row]:
    """One row per candidate with results, best first by ``rank_by`` (a diverged run at its dataset's worst)."""
    grouped = by_candidate(results)
    context_of = {run.candidate: runs for _, runs in contexts(study, results) for run in runs}
    higher = study.rank_mode == "max"
    front = pareto(study, results)
    judged = criteria(study)
    cost, quality = judged[COST], judged[QUALITY]
    rows = []
    for candidate in study.candidates():
        runs = grouped.get(candidate.name)
        if not runs:
            continue
        row: Row = {"candidate": candidate.name, "seeds": len(runs)}
        row["diverged"] = sum(r.diverged for r in runs)
        start = untrained(runs, study.rank_metric, study.rank_metric)  # a diverged run is no better than this
        row.update({d: dict(candidate.decision).get(d, "") for d in DECISIONS})
        for metric in study.metrics:
            values = [r.metrics.get(metric, math.nan) for r in runs]
            if metric == study.rank_metric:  # the ranking column: a diverged run counts, at the worst
                everyone = [r.metrics.get(metric, math.nan) for r in context_of[candidate.name]]
                values = worst_filled(values, [*everyone, start], higher)
            row[metric], row[metric + " std"] = mean_std(values)
            row[metric + " se"] = row[metric + " std"] / math.sqrt(max(sum(math.isfinite(v) for v in values), 1))
            interval = mean_interval(values)
            row[metric + " low"], row[metric + " high"] = interval.low, interval.high
        row["worst"], row["worst_seed"] = worst_seed(runs, study.rank_metric, study.rank_mode == "max")
        for target in study.targets:  # a seed that diverged reaches nothing
            reached = sum(target.reached(r.metrics.get(target.metric, math.nan)) for r in runs)
            row[target.label] = reached if target.applies(candidate) else None
        for issue in ISSUES:
            row[issue_key(issue)] = mean_std([r.stability.get(issue, math.nan) for r in runs])[0]
        row["run_seconds"] = mean_std([r.run_seconds for r in runs])[0]
        row["iterations_per_second"] = mean_std([r.iterations_per_second for r in runs])[0]
        row["seconds_per_iteration"] = mean_std([cost.of(r) for r in runs])[0]
        row["seconds_per_d_step"] = mean_std([r.training_seconds / r.d_steps if r.d_steps else math.nan for r in runs])[
            0
        ]
        row["curve"] = curve_state(runs, quality.higher_is_better, quality.margin, quality.ideal)
        everyone = [area_under_curve(r) for r in context_of[candidate.name]]
        row["auc"] = mean_std(worst_filled([area_under_curve(r) for r in runs], [*everyone, start], higher))[0]
        if study.threshold is not None:
            reached = [iterations_to(r, study.threshold, quality.higher_is_better) for r in runs]
            row["reached"] = sum(math.isfinite(x) for x in reached)
            row["iterations_to_threshold"] = statistics.median(reached) if reached else math.nan
            row["seconds_to_threshold"] = statistics.median(
                [seconds_to(r, study.threshold, quality.higher_is_better) for r in runs]
            )
        row["parameters"] = sum(runs[0].parameters.values()) or math.nan
        row["pareto"] = candidate.name in front
        rows.append(row)
    sign = -1.0 if study.rank_mode == "max" else 1.0

    def key(row: Row) -> tuple[bool, float]:
        value = row[study.rank_metric]
        return (not math.isfinite(value), sign * value if math.isfinite(value) else 0.0)

    rows.sort(key=key)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def worst_seed(runs: list[RunResult], metric: str, higher_is_better: bool) -> tuple[float, int]:
    """The worst seed's value of ``metric`` and the seed (a diverged or unscored run is the worst: NaN)."""
    values = {r.seed: r.metrics.get(metric, math.nan) for r in runs}
    unscored = [seed for seed, v in values.items() if not math.isfinite(v)]
    if unscored:
        return math.nan, min(unscored)
    seed = (min if higher_is_better else max)(values, key=values.get)
    return values[seed], seed


def pareto(study: Study, results: list[RunResult]) -> set[str]:
    """Candidates on the front of quality, diversity and cost (means over seeds) within their context."""
    used = [c for role, c in criteria(study).items() if role != INSTABILITY]
    front: set[str] = set()
    for _, runs in contexts(study, results):
        points = {}
        for name, group in by_candidate(runs).items():
            means = [finite_mean(by_seed(group, c).values()) for c in used]
            points[name] = tuple(m if c.higher_is_better else -m for m, c in zip(means, used, strict=True))
        front |= pareto_front(points)
    return front


def write_leaderboard(study: Study, rows: list[Row]) -> tuple[Path, Path]:
    """``leaderboard.csv`` (every column) and ``leaderboard.md`` (mean ± the study's spread) in the study folder."""
    study.folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = study.layout.report(LEADERBOARD_CSV), study.layout.report(LEADERBOARD_MD)
    if rows:
        with open(csv_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=["rank", *[k for k in rows[0] if k != "rank"]])
            writer.writeheader()
            writer.writerows(rows)
    md_path.write_text(markdown_table(study, rows))
    return csv_path, md_path


def markdown_table(study: Study, rows: list[Row]) -> str:
    direction = "higher" if study.rank_mode == "max" else "lower"
    header = ["#", "candidate", *[m.removeprefix(EVAL) for m in study.metrics], "worst seed"]
    header += [f"seeds with {t.label}" for t in study.targets]
    header += ["curve", "AUC"] + (["it to threshold", "s to threshold"] if study.threshold is not None else [])
    header += ["collapse", "vanishing", "unstable", "non-conv.", "diverged", "s/run", "it/s", "ms/D step", "Pareto"]
    lines = [
        f"Ranked by {study.rank_metric} ({direction} is better); mean {_SPREAD_NAMES[study.spread]} over seeds; "
        "worst seed: its value of the ranking metric; seeds with a target: how many reached it, exact 95% interval; "
        "issue columns: share of logged steps the diagnostic flagged; diverged: runs that diverged, exact 95% "
        "interval of the rate; curve: the quality curve's state (learning.py: final values rank only settled "
        "candidates); AUC: its mean level over the budget; in the ranking metric and AUC a diverged run counts at "
        "the worst value of its dataset"
        + (
            f"; to threshold: median over seeds of the first evaluation at {study.threshold:g} (n/seeds reached it)"
            if study.threshold is not None
            else ""
        )
        + "; ms/D step: training time per discriminator step; Pareto: on the front of "
        f"{' / '.join(c.label for r, c in criteria(study).items() if r != INSTABILITY)} in its dataset.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---:", "---"] + ["---:"] * (len(header) - 2)) + "|",
    ]
    for row in rows:
        cells = [str(row["rank"]), row["candidate"]]
        diverged = f" ({row['diverged']} diverged)" if row["diverged"] else ""
        cells += [_spread(study, row, m) + (diverged if m == study.rank_metric else "") for m in study.metrics]
        worst = "diverged" if not math.isfinite(row["worst"]) else f"{row['worst']:.3g}"
        cells.append(f"{worst} (seed {row['worst_seed']})")
        cells += [
            "–" if row[t.label] is None else str(rate_interval(row[t.label], row["seeds"])) for t in study.targets
        ]
        cells += [row["curve"], _number(row["auc"]) + diverged]
        if study.threshold is not None:
            cells += [
                f"{_number(row['iterations_to_threshold'])} ({row['reached']}/{row['seeds']})",
                _number(row["seconds_to_threshold"]),
            ]
        cells += [_share(row[issue_key(issue)]) for issue in ISSUES]
        cells += [
            str(rate_interval(row["diverged"], row["seeds"])),
            f"{row['run_seconds']:.1f}",
            f"{row['iterations_per_second']:.0f}",
            _number(1000 * row["seconds_per_d_step"]),
            "yes" if row["pareto"] else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_SPREAD_NAMES = {"ci": "[t 95% interval]", "std": "± std", "se": "± standard error"}


def _spread(study: Study, row: Row, metric: str) -> str:
    mean = row[metric]
    if not math.isfinite(mean):
        return "–"
    if study.spread == "ci":
        low, high = row[f"{metric} low"], row[f"{metric} high"]
        return f"{mean:.3g} [{low:.3g}, {high:.3g}]" if math.isfinite(low) else f"{mean:.3g}"
    return f"{mean:.3g} ± {row[f'{metric} {study.spread}']:.2g}"


def _number(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.3g}"


def _share(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.2f}"
