"""Statistics that hold up over a handful of seeds: bootstrap intervals, paired comparisons, Holm's correction.

Lucic et al. (2018) found a GAN's score moves with its seed about as much as between losses, so a study reports
each candidate as a mean with a bootstrap 95% interval, and compares two candidates with a t-test on their
per-seed differences when the runs share seeds (the same seed gives both the same data order and noise, so
pairing removes that shared part of the variation), Welch's t-test otherwise. The p-values of one family of
comparisons (one question of answers.md, the claims of one dataset) are corrected with Holm's step-down method,
and each comparison ends in a verdict: *better*, *worse*, or *no detectable difference* with its interval and
the number of seeds it rests on.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

ALPHA = 0.05  # family-wise error rate of a family of comparisons
CONFIDENCE = 0.95
POWER = 0.8  # for "seeds needed to detect the observed difference"
BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its bootstrap confidence interval (NaN bounds with fewer than two values)."""

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


def bootstrap_interval(values: list[float], confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """Mean of the finite values and its BCa bootstrap interval (Efron 1987; percentile where BCa is undefined)."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, math.nan, math.nan, 1)
    if np.ptp(x) == 0:
        return Interval(mean, mean, mean, int(x.size))
    for method in ("BCa", "percentile"):  # BCa's acceleration is undefined for some small samples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = stats.bootstrap((x,), np.mean, confidence_level=confidence, method=method, rng=seed)
        low, high = float(found.confidence_interval.low), float(found.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return Interval(mean, low, high, int(x.size))
    return Interval(mean, math.nan, math.nan, int(x.size))


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on one metric: the mean difference a - b, its interval, and the test's p-value.

    Inside a family (:func:`judge`) the interval is the one at this comparison's Holm level, 1 - ALPHA/multiplier,
    so it excludes 0 exactly when the corrected test finds a difference (up to Holm's monotone step).
    """

    a: str
    b: str
    difference: float
    low: float
    high: float
    p: float
    n: int  # seed pairs when paired, else the smaller group's size
    paired: bool
    effect_size: float  # Cohen's d: the mean difference over the standard deviation of the differences (paired)
    higher_is_better: bool = True
    p_adjusted: float = math.nan
    multiplier: int = 1  # Holm's step for this comparison: its test is at level ALPHA / multiplier
    confidence: float = CONFIDENCE
    seeds_needed: int | None = None  # filled in by :func:`judge`

    @property
    def verdict(self) -> str:
        p = self.p_adjusted if math.isfinite(self.p_adjusted) else self.p
        if not (math.isfinite(p) and p < ALPHA):
            return NO_DIFFERENCE
        return BETTER if (self.difference > 0) == self.higher_is_better else WORSE

    def __str__(self) -> str:
        seeds = "seed" if self.n == 1 else "seeds"
        if not math.isfinite(self.p):
            return f"not enough seeds to test ({self.difference:+.3g}, {self.n} {seeds} on a side)"
        pairing = f"paired {seeds}" if self.paired else f"{seeds} (unpaired)"
        level = "95% CI" if self.confidence == CONFIDENCE else f"{self.confidence:.3g} CI (Holm)"
        text = (
            f"{self.verdict} ({self.difference:+.3g}, {level} [{self.low:.3g}, {self.high:.3g}], "
            f"p {self.p_adjusted if math.isfinite(self.p_adjusted) else self.p:.2g} Holm, {self.n} {pairing}"
        )
        if self.seeds_needed is not None and self.verdict != NO_DIFFERENCE:
            text += f"; reached at {self.seeds_needed} seeds"
        elif self.seeds_needed is not None:
            text += f"; ~{self.seeds_needed} seeds would detect a difference this large"
        return text + ")"


def compare(
    a: dict[int, float],
    b: dict[int, float],
    names: tuple[str, str] = ("a", "b"),
    higher_is_better: bool = True,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """``a`` against ``b`` (values by seed): a paired t-test on the shared seeds when there are two or more, else
    Welch's t-test; the interval is the test's interval of the mean difference at ``confidence``."""
    a = {s: v for s, v in a.items() if math.isfinite(v)}
    b = {s: v for s, v in b.items() if math.isfinite(v)}
    shared = sorted(set(a) & set(b))
    paired = len(shared) >= 2
    x = np.array([a[s] for s in shared] if paired else list(a.values()))
    y = np.array([b[s] for s in shared] if paired else list(b.values()))
    n = min(len(x), len(y))
    difference = float(x.mean() - y.mean()) if n else math.nan
    if paired:
        sd = float((x - y).std(ddof=1))
    else:
        sd = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2) if n >= 2 else math.nan
    result = Comparison(*names, difference, math.nan, math.nan, math.nan, n, paired, math.nan, higher_is_better)
    result = replace(result, confidence=confidence)
    if not math.isfinite(sd):
        return result  # fewer than two values on a side: nothing to test
    if sd <= 1e-12 * max(1.0, abs(difference)):  # the same difference on every seed (up to rounding)
        p, effect = (1.0, 0.0) if difference == 0 else (0.0, math.copysign(math.inf, difference))
        return replace(result, low=difference, high=difference, p=p, effect_size=effect)
    test = stats.ttest_rel(x, y) if paired else stats.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(confidence)
    return replace(result, low=float(ci.low), high=float(ci.high), p=float(test.pvalue), effect_size=difference / sd)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's (1979) step-down adjustment: the i-th smallest of m p-values times (m - i + 1), kept monotone and
    at most 1; it holds the chance of any false "better"/"worse" in the family at ``ALPHA``. NaNs stay NaN."""
    multipliers = holm_multipliers(pvalues)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for i in sorted(range(len(pvalues)), key=lambda i: -multipliers[i]):  # smallest p first
        if math.isfinite(pvalues[i]):
            running = max(running, min(1.0, multipliers[i] * pvalues[i]))
            adjusted[i] = running
    return adjusted


def holm_multipliers(pvalues: list[float]) -> list[int]:
    """Holm's multiplier of each p-value: m for the smallest of m finite ones, down to 1 for the largest."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if math.isfinite(p))
    multipliers = [1] * len(pvalues)
    for rank, (_, i) in enumerate(order):
        multipliers[i] = len(order) - rank
    return multipliers


def judge(
    family: list[Comparison], a_by_seed: list[dict[int, float]], b_by_seed: list[dict[int, float]]
) -> list[Comparison]:
    """Holm-correct a family of comparisons and say, for each, how many seeds its verdict needed.

    ``a_by_seed``/``b_by_seed`` are each comparison's inputs. A "better"/"worse" verdict gives the smallest
    number of the first seeds from which the corrected test stays significant; "no detectable difference"
    gives the seeds per candidate a t-test would need to detect a difference of the observed standardised size
    with 80% power at the corrected level (none when the observed difference is zero).
    """
    pvalues = [c.p for c in family]
    judged = []
    for c, p_adj, multiplier, a, b in zip(
        family, holm(pvalues), holm_multipliers(pvalues), a_by_seed, b_by_seed, strict=True
    ):
        confidence = 1 - ALPHA / multiplier
        at_level = compare(a, b, (c.a, c.b), c.higher_is_better, confidence) if multiplier > 1 else c
        c = replace(c, low=at_level.low, high=at_level.high, confidence=confidence)
        c = replace(c, p_adjusted=p_adj, multiplier=multiplier)
        judged.append(replace(c, seeds_needed=_seeds_needed(c, a, b)))
    return judged


def _seeds_needed(c: Comparison, a: dict[int, float], b: dict[int, float]) -> int | None:
    if c.verdict != NO_DIFFERENCE:
        seeds = sorted(set(a) & set(b)) if c.paired else sorted(set(a) | set(b))
        needed = None
        for m in range(len(seeds), 1, -1):  # from all seeds down: the smallest m from which it stays significant
            first = set(seeds[:m])
            sub = compare({s: v for s, v in a.items() if s in first}, {s: v for s, v in b.items() if s in first})
            significant = math.isfinite(sub.p) and sub.p * c.multiplier < ALPHA
            if not significant or (sub.difference > 0) != (c.difference > 0):
                break
            needed = m
        return needed
    if not math.isfinite(c.effect_size) or c.effect_size == 0:
        return None
    return seeds_for_power(abs(c.effect_size), ALPHA / c.multiplier, c.paired)


def seeds_for_power(effect_size: float, level: float, paired: bool = True, limit: int = 100_000) -> int | None:
    """The fewest seeds (per candidate) at which a two-sided t-test at ``level`` finds a true standardised
    difference ``effect_size`` with probability ``POWER`` (the noncentral t distribution); None beyond ``limit``."""

    def power(n: int) -> float:
        df = n - 1 if paired else 2 * n - 2
        shift = effect_size * math.sqrt(n if paired else n / 2)
        critical = stats.t.ppf(1 - level / 2, df)
        return float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))

    low, high = 2, 2
    while power(high) < POWER:  # double, then bisect: power grows with n
        low, high = high, 2 * high
        if high > limit:
            return None
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if power(middle) < POWER else (low, middle)
    return low
