"""The one DataModule base every dataset shares: splits, scaling to the generator's range, loaders.

A dataset subclass only says where its arrays come from (:meth:`ImageDataModule.load`); everything else
(the paper's train/validation split, seeded shuffling that resumes exactly, uint8 -> float conversion on the
device) lives here once. Samples are uint8 images (N, C, H, W), scaled on the device, or float points such as
the 2-D mixtures (N, 2), which pass through unscaled.

A split is usually a :class:`TensorSplit` (everything in memory); a source too large for that (a folder of image
files) builds its own splits (:meth:`ImageDataModule.build_splits`) as any map-style ``Dataset`` of
``(uint8 image (C, H, W), int label)`` items, and the same sampler, loaders and resume apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from gan_module.errors import ConfigError
from gan_module.run.resume import next_batch


def to_unit_interval(images: Tensor, value_range: Sequence[float]) -> Tensor:
    """Floats in ``value_range`` (a data module's, or a generator's ``output_range``) -> [0, 1]."""
    low, high = value_range
    return ((images - low) / (high - low)).clamp(0.0, 1.0)


def from_unit_interval(images: Tensor, value_range: Sequence[float]) -> Tensor:
    """[0, 1] -> floats in ``value_range``: the inverse of :func:`to_unit_interval` on [0, 1]."""
    low, high = value_range
    return low + (high - low) * images.float()


@dataclass
class ImageArrays:
    """A dataset as loaded: samples (uint8 images (N, C, H, W) or float points (N, D)) and int64 labels (N,).

    ``images``/``labels`` are the training pool. ``test_*`` are ``None`` when the source has no official test
    set, ``val_*`` when it has no official validation set; the base then carves them from the pool's end.
    """

    images: Tensor
    labels: Tensor
    test_images: Tensor | None = None
    test_labels: Tensor | None = None
    val_images: Tensor | None = None
    val_labels: Tensor | None = None

    def __post_init__(self) -> None:
        for prefix in ("", "test_", "val_"):
            x, y = getattr(self, f"{prefix}images"), getattr(self, f"{prefix}labels")
            if (x is None) != (y is None) or (x is not None and len(x) != len(y)):
                raise ValueError(f"ImageArrays: {prefix}images and {prefix}labels must come together, same length.")


#: validation and test batches hold this many training batches' worth of samples
EVAL_BATCH_FACTOR = 4
#: the seed of every bounded sample evaluation draws from a split (:meth:`ImageDataModule.split_sample`): fixed,
#: so a cached classifier and a grid's neighbours always come from the same images
POOL_SEED = 0
#: about how many samples the in-memory content digest reads (:meth:`ImageDataModule.content_digest`)
DIGEST_SAMPLE = 256


class TensorSplit(TensorDataset):
    """A TensorDataset that hands over a whole minibatch in one indexing operation per tensor.

    PyTorch's loader otherwise indexes a map-style dataset once per sample and stacks the results: 256
    Python calls and two ``torch.stack`` per batch of 2-D points, longer than a small GAN's whole step. The
    batches are the same tensors either way (same sampler, same order), so training is bit-identical.
    """

    def __getitems__(self, indices: list[int]) -> list[Tensor]:
        index = torch.as_tensor(indices)
        return [tensor[index] for tensor in self.tensors]


def _already_batched(batch: list[Tensor]) -> list[Tensor]:
    """The loader's ``collate_fn`` for :class:`TensorSplit`: its ``__getitems__`` made the batch already."""
    return batch


class ResumableSampler(DistributedSampler):
    """Training order: a new permutation each epoch, drawn from ``seed + epoch``, this rank's share of it, and
    the option to start the next epoch part-way through (a resume from a mid-epoch checkpoint).

    It is a ``DistributedSampler`` (``drop_last``: every rank gets as many samples), so Lightning uses it as
    it is under DDP instead of wrapping it; with one process it is the whole permutation. Lightning calls
    :meth:`set_epoch` before every epoch.
    """

    def __init__(self, dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0, epoch: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.epoch = epoch
        self.skip = 0  # samples of this rank's share to leave out, once

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self.skip = self.skip, 0  # only the resumed epoch starts late
        return iter(indices[skip:])


class ImageDataModule(L.LightningDataModule):
    """Shared logic of the DataModules.

    Splits: the training pool is cut as ``[train | validation]`` with ``val_size`` images at its end (the 2014
    paper's MNIST split: train 0..50000, validation 50000..60000), and the official test set is the test
    split. A source without a test set gives its last ``test_size`` images to it: ``[train | val | test]``.
    A source with an official validation set (TFD's folds) gives it explicitly; ``val_size`` is then ignored.

    Batches are ``(samples, labels)`` with int64 labels; images are kept as uint8 until they reach the device,
    then scaled to ``value_range``, which must match the generator's output activation ([0, 1] for sigmoid,
    [-1, 1] for tanh). Float samples (2-D points) are never rescaled.

    Subclasses set ``image_shape`` and ``num_classes`` as class attributes or in ``__init__``: gan_module/cli.py links
    them into the networks when it instantiates them, before :meth:`setup` reads any file.

    Args:
        batch_size: samples per step, per device (m in Algorithm 1).
        val_size: samples taken from the end of the training pool for validation (ignored when the source
            has an official validation set).
        test_size: samples carved for testing when the source has no official test set.
        value_range: the interval pixel values are scaled to (unused for float samples).
        num_workers: DataLoader worker processes (0: load in the training process; the in-memory datasets
            here rarely need more, decoding or augmenting pipelines do).
        seed: seeds the per-epoch shuffling (``seed + epoch``).
        pin_memory: page-locked host batches for faster, asynchronous copies to the GPU (default: when CUDA
            is available).
        persistent_workers: keep worker processes alive between epochs (when ``num_workers > 0``).
        prefetch_factor: batches each worker loads ahead (when ``num_workers > 0``).
        train_size: keep only the first ``train_size`` images of the training split (limited-data experiments:
            DiffAugment's setting of a few thousand images); ``null``: all of them. The other splits are unchanged.

    Checkpoints record how far the current epoch got (:meth:`state_dict`), so a run resumed from a mid-epoch
    checkpoint continues with the very next batch of the same order.
    """

    #: (C, H, W) of every image, or (D,) of every point; linked into the networks by main.py
    image_shape: tuple[int, ...] = (1, 28, 28)
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
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        prefetch_factor: int = 2,
        train_size: int | None = None,
    ) -> None:
        super().__init__()
        if train_size is not None and train_size < 1:
            raise ConfigError(f"data.train_size must be >= 1 (or null: every training image), got {train_size}.")
        self.train_size = train_size
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}.")
        if val_size < 0 or test_size < 0:
            raise ConfigError(f"data.val_size and data.test_size must be >= 0, got {val_size} and {test_size}.")
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise ConfigError(f"data.value_range must be [low, high] with low < high, got {list(value_range)}.")
        self.batch_size, self.val_size, self.test_size = batch_size, val_size, test_size
        self.value_range = (float(value_range[0]), float(value_range[1]))
        if num_workers < 0 or prefetch_factor < 1:
            raise ConfigError(
                f"data.num_workers must be >= 0 and data.prefetch_factor >= 1, got {num_workers}, {prefetch_factor}."
            )
        self.num_workers, self.seed = num_workers, seed
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers, self.prefetch_factor = persistent_workers, prefetch_factor
        self.splits: dict[str, Dataset] = {}  # TensorSplit, or any map-style dataset (build_splits)
        self._resume_position: dict[str, int] | None = None  # from a checkpoint: where the epoch stopped

    # ---------------------------------------------------------------- what a dataset subclass provides
    def load(self) -> ImageArrays:
        """Read (or draw) the dataset; raise :class:`ConfigError` naming the files when they are missing."""
        raise NotImplementedError

    def build_splits(self) -> dict[str, Dataset]:
        """``{"train", "val", "test"}`` -> the split's dataset: here :meth:`load`'s arrays, cut by :meth:`_split`.

        A source that does not fit in memory overrides this and returns map-style datasets whose items are
        ``(uint8 image (C, H, W), int label)``; ``__getitems__`` is optional (the loader then collates items).
        """
        return self._split(self.load())

    # ---------------------------------------------------------------- shared
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.splits = self.build_splits()
        if len(self.splits["train"]) < self.batch_size:
            raise ConfigError(
                f"The training split has {len(self.splits['train'])} images, fewer than one batch "
                f"(data.batch_size={self.batch_size}): lower the batch size or val_size."
            )

    def _split(self, arrays: ImageArrays) -> dict[str, TensorSplit]:
        """``[train | val | test]`` from the pool, where the source gives no official val or test set."""
        pool_x, pool_y = arrays.images, arrays.labels
        official = {"val": (arrays.val_images, arrays.val_labels), "test": (arrays.test_images, arrays.test_labels)}
        sizes = {"val": self.val_size, "test": self.test_size}
        carved = {name: sizes[name] for name, (x, _) in official.items() if x is None}
        n_train = len(pool_x) - sum(carved.values())
        if n_train <= 0:
            held = " and ".join(f"{name}_size={size}" for name, size in carved.items())
            raise ConfigError(
                f"{type(self).__name__} has {len(pool_x)} training images, too few for {held}: lower them."
            )
        splits = {"train": TensorSplit(pool_x[:n_train], pool_y[:n_train])}
        start = n_train
        for name, size in carved.items():
            splits[name] = TensorSplit(pool_x[start : start + size], pool_y[start : start + size])
            start += size
        for name, (x, y) in official.items():
            if x is not None:
                splits[name] = TensorSplit(x, y)
        if self.train_size is not None:
            if self.train_size > n_train:
                raise ConfigError(
                    f"data.train_size={self.train_size} is more than the {n_train} training images of "
                    f"{type(self).__name__}: lower it, or set it to null for all of them."
                )
            splits["train"] = TensorSplit(pool_x[: self.train_size], pool_y[: self.train_size])
        return splits

    def split_images(self, split: str) -> Tensor:
        """All samples of a split as the model sees them: images as floats in ``value_range``, points as they
        are (for evaluation and nearest-neighbour search)."""
        return self.scale(self.split_tensors(split)[0])

    def split_labels(self, split: str) -> Tensor:
        """The int64 class labels of a split (-1 where a source has none): a file-backed split's ``labels``
        when it has them (nothing decoded), else from :meth:`split_tensors`."""
        self.setup()
        labels = getattr(self.splits[split], "labels", None)
        if labels is not None:
            return torch.as_tensor(labels, dtype=torch.int64)
        return self.split_tensors(split)[1]

    def class_counts(self, split: str) -> Tensor:
        """Images of each class in a split, int64 (``num_classes``,): the class balance coverage compares with."""
        return torch.bincount(self.split_labels(split), minlength=self.num_classes)

    # ---------------------------------------------------------------- reading a split for evaluation
    # Evaluation reads splits without assuming they fit in memory: batch by batch (split_batches), a bounded
    # sample (split_sample), and a content digest (content_digest) that names cached statistics and classifiers.
    def in_memory(self, split: str) -> bool:
        """Whether a split is held in memory already (a :class:`TensorSplit`): reading it whole costs nothing more."""
        self.setup()
        return isinstance(self.splits[split], TensorSplit)

    def reader(self, split: str) -> Dataset:
        """The split's dataset for reading in its stored order (evaluation): the split itself here; a source
        whose training dataset shuffles as it is read gives an unshuffled twin."""
        self.setup()
        return self.splits[split]

    def split_batches(self, split: str, batch_size: int | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """A split's raw samples and labels in its order, ``batch_size`` at a time (default: an evaluation
        batch): memory bounded by one batch (and the loader's prefetching) whatever the split's size."""
        size = batch_size or EVAL_BATCH_FACTOR * self.batch_size
        if self.in_memory(split):
            images, labels = self.splits[split].tensors
            for start in range(0, len(images), size):
                yield images[start : start + size], labels[start : start + size]
            return
        yield from self._loader(split, batch_size=size, persistent=False)

    def read_items(self, split: str, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Items ``indices`` of a split (in that order) as ``(raw samples, int64 labels)``: by indexing when in
        memory, through the dataset's ``items(indices)`` when it has one (a folder's: decoded on threads), else
        one item at a time."""
        data = self.reader(split)
        if isinstance(data, TensorSplit):
            index = torch.as_tensor(list(indices), dtype=torch.long)
            return data.tensors[0][index], data.tensors[1][index]
        read = getattr(data, "items", None)
        if read is not None:
            return read(indices)
        items = [data[int(i)] for i in indices]
        if not items:
            return torch.empty(0, *self.image_shape, dtype=torch.uint8), torch.empty(0, dtype=torch.int64)
        return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items], dtype=torch.int64)

    def sample_size(self, split: str, limit: int | None) -> int:
        """How many items :meth:`split_sample` gives: the whole split when it is in memory, ``limit`` is None
        or the split holds no more; else ``limit``."""
        n = len(self.reader(split))
        return n if limit is None or n <= limit or self.in_memory(split) else limit

    def split_sample(self, split: str, limit: int | None, seed: int = POOL_SEED) -> tuple[Tensor, Tensor]:
        """At most ``limit`` of a split's raw samples and labels, for evaluation code that needs many at once
        (nearest neighbours, the dataset classifier) on splits that may not fit in memory: the whole split when
        :meth:`sample_size` says so, else ``limit`` items drawn without replacement with ``seed`` (the same
        ones every time), in the split's order; returned, never kept here."""
        if self.in_memory(split):
            return self.split_tensors(split)
        n, count = len(self.reader(split)), self.sample_size(split, limit)
        chosen = range(n) if count == n else np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))
        return self.read_items(split, chosen)  # not split_tensors: a folder's split would keep its decoded copy

    #: the name cached statistics and classifiers of this data are filed under, beside the content digest
    #: (:func:`gan_module.metrics.features.dataset_key`); None: the class name. Modules that hold the same
    #: images (a folder, and that folder prepared for streaming) share one.
    cache_name: str | None = None

    def content_digest(self, split: str) -> str:
        """A hex digest of a split as the model sees it, naming the evaluation caches (real statistics, the
        dataset classifier): its shape and dtype, the range images are scaled to, every label, and the samples
        of an evenly strided sample of about 256 items (the whole split would cost a full pass to hash).

        Folder-backed modules override this with a digest of the files' bytes (datamodules/image_folder.py).
        """
        self.setup()
        n = len(self.reader(split))
        sample, _ = self.read_items(split, range(0, n, max(1, n // DIGEST_SAMPLE)))
        digest = hashlib.sha1()
        digest.update(str(((n, *sample.shape[1:]), str(sample.dtype))).encode())
        digest.update(str(tuple(float(v) for v in self.value_range)).encode())
        digest.update(sample.contiguous().numpy().tobytes())
        digest.update(self.split_labels(split).numpy().tobytes())
        return digest.hexdigest()

    def split_tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """A split's raw samples and labels, in its order: its ``tensors`` when it has them (a
        :class:`TensorSplit`), else every item read through an unshuffled loader."""
        self.setup()
        data = self.splits[split]
        tensors = getattr(data, "tensors", None)
        if tensors is not None:
            return tensors[0], tensors[1]
        loader = self._loader(split, batch_size=EVAL_BATCH_FACTOR * self.batch_size, persistent=False)
        batches = list(loader)
        return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])

    def scale(self, images: Tensor) -> Tensor:
        """uint8 pixels -> floats in ``value_range``; float samples (2-D points) pass through unchanged."""
        if images.dtype != torch.uint8:
            return images
        low, high = self.value_range
        return images.float() * ((high - low) / 255.0) + low

    def to_unit_interval(self, images: Tensor) -> Tensor:
        """Floats in ``value_range`` -> [0, 1], for saving and showing images."""
        return to_unit_interval(images, self.value_range)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        return self.scale(images), labels  # scaled on the device: the loader moves 4x fewer bytes

    def _loader(
        self,
        split: str,
        sampler: ResumableSampler | None = None,
        batch_size: int | None = None,
        persistent: bool = True,
    ) -> DataLoader:
        workers = self.num_workers > 0
        data = self.splits[split]
        return DataLoader(
            data,
            batch_size=batch_size or self.batch_size,
            sampler=sampler,
            drop_last=sampler is not None,  # Algorithm 1 uses minibatches of m; a short last batch would change m
            collate_fn=_already_batched if isinstance(data, TensorSplit) else None,  # else: stack the items
            num_workers=self.num_workers,
            persistent_workers=self.persistent_workers and workers and persistent,
            prefetch_factor=self.prefetch_factor if workers else None,
            pin_memory=self.pin_memory,
            # its own generator: otherwise creating each epoch's iterator draws a seed from the global RNG,
            # which training's noise and dropout use, and a resumed run would drift from a straight one
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = ResumableSampler(self.splits["train"], world, rank, self.seed)
        if self._resume_position is not None:
            # The epoch is set now, not only by Lightning's set_epoch: worker processes start drawing indices
            # as soon as the iterator exists, which Lightning creates before it sets the epoch.
            sampler.epoch = self._resume_position["epoch"]
            sampler.skip = self._resume_position["batches"] * self.batch_size
            self._resume_position = None
        return self._loader("train", sampler)

    def state_dict(self) -> dict[str, int]:
        """Where training is in the current epoch: saved in every checkpoint (Lightning calls this)."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        epoch, done = next_batch(trainer)
        return {"epoch": epoch, "batches": done}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if "epoch" in state_dict:
            self._resume_position = {"epoch": int(state_dict["epoch"]), "batches": int(state_dict["batches"])}

    # Validation and test only run forward passes and report means weighted by batch size: larger batches give
    # the same numbers in fewer loop steps (each step costs Lightning's hooks and logging).
    def val_dataloader(self) -> DataLoader:
        return self._loader("val", batch_size=EVAL_BATCH_FACTOR * self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", batch_size=EVAL_BATCH_FACTOR * self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
