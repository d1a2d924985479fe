"""CIFAR-10 is read from Python 2 pickles in torchvision's layout, in the right channel order, or fails by name."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
import torchvision

from datamodules import CIFAR10DataModule
from gan_module import ConfigError
from tests.conftest import cifar10_rows, tiny_cifar10


def copy_of(cifar10_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(cifar10_root, root)
    return root, root / "cifar-10-batches-py"


def test_the_fixture_is_pickled_like_the_python2_originals(cifar10_root):
    # plain pickle.load fails on the real files (Python 2 str is not ASCII): the reader must choose an encoding
    with open(cifar10_root / "cifar-10-batches-py" / "data_batch_1", "rb") as f, pytest.raises(UnicodeDecodeError):
        pickle.load(f)
    with open(cifar10_root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        assert b"data" in pickle.load(f, encoding="bytes")


def test_training_batches_in_order_then_validation_from_the_end_then_the_test_batch(cifar10_root):
    dm = CIFAR10DataModule(root=str(cifar10_root), val_size=5, batch_size=4)
    dm.setup()
    batches = tiny_cifar10()
    pool_x = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    pool_y = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    train_x, train_y = dm.splits["train"].tensors
    val_x, val_y = dm.splits["val"].tensors
    test_x, test_y = dm.splits["test"].tensors
    assert (len(train_x), len(val_x), len(test_x)) == (25, 5, 8)
    assert torch.equal(train_x, torch.from_numpy(pool_x[:25])) and torch.equal(val_x, torch.from_numpy(pool_x[25:]))
    assert torch.equal(train_y, torch.from_numpy(pool_y[:25])) and torch.equal(val_y, torch.from_numpy(pool_y[25:]))
    assert torch.equal(test_x, torch.from_numpy(batches["test_batch"][0]))
    assert torch.equal(test_y, torch.from_numpy(batches["test_batch"][1]))
    assert train_x.dtype == torch.uint8 and train_y.dtype == torch.int64


def test_the_red_plane_is_channel_0_with_rows_and_columns_in_place(cifar10_root):
    dm = CIFAR10DataModule(root=str(cifar10_root), val_size=5, batch_size=4)
    dm.setup()
    image = dm.splits["train"].tensors[0][0]  # red 10 with a 250 at row 3, column 17; green 20; blue 30
    assert image.shape == (3, 32, 32)
    assert image[0, 3, 17] == 250 and image[0, 17, 3] == 10
    assert (image[0] == 250).sum() == 1
    assert (image[1] == 20).all() and (image[2] == 30).all()


def test_files_with_str_keys_load_too(cifar10_root, tmp_path):
    # a copy re-pickled by Python 3 (str keys, protocol 4), as some mirrors ship it
    root, folder = copy_of(cifar10_root, tmp_path)
    images, labels = tiny_cifar10()["data_batch_2"]
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({"data": cifar10_rows(images), "labels": labels.tolist()}, f, protocol=4)
    dm = CIFAR10DataModule(root=str(root), val_size=5, batch_size=4)
    dm.setup()
    assert torch.equal(dm.splits["train"].tensors[0][6:12], torch.from_numpy(images))


def test_a_missing_file_is_named_with_where_to_get_it(cifar10_root, tmp_path):
    root, folder = copy_of(cifar10_root, tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ConfigError) as err:
        CIFAR10DataModule(root=str(root)).setup()
    message = str(err.value)
    assert f"{folder} lacks data_batch_3." in message
    assert "cifar-10-python.tar.gz" in message and "download: true" in message


def test_no_folder_at_all_lists_every_file(tmp_path):
    with pytest.raises(ConfigError, match=r"lacks data_batch_1, data_batch_2, .*test_batch"):
        CIFAR10DataModule(root=str(tmp_path)).setup()


def test_a_truncated_file_is_named(cifar10_root, tmp_path):
    root, folder = copy_of(cifar10_root, tmp_path)
    target = folder / "test_batch"
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(ConfigError, match=r"test_batch is not a readable CIFAR-10 batch .truncated or corrupt"):
        CIFAR10DataModule(root=str(root)).setup()


class _RunsACommand:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_crafted_batch_file_is_refused_before_anything_in_it_runs(cifar10_root, tmp_path):
    """The batches are pickles: a plain pickle.load would run whatever a crafted file asks for."""
    root, folder = copy_of(cifar10_root, tmp_path)
    marker = tmp_path / "ran"
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": _RunsACommand(marker), b"labels": [0]}, f)
    with pytest.raises(ConfigError, match=r"data_batch_1 is not a readable CIFAR-10 batch .*asks for posix.system"):
        CIFAR10DataModule(root=str(root)).setup()
    assert not marker.exists()


def test_a_file_with_the_wrong_contents_is_named(cifar10_root, tmp_path):
    root, folder = copy_of(cifar10_root, tmp_path)
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((6, 1024), np.uint8), b"labels": [0] * 6}, f)
    with pytest.raises(ConfigError, match=r"data_batch_1: 'data' must be uint8 \(N, 3072\), found uint8 \(6, 1024\)"):
        CIFAR10DataModule(root=str(root)).setup()
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((6, 3072), np.uint8), b"labels": [0, 1, 2, 3, 4, 10]}, f)
    with pytest.raises(ConfigError, match=r"data_batch_1: 'labels' must be 6 classes in 0..9"):
        CIFAR10DataModule(root=str(root)).setup()


def test_defaults_give_45k_5k_and_the_shape_without_reading_files(tmp_path):
    dm = CIFAR10DataModule(root=str(tmp_path / "nowhere"))
    assert dm.val_size == 5000 and dm.image_shape == (3, 32, 32) and dm.num_classes == 10
    assert dm.value_range == (0.0, 1.0)  # the configs set [-1, 1] for tanh generators


def test_download_asks_torchvision_only_when_files_are_missing(cifar10_root, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", lambda *args, **kwargs: calls.append((args, kwargs)))
    CIFAR10DataModule(root=str(cifar10_root), download=True).prepare_data()
    CIFAR10DataModule(root=str(tmp_path), download=False).prepare_data()
    assert calls == []
    CIFAR10DataModule(root=str(tmp_path), download=True).prepare_data()
    assert calls == [((str(tmp_path),), {"train": True, "download": True})]
