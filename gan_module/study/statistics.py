"""Verdicts that hold at a handful of seeds and one tuning's luck: t tests on the right unit, equivalence (TOST),
a family's correction, divergence counted worst.

A GAN's score moves with its seed about as much as between losses (Lucic et al. 2018), and with its tuning's luck
as much again (tuning_noise.py), so every verdict of the study (leaderboards, answers, claims, the application
profile) goes through :func:`compare_seeds` / :func:`compare_family`:

- a study that replicates its tuning (``RunResult.tuning``) compares two candidates on their **tunings' means**:
  runs nested in independent tunings, tuning luck inside the interval (tuning_noise.py);
- one tuning each: **paired by seed** when they share seeds (pairing removes what the seed does to both), Welch's
  t-test only when they share no seed; fewer than 3 seeds never give a verdict, 3-4 are flagged; and a verdict
  on an effect no larger than the gap tuning luck alone gave the control (control.py) reads **within tuning
  noise**;
- with a ``margin`` (in the metric's units, fixed before the study), two one-sided tests (TOST, Schuirmann
  1987) decide **equivalence**: the difference is shown to lie inside ±margin, even where a smaller difference is
  also significant. "No detectable difference" is never read as "equal";
- a **diverged run** (no score) is an outcome: it takes the worst value observed in its comparison, or the
  untrained level where the caller knows it and it is worse (``Pair.floor``: a run that blew up left nothing
  better than an untrained generator), so it ranks last, and each side's divergence count is reported; divergence
  rates are compared on their own by Fisher's exact test (power.py);
- a family's hypotheses are corrected by **Holm's** step-down method, a comparison's difference and equivalence
  tests counted once (:func:`exclusive_holm`, Shaffer 1986), and each interval is the t interval at its
  comparison's level, so it excludes 0 exactly when the corrected test finds a difference;
- zero spread gives the exact permutation p-value (estimate.py: 2^(1-n) for a constant difference over n seeds),
  never p = 0;
- an undetected difference is reported with the **smallest effect these runs could detect** (power.py).

Means over seeds get Student's t interval (:func:`mean_interval`), which covers at its level under normality at
any n; a bootstrap interval covers 95% only from about n = 20 (80% at n = 5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from gan_module.study import estimate as estimator
from gan_module.study.estimate import PAIRED, TUNINGS, Estimate
from gan_module.study.power import (  # noqa: F401  (their old home: statistics.py)
    CONFIDENCE,
    MIN_SEEDS,
    POWER,
    Rate,
    compare_rates,
    detectable_d,
    detectable_effect,
    rate_interval,
    seeds_for_power,
)
from gan_module.study.tuning_noise import Key, TuningNoise, replicated, tuning_estimate, tunings, unit

ALPHA = 0.05  # family-wise error rate of a family of comparisons
FEW_SEEDS = 5  # 3-4 seeds give a verdict, flagged
MIN_TUNING_DF = 2  # a two-level comparison needs this many degrees of freedom for its tuning noise
BETTER, WORSE, EQUIVALENT = "better", "worse", "equivalent"
NO_DIFFERENCE, TOO_FEW = "no detectable difference", "too few seeds"
VERDICTS = (BETTER, WORSE, EQUIVALENT, NO_DIFFERENCE, TOO_FEW)
#: what a verdict reads when one tuning per candidate cannot tell its effect from tuning luck (control.py)
WITHIN_NOISE = "within tuning noise"


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its t confidence interval (NaN bounds with fewer than two values)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if not math.isfinite(self.mean):
            return "–"
        if not math.isfinite(self.low):
            return f"{self.mean:.3g} (n {self.n})"
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of the finite values and Student's t interval for it: exact under normality at any n."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(mean, mean - half, mean + half, int(x.size))


@dataclass(frozen=True)
class Pair:
    """One planned comparison: ``a`` against ``b`` (values by seed, or by (tuning, seed); NaN: the run diverged).

    ``noise``: the context's pooled tuning variance (tuning_noise.py), for a study that replicates its tuning;
    ``control``: the largest gap tuning luck alone produced in the control (control.py), for one that does not --
    a verdict on a smaller effect then reads "within tuning noise"."""

    a: Mapping[Key, float]
    b: Mapping[Key, float]
    names: tuple[str, str] = ("a", "b")
    higher_is_better: bool = True
    margin: float | None = None  # in the metric's units: turns on the equivalence test (TOST)
    noise: TuningNoise | None = None
    control: float | None = None
    floor: float | None = None  # what a diverged run counts at when worse than every value observed (untrained)
    unit: str = "seeds"  # what the keys are, for the report: seeds, or the timing's rounds


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on one metric, after the family's correction.

    ``difference`` is the mean of a - b (over paired seeds, or over each side's tunings); ``low``/``high`` its t
    interval at ``confidence`` (this comparison's level in the family); both None with too few seeds.
    """

    a: str
    b: str
    verdict: str
    difference: float | None
    low: float | None
    high: float | None
    n: int  # seeds compared (pairs when paired, else the smaller group), or the smaller side's tunings
    paired: bool
    higher_is_better: bool = True
    margin: float | None = None
    p: float = math.nan  # the difference test's two-sided p-value, then corrected
    p_adjusted: float = math.nan
    p_equivalence: float = math.nan  # TOST's p-value (the larger one-sided one), then corrected
    p_equivalence_adjusted: float = math.nan
    confidence: float = CONFIDENCE
    diverged: tuple[int, int] = (0, 0)  # runs of a, b without a score, counted worst (at the floor or below all)
    detectable: float | None = None  # smallest |difference| detected with 80% power at the family's level
    detectable_d: float | None = None  # the same in standard deviations (Cohen's d)
    design: str = PAIRED  # PAIRED, WELCH or TUNINGS (estimate.py)
    runs: tuple[int, int] = (0, 0)  # runs of a, b compared
    tunings: tuple[int, int] = (1, 1)  # independent tunings of a, b among them
    note: str = ""  # how the tuning noise was estimated (two-level comparisons)
    control: float | None = None  # unreplicated tuning: the largest gap the control saw (control.py)
    unit: str = "seeds"

    @property
    def replicated(self) -> bool:
        """Compared on independent tunings' means: tuning luck is inside the interval."""
        return self.design == TUNINGS

    @property
    def few_seeds(self) -> bool:
        return not self.replicated and MIN_SEEDS <= self.n < FEW_SEEDS

    @property
    def beyond_margin(self) -> bool:
        """The whole interval lies outside ±margin: the difference is shown to exceed the margin."""
        if self.margin is None or self.low is None or self.high is None:
            return False
        return self.low > self.margin or self.high < -self.margin

    @property
    def within_tuning_noise(self) -> bool:
        """One tuning per candidate, and a verdict tuning luck alone could reverse: a difference no larger than the
        gap the control showed, or an equivalence whose margin that gap could cross."""
        if self.replicated or self.control is None or self.difference is None:
            return False
        if self.verdict == EQUIVALENT:
            return self.margin is not None and self.control >= self.margin
        return self.verdict in (BETTER, WORSE) and abs(self.difference) <= self.control

    def __str__(self) -> str:
        if self.design == TUNINGS:
            units = f"{self.tunings[0]} / {self.tunings[1]} tunings ({self.runs[0]} / {self.runs[1]} runs), {self.note}"
        else:
            shared = f"paired {self.unit}" if self.paired else f"{self.unit} a side, unpaired (Welch): none shared"
            units = f"{self.n} {shared}"
        if self.verdict == TOO_FEW:
            shown = "" if self.difference is None else f"{self.difference:+.3g}, "
            need = f"{MIN_TUNING_DF} degrees of freedom" if self.replicated else f"{MIN_SEEDS}"
            return f"{TOO_FEW} ({shown}{units}; a verdict needs {need})"
        level = "95% CI" if self.confidence == CONFIDENCE else f"{self.confidence:.3g} CI (Holm)"
        parts = [f"{self.difference:+.3g}", f"{level} [{self.low:.3g}, {self.high:.3g}]"]
        parts.append(f"p {self.p_adjusted:.2g} Holm")
        if self.margin is not None:
            parts.append(f"equivalence ±{self.margin:.3g}: TOST p {self.p_equivalence_adjusted:.2g} Holm")
        parts.append(units + (" (few)" if self.few_seeds else ""))
        if any(self.diverged):
            parts.append(f"diverged {self.diverged[0]} / {self.diverged[1]}, ranked last")
        if self.verdict == NO_DIFFERENCE and self.detectable is not None:
            parts.append(f"these runs detect only |difference| ≥ {self.detectable:.3g} (d ≥ {self.detectable_d:.2g})")
        if self.within_tuning_noise:
            parts.append(f"one tuning each, and the control moved one model by up to {self.control:.3g}")
            return f"{WITHIN_NOISE} ({self.verdict} at these seeds: {', '.join(parts)})"
        return f"{self.verdict} ({', '.join(parts)})"


@dataclass(frozen=True)
class _Tested:
    """One pair's estimate and tests before the family's correction."""

    pair: Pair
    estimate: Estimate | None  # None: nothing to compare
    diverged: tuple[int, int]
    runs: tuple[int, int]
    tunings: tuple[int, int] = (1, 1)
    p: float = math.nan
    p_equivalence: float = math.nan

    @property
    def decides(self) -> bool:
        e = self.estimate
        if e is None:
            return False
        return e.df >= MIN_TUNING_DF if e.design == TUNINGS else e.n >= MIN_SEEDS


def _filled(pair: Pair) -> tuple[dict, dict, bool, tuple[int, int]]:
    """The values compared, by (tuning, seed) -- the shared ones when one tuning each shares seeds -- with a
    diverged run at the worst value observed in both (or the pair's floor, when worse); whether the seeds are
    paired."""
    a, b = ({unit(k): v for k, v in side.items()} for side in (pair.a, pair.b))
    shared = sorted(set(a) & set(b))
    paired = bool(shared) and not replicated(a, b)
    if paired:
        a, b = {k: a[k] for k in shared}, {k: b[k] for k in shared}
    diverged = (sum(not math.isfinite(v) for v in a.values()), sum(not math.isfinite(v) for v in b.values()))
    finite = [v for v in [*a.values(), *b.values()] if math.isfinite(v)]
    if not finite:
        return {}, {}, paired, diverged  # nothing scored: nothing to compare
    worst = (min if pair.higher_is_better else max)(finite + ([] if pair.floor is None else [pair.floor]))
    a, b = ({k: v if math.isfinite(v) else worst for k, v in side.items()} for side in (a, b))
    return a, b, paired, diverged


def _test(pair: Pair) -> _Tested:
    a, b, paired, diverged = _filled(pair)
    runs, counts = (len(a), len(b)), (len(tunings(a)), len(tunings(b)))
    if not a or not b:
        return _Tested(pair, None, diverged, runs, counts)
    if replicated(a, b):
        estimate = tuning_estimate(a, b, pair.noise)
    else:
        x, y = np.array([a[k] for k in sorted(a)], float), np.array([b[k] for k in sorted(b)], float)
        if paired:
            estimate = estimator.paired(x, y) if x.size >= 2 else None
        else:
            estimate = estimator.welch(x, y) if min(x.size, y.size) >= 2 else None
    tested = _Tested(pair, estimate, diverged, runs, counts)
    if not tested.decides:
        return tested
    return replace(tested, p=estimate.p(), p_equivalence=estimate.p_equivalence(pair.margin))


def compare_family(pairs: Sequence[Pair], alpha: float = ALPHA) -> list[Comparison]:
    """Each pair's comparison, corrected over the family so the chance of any false verdict stays at ``alpha``.

    Each comparison's difference test and equivalence test (where it has a margin) are corrected together by
    Holm's step-down method, counting each comparison once (:func:`exclusive_holm`): its two null hypotheses
    (difference 0; difference beyond ±margin) cannot both be true."""
    tested = [_test(pair) for pair in pairs]
    hypotheses = [t.p for t in tested] + [t.p_equivalence for t in tested]
    comparisons = list(range(len(tested))) * 2
    adjusted, multipliers = exclusive_holm(hypotheses, comparisons)
    family_level = alpha / max(1, sum(t.decides for t in tested))
    return [
        _judged(t, adjusted[i], adjusted[len(tested) + i], 1 - alpha / multipliers[i], family_level, alpha)
        for i, t in enumerate(tested)
    ]


def _judged(t: _Tested, p_adj: float, p_eq_adj: float, confidence: float, level: float, alpha: float) -> Comparison:
    e, pair = t.estimate, t.pair
    base = Comparison(
        *pair.names,
        TOO_FEW,
        None if e is None else e.difference,
        None,
        None,
        0 if e is None else e.n,
        e is not None and e.design == PAIRED,
        pair.higher_is_better,
        pair.margin,
        diverged=t.diverged,
        design=PAIRED if e is None else e.design,
        runs=t.runs,
        tunings=t.tunings,
        note="" if e is None else e.note,
        control=pair.control,
        unit=pair.unit,
    )
    if not t.decides:
        return base
    if pair.margin is not None and p_eq_adj < alpha:
        verdict = EQUIVALENT
    elif p_adj < alpha:
        verdict = BETTER if (e.difference > 0) == pair.higher_is_better else WORSE
    else:
        verdict = NO_DIFFERENCE
    low, high = e.interval(confidence)
    d_min = detectable_d(e.factor, e.df, level) if math.isfinite(e.factor) else None
    return replace(
        base,
        verdict=verdict,
        low=low,
        high=high,
        p=t.p,
        p_adjusted=p_adj,
        p_equivalence=t.p_equivalence,
        p_equivalence_adjusted=p_eq_adj,
        confidence=confidence,
        detectable_d=d_min,
        detectable=None if d_min is None else d_min * e.sd,
    )


def compare_seeds(
    a: Mapping[Key, float],
    b: Mapping[Key, float],
    higher_is_better: bool = True,
    margin: float | None = None,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """``a`` against ``b`` (values by seed, or by (tuning, seed)) on its own: a family of one."""
    return compare_family([Pair(a, b, names, higher_is_better, margin)])[0]


def exclusive_holm(pvalues: Sequence[float], groups: Sequence[int]) -> tuple[list[float], list[int]]:
    """Holm's step-down correction where hypotheses of one group are mutually exclusive (Shaffer 1986): a
    comparison's "no difference" and "not equivalent" cannot both be true, so at each step the multiplier is the
    number of *comparisons* left, not of hypotheses. The adjusted p-values and each one's multiplier; with one
    hypothesis per group this is Holm's method exactly. NaNs stay NaN (multiplier 1)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if math.isfinite(p))
    adjusted, multipliers = [math.nan] * len(pvalues), [1] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        multipliers[i] = len({groups[j] for _, j in order[rank:]})  # the most true nulls still possible
        running = max(running, min(1.0, multipliers[i] * p))
        adjusted[i] = running
    return adjusted, multipliers


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjustment: the i-th smallest of m p-values times (m - i + 1), kept monotone and
    at most 1; it holds the chance of any false rejection in the family at the level. NaNs stay NaN."""
    multipliers = holm_multipliers(pvalues)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for i in sorted(range(len(pvalues)), key=lambda i: -multipliers[i]):  # smallest p first
        if math.isfinite(pvalues[i]):
            running = max(running, min(1.0, multipliers[i] * pvalues[i]))
            adjusted[i] = running
    return adjusted


def holm_multipliers(pvalues: Sequence[float]) -> list[int]:
    """Holm's multiplier of each p-value: m for the smallest of m finite ones, down to 1 for the largest."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if math.isfinite(p))
    multipliers = [1] * len(pvalues)
    for rank, (_, i) in enumerate(order):
        multipliers[i] = len(order) - rank
    return multipliers
