"""The study's statistics on synthetic results with known answers (gan_module/study/statistics.py)."""

import math

import numpy as np
import pytest

from gan_module.study.statistics import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    bootstrap_interval,
    compare,
    holm,
    judge,
    seeds_for_power,
)


def by_seed(values) -> dict[int, float]:
    return {seed: float(v) for seed, v in enumerate(values)}


def test_the_bootstrap_interval_covers_the_true_mean_about_95_times_in_100():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        found = bootstrap_interval(list(rng.normal(3.0, 2.0, size=20)))
        hits += found.low <= 3.0 <= found.high
        assert found.low < found.mean < found.high
    assert 0.88 <= hits / 200 <= 0.99


def test_the_bootstrap_interval_of_degenerate_samples():
    assert bootstrap_interval([2.0, 2.0, 2.0]) == bootstrap_interval([2.0, 2.0, 2.0, math.nan])
    same = bootstrap_interval([2.0, 2.0, 2.0])
    assert (same.mean, same.low, same.high, same.n) == (2.0, 2.0, 2.0, 3)
    one = bootstrap_interval([5.0])
    assert one.mean == 5.0 and math.isnan(one.low) and one.n == 1
    assert bootstrap_interval([math.nan]).n == 0


def test_a_true_difference_is_found_and_its_interval_holds_it():
    rng = np.random.default_rng(1)
    base = rng.normal(0.5, 0.05, size=5)
    c = compare(by_seed(base + 0.2 + rng.normal(0, 0.01, 5)), by_seed(base), ("new", "old"))
    assert c.paired and c.n == 5
    assert c.verdict == BETTER
    assert c.low < 0.2 < c.high and c.p < 1e-3


def test_lower_is_better_flips_the_verdict():
    rng = np.random.default_rng(2)
    base = rng.normal(10.0, 1.0, size=5)
    fid_new, fid_old = by_seed(base + 3 + rng.normal(0, 0.1, 5)), by_seed(base)
    assert compare(fid_new, fid_old, higher_is_better=False).verdict == WORSE
    assert compare(fid_old, fid_new, higher_is_better=False).verdict == BETTER


def test_an_equal_pair_is_no_detectable_difference_with_an_interval_around_zero():
    rng = np.random.default_rng(3)
    a, b = by_seed(rng.normal(1.0, 0.1, 5)), by_seed(rng.normal(1.0, 0.1, 5))
    c = compare(a, b)
    assert c.verdict == NO_DIFFERENCE and c.low < 0 < c.high
    assert "no detectable difference" in str(c) and "5 paired seeds" in str(c)


def test_pairing_by_seed_removes_the_variation_both_candidates_share():
    """A seed that is hard for both (its data order, its noise) moves both scores: pairing sees the small
    constant lead that Welch's test, blind to the seeds, cannot."""
    rng = np.random.default_rng(4)
    seed_effect = rng.normal(0.0, 1.0, size=6)
    a = seed_effect + 0.1 + rng.normal(0, 0.01, 6)
    paired = compare(by_seed(a), by_seed(seed_effect))
    unpaired = compare({s + 100: v for s, v in by_seed(a).items()}, by_seed(seed_effect))
    assert paired.paired and paired.verdict == BETTER
    assert not unpaired.paired and unpaired.verdict == NO_DIFFERENCE


def test_identical_runs_and_constant_differences():
    same = compare(by_seed([1, 2, 3]), by_seed([1, 2, 3]))
    assert (same.p, same.verdict, same.low, same.high) == (1.0, NO_DIFFERENCE, 0.0, 0.0)
    shifted = compare(by_seed([2, 3, 4]), by_seed([1, 2, 3]))
    assert shifted.p == 0.0 and shifted.verdict == BETTER and shifted.difference == 1.0


def test_too_few_values_to_test():
    c = compare({0: 1.0}, {1: 0.0})
    assert math.isnan(c.p) and c.verdict == NO_DIFFERENCE and c.difference == 1.0


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, math.nan]) == [0.5, pytest.approx(math.nan, nan_ok=True)]
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # 2 x 0.8 capped at 1; the larger p never gets a smaller adjusted one


def test_the_correction_turns_a_lone_significant_lead_into_no_detectable_difference_in_a_family():
    rng = np.random.default_rng(5)
    base = rng.normal(0, 1, 5)
    a = base + np.array([0.30, 0.10, 0.25, 0.05, 0.20])  # mean lead 0.18, p about 0.02 alone
    alone = judge([compare(by_seed(a), by_seed(base))], [by_seed(a)], [by_seed(base)])[0]
    assert 0.01 < alone.p < 0.05 and alone.verdict == BETTER
    nulls = [by_seed(base + rng.normal(0, 0.2, 5)) for _ in range(4)]
    family = [compare(by_seed(a), by_seed(base))] + [compare(n, by_seed(base)) for n in nulls]
    judged = judge(family, [by_seed(a), *nulls], [by_seed(base)] * 5)
    assert judged[0].p == alone.p and judged[0].p_adjusted == pytest.approx(min(1.0, 5 * alone.p))
    assert judged[0].verdict == NO_DIFFERENCE
    # its interval is the one at its Holm level: it now holds 0, where the lone 95% interval did not
    assert alone.low > 0 and judged[0].low < 0 < judged[0].high and judged[0].confidence == 1 - 0.05 / 5
    assert "0.99 CI (Holm)" in str(judged[0])


def test_seeds_for_power_matches_the_textbook_sample_sizes():
    """Cohen (1988): a paired (one-sample) t-test needs 10 pairs for d = 1 at 5% with 80% power, 34 for d = 0.5;
    two independent groups need 17 each for d = 1."""
    assert seeds_for_power(1.0, 0.05) == 10
    assert seeds_for_power(0.5, 0.05) == 34
    assert seeds_for_power(1.0, 0.05, paired=False) == 17
    assert seeds_for_power(0.001, 0.05) is None  # beyond any study


def test_seeds_needed_for_a_found_and_for_an_undetected_difference():
    base = by_seed([0.1, 0.5, 0.3, 0.8, 0.2, 0.6])
    clear = {s: v + 1.0 + 0.01 * s for s, v in base.items()}
    found = judge([compare(clear, base)], [clear], [base])[0]
    assert found.verdict == BETTER and found.seeds_needed == 2  # the first two seeds already show it
    assert "reached at 2 seeds" in str(found)
    faint = {s: v + (0.05 if s % 2 else -0.03) for s, v in base.items()}  # d = 0.01 / 0.044 ~ 0.2
    missed = judge([compare(faint, base)], [faint], [base])[0]
    assert missed.verdict == NO_DIFFERENCE
    assert missed.seeds_needed > 100  # (1.96 + 0.84)^2 / 0.23^2 ~ 150 seeds
    assert judge([compare(base, base)], [base], [base])[0].seeds_needed is None
