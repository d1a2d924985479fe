"""The study's statistics on simulated studies whose truth is known (gan_module/study/statistics.py).

Each simulation draws thousands of small studies from fixed random seeds, so the rates below are exact numbers
for this code, not flaky estimates; the bounds are the issue's requirements with room for the simulation error.
"""

import math

import numpy as np
import pytest

from gan_module.study.statistics import (
    BETTER,
    EQUIVALENT,
    NO_DIFFERENCE,
    TOO_FEW,
    WORSE,
    Pair,
    compare_family,
    compare_rates,
    compare_seeds,
    detectable_effect,
    holm,
    mean_interval,
    rate_interval,
    seeds_for_power,
)


def by_seed(values) -> dict[int, float]:
    return {seed: float(v) for seed, v in enumerate(values)}


def study(rng, n: int, difference: float, seed_sd: float = 1.0, noise_sd: float = 1.0):
    """a and b on n shared seeds: a seed effect both share, their own noise, and a true difference a - b."""
    seed_effect = rng.normal(0.0, seed_sd, n)
    a = seed_effect + difference + rng.normal(0.0, noise_sd / math.sqrt(2), n)
    b = seed_effect + rng.normal(0.0, noise_sd / math.sqrt(2), n)
    return by_seed(a), by_seed(b)  # the per-seed differences have sd noise_sd: d = difference / noise_sd


def test_the_t_interval_covers_the_true_mean_95_times_in_100_at_five_seeds():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        found = mean_interval(list(rng.normal(3.0, 2.0, size=5)))
        hits += found.low <= 3.0 <= found.high
        assert found.low < found.mean < found.high
    assert 0.93 <= hits / 2000 <= 0.97


def test_the_interval_of_degenerate_samples():
    assert mean_interval([2.0, 2.0, 2.0]) == mean_interval([2.0, 2.0, 2.0, math.nan])
    same = mean_interval([2.0, 2.0, 2.0])
    assert (same.mean, same.low, same.high, same.n) == (2.0, 2.0, 2.0, 3)
    one = mean_interval([5.0])
    assert one.mean == 5.0 and math.isnan(one.low) and one.n == 1
    assert mean_interval([math.nan]).n == 0


def test_the_null_error_rate_of_a_single_comparison_is_the_level():
    rng = np.random.default_rng(1)
    verdicts = [compare_seeds(*study(rng, 5, 0.0)).verdict for _ in range(2000)]
    assert verdicts.count(BETTER) / 2000 <= 0.035 and verdicts.count(WORSE) / 2000 <= 0.035
    assert (verdicts.count(BETTER) + verdicts.count(WORSE)) / 2000 <= 0.06


def test_a_difference_of_two_standard_deviations_is_found_at_five_seeds():
    rng = np.random.default_rng(2)
    verdicts = [compare_seeds(*study(rng, 5, 2.0)).verdict for _ in range(1000)]
    assert verdicts.count(BETTER) / 1000 >= 0.7
    assert verdicts.count(WORSE) == 0


def test_lower_is_better_flips_the_verdict():
    rng = np.random.default_rng(3)
    fid_new, fid_old = study(rng, 5, 3.0, noise_sd=0.1)
    assert compare_seeds(fid_new, fid_old, higher_is_better=False).verdict == WORSE
    assert compare_seeds(fid_old, fid_new, higher_is_better=False).verdict == BETTER


def test_family_wise_error_with_holm_stays_at_five_percent():
    rng = np.random.default_rng(4)
    any_false = 0
    for _ in range(1000):
        family = compare_family([Pair(*study(rng, 5, 0.0)) for _ in range(6)])
        any_false += any(c.verdict in (BETTER, WORSE) for c in family)
    assert any_false / 1000 <= 0.05 + 0.015  # Holm's bound, with the simulation's error


def test_equivalence_is_found_inside_the_margin_and_never_outside():
    """A true 3% gap inside a 10% margin with little noise is equivalent (and its difference may be significant
    too: equivalence wins); a gap of twice the margin is never called equivalent."""
    rng = np.random.default_rng(5)
    inside = [compare_seeds(*study(rng, 5, 0.03, noise_sd=0.02), margin=0.1) for _ in range(500)]
    assert sum(c.verdict == EQUIVALENT for c in inside) / 500 >= 0.95
    outside = [compare_seeds(*study(rng, 5, 0.2, noise_sd=0.05), margin=0.1) for _ in range(500)]
    assert not any(c.verdict == EQUIVALENT for c in outside)
    assert sum(c.verdict == BETTER for c in outside) / 500 >= 0.9
    # shown beyond the margin (what refutes "equal") only with a detected difference
    assert all(c.verdict == BETTER for c in outside if c.beyond_margin)
    assert sum(c.beyond_margin for c in outside) / 500 >= 0.5


def test_no_detectable_difference_is_not_equivalence():
    """Without a margin there is no "equivalent", and a noisy equal pair is not shown equivalent either."""
    rng = np.random.default_rng(6)
    plain = [compare_seeds(*study(rng, 5, 0.0)).verdict for _ in range(200)]
    assert EQUIVALENT not in plain and plain.count(NO_DIFFERENCE) / 200 >= 0.9
    noisy = [compare_seeds(*study(rng, 5, 0.0, noise_sd=1.0), margin=0.1).verdict for _ in range(200)]
    assert noisy.count(EQUIVALENT) / 200 <= 0.05


def test_two_seeds_never_give_a_verdict():
    rng = np.random.default_rng(7)
    assert compare_seeds({0: 8, 1: 8}, {0: 7, 1: 7}).verdict == TOO_FEW  # a constant difference on 2 seeds
    for _ in range(200):
        a, b = study(rng, 2, rng.normal(0, 5))
        c = compare_seeds(a, b, margin=1.0)
        assert c.verdict == TOO_FEW and c.low is None and "too few seeds" in str(c)
    three = compare_seeds({0: 8, 1: 8, 2: 8}, {0: 7, 1: 7, 2: 7})
    assert three.verdict == BETTER and three.few_seeds and "(few)" in str(three)
    assert not compare_seeds(*study(rng, 5, 0.0)).few_seeds


def test_a_diverged_run_ranks_last():
    """A candidate that diverged on 3 of 5 seeds and led on the other 2 is not "better": its diverged seeds count
    at the worst value observed."""
    nan = math.nan
    unstable = {0: 0.90, 1: 0.91, 2: nan, 3: nan, 4: nan}
    steady = {0: 0.80, 1: 0.82, 2: 0.79, 3: 0.81, 4: 0.80}
    c = compare_seeds(unstable, steady, names=("unstable", "steady"))
    assert c.verdict != BETTER and c.n == 5 and c.diverged == (3, 0)
    assert c.difference == pytest.approx((0.90 + 0.91 + 3 * 0.79) / 5 - 0.804)
    assert "diverged 3 / 0, ranked last" in str(c)
    # lower is better (FID): the worst is the largest value
    worse = {0: 30, 1: nan, 2: nan, 3: nan, 4: 31}
    fid = compare_seeds(worse, {0: 20, 1: 21, 2: 22, 3: 20, 4: 21}, higher_is_better=False)
    assert fid.verdict == WORSE and fid.difference == pytest.approx((30 + 4 * 31) / 5 - 20.8)
    # a diverged seed ties with the worst finite run: no more than that is known of it
    tied = compare_seeds({0: 10, 1: nan, 2: nan}, {0: 20, 1: 21, 2: 22}, higher_is_better=False)
    assert tied.difference == pytest.approx((10 + 2 * 22) / 3 - 21)
    # both diverged on every seed: nothing to compare
    assert compare_seeds({0: nan, 1: nan, 2: nan}, {0: nan, 1: nan, 2: nan}).verdict == TOO_FEW


def test_pairing_by_seed_and_welch_only_without_shared_seeds():
    """A seed that is hard for both moves both scores: pairing sees the small constant lead that Welch's test,
    blind to the seeds, cannot; and an unpaired comparison says so."""
    rng = np.random.default_rng(8)
    seed_effect = rng.normal(0.0, 1.0, size=6)
    a = seed_effect + 0.1 + rng.normal(0, 0.01, 6)
    paired = compare_seeds(by_seed(a), by_seed(seed_effect))
    unpaired = compare_seeds({s + 100: v for s, v in by_seed(a).items()}, by_seed(seed_effect))
    assert paired.paired and paired.verdict == BETTER
    assert not unpaired.paired and unpaired.verdict == NO_DIFFERENCE
    assert "unpaired (Welch)" in str(unpaired)


def test_the_interval_is_at_the_holm_level_inside_a_family():
    rng = np.random.default_rng(9)
    base = rng.normal(0, 1, 5)
    a = base + np.array([0.30, 0.10, 0.25, 0.05, 0.20])  # mean lead 0.18, p about 0.02 alone
    alone = compare_seeds(by_seed(a), by_seed(base))
    assert 0.01 < alone.p < 0.05 and alone.verdict == BETTER and alone.low > 0
    nulls = [by_seed(base + rng.normal(0, 0.2, 5)) for _ in range(4)]
    family = compare_family([Pair(by_seed(a), by_seed(base))] + [Pair(n, by_seed(base)) for n in nulls])
    assert family[0].p == alone.p and family[0].p_adjusted == pytest.approx(min(1.0, 5 * alone.p))
    assert family[0].verdict == NO_DIFFERENCE
    assert family[0].low < 0 < family[0].high and family[0].confidence == 1 - 0.05 / 5
    assert "0.99 CI (Holm)" in str(family[0])


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, math.nan]) == [0.5, pytest.approx(math.nan, nan_ok=True)]
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_an_undetected_difference_reports_the_smallest_detectable_effect_not_observed_power():
    """What 5 seeds can detect depends only on n and the level, never on the (noisy) effect seen."""
    rng = np.random.default_rng(10)
    found = {compare_seeds(*study(rng, 5, 0.5)).detectable_d for _ in range(50)}
    assert len(found) == 1  # the same for every simulated study
    d = found.pop()
    assert 1.5 < d < 1.8  # paired t, 5 seeds, 5%, 80% power
    assert seeds_for_power(d, 0.05) == 5 and seeds_for_power(d * 0.95, 0.05) == 6
    assert detectable_effect(5, 0.05 / 18) == pytest.approx(2.93, abs=0.02)  # an 18-test Holm family: d ~ 2.9
    assert detectable_effect(2, 0.05) is None


def test_seeds_for_power_matches_the_textbook_sample_sizes():
    """Cohen (1988): a paired t-test needs 10 pairs for d = 1 at 5% with 80% power, 34 for d = 0.5; two
    independent groups need 17 each for d = 1."""
    assert seeds_for_power(1.0, 0.05) == 10
    assert seeds_for_power(0.5, 0.05) == 34
    assert seeds_for_power(1.0, 0.05, paired=False) == 17
    assert seeds_for_power(0.001, 0.05) is None


def test_divergence_rates_with_exact_intervals_and_fishers_test():
    none = rate_interval(0, 5)
    assert (none.low, none.high) == pytest.approx((0.0, 1 - 0.025 ** (1 / 5)))  # Clopper-Pearson
    assert str(rate_interval(3, 5)).startswith("3/5 [")
    assert compare_rates((5, 5), (0, 5)) == pytest.approx(2 / 252)  # 2 of C(10, 5) tables as extreme
    assert compare_rates((1, 5), (1, 5)) == 1.0
