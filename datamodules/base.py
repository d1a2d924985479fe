"""The one DataModule base every image dataset shares: splits, scaling to the generator's range, loaders.

A dataset subclass only says where its arrays come from (:meth:`ImageDataModule.load`); everything else
(the paper's train/validation split, seeded shuffling that resumes exactly, uint8 -> float conversion on the
device) lives here once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler, TensorDataset

from gan_module.errors import ConfigError


@dataclass
class ImageArrays:
    """A dataset as loaded from disk: uint8 images (N, C, H, W) and int64 labels (N,).

    ``test_*`` are ``None`` when the source has no official test set; the base then carves one from the pool.
    """

    images: Tensor
    labels: Tensor
    test_images: Tensor | None = None
    test_labels: Tensor | None = None


class EpochShuffleSampler(Sampler[int]):
    """A new permutation each epoch, drawn from ``seed + epoch``: a resumed run sees the same order.

    Lightning calls :meth:`set_epoch` before every epoch, as it does for a ``DistributedSampler``.
    """

    def __init__(self, num_items: int, seed: int = 0) -> None:
        self.num_items, self.seed, self.epoch = num_items, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.num_items, generator=g).tolist())

    def __len__(self) -> int:
        return self.num_items


class ImageDataModule(L.LightningDataModule):
    """Shared logic of the image DataModules.

    Splits: the training pool is cut as ``[train | validation]`` with ``val_size`` images at its end (the 2014
    paper's MNIST split: train 0..50000, validation 50000..60000), and the official test set is the test
    split. A source without a test set gives its last ``test_size`` images to it: ``[train | val | test]``.

    Batches are ``(images, labels)``; images are kept as uint8 until they reach the device, then scaled to
    ``value_range``, which must match the generator's output activation ([0, 1] for sigmoid, [-1, 1] for tanh).

    Args:
        batch_size: images per step, per device (m in Algorithm 1).
        val_size: images taken from the end of the training pool for validation.
        test_size: images carved for testing when the source has no official test set.
        value_range: the interval pixel values are scaled to.
        num_workers: DataLoader worker processes.
        seed: seeds the per-epoch shuffling (``seed + epoch``).
    """

    #: (C, H, W) of every image; linked into the networks by main.py
    image_shape: tuple[int, int, int] = (1, 28, 28)
    #: number of classes in the labels (0 when unlabelled)
    num_classes: int = 10

    def __init__(
        self,
        batch_size: int = 100,
        val_size: int = 10000,
        test_size: int = 0,
        value_range: Sequence[float] = (0.0, 1.0),
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}.")
        if val_size < 0 or test_size < 0:
            raise ConfigError(f"data.val_size and data.test_size must be >= 0, got {val_size} and {test_size}.")
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise ConfigError(f"data.value_range must be [low, high] with low < high, got {list(value_range)}.")
        self.batch_size, self.val_size, self.test_size = batch_size, val_size, test_size
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.num_workers, self.seed = num_workers, seed
        self.splits: dict[str, TensorDataset] = {}

    # ---------------------------------------------------------------- what a dataset subclass provides
    def load(self) -> ImageArrays:
        """Read the dataset from disk; raise :class:`ConfigError` naming the files when they are missing."""
        raise NotImplementedError

    # ---------------------------------------------------------------- shared
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        arrays = self.load()
        pool_x, pool_y = arrays.images, arrays.labels
        carve_test = arrays.test_images is None
        n_held = self.val_size + (self.test_size if carve_test else 0)
        if n_held >= len(pool_x):
            raise ConfigError(
                f"{type(self).__name__} has {len(pool_x)} training images, too few for val_size={self.val_size}"
                + (f" and test_size={self.test_size}" if carve_test else "")
                + ": lower them."
            )
        n_train = len(pool_x) - n_held
        n_val_end = n_train + self.val_size
        self.splits["train"] = TensorDataset(pool_x[:n_train], pool_y[:n_train])
        self.splits["val"] = TensorDataset(pool_x[n_train:n_val_end], pool_y[n_train:n_val_end])
        if carve_test:
            self.splits["test"] = TensorDataset(pool_x[n_val_end:], pool_y[n_val_end:])
        else:
            self.splits["test"] = TensorDataset(arrays.test_images, arrays.test_labels)
        if len(self.splits["train"]) < self.batch_size:
            raise ConfigError(
                f"The training split has {len(self.splits['train'])} images, fewer than one batch "
                f"(data.batch_size={self.batch_size}): lower the batch size or val_size."
            )

    def split_images(self, split: str) -> Tensor:
        """All images of a split as floats in ``value_range`` (for evaluation and nearest-neighbour search)."""
        self.setup()
        return self.scale(self.splits[split].tensors[0])

    def scale(self, images: Tensor) -> Tensor:
        """uint8 pixels -> floats in ``value_range``."""
        low, high = self.value_range
        return images.float() * ((high - low) / 255.0) + low

    def to_unit_interval(self, images: Tensor) -> Tensor:
        """Floats in ``value_range`` -> [0, 1], for saving and showing images."""
        low, high = self.value_range
        return ((images - low) / (high - low)).clamp(0.0, 1.0)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        if images.dtype == torch.uint8:  # scaled on the device: the loader moves 4x fewer bytes
            images = self.scale(images)
        return images, labels

    def _loader(self, split: str, train: bool) -> DataLoader:
        dataset = self.splits[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(dataset), self.seed) if train else None,
            drop_last=train,  # Algorithm 1 uses minibatches of m; a short last batch would change m
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            # its own generator: otherwise creating each epoch's iterator draws a seed from the global RNG,
            # which training's noise and dropout use, and a resumed run would drift from a straight one
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
