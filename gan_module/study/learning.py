"""Reading the learning curves before reading the final numbers: has a candidate started, is it still learning?

A comparison of final values taken while one candidate is still climbing ranks how fast it learns, not where it
ends; one taken before a slow starter has left its untrained level says nothing about it at all. So each
candidate is labelled from its runs' curves of the quality metric (``RunResult.curve``: the metric at every
evaluation while fitting, from the untrained generator at iteration 0 (callbacks/evaluation.py); at least
:data:`MIN_POINTS` points). The seeds' curves are averaged, and the evaluation noise of one point is measured
from the curves themselves (the spread of their second differences, a robust scale: a trend or one jump does not
move it); a change counts when it exceeds both the metric's margin and what that noise alone gives 95% of the
time (:func:`_noise_bounds`, calibrated on flat noise):

- **not started**: no point of the (3-point smoothed) mean curve rises that far above the iteration-0 level:
  every point is read, so a candidate that learned before the first evaluation, or rose and collapsed, has
  started; no verdict is drawn about one that has not;
- **fell back**: its level at the end is that far below its peak -- any rise that collapsed, early or late: the
  final value is what a user of this budget gets, so it is compared like a settled one;
- **still learning**: the straight line fitted to the last third of the curve rises by at least the margin, and
  by more than its noise (one-sided 5%);
- **settled**: otherwise.

Simulated (tests/test_study_tuning.py) on eight shapes -- rise then flat, rising to the end, a slowing rise, flat,
rise and fall, an early spike, learned before the first evaluation, a small late rise -- at 5 seeds and 13
evaluations: >= 99% labelled right at evaluation noise 0.02 with a 0.05 margin, >= 85% at noise equal to the margin.

Final values are compared only between settled (or fallen back) candidates; otherwise :func:`area_under_curve`
(the curve's mean level over the budget; a diverged run has none and counts worst) is compared, and
:func:`iterations_to` a threshold the study declares (``threshold:``) says how fast each gets there.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from gan_module.study.references import degenerate
from gan_module.study.result import RunResult
from gan_module.study.statistics import MIN_SEEDS

NOT_STARTED, STILL_LEARNING, SETTLED = "not started", "still learning", "settled"
FELL_BACK = "fell back"
SHORT = "curve too short"  # fewer than MIN_POINTS evaluations: the final values are all there is
FEW = "too few seeds"
#: evaluations a run's curve needs for the labels above (the study's evaluation.every_n_epochs sets them)
MIN_POINTS = 8
#: what a comparison reads when a candidate still learns (claims and answers name it)
AREA = "area under the quality curve"
_ONE_SIDED_5 = 1.6449  # the normal quantile of a one-sided 5% test
_LAST_THIRD = 2 / 3


def _points(run: RunResult) -> list[tuple[int, float]]:
    return [(i, v) for i, v in run.curve if math.isfinite(v)]


def curve_state(
    runs: list[RunResult], higher_is_better: bool = True, margin: float | None = None, ideal: float | None = None
) -> str:
    """The label of one candidate's runs (one per seed): not started, fell back, still learning, settled, or why
    none. ``ideal``: the metric's; an iteration-0 level at least as good (references.degenerate: the grid's
    untrained samples sit on its central mode) is no start to learn from, and the curve is read from its next point.
    """
    curves = [c for c in (_points(r) for r in runs if not r.diverged) if c]
    if len(curves) < MIN_SEEDS:
        return FEW
    if min(len(c) for c in curves) < MIN_POINTS:
        return SHORT
    fractions, values = _on_one_grid(curves)
    if fractions[0] == 0 and degenerate(float(values[:, 0].mean()), ideal, higher_is_better):
        fractions, values = fractions[1:], values[:, 1:]
    values = values if higher_is_better else -values
    noise = _point_noise(values)
    mean = values.mean(axis=0)
    smooth = _smooth(mean)
    start_bound, fall_bound = (max(margin or 0.0, q * noise) for q in _noise_bounds(mean.size))
    if not smooth[1:].max() - mean[0] > start_bound:
        return NOT_STARTED
    if smooth.max() - smooth[-1] > fall_bound:
        return FELL_BACK
    last = fractions >= _LAST_THIRD - 1e-9
    x, y = fractions[last], mean[last]
    spread = float(((x - x.mean()) ** 2).sum())
    if x.size >= 2 and spread > 0:
        span = x[-1] - x[0]
        rise = float(np.polyfit(x, y, 1)[0]) * span
        if rise >= (margin or 0.0) and rise > _ONE_SIDED_5 * noise * span / math.sqrt(spread):
            return STILL_LEARNING
    return SETTLED


def _on_one_grid(curves: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Every seed's curve at the evaluation points of the shortest one, as fractions of each curve's last
    iteration (seeds of one candidate share a budget; a wall-clock budget may end them apart)."""
    shortest = min(curves, key=len)
    grid = np.array([i for i, _ in shortest], float) / max(shortest[-1][0], 1)
    rows = []
    for curve in curves:
        at = np.array([i for i, _ in curve], float) / max(curve[-1][0], 1)
        rows.append(np.interp(grid, at, np.array([v for _, v in curve], float)))
    return grid, np.array(rows)


def _point_noise(values: np.ndarray) -> float:
    """The standard error of one point of the seeds' mean curve: the evaluation noise of one curve from the median
    absolute second difference (6 sigma^2 under a straight line; a jump moves few of them), over sqrt(seeds)."""
    second = (values[:, 2:] - 2 * values[:, 1:-1] + values[:, :-2]).ravel()
    sigma = 1.4826 * float(np.median(np.abs(second))) / math.sqrt(6) if second.size else 0.0
    return sigma / math.sqrt(values.shape[0])


def _smooth(mean: np.ndarray) -> np.ndarray:
    """A centred 3-point running mean (2 points at the ends): one noisy evaluation does not make a peak."""
    smooth = np.empty_like(mean)  # along the last axis: one curve, or many
    smooth[..., 1:-1] = (mean[..., :-2] + mean[..., 1:-1] + mean[..., 2:]) / 3
    smooth[..., 0], smooth[..., -1] = (mean[..., 0] + mean[..., 1]) / 2, (mean[..., -1] + mean[..., -2]) / 2
    return smooth


@functools.lru_cache(maxsize=64)
def _noise_bounds(points: int) -> tuple[float, float]:
    """95% quantiles, in units of one point's noise, of (the highest smoothed point after the first - the first)
    and of (the highest smoothed point - the smoothed end) on flat curves of pure noise: what noise alone gives
    a "start" and a "fall" (a fixed seed: the same bounds every time)."""
    noise = np.random.default_rng(20240611).normal(size=(20000, points))
    smooth = _smooth(noise)
    start = np.quantile(smooth[:, 1:].max(axis=1) - noise[:, 0], 0.95)
    fall = np.quantile(smooth.max(axis=1) - smooth[:, -1], 0.95)
    return float(start), float(fall)


def untrained_level(runs: list[RunResult]) -> float:
    """The mean of the runs' values at iteration 0 (the untrained generator; NaN when no run stores one)."""
    found = [points[0][1] for points in (_points(r) for r in runs) if points and points[0][0] == 0]
    return float(np.mean(found)) if found else math.nan


def area_under_curve(run: RunResult) -> float:
    """The curve's mean level over its iterations (trapezoids, divided by the span): a slow starter that ends
    high scores below one that got there early. NaN for a diverged run (counted worst by every comparison, not
    credited with the points it logged before it blew up) and without at least two points."""
    points = _points(run)
    if run.diverged or len(points) < 2 or points[-1][0] == points[0][0]:
        return math.nan
    x, y = np.array([i for i, _ in points], float), np.array([v for _, v in points], float)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def areas(runs: list[RunResult]) -> dict[tuple[int, int], float]:
    """Each run's area under its curve, by (tuning, seed); NaN for a diverged run."""
    return {(r.tuning, r.seed): area_under_curve(r) for r in runs}


def iterations_to(run: RunResult, threshold: float, higher_is_better: bool = True) -> float:
    """The first evaluation's iteration at which the curve reached ``threshold`` (inf: never)."""
    for iteration, value in _points(run):
        if (value >= threshold) if higher_is_better else (value <= threshold):
            return float(iteration)
    return math.inf


def seconds_to(run: RunResult, threshold: float, higher_is_better: bool = True) -> float:
    """:func:`iterations_to` in training seconds, at the run's measured seconds per iteration."""
    return iterations_to(run, threshold, higher_is_better) * run.seconds_per_iteration


def basis(
    a: list[RunResult],
    b: list[RunResult],
    names: tuple[str, str],
    higher_is_better: bool,
    margin: float | None,
    ideal: float | None = None,
) -> tuple[str | None, str]:
    """What two candidates' quality is compared by: ("", "") for final values when neither still learns; (AREA,
    why) when one does; (None, who) when one has not started."""
    states = {n: curve_state(runs, higher_is_better, margin, ideal) for n, runs in zip(names, (a, b), strict=True)}
    late = [name for name, state in states.items() if state == NOT_STARTED]
    if late:
        return None, " and ".join(late)
    learning = [name for name, state in states.items() if state == STILL_LEARNING]
    if learning:  # a final value taken mid-climb ranks speed: compare the whole curves instead
        return AREA, f"{AREA} ({', '.join(learning)} still learning)"
    return "", ""
