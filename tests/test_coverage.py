"""Mode and class coverage on hand-placed points and hand-made predictions (gan_module/metrics/coverage.py)."""

import math

import pytest
import torch

from gan_module.metrics.coverage import class_coverage, mixture_coverage

CENTERS = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])


def test_modes_captured_and_high_quality_share_on_hand_placed_points():
    std = 0.1
    on_mode_0 = CENTERS[0] + torch.tensor([[0.05, 0.0]]).repeat(30, 1)  # 0.5 std away: high quality
    on_mode_1 = CENTERS[1] + torch.tensor([[0.0, 0.29]]).repeat(30, 1)  # 2.9 std: still high quality
    near_mode_2 = CENTERS[2] + torch.tensor([[0.31, 0.0]]).repeat(30, 1)  # 3.1 std: not
    between = torch.tensor([[1.0, 1.0]]).repeat(10, 1)
    samples = torch.cat([on_mode_0, on_mode_1, near_mode_2, between])
    result = mixture_coverage(samples, CENTERS, std)
    assert result.modes_captured(per_2500=20) == 2 and result.modes_captured() == 2 and result.num_modes == 4
    assert math.isclose(result.high_quality, 60 / 100)
    assert result.per_mode.tolist() == [30, 30, 0, 0]


def test_the_two_capture_rules_and_the_threshold_scales_with_the_sample_count():
    samples = torch.cat([CENTERS[0].repeat(2480, 1), CENTERS[1].repeat(19, 1), CENTERS[2].repeat(1, 1)])
    coverage = mixture_coverage(samples, CENTERS, 0.1)
    assert coverage.modes_captured() == 3  # PacGAN's released code: one high-quality sample captures a mode
    assert coverage.modes_captured(per_2500=20) == 1  # 20 of 2,500
    assert mixture_coverage(samples[-20:], CENTERS, 0.1).modes_captured(per_2500=20) == 2  # 20 samples: 1 suffices


def test_reverse_kl_of_the_mode_histogram():
    # every mode equally often: 0; all on one of four modes: log 4; half on each of two: log 2
    assert mixture_coverage(CENTERS.repeat(25, 1), CENTERS, 0.1).reverse_kl == pytest.approx(0.0, abs=1e-12)
    assert mixture_coverage(CENTERS[:1].repeat(100, 1), CENTERS, 0.1).reverse_kl == pytest.approx(math.log(4))
    assert mixture_coverage(CENTERS[:2].repeat(50, 1), CENTERS, 0.1).reverse_kl == pytest.approx(math.log(2))
    # samples far from every mode still count towards their nearest one (not high quality, but in the histogram)
    far = CENTERS[:2] + 0.9
    assert mixture_coverage(far.repeat(50, 1), CENTERS, 0.1).reverse_kl > 0


def test_class_coverage_counts_classes_and_kl_from_the_data():
    predicted = torch.tensor([0] * 50 + [1] * 50)
    uniform = class_coverage(predicted, 2)
    assert uniform.classes_covered == 2 and abs(uniform.kl_from_data) < 1e-12
    skewed = class_coverage(torch.tensor([0] * 75 + [1] * 25), 2)
    assert math.isclose(skewed.kl_from_data, 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25), rel_tol=1e-9)


def test_a_missing_class_costs_a_large_finite_kl():
    collapsed = class_coverage(torch.zeros(100, dtype=torch.long), 10)
    assert collapsed.classes_covered == 1
    assert 5 < collapsed.kl_from_data < float("inf")
    assert collapsed.histogram[0] == 1


def test_class_coverage_against_a_non_uniform_data_distribution():
    data = torch.tensor([300.0, 100.0])
    matched = class_coverage(torch.tensor([0] * 75 + [1] * 25), 2, data)
    assert abs(matched.kl_from_data) < 1e-12
