"""Verdicts that hold at a handful of seeds: t intervals, paired tests, equivalence (TOST), Holm, divergence counts.

A GAN's score moves with its seed about as much as between losses (Lucic et al. 2018), and a study has 3-10
seeds, so every verdict of the study (leaderboards, answers, claims, the application profile) goes through
:func:`compare_seeds` / :func:`compare_family`:

- two candidates are compared **paired by seed** when they share seeds (the same seed gives both the same data
  order and noise; pairing removes what the seed does to both): a t-test on the per-seed differences; Welch's
  t-test only when they share no seed, and the comparison says so;
- fewer than 3 seeds never give a verdict (``too few seeds``); 3-4 are flagged;
- with a ``margin`` (in the metric's units, fixed before the study), two one-sided tests (TOST, Schuirmann
  1987) decide **equivalence**: the difference is shown to lie inside ±margin, even where a smaller difference is
  also significant. "No detectable difference" is never read as "equal";
- a **diverged run** (no score) is an outcome: it takes the worst value observed in its comparison, so it ranks
  last (tied with the worst finite run) in the paired t-test, and each side's divergence count is reported;
  divergence rates are compared on their own by Fisher's exact test (:func:`compare_rates`);
- every hypothesis of one family (a comparison's difference test, and its equivalence test where it has a
  margin) is corrected by **Holm's** step-down method, and each interval is the t interval at its comparison's
  Holm level, so it excludes 0 exactly when the corrected test finds a difference;
- an undetected difference is reported with the **smallest effect these seeds could detect** (80% power at the
  family's level), never with a seed count computed from the effect seen ("observed power");
  :func:`seeds_for_power` answers "how many seeds for an effect named in advance".

Means over seeds get Student's t interval (:func:`mean_interval`), which covers at its level under normality at
any n; a bootstrap interval covers 95% only from about n = 20 (80% at n = 5).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05  # family-wise error rate of a family of comparisons
CONFIDENCE = 0.95
POWER = 0.8  # for the smallest detectable effect, and for seeds_for_power
MIN_SEEDS = 3  # fewer seeds than this never give a verdict
FEW_SEEDS = 5  # 3-4 seeds give a verdict, flagged
BETTER, WORSE, EQUIVALENT = "better", "worse", "equivalent"
NO_DIFFERENCE, TOO_FEW = "no detectable difference", "too few seeds"
VERDICTS = (BETTER, WORSE, EQUIVALENT, NO_DIFFERENCE, TOO_FEW)


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
    """One planned comparison: ``a`` against ``b`` (values by seed; NaN: the run diverged)."""

    a: dict[int, float]
    b: dict[int, float]
    names: tuple[str, str] = ("a", "b")
    higher_is_better: bool = True
    margin: float | None = None  # in the metric's units: turns on the equivalence test (TOST)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on one metric, after the family's Holm correction.

    ``difference`` is the mean of a - b over the seeds compared; ``low``/``high`` its t interval at
    ``confidence`` (this comparison's Holm level); both None with too few seeds.
    """

    a: str
    b: str
    verdict: str
    difference: float | None
    low: float | None
    high: float | None
    n: int  # seeds compared: pairs when paired, else the smaller group
    paired: bool
    higher_is_better: bool = True
    margin: float | None = None
    p: float = math.nan  # the difference test's two-sided p-value, then Holm's
    p_adjusted: float = math.nan
    p_equivalence: float = math.nan  # TOST's p-value (the larger one-sided one), then Holm's
    p_equivalence_adjusted: float = math.nan
    confidence: float = CONFIDENCE
    diverged: tuple[int, int] = (0, 0)  # runs of a, b without a score, counted at the worst value observed
    detectable: float | None = None  # smallest |difference| detected with 80% power at the family's level
    detectable_d: float | None = None  # the same in standard deviations of the differences (Cohen's d)

    @property
    def few_seeds(self) -> bool:
        return MIN_SEEDS <= self.n < FEW_SEEDS

    @property
    def beyond_margin(self) -> bool:
        """The whole interval lies outside ±margin: the difference is shown to exceed the margin."""
        if self.margin is None or self.low is None or self.high is None:
            return False
        return self.low > self.margin or self.high < -self.margin

    def __str__(self) -> str:
        seeds = f"{self.n} {'paired seeds' if self.paired else 'seeds a side, unpaired (Welch): no shared seed'}"
        if self.verdict == TOO_FEW:
            shown = "" if self.difference is None else f"{self.difference:+.3g}, "
            return f"{TOO_FEW} ({shown}{seeds}; a verdict needs {MIN_SEEDS})"
        level = "95% CI" if self.confidence == CONFIDENCE else f"{self.confidence:.3g} CI (Holm)"
        parts = [f"{self.difference:+.3g}", f"{level} [{self.low:.3g}, {self.high:.3g}]"]
        parts.append(f"p {self.p_adjusted:.2g} Holm")
        if self.margin is not None:
            parts.append(f"equivalence ±{self.margin:.3g}: TOST p {self.p_equivalence_adjusted:.2g} Holm")
        parts.append(seeds + (" (few)" if self.few_seeds else ""))
        if any(self.diverged):
            parts.append(f"diverged {self.diverged[0]} / {self.diverged[1]}, ranked last")
        if self.verdict == NO_DIFFERENCE and self.detectable is not None:
            parts.append(f"these seeds detect only |difference| ≥ {self.detectable:.3g} (d ≥ {self.detectable_d:.2g})")
        return f"{self.verdict} ({', '.join(parts)})"


@dataclass(frozen=True)
class _Tested:
    """One pair's tests before the family's correction."""

    pair: Pair
    x: np.ndarray  # a's values, diverged runs at the worst value observed
    y: np.ndarray
    paired: bool
    diverged: tuple[int, int]
    p: float
    p_equivalence: float

    @property
    def n(self) -> int:
        return min(self.x.size, self.y.size)

    @property
    def difference(self) -> float:
        return float(self.x.mean() - self.y.mean()) if self.n else math.nan


def _worst_filled(pair: Pair) -> tuple[np.ndarray, np.ndarray, bool, tuple[int, int]]:
    """The values compared (shared seeds when there are any) with a diverged run at the worst value observed."""
    shared = sorted(set(pair.a) & set(pair.b))
    paired = bool(shared)
    xs = [pair.a[s] for s in shared] if paired else list(pair.a.values())
    ys = [pair.b[s] for s in shared] if paired else list(pair.b.values())
    finite = [v for v in xs + ys if math.isfinite(v)]
    worst = (min if pair.higher_is_better else max)(finite) if finite else math.nan
    diverged = (sum(not math.isfinite(v) for v in xs), sum(not math.isfinite(v) for v in ys))
    if not finite:
        return np.array([]), np.array([]), paired, diverged  # nothing scored: nothing to compare
    fill = np.vectorize(lambda v: v if math.isfinite(v) else worst, otypes=[float])
    return fill(np.asarray(xs, float)), fill(np.asarray(ys, float)), paired, diverged


def _test(pair: Pair) -> _Tested:
    x, y, paired, diverged = _worst_filled(pair)
    tested = _Tested(pair, x, y, paired, diverged, math.nan, math.nan)
    if tested.n < MIN_SEEDS:
        return tested
    margin = pair.margin
    spread = float(np.ptp(x - y)) if paired else float(max(np.ptp(x), np.ptp(y)))
    if spread <= 1e-12 * max(1.0, abs(tested.difference)):  # the same value (difference) on every seed
        p = 1.0 if tested.difference == 0 else 0.0
        p_eq = math.nan if margin is None else (0.0 if abs(tested.difference) < margin else 1.0)
        return replace(tested, p=p, p_equivalence=p_eq)
    if paired:
        d = x - y
        p = stats.ttest_1samp(d, 0.0).pvalue
        if margin is not None:
            lower = stats.ttest_1samp(d, -margin, alternative="greater").pvalue  # H0: difference <= -margin
            upper = stats.ttest_1samp(d, margin, alternative="less").pvalue  # H0: difference >= +margin
    else:
        p = stats.ttest_ind(x, y, equal_var=False).pvalue
        if margin is not None:
            lower = stats.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue
            upper = stats.ttest_ind(x - margin, y, equal_var=False, alternative="less").pvalue
    p_eq = math.nan if margin is None else float(max(lower, upper))
    return replace(tested, p=float(p), p_equivalence=p_eq)


def _interval(t: _Tested, confidence: float) -> tuple[float, float]:
    if t.paired:
        d = t.x - t.y
        if np.ptp(d) == 0:
            return float(d[0]), float(d[0])
        found = stats.ttest_1samp(d, 0.0).confidence_interval(confidence)
    else:
        if np.ptp(t.x) == 0 and np.ptp(t.y) == 0:
            return t.difference, t.difference
        found = stats.ttest_ind(t.x, t.y, equal_var=False).confidence_interval(confidence)
    return float(found.low), float(found.high)


def _standard_deviation(t: _Tested) -> float:
    if t.paired:
        return float((t.x - t.y).std(ddof=1))
    return math.sqrt((t.x.var(ddof=1) + t.y.var(ddof=1)) / 2)


def compare_family(pairs: Sequence[Pair], alpha: float = ALPHA) -> list[Comparison]:
    """Each pair's comparison, Holm-corrected over every hypothesis of the family (each difference test, and
    each equivalence test where a pair has a margin) so the chance of any false verdict stays at ``alpha``."""
    tested = [_test(pair) for pair in pairs]
    hypotheses = [t.p for t in tested] + [t.p_equivalence for t in tested]
    adjusted, multipliers = holm(hypotheses), holm_multipliers(hypotheses)
    family_level = alpha / max(1, sum(math.isfinite(p) for p in hypotheses))
    found = []
    for i, t in enumerate(tested):
        names, higher = t.pair.names, t.pair.higher_is_better
        base = Comparison(
            *names, TOO_FEW, None if t.n == 0 else t.difference, None, None, t.n, t.paired, higher, t.pair.margin
        )
        base = replace(base, diverged=t.diverged)
        if t.n < MIN_SEEDS:
            found.append(base)
            continue
        p_adj, p_eq_adj = adjusted[i], adjusted[len(tested) + i]
        confidence = 1 - alpha / multipliers[i]
        low, high = _interval(t, confidence)
        if t.pair.margin is not None and p_eq_adj < alpha:
            verdict = EQUIVALENT
        elif p_adj < alpha:
            verdict = BETTER if (t.difference > 0) == higher else WORSE
        else:
            verdict = NO_DIFFERENCE
        d_min = detectable_effect(t.n, family_level, t.paired)
        sd = _standard_deviation(t)
        found.append(
            replace(
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
                detectable=None if d_min is None else d_min * sd,
            )
        )
    return found


def compare_seeds(
    a: dict[int, float],
    b: dict[int, float],
    higher_is_better: bool = True,
    margin: float | None = None,
    names: tuple[str, str] = ("a", "b"),
) -> Comparison:
    """``a`` against ``b`` (values by seed) on its own: a family of one."""
    return compare_family([Pair(a, b, names, higher_is_better, margin)])[0]


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


def _power(effect_size: float, n: int, level: float, paired: bool) -> float:
    """Power of a two-sided t-test at ``level`` against a true standardised difference (noncentral t)."""
    df = n - 1 if paired else 2 * n - 2
    shift = effect_size * math.sqrt(n if paired else n / 2)
    critical = stats.t.ppf(1 - level / 2, df)
    power = float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))
    return power if math.isfinite(power) else 1.0  # the noncentral t gives NaN only far out in its tail


@functools.lru_cache(maxsize=256)
def detectable_effect(n: int, level: float, paired: bool = True) -> float | None:
    """The smallest standardised difference (Cohen's d) a two-sided t-test at ``level`` detects with probability
    ``POWER`` at ``n`` seeds per candidate; None below ``MIN_SEEDS``. It depends on nothing measured."""
    if n < MIN_SEEDS:
        return None
    return float(optimize.brentq(lambda d: _power(d, n, level, paired) - POWER, 1e-6, 100.0))


def seeds_for_power(effect_size: float, level: float, paired: bool = True, limit: int = 100_000) -> int | None:
    """The fewest seeds (per candidate) at which a two-sided t-test at ``level`` finds a true standardised
    difference ``effect_size`` -- named in advance, not estimated from the study -- with probability ``POWER``;
    None beyond ``limit``."""
    low, high = 2, 2
    while _power(effect_size, high, level, paired) < POWER:  # double, then bisect: power grows with n
        low, high = high, 2 * high
        if high > limit:
            return None
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if _power(effect_size, middle, level, paired) < POWER else (low, middle)
    return low


@dataclass(frozen=True)
class Rate:
    """A share of runs (diverged ones, say) with its exact (Clopper-Pearson) 95% interval."""

    count: int
    n: int
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.count}/{self.n} [{self.low:.2f}, {self.high:.2f}]" if self.n else "–"


def rate_interval(count: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    """``count`` of ``n`` runs, with the exact binomial interval of the rate."""
    if n == 0:
        return Rate(0, 0, math.nan, math.nan)
    found = stats.binomtest(count, n).proportion_ci(confidence_level=confidence, method="exact")
    return Rate(count, n, float(found.low), float(found.high))


def compare_rates(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Fisher's exact test (two-sided) of two rates, each (count, runs): its p-value."""
    (ka, na), (kb, nb) = a, b
    if na == 0 or nb == 0:
        return math.nan
    return float(stats.fisher_exact([[ka, na - ka], [kb, nb - kb]]).pvalue)
