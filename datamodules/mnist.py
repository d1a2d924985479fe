"""MNIST from torchvision's files, with the 2014 paper's split (train 0..50000, validation 50000..60000)."""

from __future__ import annotations

from pathlib import Path

import torchvision

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.idx import ensure_unpacked, idx_shape
from gan_module.errors import ConfigError

RAW_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


class MNISTDataModule(ImageDataModule):
    """The MNIST digits as torchvision stores them: ``<root>/MNIST/raw/`` with the four idx files.

    Args:
        root: the folder that holds ``MNIST/raw/``.
        download: let torchvision download the files if they are missing (needs internet).
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, val_size, ...).
    """

    image_shape = (1, 28, 28)
    num_classes = 10
    torchvision_class = torchvision.datasets.MNIST
    source_hint = "http://yann.lecun.com/exdb/mnist/ (or any MNIST mirror)"

    def __init__(self, root: str = "data", download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root, self.download = Path(root), download

    @property
    def raw_folder(self) -> Path:
        return self.root / self.torchvision_class.__name__ / "raw"

    def prepare_data(self) -> None:
        if self.download:  # Lightning calls prepare_data on one process only
            for train in (True, False):
                self.torchvision_class(str(self.root), train=train, download=True)

    def load(self) -> ImageArrays:
        self._check_files()
        train = self.torchvision_class(str(self.root), train=True, download=False)
        test = self.torchvision_class(str(self.root), train=False, download=False)
        return ImageArrays(train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets)

    def _check_files(self) -> None:
        folder = self.raw_folder
        missing = ensure_unpacked(folder, RAW_FILES) if folder.is_dir() else RAW_FILES
        if missing:
            raise ConfigError(self._missing_files_message(missing))
        for name in RAW_FILES:
            idx_shape(folder / name)

    def _missing_files_message(self, missing: list[str]) -> str:
        return (
            f"{type(self).__name__}: {self.raw_folder} lacks {', '.join(missing)}. It needs all four files "
            f"{', '.join(RAW_FILES)} (unpacked or as .gz), from {self.source_hint}. Copy them there, or "
            "set data.download: true on a machine with internet. Offline, the quickstart's digits need no "
            "files: data.class_path: datamodules.MlxtendMNISTDataModule."
        )
