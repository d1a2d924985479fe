"""Training from LitData optimized chunks (``python -m datamodules.prepare``): datasets beyond one machine's RAM
or disk, local or in object storage (``s3://``, ``gs://``, ... as LitData reads them).

``data: {class_path: datamodules.StreamingImageDataModule, init_args: {input_dir: prepared/}}``

Each split is a ``litdata.StreamingDataset``; the training loader is a ``StreamingDataLoader``, which shards the
chunks between ranks, nodes and workers as LitData does (its distributed environment is read when the datasets
are built, in ``setup``, after the process group exists) and shuffles chunk-wise (``seed``, a new order each
epoch). That order is LitData's, not :class:`~datamodules.base.ResumableSampler`'s: it reads whole chunks, which
is what makes streaming from storage fast, so the same seed gives the same *images* per split as
:class:`~datamodules.image_folder.ImageFolderDataModule` on the source folder but not the same training order.
Validation and test are read unshuffled in one process: the folder's order.

Exact resume: the checkpoint holds the position as every DataModule saves it (``state_dict``: epoch, batches
done, counted by the trainer) and LitData's loader state for that position
(:meth:`StreamingImageDataModule.loader_state`), which the resumed loader loads. The loader's state is not
taken as the loader reports it at saving time, because Lightning's fetcher has by then drawn one batch ahead.
The same ``batch_size``, ``num_workers``, devices and ``seed`` resume exactly; other devices or workers are
re-sharded by LitData's elastic resume (not tested here).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITDATA_DISABLE_VERSION_CHECK", "1")  # litdata asks PyPI for a newer version otherwise

import torch
from litdata import StreamingDataLoader, StreamingDataset
from litdata.streaming.downloader import get_downloader
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from datamodules.base import ImageDataModule, ResumableSampler, TensorSplit
from datamodules.folder_split import SPLITS, images_digest
from datamodules.image_folder import default_workers
from datamodules.prepare import DATASET_FILE, FORMAT
from gan_module.errors import ConfigError

#: what dataset.json must hold
REQUIRED = frozenset({"image_shape", "num_classes", "counts", "class_counts", "digests"})


def as_pair(item: dict[str, Any]) -> tuple[Tensor, int]:
    """A stored item -> ``(uint8 image (C, R, R), int label)``, what every DataModule's items are."""
    return torch.from_numpy(item["image"]), int(item["label"])


class ImageStream(StreamingDataset):
    """One prepared split, items as :func:`as_pair`."""

    def __init__(self, input_dir: str, shuffle: bool, seed: int, **options) -> None:
        super().__init__(input_dir, shuffle=shuffle, seed=seed, transform=as_pair, **options)

    @property
    def tensors(self) -> tuple[Tensor, Tensor]:
        """Every item in stored order, ``(uint8 (N, C, R, R), int64 (N,))``: for evaluation code that reads whole
        splits (meant for the held-out ones; the training split may be far larger than memory)."""
        items = [self[i] for i in range(len(self))]
        return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items], dtype=torch.int64)


class EpochLoader(StreamingDataLoader):
    """A ``StreamingDataLoader`` whose resumed position holds for the epoch it was loaded for only, and whose
    state travels in the DataModule's ``state_dict`` only.

    LitData keeps a loaded position until an epoch is iterated to its end; an epoch cut short
    (``trainer.limit_train_batches``) would otherwise replay the resumed position in the next epoch.
    """

    # Lightning saves and restores by itself any loader with state_dict/load_state_dict, as the loader is when the
    # checkpoint is written: one batch ahead, as its fetcher prefetches (a resumed run skipped a batch). Without a
    # state_dict this loader is not "stateful" to Lightning; the DataModule saves the exact state instead.
    state_dict = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from super().__iter__()
        finally:  # runs once this epoch's iterator is exhausted or dropped, before the next one starts
            self.restore = False


class StreamingImageDataModule(ImageDataModule):
    """The images ``python -m datamodules.prepare`` wrote to ``input_dir`` (module docstring).

    ``image_shape``, ``num_classes`` and the split sizes come from ``input_dir/dataset.json``, read in
    ``__init__`` (downloaded first when ``input_dir`` is a URL), so the networks are sized before any chunk is
    read.

    Args:
        input_dir: the prepared folder, or its copy's URL (``s3://bucket/name``).
        cache_dir: where LitData keeps downloaded chunks (default: LitData's).
        storage_options: passed to LitData for object storage (credentials, endpoint).
        num_workers: training loader processes (null: cores - 1, at most 8).
        batch_size: images per step, per device.
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (value_range, seed, ...).
    """

    def __init__(
        self,
        input_dir: str,
        cache_dir: str | None = None,
        storage_options: dict | None = None,
        num_workers: int | None = None,
        batch_size: int = 64,
        **kwargs,
    ) -> None:
        workers = default_workers() if num_workers is None else num_workers
        super().__init__(batch_size=batch_size, val_size=0, test_size=0, num_workers=workers, **kwargs)
        self.input_dir = input_dir.rstrip("/")
        self.options = {"cache_dir": cache_dir, "storage_options": storage_options or {}}
        metadata = read_metadata(self.input_dir, self.options["storage_options"])
        self.image_shape = tuple(int(v) for v in metadata["image_shape"])
        self.num_classes = int(metadata["num_classes"])
        self.classes, self.counts = list(metadata.get("classes", [])), dict(metadata["counts"])
        self.digests, self.split_class_counts = dict(metadata["digests"]), dict(metadata["class_counts"])
        self._train_reader: ImageStream | None = None  # the training split unshuffled, for evaluation
        self._train_loader: EpochLoader | None = None
        self._saved_loader_state: dict[str, Any] | None = None  # from a checkpoint

    def build_splits(self) -> dict[str, Dataset]:
        splits: dict[str, Dataset] = {}
        for name in SPLITS:
            if self.counts.get(name):
                splits[name] = ImageStream(f"{self.input_dir}/{name}", name == "train", self.seed, **self.options)
            else:  # prepare writes no chunks for an empty split
                splits[name] = TensorSplit(torch.empty(0, *self.image_shape, dtype=torch.uint8), torch.empty(0).long())
        return splits

    # ---------------------------------------------------------------- evaluation
    #: shared with ImageFolderDataModule: the same images hit the same cached statistics
    cache_name = "ImageFolder"

    def reader(self, split: str) -> Dataset:
        """The split in its stored order; for the training split a second, unshuffled stream over its chunks, so
        evaluation never touches the training dataset's epoch and shuffling state."""
        self.setup()
        if split != "train" or not isinstance(self.splits["train"], ImageStream):
            return self.splits[split]
        if self._train_reader is None:
            self._train_reader = ImageStream(f"{self.input_dir}/train", False, self.seed, **self.options)
        return self._train_reader

    def content_digest(self, split: str) -> str:
        """The folder module's digest of the same images (prepare recorded their files' digests)."""
        shape = (int(self.counts.get(split, 0)), *self.image_shape)
        return images_digest(self.digests[split], shape, self.value_range)

    def class_counts(self, split: str) -> Tensor:
        """From ``dataset.json``: no chunk is read."""
        return torch.tensor(self.split_class_counts[split], dtype=torch.int64)

    def _loader(
        self,
        split: str,
        sampler: ResumableSampler | None = None,
        batch_size: int | None = None,
        persistent: bool = True,
    ) -> DataLoader:
        data = self.reader(split)
        if not isinstance(data, ImageStream):
            return super()._loader(split, sampler, batch_size, persistent)
        # one process: the stored (folder) order; items are decoded pixels, nothing to decode in parallel
        return StreamingDataLoader(data, batch_size=batch_size or self.batch_size, num_workers=0, generator=self._rng())

    def train_dataloader(self) -> DataLoader:
        workers = self.num_workers > 0  # persistent_workers is ignored: see below
        loader = EpochLoader(
            self.splits["train"],
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            drop_last=True,  # Algorithm 1's minibatches of m; LitData also evens the ranks' shares
            # not persistent: LitData tells each epoch's number to the workers' copies of the dataset when they
            # start, so persistent workers would repeat the first epoch's order (seen in a 2-epoch run)
            persistent_workers=False,
            prefetch_factor=self.prefetch_factor if workers else None,
            pin_memory=self.pin_memory,
            generator=self._rng(),
        )
        if self._resume_position is not None:
            saved = self._saved_loader_state  # absent from checkpoints of an older format: made from the position
            loader.load_state_dict(saved or self.loader_state(loader, **self._resume_position))
            self._resume_position = self._saved_loader_state = None
        self._train_loader = loader
        return loader

    def _rng(self) -> torch.Generator:
        """The loaders' own generator: each iterator draws its workers' seed from it, not from the global one that
        training's noise uses (a resumed run would drift from a straight one)."""
        return torch.Generator().manual_seed(self.seed)

    def state_dict(self) -> dict[str, Any]:
        """The base's position (epoch, batches done) and LitData's loader state for it (``loader``): what the
        resumed loader loads, so LitData can also re-shard it for another number of devices or workers."""
        state: dict[str, Any] = super().state_dict()
        if "epoch" in state and self._train_loader is not None:
            state["loader"] = self.loader_state(self._train_loader, state["epoch"], state["batches"])
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._saved_loader_state = state_dict.get("loader")

    def loader_state(self, loader: StreamingDataLoader, epoch: int, batches: int) -> dict[str, Any]:
        """LitData's loader state for "``batches`` batches of epoch ``epoch`` (0-based) trained".

        LitData numbers the epoch a loader is iterating from 1 and counts the samples this rank was given;
        :meth:`StreamingDataset.state_dict` turns that count into the dataset's resumable state.
        """
        if batches == 0:  # between epochs: the loader's next iteration starts epoch + 1 afresh
            return {"dataset": {}, "current_epoch": epoch, "num_samples_yielded": 0, "latest_worker_idx": -1}
        yielded = batches * self.batch_size
        state = dict(loader.dataset.state_dict(yielded, loader.num_workers, self.batch_size))  # a copy: LitData
        state["current_epoch"] = epoch + 1  # returns (and updates) its own dict after a resume
        return {
            "dataset": state,
            "current_epoch": epoch + 1,
            "num_samples_yielded": yielded,
            "latest_worker_idx": (batches - 1) % max(1, loader.num_workers),  # batches come round-robin
        }


def read_metadata(input_dir: str, storage_options: dict) -> dict[str, Any]:
    """``input_dir/dataset.json``; one :class:`ConfigError` line when it is missing or not prepare's."""
    path = f"{input_dir}/{DATASET_FILE}"
    try:
        if "://" in input_dir:
            with tempfile.TemporaryDirectory() as folder:
                local = os.path.join(folder, DATASET_FILE)
                get_downloader(input_dir, folder, [], storage_options).download_file(path, local)
                text = Path(local).read_text()
        else:
            text = Path(path).read_text()
        metadata = json.loads(text)
        if metadata.get("format") != FORMAT or not set(metadata) >= REQUIRED:
            raise ValueError(
                f"format {metadata.get('format')}, expected {FORMAT} with {', '.join(sorted(REQUIRED))}: prepared by "
                "another version? prepare it again"
            )
    except Exception as err:  # missing file, no access, not JSON, another layout: all mean "not prepared here"
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError(
            f"data.input_dir {input_dir}: no readable {DATASET_FILE} ({reason}): give the folder (or its URL) that "
            "`python -m datamodules.prepare <images> <out>` wrote."
        ) from None
    return metadata
