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
    came out "better" in 299 of 300 simulated studies (tests/test_study_learning.py)."""
    levels = [level for level in (untrained(g, metric, curve_metric) for g in groups) if math.isfinite(level)]
    if not levels and metric == curve_metric:
        levels = [r.curve[0][1] for g in groups for r in g if r.curve and math.isfinite(r.curve[0][1])]
    if not levels:
        return None
    return min(levels) if higher_is_better else max(levels)


def fixed_ends(runs: list[RunResult], metric: str, curve_metric: str) -> tuple[float, float] | None:
    """(untrained level, ideal) of a candidate's runs on ``metric``, or None where either is unknown."""
    ideal, start = ideal_value(metric), untrained(runs, metric, curve_metric)
    if ideal is None or not math.isfinite(start) or start == ideal:
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
