"""Reading the learning curves before reading the final numbers: has a candidate started, is it still learning?

A comparison of final values taken while one candidate is still climbing ranks how fast it learns, not where it
ends; one taken before a slow starter has left its initial level says nothing about it at all. So each
candidate is labelled from its runs' curves of the quality metric (``RunResult.curve``: the ranking metric at
every evaluation while fitting, which should be at least :data:`MIN_POINTS` points):

- **not started**: none of its values at a quarter, half, three quarters and the end of the budget is
  detectably better than its first (paired over seeds, the metric's equivalence margin as the smallest change
  that counts): no verdict is drawn about it. Reading the quarters, not only the end, keeps a candidate that
  learned and then fell back from reading as one that never started;
- **fell back**: it started, and its last value is detectably worse than its best quarter: the final value is
  what a user of this budget gets, so it is compared like a settled one;
- **still learning**: its last value is detectably better than its value three quarters of the way through:
  the last quarter's change exceeds the seed noise;
- **settled**: otherwise.

Final values are compared only between settled candidates; otherwise :func:`area_under_curve` (the curve's mean
level over the budget) is compared, and :func:`iterations_to` a threshold the study declares (``threshold:``)
says how fast each gets there.
"""

from __future__ import annotations

import math

import numpy as np

from gan_module.study.result import RunResult
from gan_module.study.statistics import BETTER, MIN_SEEDS, Pair, compare_seeds

NOT_STARTED, STILL_LEARNING, SETTLED = "not started", "still learning", "settled"
FELL_BACK = "fell back"
SHORT = "curve too short"  # fewer than MIN_POINTS evaluations: the final values are all there is
FEW = "too few seeds"
#: evaluations a run's curve needs for the labels above (the study's evaluation.every_n_epochs sets them)
MIN_POINTS = 8


def _points(run: RunResult) -> list[tuple[int, float]]:
    return [(i, v) for i, v in run.curve if math.isfinite(v)]


def curve_state(runs: list[RunResult], higher_is_better: bool = True, margin: float | None = None) -> str:
    """The label of one candidate's runs (one per seed): not started, fell back, still learning, settled, or why
    none."""
    curves = {r.seed: _points(r) for r in runs if not r.diverged}
    curves = {seed: c for seed, c in curves.items() if c}
    if len(curves) < MIN_SEEDS:
        return FEW
    if min(len(c) for c in curves.values()) < MIN_POINTS:
        return SHORT
    first = {seed: c[0][1] for seed, c in curves.items()}
    last = {seed: c[-1][1] for seed, c in curves.items()}
    best = {seed: _best_quarter(c, higher_is_better) for seed, c in curves.items()}
    if not _detectably(best, first, higher_is_better, margin):
        return NOT_STARTED
    if _detectably(best, last, higher_is_better, margin):
        return FELL_BACK
    three_quarters = {seed: _value_at(c, 0.75) for seed, c in curves.items()}
    if _detectably(last, three_quarters, higher_is_better, margin=None):
        return STILL_LEARNING
    return SETTLED


def _detectably(a: dict[int, float], b: dict[int, float], higher_is_better: bool, margin: float | None) -> bool:
    """``a`` better than ``b`` over the seeds (paired), and by at least ``margin`` on average when one is set."""
    if all(a[seed] == b[seed] for seed in a):  # no change at all (a curve whose best read is its last)
        return False
    better = compare_seeds(a, b, higher_is_better, margin=None).verdict == BETTER
    return better and (margin is None or _mean_change(a, b, higher_is_better) >= margin)


def _best_quarter(curve: list[tuple[int, float]], higher_is_better: bool) -> float:
    """The best of the curve's values at a quarter, half, three quarters and the end of its iterations: four
    reads, so the noise of a flat curve barely lifts it (a maximum over every evaluation would)."""
    values = [_value_at(curve, fraction) for fraction in (0.25, 0.5, 0.75, 1.0)]
    return max(values) if higher_is_better else min(values)


def _mean_change(last: dict[int, float], first: dict[int, float], higher_is_better: bool) -> float:
    change = float(np.mean([last[s] - first[s] for s in last]))
    return change if higher_is_better else -change


def _value_at(curve: list[tuple[int, float]], fraction: float) -> float:
    """The value of the last evaluation at or before ``fraction`` of the curve's last iteration."""
    limit = fraction * curve[-1][0]
    before = [v for i, v in curve if i <= limit]
    return before[-1] if before else curve[0][1]


def area_under_curve(run: RunResult) -> float:
    """The curve's mean level over its iterations (trapezoids, divided by the span): a slow starter that ends
    high scores below one that got there early. NaN without at least two points."""
    points = _points(run)
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return math.nan
    x, y = np.array([i for i, _ in points], float), np.array([v for _, v in points], float)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def iterations_to(run: RunResult, threshold: float, higher_is_better: bool = True) -> float:
    """The first evaluation's iteration at which the curve reached ``threshold`` (inf: never)."""
    for iteration, value in _points(run):
        if (value >= threshold) if higher_is_better else (value <= threshold):
            return float(iteration)
    return math.inf


def seconds_to(run: RunResult, threshold: float, higher_is_better: bool = True) -> float:
    """:func:`iterations_to` in training seconds, at the run's measured seconds per iteration."""
    return iterations_to(run, threshold, higher_is_better) * run.seconds_per_iteration


def curve_pair(
    a: list[RunResult],
    b: list[RunResult],
    final: tuple[dict[int, float], dict[int, float]],
    names: tuple[str, str],
    higher_is_better: bool,
    margin: float | None = None,
    metric_margin: float | None = None,
) -> tuple[Pair | None, str]:
    """What to compare two candidates' quality by, and why: their ``final`` values (by seed) when neither still
    learns; the area under their curves when one does; nothing (None, naming who) when one has not started.
    ``margin``: the comparison's equivalence margin; ``metric_margin``: the metric's own, for the curve states."""
    states = {
        name: curve_state(runs, higher_is_better, metric_margin) for name, runs in zip(names, (a, b), strict=True)
    }
    late = [name for name, state in states.items() if state == NOT_STARTED]
    if late:
        return None, " and ".join(late)
    learning = [name for name, state in states.items() if state == STILL_LEARNING]
    if learning:  # a final value taken mid-climb ranks speed: compare the whole curves instead
        x, y = ({r.seed: area_under_curve(r) for r in runs} for runs in (a, b))
        return Pair(
            x, y, names, higher_is_better, margin
        ), f"area under the quality curve ({', '.join(learning)} still learning)"
    return Pair(*final, names, higher_is_better, margin), ""
