"""The sample grid's layout: nearest training neighbours, one row per class (callbacks/sample_grid.py)."""

from __future__ import annotations

import numpy as np
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


def test_a_folder_is_searched_in_a_pool_drawn_once_and_announced(tmp_path, monkeypatch, caplog):
    """A training split read from files: neighbours among ``neighbours_pool`` images drawn once (decoded once for
    the run), or, with no pool, among every image read batch by batch; never the split decoded at once."""
    from datamodules import ImageFolderDataModule
    from tests.conftest import count_decodes, write_digit_pngs

    write_digit_pngs(tmp_path / "digits", 400)
    data = ImageFolderDataModule(root=str(tmp_path / "digits"), resolution=28, test_size=20, val_size=10, num_workers=0)
    data.setup()
    n = len(data.splits["train"])
    pool_indices = np.sort(np.random.default_rng(0).choice(n, 100, replace=False))
    outside = next(i for i in range(n) if i not in set(pool_indices))
    picks = [int(pool_indices[3]), int(pool_indices[70]), outside]
    train, _ = data.read_items("train", picks)
    copies = (data.scale(train) + 0.05 * torch.randn(3, 1, 28, 28)).clamp(-1, 1)
    decoded = count_decodes(monkeypatch)
    grid = SampleGrid(neighbours_pool=100)
    with caplog.at_level("INFO"):
        found = grid.neighbours(copies, data)
        again = grid.neighbours(copies, data)
    assert decoded == {n: 100}  # the pool, decoded once for both grids
    assert caplog.text.count(f"nearest neighbours among 100 of the {n} training images") == 1
    assert torch.equal(found[:2], data.scale(train[:2])) and torch.equal(again, found)
    assert not torch.equal(found[2], data.scale(train[2]))  # its original is not in the pool
    decoded.clear()
    everything = SampleGrid(neighbours_pool=None).neighbours(copies, data)
    assert torch.equal(everything, data.scale(train)) and decoded == {n: n}  # every image, in batches
    with caplog.at_level("INFO"):
        whole = SampleGrid(neighbours_pool=1000).neighbours(copies, data)  # a pool larger than the split: all of it
    assert torch.equal(whole, everything) and f"nearest neighbours among all {n} training images" in caplog.text
