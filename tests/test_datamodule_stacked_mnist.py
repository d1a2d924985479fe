"""datamodules/stacked_mnist.py and the ``stacked_modes`` metric: three digits per image, 1,000 modes, counted as
VEEGAN and PacGAN count them."""

from __future__ import annotations

import math

import pytest
import torch

from datamodules import StackedMNISTDataModule
from gan_module.errors import ConfigError
from gan_module.metrics.base import EvaluationContext
from gan_module.metrics.coverage import StackedModesMetric, stacked_modes
from tests.conftest import SHARED_MNIST, needs_shared_mnist


def test_stacks_are_three_independent_digits_labelled_by_their_mode(mnist_root):
    dm = StackedMNISTDataModule(root=str(mnist_root), num_train=300, num_test=50, val_size=100, stack_seed=3)
    dm.setup()
    train_x, train_y = dm.splits["train"].tensors
    assert train_x.shape == (300, 3, 28, 28) and {len(dm.splits["val"]), len(dm.splits["test"])} == {100, 50}
    digits = dm.digits()
    digits.setup()
    pool_x = torch.cat([digits.splits["train"].tensors[0], digits.splits["val"].tensors[0]])
    pool_y = torch.cat([digits.splits["train"].tensors[1], digits.splits["val"].tensors[1]])
    for image, mode in zip(train_x[:20], train_y[:20], strict=True):  # each channel is a training digit (of the
        classes = []  # first 500: the validation digits are stacked apart) and the label is its mode
        for channel in image:
            (match,) = [i for i in range(500) if torch.equal(pool_x[i, 0], channel)][:1]
            classes.append(int(pool_y[match]))
        assert int(mode) == classes[0] * 100 + classes[1] * 10 + classes[2]
    val_x = dm.splits["val"].tensors[0]
    held_out = pool_x[500:, 0]
    assert all(any(torch.equal(c, d) for d in held_out) for c in val_x[:5, 0])  # validation stacks: held-out digits
    again = StackedMNISTDataModule(root=str(mnist_root), num_train=300, num_test=50, val_size=100, stack_seed=3)
    again.setup()
    assert torch.equal(again.splits["train"].tensors[0], train_x)  # the same stacks for every run
    with pytest.raises(ConfigError, match="num_train"):
        StackedMNISTDataModule(root=str(mnist_root), num_train=0)


def test_the_mode_count_and_kl_of_known_histograms():
    assert stacked_modes(torch.arange(1000).repeat(26)) == (1000, pytest.approx(0.0, abs=1e-12))
    assert stacked_modes(torch.full((26000,), 7)) == (1, pytest.approx(math.log(1000)))
    half = torch.arange(500).repeat(2)
    assert stacked_modes(half) == (500, pytest.approx(math.log(2)))


@pytest.mark.slow
@needs_shared_mnist
def test_real_stacks_cover_about_all_1000_modes_and_one_repeated_stack_one(tmp_path):
    dm = StackedMNISTDataModule(root=str(SHARED_MNIST), num_train=1000, num_test=26000, value_range=(-1, 1))
    dm.setup()
    context = EvaluationContext(dm, torch.device("cpu"), num_samples=26000, classifier_cache=tmp_path)
    metric = StackedModesMetric()
    metric.prepare(context)  # trains the digit classifier on the 50,000 training digits (cached)
    assert metric.accuracy > 0.97
    real = dm.split_images("test")
    scored = metric.score(real, context)
    assert scored["eval/stacked_modes_26k_covered"] >= 995 and scored["eval/stacked_modes_26k_kl"] < 0.1
    repeated = metric.score(real[:1].expand(2000, -1, -1, -1), context)
    assert repeated["eval/stacked_modes_26k_covered"] == 1
    assert repeated["eval/stacked_modes_26k_kl"] == pytest.approx(math.log(1000))
