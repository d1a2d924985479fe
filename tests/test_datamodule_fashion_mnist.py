"""Fashion-MNIST reads torchvision's folder, fills it from Debian's system folder, and says where to get files."""

from __future__ import annotations

import gzip

import pytest
import torch

from datamodules import FashionMNISTDataModule, MNISTDataModule
from datamodules.mnist import RAW_FILES
from gan_module import ConfigError
from tests.conftest import real_digits, write_idx


def snapshot(folder) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def test_split_like_mnist_from_the_fashionmnist_raw_folder(fashion_mnist_root):
    dm = FashionMNISTDataModule(root=str(fashion_mnist_root), system_dir=None, val_size=100)
    dm.setup()
    images, labels = real_digits()
    assert dm.raw_folder == fashion_mnist_root / "FashionMNIST" / "raw"
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 500, "val": 100, "test": 200}
    assert torch.equal(dm.splits["val"].tensors[0][:, 0], torch.from_numpy(images[500:600]))
    assert torch.equal(dm.splits["test"].tensors[1], torch.from_numpy(labels[600:800]).long())


def test_defaults_are_mnists_split_and_debians_folder(tmp_path):
    dm = FashionMNISTDataModule(root=str(tmp_path))
    assert isinstance(dm, MNISTDataModule) and dm.val_size == 10000
    assert str(dm.system_dir) == "/usr/share/datasets/fashion-mnist"
    assert dm.image_shape == (1, 28, 28) and dm.num_classes == 10


def test_missing_files_are_copied_from_the_system_folder_which_stays_untouched(fashion_system_dir, tmp_path):
    before = snapshot(fashion_system_dir)
    dm = FashionMNISTDataModule(root=str(tmp_path), system_dir=str(fashion_system_dir), val_size=100)
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 500, "val": 100, "test": 200}
    raw = tmp_path / "FashionMNIST" / "raw"
    assert sorted(f.name for f in raw.iterdir()) == sorted(f"{n}.gz" for n in RAW_FILES)  # copied, read in place
    assert snapshot(fashion_system_dir) == before


def test_files_already_in_the_raw_folder_win_over_the_system_folder(fashion_system_dir, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = real_digits()
    write_idx(raw / "t10k-images-idx3-ubyte", images[1000:1200])  # not what the system folder holds
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[1000:1200])
    dm = FashionMNISTDataModule(root=str(tmp_path), system_dir=str(fashion_system_dir), val_size=100)
    dm.setup()
    assert torch.equal(dm.splits["test"].tensors[0][:, 0], torch.from_numpy(images[1000:1200]))
    assert not (raw / "t10k-images-idx3-ubyte.gz").exists() and (raw / "train-images-idx3-ubyte.gz").exists()


def test_missing_everywhere_names_both_folders_and_the_apt_package(tmp_path):
    system_dir = tmp_path / "empty_system_dir"
    system_dir.mkdir()
    with pytest.raises(ConfigError) as err:
        FashionMNISTDataModule(root=str(tmp_path), system_dir=str(system_dir)).setup()
    message = str(err.value)
    assert f"{tmp_path / 'FashionMNIST' / 'raw'} lacks train-images-idx3-ubyte" in message
    assert f"nor does {system_dir}" in message
    assert "apt-get install dataset-fashion-mnist" in message and "download: true" in message
    assert "MlxtendMNIST" not in message  # MNIST's offline hint is about digits, not clothes


def test_without_a_system_folder_the_message_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"and data.system_dir is null"):
        FashionMNISTDataModule(root=str(tmp_path), system_dir=None).setup()


def test_a_corrupt_archive_in_the_system_folder_is_named(fashion_system_dir, tmp_path):
    system_dir = tmp_path / "system"
    system_dir.mkdir()
    for f in fashion_system_dir.iterdir():
        (system_dir / f.name).write_bytes(f.read_bytes())
    damaged = system_dir / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:2000])
    root = tmp_path / "root"
    with pytest.raises(ConfigError, match=r"train-images-idx3-ubyte.gz is truncated or corrupt"):
        FashionMNISTDataModule(root=str(root), system_dir=str(system_dir)).setup()
    assert not (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()  # no half-unpacked file


def test_the_fixture_matches_debians_file_names(fashion_system_dir):
    # dpkg -c dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb lists exactly these four files
    assert sorted(f.name for f in fashion_system_dir.iterdir()) == sorted(f"{n}.gz" for n in RAW_FILES)
    assert gzip.decompress((fashion_system_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())[:4] == b"\0\0\x08\x01"
