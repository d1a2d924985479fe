"""What a comparison can see, and rates of runs: the smallest detectable effect, seeds for a planned effect, exact
binomial intervals and Fisher's exact test.

An undetected difference is reported with the **smallest effect these runs could detect** (80% power at the
family's level), never with a seed count computed from the effect seen ("observed power": from 5 seeds it ranges
over two orders of magnitude for one true effect); :func:`seeds_for_power` answers "how many seeds for an effect
named in advance" (Cohen 1988's tables: a paired t-test needs 10 pairs for d = 1 at 5%, 34 for d = 0.5).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from scipy import optimize, stats

CONFIDENCE = 0.95
POWER = 0.8  # for the smallest detectable effect, and for seeds_for_power
MIN_SEEDS = 3  # fewer seeds than this never give a verdict


def power_of_t(shift: float, df: float, level: float) -> float:
    """Power of a two-sided t-test at ``level`` whose statistic is noncentral t with ``df`` and noncentrality
    ``shift`` (the true difference over its standard error)."""
    critical = stats.t.ppf(1 - level / 2, df)
    power = float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))
    return power if math.isfinite(power) else 1.0  # the noncentral t gives NaN only far out in its tail


@functools.lru_cache(maxsize=512)
def detectable_d(factor: float, df: float, level: float) -> float:
    """The smallest standardised difference found with probability ``POWER`` by a t-test whose standard error is
    the standard deviation over ``factor`` (sqrt(n) for n paired seeds), with ``df`` degrees of freedom."""
    return float(optimize.brentq(lambda d: power_of_t(d * factor, df, level) - POWER, 1e-6, 100.0))


def _power(effect_size: float, n: int, level: float, paired: bool) -> float:
    """Power of a two-sided t-test at ``level`` against a true standardised difference, ``n`` seeds a side."""
    return power_of_t(effect_size * math.sqrt(n if paired else n / 2), n - 1 if paired else 2 * n - 2, level)


def detectable_effect(n: int, level: float, paired: bool = True) -> float | None:
    """The smallest standardised difference (Cohen's d) a two-sided t-test at ``level`` detects with probability
    ``POWER`` at ``n`` seeds per candidate; None below ``MIN_SEEDS``. It depends on nothing measured."""
    if n < MIN_SEEDS:
        return None
    return detectable_d(math.sqrt(n if paired else n / 2), n - 1 if paired else 2 * n - 2, level)


def few_seeds_note(n: int) -> str:
    """One line for a study of fewer than ``MIN_SEEDS`` seeds: it ranks, but no comparison gets a verdict."""
    return (
        f"note: {n} seed{'s' * (n != 1)}: the study ranks its candidates but every comparison will read "
        f"'too few seeds'; a verdict needs at least {MIN_SEEDS} (`seeds:` in the study file)."
    )


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
