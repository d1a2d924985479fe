"""One difference between two candidates, with its standard error and degrees of freedom: every test, interval and
equivalence test of the study is read off it (statistics.py), whichever design measured it.

Three designs give an :class:`Estimate`: seeds **paired** (the mean of the per-seed differences, Student's t),
seeds unpaired (**Welch**'s t, only when the two share no seed) and **tunings** (the two-level model of
tuning_noise.py: runs nested in independent tunings). A t statistic ``difference / se`` with ``df`` degrees of
freedom then gives the two-sided p-value, the two one-sided tests of equivalence (TOST, Schuirmann 1987) and the
t interval at any confidence -- the same numbers scipy's ``ttest_1samp`` / ``ttest_ind`` give.

When the standard error is zero (the same difference on every seed, say), the t statistic is undefined and p = 0
would be a lie: the exact permutation p-value of the design is used instead -- a sign flip of n paired seeds can
reach no lower than 2^(1-n) (0.25 at 3 seeds, 0.031 at 6), and a split of two samples no lower than
2 / C(nx + ny, nx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

PAIRED, WELCH, TUNINGS = "paired", "welch", "tunings"


@dataclass(frozen=True)
class Estimate:
    """A difference a - b, its standard error and degrees of freedom, and how it was measured."""

    difference: float
    se: float
    df: float
    n: int  # paired seeds; the smaller side's seeds (Welch); the smaller side's tunings (tunings)
    design: str  # PAIRED, WELCH or TUNINGS
    sd: float  # the standard deviation Cohen's d is counted in
    splits: float = 2.0  # zero spread: the number of equally likely arrangements, for the exact p-value
    note: str = ""  # how the tuning noise was estimated (tunings)

    @property
    def degenerate(self) -> bool:
        return not self.se > 1e-12 * max(1.0, abs(self.difference))

    @property
    def factor(self) -> float:
        """Standard deviations per standard error: sqrt(n) for paired seeds."""
        return self.sd / self.se if not self.degenerate else math.inf

    def p(self) -> float:
        """Two-sided p-value of "no difference"."""
        if self.degenerate:
            return 1.0 if self.difference == 0 else min(1.0, 2.0 / self.splits)
        return float(2 * stats.t.sf(abs(self.difference) / self.se, self.df))

    def p_equivalence(self, margin: float | None) -> float:
        """TOST's p-value (the larger one-sided one) that the difference lies inside ±margin; NaN without one."""
        if margin is None:
            return math.nan
        if self.degenerate:
            return min(1.0, 1.0 / self.splits) if abs(self.difference) < margin else 1.0
        lower = stats.t.sf((self.difference + margin) / self.se, self.df)  # H0: difference <= -margin
        upper = stats.t.cdf((self.difference - margin) / self.se, self.df)  # H0: difference >= +margin
        return float(max(lower, upper))

    def interval(self, confidence: float) -> tuple[float, float]:
        """The t interval of the difference at ``confidence``."""
        if self.degenerate:
            return self.difference, self.difference
        half = float(stats.t.ppf(0.5 + confidence / 2, self.df) * self.se)
        return self.difference - half, self.difference + half


def paired(x: np.ndarray, y: np.ndarray) -> Estimate:
    """The mean of the per-seed differences x - y (seeds paired), with the sign-flip count for zero spread."""
    d = x - y
    sd = float(d.std(ddof=1))
    return Estimate(float(d.mean()), sd / math.sqrt(d.size), d.size - 1, int(d.size), PAIRED, sd, 2.0**d.size)


def welch(x: np.ndarray, y: np.ndarray) -> Estimate:
    """Welch's unpaired difference of means, with the Welch-Satterthwaite degrees of freedom."""
    vx, vy = float(x.var(ddof=1)), float(y.var(ddof=1))
    se2 = vx / x.size + vy / y.size
    df = se2**2 / ((vx / x.size) ** 2 / (x.size - 1) + (vy / y.size) ** 2 / (y.size - 1)) if se2 > 0 else 1.0
    sd = math.sqrt((vx + vy) / 2)
    return Estimate(
        float(x.mean() - y.mean()), math.sqrt(se2), df, int(min(x.size, y.size)), WELCH, sd, splits(x.size, y.size)
    )


def splits(nx: int, ny: int) -> float:
    """How many ways nx + ny values split into two groups of nx and ny: one of them is a complete separation."""
    return float(math.comb(nx + ny, nx))
