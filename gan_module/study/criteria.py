"""What a study's finished runs measured, read one way by every report (leaderboard, answers, claims).

A run's ``result.json`` (runner.py) holds its final metrics, the diagnostics' flag shares and its measured
cost. The reports judge candidates on four criteria:

- **quality**: the study's quality metric (``quality``, default ``rank_by``);
- **diversity**: the study's ``diversity`` metric, when it names one;
- **cost**: measured training seconds per generator iteration: the dedicated interleaved timing (timing.py) where
  the study has one, else the fit's own clock (start-up excluded; shared with the study's other jobs);
- **instability**: the share of logged steps the diagnostics flagged as unstable training or non-convergence.

Runs are grouped into *contexts*: the values of the axes that carry no decision labels (the dataset, say),
since a candidate is only compared with candidates trained on the same data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gan_module.metrics.registry import default_margin, ideal_value
from gan_module.names import UNSETTLED
from gan_module.study.result import RunResult

if TYPE_CHECKING:  # only for type hints: spec.py reads the claims and criteria it checks against
    from gan_module.study.spec import Study

QUALITY, DIVERSITY = "quality", "diversity"  # the study objectives' roles (Study.objectives)
COST = "cost"
INSTABILITY = "instability"
#: the criteria an application profile weighs (its ``application`` keys, besides the limits)
WEIGHED = (QUALITY, DIVERSITY, COST)
#: hard limits an application profile may set, on the candidates' mean measured cost
LIMITS = ("max_seconds_per_iteration", "max_seconds_per_run")
#: instability's default equivalence margin: 5 points of the share of flagged steps
INSTABILITY_MARGIN = 0.05
#: cost's default margin, a fraction of the cost compared against: timing differences under 15% are not a saving
COST_MARGIN = 0.15


@dataclass(frozen=True)
class Criterion:
    """A number each run has, and which way is better."""

    name: str
    label: str  # what a report calls it: the metric's name, or "seconds per iteration"
    higher_is_better: bool
    margin: float | None = None  # equivalence margin in its units (statistics.py); None: none declared
    relative: bool = False  # the margin is a fraction of the value compared against (cost)

    @property
    def ideal(self) -> float | None:
        """What a perfect generator scores (the metric's declared ideal); None for cost, instability and metrics
        that declare none."""
        return ideal_value(self.name)

    def of(self, run: RunResult) -> float:
        if self.name == COST:
            if math.isfinite(run.seconds_per_iteration):
                return run.seconds_per_iteration
            return run.training_seconds / run.iterations if run.iterations else math.nan
        if self.name == INSTABILITY:
            return sum(run.stability.get(issue, math.nan) for issue in UNSETTLED) / len(UNSETTLED)
        return float(run.metrics.get(self.name, math.nan))


def criteria(study: Study) -> dict[str, Criterion]:
    """quality, diversity (when set), cost and instability of this study, each with its equivalence margin: the
    study's ``margins``, else the metric's default (gan_module/metrics/registry.py)."""
    margins = study.margins
    found = {
        role: Criterion(o.metric, o.metric, o.mode == "max", margins.get(o.metric, default_margin(o.metric)))
        for role, o in study.objectives.items()
    }
    found[COST] = Criterion(COST, "seconds per iteration", False, margins.get(COST, COST_MARGIN), relative=True)
    flagged = "share of steps flagged unstable or non-converging"
    found[INSTABILITY] = Criterion(INSTABILITY, flagged, False, margins.get(INSTABILITY, INSTABILITY_MARGIN))
    return found


def finite_mean(values: Iterable[float]) -> float:
    """The mean of the finite values (NaN when there is none): a diverged run has no score."""
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else math.nan


def by_seed(runs: list[RunResult], criterion: Criterion) -> dict[tuple[int, int], float]:
    """The criterion's value per run, by (tuning, seed) (statistics.py compares seeds, or tunings' means where the
    study replicates its tuning): the mean of the finite values when several runs share it (a group of
    candidates), so one diverged run (no score) does not take its whole seed out of the comparison."""
    values: dict[tuple[int, int], list[float]] = {}
    for run in runs:
        values.setdefault((run.tuning, run.seed), []).append(criterion.of(run))
    return {key: finite_mean(v) for key, v in values.items()}


#: said at the start of a study all of whose axes are contexts (answers.md would pick one candidate per value)
NOTHING_COMPARED = (
    "note: no axis value carries a `decision:` label, so every axis is a context and the study compares no two "
    "candidates; label the values you are choosing between, e.g. `decision: {regularization: none}`."
)


def context_axes(study: Study) -> list[str]:
    """Axes none of whose values carries a decision label: every comparison is made within one of their values."""
    return [axis for axis, choices in study.axes.items() if not any(c.decision for c in choices.values())]


def contexts(study: Study, results: list[RunResult]) -> list[tuple[str, list[RunResult]]]:
    """(title, runs) for each combination of the context axes' values ("all runs" when there is none)."""
    axes = context_axes(study)
    found = []
    for combo in itertools.product(*(study.axes[a] for a in axes)):  # one empty combination without context axes
        where = dict(zip(axes, combo, strict=True))
        runs = [r for r in results if all(r.values.get(a) == v for a, v in where.items())]
        found.append((", ".join(f"{a} = {v}" for a, v in where.items()) or "all runs", runs))
    return found


def players(study: Study, runs: list[RunResult], role: str) -> tuple[str, list[RunResult]]:
    """The candidate playing a claim's ``role`` in these runs (one context), and its runs; ("", []) when none
    does (claims.py, control.py)."""
    value = study.role_value(role)
    playing = [r for r in runs if value in r.values.values()]
    return (playing[0].candidate, playing) if playing else ("", [])


def by_candidate(runs: list[RunResult]) -> dict[str, list[RunResult]]:
    """The runs of each candidate, in the order first seen."""
    grouped: dict[str, list[RunResult]] = {}
    for run in runs:
        grouped.setdefault(run.candidate, []).append(run)
    return grouped
