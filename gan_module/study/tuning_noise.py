"""Tuning luck in every verdict: runs nested in independent tunings, compared on their tunings' means.

Why. Tuning is a draw too: the tuner (Optuna TPE with ASHA, 6-8 trials) lands on different settings each time,
and an independent simulation of it found two tunings of the *same* model called different by a paired t-test
at 8 seeds in ~71% of studies -- the tuner's luck moves a candidate as much as its seeds do, or more, and a test on
seeds alone never sees it. A study that replicates its tuning (``RunResult.tuning``: runs of tuning r use seeds
nested in r) measures that luck, and every comparison counts it.

The model. A run's value is y = mu_c + u_cr + e_crs: the candidate's mean, the luck of its tuning r
(u ~ N(0, tau^2), independent between candidates and tunings) and its seed's noise (e ~ N(0, sigma^2)). Each
tuning's mean over its seeds, m_cr, has variance v = tau^2 + sigma^2 / seeds, and the difference of two candidates'
means over their tunings has standard error sqrt(v (1/R_a + 1/R_b)): the classic nested-ANOVA test of a
candidate effect against tunings within candidates (Montgomery, Design and Analysis of Experiments, ch. 14).
The seeds' own noise is inside v, so nothing is counted twice.

Estimating v. A pair's own tunings give v with R_a + R_b - 2 degrees of freedom: 4 at three tunings each, so the
t critical value is 2.78 and a true gap of 3 tuning sds is found ~67% of the time at 5% (17% at a 10-test
family's level). Pooling the within-candidate variance of every candidate of the context (:func:`tuning_noise`,
14 candidates x 3 tunings: 28 df) is exact when they share one tau and finds that gap 87% of the time; but a
candidate whose tunings vary more (one failed tuning) then borrows the others' smaller variance, and twin
tunings of it are called different 14% of the time at twice the sd (simulated). So each comparison takes the
**larger** of the two estimates, each with its own degrees of freedom: the pooled one while the pair's own
tunings agree with it, the pair's own when they spread more.

Simulated (tests/test_study_statistics.py, seed noise equal to the tuning noise, 14 candidates): twin tunings are
called different 2-4% of the time at 5% (5.5% when their tuning sd is twice the pool's), and a gap of 3 tuning sds
is found 83% of the time at 4 tunings x 2 seeds -- 8 runs a candidate, the design to use -- and 67% at 3 x 3 (36%
and 30% at a 10-comparison family's level).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from gan_module.study.estimate import TUNINGS, Estimate, splits

Key = int | tuple[int, int]  # a seed (the study's one tuning), or (tuning, seed)
#: tunings a side for the two-level test; with one tuning each, the seeds alone are compared (statistics.py)
MIN_TUNINGS = 2


def unit(key: Key) -> tuple[int, int]:
    """(tuning, seed) of a value's key: a bare seed belongs to tuning 0."""
    return (0, key) if isinstance(key, int | np.integer) else (int(key[0]), int(key[1]))


def tunings(values: Mapping[Key, float]) -> set[int]:
    return {unit(k)[0] for k in values}


def replicated(a: Mapping[Key, float], b: Mapping[Key, float]) -> bool:
    """Whether the two-level test applies: each side has at least one tuning and one has two or more."""
    return bool(a) and bool(b) and max(len(tunings(a)), len(tunings(b))) >= MIN_TUNINGS


def tuning_means(values: Mapping[Key, float]) -> np.ndarray:
    """Each tuning's mean over its seeds (values already finite: a diverged run filled in by the caller)."""
    by_tuning: dict[int, list[float]] = {}
    for key, value in values.items():
        by_tuning.setdefault(unit(key)[0], []).append(value)
    return np.array([math.fsum(v) / len(v) for _, v in sorted(by_tuning.items())], float)


@dataclass(frozen=True)
class TuningNoise:
    """The variance of a tuning's mean within a candidate, pooled over candidates, with its degrees of freedom."""

    variance: float
    df: int
    candidates: int


def tuning_noise(
    groups: Iterable[Mapping[Key, float]], higher_is_better: bool = True, floor: float | None = None
) -> TuningNoise | None:
    """The pooled within-candidate variance of tuning means over ``groups`` (each a candidate's values by
    (tuning, seed)), a diverged run (NaN) at the worst value of all of them (or ``floor``, when worse, as the
    comparisons count it); None without two tunings anywhere."""
    groups = [dict(g) for g in groups]
    finite = [v for g in groups for v in g.values() if math.isfinite(v)] + ([] if floor is None else [floor])
    if not finite:
        return None
    worst = min(finite) if higher_is_better else max(finite)
    squares, df, counted = 0.0, 0, 0
    for group in groups:
        means = tuning_means({k: v if math.isfinite(v) else worst for k, v in group.items()})
        if means.size >= 2:
            squares += float(((means - means.mean()) ** 2).sum())
            df += means.size - 1
            counted += 1
    return TuningNoise(squares / df, df, counted) if df else None


def tuning_estimate(a: Mapping[Key, float], b: Mapping[Key, float], noise: TuningNoise | None) -> Estimate:
    """a - b on their tunings' means, with the larger of the pair's own and the pooled tuning variance."""
    x, y = tuning_means(a), tuning_means(b)
    own_df = x.size + y.size - 2
    own = (float(((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) / own_df) if own_df else math.nan
    if noise is not None and noise.df > 0 and not own > noise.variance:
        variance, df = noise.variance, noise.df
        note = f"tuning noise pooled over {noise.candidates} candidates, {noise.df} df"
    else:
        variance, df = own, own_df
        note = f"tuning noise of this pair, {own_df} df"
    sd = math.sqrt(variance) if variance >= 0 else math.nan
    se = sd * math.sqrt(1 / x.size + 1 / y.size) if df else math.nan
    difference = float(x.mean() - y.mean())
    return Estimate(difference, se, df, int(min(x.size, y.size)), TUNINGS, sd, splits(x.size, y.size), note)
