"""2-D Gaussian mixtures: the VEEGAN / PacGAN geometry, the right per-mode statistics, reproducible draws."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from datamodules import GaussianMixtureDataModule, GridMixtureDataModule, RingMixtureDataModule
from gan_module import ConfigError


def drawn(dm: GaussianMixtureDataModule) -> tuple[torch.Tensor, torch.Tensor]:
    dm.setup()
    return dm.splits["train"].tensors


def test_ring_is_8_modes_on_the_unit_circle_with_std_001():
    dm = RingMixtureDataModule()
    expected = [[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)]
    assert torch.allclose(dm.centers, torch.tensor(expected), atol=1e-7)
    assert dm.std == 0.01 and dm.num_classes == 8 and dm.image_shape == (2,)


def test_grid_is_25_modes_at_minus4_plus_2i_with_std_005():
    dm = GridMixtureDataModule()
    expected = [[-4.0 + 2 * i, -4.0 + 2 * j] for i, j in itertools.product(range(5), repeat=2)]
    assert torch.equal(dm.centers, torch.tensor(expected))
    assert dm.std == 0.05 and dm.num_classes == 25 and dm.image_shape == (2,)


def test_radius_spacing_and_std_are_options():
    ring = RingMixtureDataModule(radius=2.0, std=0.02)  # the Unrolled GAN paper's ring
    assert torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0)) and ring.std == 0.02
    grid = GridMixtureDataModule(spacing=1.0)
    assert grid.centers.min() == -2.0 and grid.centers.max() == 2.0


@pytest.mark.parametrize("cls", [RingMixtureDataModule, GridMixtureDataModule])
def test_each_component_has_its_mean_and_std_and_is_the_nearest_centre(cls):
    dm = cls(num_train=50_000, val_size=10, test_size=10)
    points, labels = drawn(dm)
    assert points.dtype == torch.float32 and labels.dtype == torch.int64 and points.shape == (50_000, 2)
    assert torch.equal(torch.cdist(points, dm.centers).argmin(dim=1), labels)
    counts = torch.bincount(labels, minlength=dm.num_classes)
    expected = 50_000 / dm.num_classes
    assert (counts - expected).abs().max() < 5 * math.sqrt(expected)  # equal weights
    for k in range(dm.num_classes):
        mode = points[labels == k].double()
        assert (mode.mean(0) - dm.centers[k]).abs().max() < 5 * dm.std / math.sqrt(len(mode))
        assert torch.allclose(mode.std(0), torch.full((2,), dm.std, dtype=torch.float64), rtol=0.1)


def test_the_draw_is_reproducible_by_seed_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    a = drawn(RingMixtureDataModule(num_train=1000, seed=5))
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)
    b = drawn(RingMixtureDataModule(num_train=1000, seed=5))
    c = drawn(RingMixtureDataModule(num_train=1000, seed=6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_splits_have_the_asked_sizes_and_share_no_point():
    dm = GridMixtureDataModule(num_train=1000, val_size=100, test_size=50)
    dm.setup()
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sizes == {"train": 1000, "val": 100, "test": 50}
    rows = {name: {tuple(p) for p in split.tensors[0].tolist()} for name, split in dm.splits.items()}
    assert len(rows["train"] | rows["val"] | rows["test"]) == 1150


def test_default_sizes_follow_pacgan():
    dm = RingMixtureDataModule()
    assert (dm.num_train, dm.val_size, dm.test_size) == (100_000, 10_000, 10_000)


def test_points_are_never_rescaled():
    dm = GridMixtureDataModule(num_train=512, batch_size=64, value_range=(-1.0, 1.0))
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    points, labels = dm.on_after_batch_transfer(batch, 0)
    assert points is batch[0] and labels is batch[1]
    assert torch.equal(dm.split_images("val"), dm.splits["val"].tensors[0])
    assert points.abs().max() > 3.5  # the grid reaches +-4, outside value_range


def test_a_custom_mixture_takes_centres_and_bad_settings_are_refused():
    dm = GaussianMixtureDataModule(centers=[[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], std=0.1, num_train=300)
    points, labels = drawn(dm)
    assert dm.num_classes == 3 and torch.equal(torch.cdist(points, dm.centers).argmin(1), labels)
    for centers in ([[0.0, 0.0, 0.0]], [[0.0, 0.0], [1.0]], []):
        with pytest.raises(ConfigError, match=r"data.centers must be a non-empty list of"):
            GaussianMixtureDataModule(centers=centers, std=0.1)
    with pytest.raises(ConfigError, match=r"data.std must be > 0"):
        RingMixtureDataModule(std=0.0)
    with pytest.raises(ConfigError, match=r"data.num_train >= 1, got 0.01 and 0"):
        RingMixtureDataModule(num_train=0)
