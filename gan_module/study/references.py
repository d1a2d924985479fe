"""Fixed ends of a metric's scale: where a candidate started (its untrained generator) and where a perfect one ends.

Scaling each criterion so the pool's best candidate reads 1 and its worst 0 makes every score depend on who else
is in the pool: one weak candidate added stretched the scale and flipped the pick. Against fixed references a
candidate's scaled value is the fraction of the way from its untrained level (the evaluation at iteration 0,
callbacks/evaluation.py) to the metric's ideal (what the real data scores: FID 0, reverse KL 0, the 2-D
mixtures' high-quality share 0.989; EvaluationMetric.ideals) that training took it -- a function of its own runs
and constants, so adding or removing another candidate never changes it. Where either end is unknown (a metric
without an ideal, runs from before iteration 0 was evaluated), the pool's range is used and the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from gan_module.metrics.registry import ideal_value
from gan_module.study.result import RunResult


def degenerate(level: float, ideal: float | None, higher_is_better: bool) -> bool:
    """Whether an untrained level is at least as good as the metric's ideal, so it cannot anchor a scale or a
    learning curve: an untrained MLP's samples all fall near the origin, where the grid of 25 Gaussians has a
    mode, so its high-quality share reads 0.998-1.0 at iteration 0, above the 0.989 a perfect generator scores
    (claims_mixtures, 2026-12-07); training first spreads the samples (the share drops) and then sharpens them."""
    if ideal is None or not math.isfinite(level):
        return False
    return level >= ideal if higher_is_better else level <= ideal


def untrained(runs: list[RunResult], metric: str, curve_metric: str) -> float:
    """The mean of the runs' values of ``metric`` at iteration 0 (``RunResult.untrained``, or the curve's first
    point when the curve is of this metric and starts at 0); NaN when no run stored one."""
    found = []
    for run in runs:
        value = run.untrained.get(metric, math.nan)
        if not math.isfinite(value) and metric == curve_metric and run.curve and run.curve[0][0] == 0:
            value = run.curve[0][1]
        if math.isfinite(value):
            found.append(value)
    return float(np.mean(found)) if found else math.nan


def floor(groups: list[list[RunResult]], metric: str, curve_metric: str, higher_is_better: bool) -> float | None:
    """What a diverged run of these candidates counts at: the worst of their untrained levels (statistics.Pair's
    floor), else of their curves' first evaluations (runs from before iteration 0 was evaluated); None without.

    Tied with the worst finite run instead, a candidate diverging on 3 of 8 seeds and leading on the other 5 still
    came out "better" in 299 of 300 simulated studies (tests/test_study_learning.py). An untrained level at least
    as good as the ideal (:func:`degenerate`) is no floor: then the worst point their curves passed through is."""
    ideal, levels = ideal_value(metric), []
    for group in groups:
        level = untrained(group, metric, curve_metric)
        if degenerate(level, ideal, higher_is_better):
            level = _worst_point(group, higher_is_better) if metric == curve_metric else math.nan
        if math.isfinite(level):
            levels.append(level)
    if not levels and metric == curve_metric:
        levels = [r.curve[0][1] for g in groups for r in g if r.curve and math.isfinite(r.curve[0][1])]
    if not levels:
        return None
    return min(levels) if higher_is_better else max(levels)


def _worst_point(runs: list[RunResult], higher_is_better: bool) -> float:
    """The worst value any of the runs' curves reached after iteration 0 (NaN without one)."""
    found = [v for r in runs for i, v in r.curve if i > 0 and math.isfinite(v)]
    if not found:
        return math.nan
    return min(found) if higher_is_better else max(found)


def fixed_ends(
    runs: list[RunResult], metric: str, curve_metric: str, higher_is_better: bool
) -> tuple[float, float] | None:
    """(untrained level, ideal) of a candidate's runs on ``metric``, or None where either is unknown or the
    untrained level is no worse than the ideal (:func:`degenerate`: the scale would run backwards)."""
    ideal, start = ideal_value(metric), untrained(runs, metric, curve_metric)
    if ideal is None or not math.isfinite(start) or degenerate(start, ideal, higher_is_better):
        return None
    return start, ideal


def scaled(value: float, ends: tuple[float, float]) -> float:
    """The fraction of the way from the untrained level to the ideal (NaN stays NaN): 0 untrained, 1 perfect."""
    start, ideal = ends
    return (value - start) / (ideal - start)


def pool_ends(means: Mapping[str, float], higher_is_better: bool) -> tuple[float, float] | None:
    """The fallback: (worst, best) of the candidates' means, so the pool's worst reads 0 and its best 1."""
    finite = [m for m in means.values() if math.isfinite(m)]
    if len(finite) < 2 or min(finite) == max(finite):
        return None
    return (min(finite), max(finite)) if higher_is_better else (max(finite), min(finite))
