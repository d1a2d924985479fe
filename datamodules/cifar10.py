"""CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images") from its Python pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torchvision

from datamodules.base import ImageArrays, ImageDataModule
from gan_module.errors import ConfigError

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
FOLDER = "cifar-10-batches-py"
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (the CIFAR-10 python version, cifar-10-python.tar.gz)"
PIXELS = 3 * 32 * 32


class CIFAR10DataModule(ImageDataModule):
    """The 60,000 32x32 colour images of CIFAR-10 in 10 classes, as torchvision stores them:
    ``<root>/cifar-10-batches-py/`` with ``data_batch_1`` .. ``data_batch_5`` (the 50,000 training images) and
    ``test_batch`` (the official 10,000 test images). ``batches.meta`` (class names) is not needed.

    Split: the training batches in order, the last ``val_size`` (default 5,000) for validation: train 45,000 /
    validation 5,000 / test 10,000. ``value_range`` keeps the base default [0, 1]; the configs set [-1, 1] for
    tanh generators.

    Args:
        root: the folder that holds ``cifar-10-batches-py/``.
        download: let torchvision download and unpack the archive if files are missing (needs internet).
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, ...).
    """

    image_shape = (3, 32, 32)
    num_classes = 10

    def __init__(self, root: str = "data", download: bool = False, val_size: int = 5000, **kwargs) -> None:
        super().__init__(val_size=val_size, **kwargs)
        self.root, self.download = Path(root), download

    @property
    def folder(self) -> Path:
        return self.root / FOLDER

    def prepare_data(self) -> None:
        if self.download and self._missing():  # Lightning calls prepare_data on one process only
            torchvision.datasets.CIFAR10(str(self.root), train=True, download=True)

    def load(self) -> ImageArrays:
        missing = self._missing()
        if missing:
            raise ConfigError(
                f"{type(self).__name__}: {self.folder} lacks {', '.join(missing)}. It needs all of data_batch_1 "
                f"to data_batch_5 and test_batch, from {SOURCE}: unpack the archive in {self.root}, or set "
                "data.download: true on a machine with internet."
            )
        batches = [read_batch(self.folder / name) for name in TRAIN_FILES]
        test_images, test_labels = read_batch(self.folder / TEST_FILE)
        images = torch.cat([x for x, _ in batches])
        labels = torch.cat([y for _, y in batches])
        return ImageArrays(images, labels, test_images, test_labels)

    def _missing(self) -> list[str]:
        return [name for name in [*TRAIN_FILES, TEST_FILE] if not (self.folder / name).is_file()]


def read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch file -> uint8 images (N, 3, 32, 32) and int64 labels (N,).

    Each file is a pickled dict written by Python 2: ``data`` is uint8 (N, 3072), each row the 1024 red, then
    1024 green, then 1024 blue values of a 32x32 image in row-major order, so a plain reshape gives (C, H, W).
    """
    entry = _unpickle(path)
    data, labels = entry.get("data"), np.asarray(entry.get("labels", []))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else repr(type(data).__name__)
        raise ConfigError(f"{path}: 'data' must be uint8 (N, {PIXELS}), found {found}; download the file again.")
    if labels.shape != (len(data),) or not np.isin(labels, np.arange(10)).all():
        raise ConfigError(f"{path}: 'labels' must be {len(data)} classes in 0..9; download the file again.")
    images = torch.from_numpy(data.reshape(-1, *CIFAR10DataModule.image_shape).copy())
    return images, torch.from_numpy(labels.astype(np.int64))


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds only what a CIFAR-10 batch holds (numpy arrays, dtypes, builtins' containers):
    a crafted file asking for any other callable (``os.system``, say) is refused before it can run."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("builtins", "bytes"),
            ("__builtin__", "bytes"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a CIFAR-10 batch never holds")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    """The file's dict with str keys, whether it was pickled with bytes keys (Python 2 str) or str keys."""
    try:
        with open(path, "rb") as f:
            # latin1 turns Python 2 str into str byte for byte, as numpy needs for the arrays' raw data
            entry = _ArraysOnly(f, encoding="latin1").load()
    except Exception as err:  # a damaged pickle raises many types (EOFError, UnpicklingError, ValueError, ...)
        raise ConfigError(
            f"{path} is not a readable CIFAR-10 batch (truncated or corrupt?): {err!r}; download it again."
        ) from err
    if not isinstance(entry, dict):
        raise ConfigError(f"{path} holds a {type(entry).__name__}, not a CIFAR-10 batch dict; download it again.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
