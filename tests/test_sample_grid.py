"""The sample grid's layout: nearest training neighbours, one row per class (callbacks/sample_grid.py)."""

from __future__ import annotations

import torch

from callbacks.sample_grid import SampleGrid, nearest_training_images
from tests.conftest import offline_digits


def test_nearest_neighbours_find_the_training_images_samples_were_copied_from():
    data = offline_digits()
    data.setup()
    train = data.split_images("train")
    picks = torch.tensor([3, 1500, 3999, 42])
    noisy_copies = (train[picks] + 0.05 * torch.randn(4, 1, 28, 28)).clamp(0, 1)
    found = nearest_training_images(noisy_copies, data, chunk=1000)  # chunks: the search spans their borders
    assert torch.equal(found, train[picks])


class _Module:
    num_classes, device = 10, "cpu"


def test_a_conditional_grid_asks_for_one_class_per_row():
    labels = SampleGrid(num_samples=30, nrow=3).fixed_labels(_Module())
    assert labels.view(10, 3).tolist() == [[c] * 3 for c in range(10)]
    wrapped = SampleGrid(num_samples=24, nrow=2).fixed_labels(_Module())
    assert wrapped[20:].tolist() == [0, 0, 1, 1]  # row 10 starts again at class 0
