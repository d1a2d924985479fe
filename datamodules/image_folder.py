"""A folder of the user's own images as a DataModule: any nesting, PNG/JPEG/WebP/BMP/GIF/TIFF, optional labels.

``data: {class_path: datamodules.ImageFolderDataModule, init_args: {root: my_images, resolution: 64}}``

What happens when:

- ``__init__`` (before the networks are built, as main.py links ``image_shape`` and ``num_classes`` into them):
  the root is checked, its image files listed by name (no pixel read: :mod:`datamodules.folder_listing`), the
  classes read from the sub-folder names, and, with ``channels: null``, a few headers opened to choose 1 or 3
  channels. A missing root, a file given as the root, a folder without image files, or ``cache: memory`` for a
  set that would not fit is one :class:`ConfigError` here.
- ``setup``: every file's header is checked (:func:`~datamodules.image_files.probe_all`: zero-byte,
  unreadable, non-image, too-small files are skipped, counted and named), the split is made or read
  (:mod:`datamodules.folder_split`), one line says what each split holds, and the record is written into the
  trainer's log folder (``record_split``). No usable image at all is a :class:`ConfigError`.
- training: files are decoded in the loader's worker processes (:func:`~datamodules.image_files.decode`); a
  file that passed the header check but fails to decode (truncated) is replaced by the next usable file of the
  split, and named once on stderr by the process that met it, so a run never stops on one bad file.
  ``cache: memory`` decodes every split once into uint8 tensors instead (the base's in-memory path).

Shuffling, DDP shares and exact mid-epoch resume are the base's (:class:`~datamodules.base.ResumableSampler`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.utils.data import Dataset

from datamodules import folder_split
from datamodules.base import ImageDataModule, TensorSplit
from datamodules.folder_listing import PathTable, list_images, sub_folders
from datamodules.folder_split import SPLITS, FolderSplit, images_digest
from datamodules.image_files import EXTENSIONS, BadImageError, decode, probe, transform
from gan_module.errors import ConfigError

#: files whose headers are read to choose ``channels`` when it is null (spread evenly over the folder's order)
CHANNEL_SAMPLE = 32
#: ``cache: memory`` refuses a decoded set larger than this share of the memory available now
MEMORY_SHARE = 0.5


def default_workers() -> int:
    """Loader processes when ``num_workers`` is null: the cores this process may use, one left for training,
    at most 8 (on 2 cores: 1; measured in benchmarks/image_folder.py)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores - 1))


def available_memory() -> int | None:
    """Bytes of memory available for new allocations: ``MemAvailable`` of /proc/meminfo, else psutil's figure,
    else ``None`` (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil  # other systems: psutil knows the platform's figure, when installed
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


class ImageFileSplit(Dataset):
    """One split of a folder: item i is (file i decoded as uint8 (C, R, R), its int label).

    Holds the paths as a :class:`~datamodules.folder_listing.PathTable` (a few bytes per file), so worker
    processes receive it cheaply. A file that fails to decode is replaced by the next one that decodes (the
    same one every time, so the order stays reproducible), and named once per process on stderr.
    """

    def __init__(self, root: str, files: PathTable, labels: np.ndarray, resolution: int, channels: int) -> None:
        self.root, self.files, self.labels = root, files, labels
        self.resolution, self.channels = resolution, channels
        self._transform = transform(resolution)
        self.failed: dict[str, str] = {}  # path -> reason, of the files this process could not decode
        self._tensors: tuple[Tensor, Tensor] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> str:
        return os.path.join(self.root, self.files[index])

    def decode(self, index: int) -> Tensor:
        """File ``index`` as uint8 (C, R, R); :class:`BadImageError` if it cannot be decoded."""
        return decode(self.path(index), self.resolution, self.channels, self._transform)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        for step in range(len(self)):
            j = (index + step) % len(self)
            try:
                return self.decode(j), int(self.labels[j])
            except BadImageError as err:
                self._report(j, str(err))
        raise RuntimeError(f"data: no file of this split under {self.root} decodes any more (named above).")

    def _report(self, index: int, reason: str) -> None:
        name = self.files[index]
        if name not in self.failed:
            self.failed[name] = reason
            print(
                f"data: {self.path(index)} failed to decode ({reason}): the next file is used in its place.",
                file=sys.stderr,
                flush=True,
            )

    def items(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Items ``indices`` decoded on threads (Pillow decodes without holding the GIL), in that order:
        ``(uint8 (n, C, R, R), int64 (n,))``."""
        # normal tensors even when the caller runs under inference mode (``test``): that mode is per thread, and
        # the pool's threads, outside it, could not write into inference tensors
        with torch.inference_mode(False):
            images = torch.empty(len(indices), self.channels, self.resolution, self.resolution, dtype=torch.uint8)
            labels = torch.empty(len(indices), dtype=torch.int64)

        def one(slot: int) -> None:  # written in place: no list of tensors beside the result
            images[slot], labels[slot] = self[int(indices[slot])]

        with ThreadPoolExecutor() as pool:
            list(pool.map(one, range(len(indices))))
        return images, labels

    @property
    def tensors(self) -> tuple[Tensor, Tensor]:
        """Every item decoded, ``(uint8 (N, C, R, R), int64 (N,))``: for evaluation code that reads whole held-out
        splits (the metrics read the training split in batches or a bounded sample instead). Decoded once, then
        kept; never sent to loader workers."""
        if self._tensors is None:
            self._tensors = self.items(range(len(self)))
        return self._tensors

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tensors": None}


class ImageFolderDataModule(ImageDataModule):
    """The images under ``root``, resized and centre-cropped to ``resolution`` x ``resolution`` (module docstring).

    Args:
        root: the folder of images (nested folders allowed). With ``train/`` (and optionally ``val/``, ``test/``)
            sub-folders it is pre-split; otherwise it is split by ``val_fraction`` / ``test_fraction``.
        resolution: the side of the square images the networks see (shorter side resized, centre crop).
        channels: 1 (grey) or 3 (RGB); null: 3 if any of ``CHANNEL_SAMPLE`` files spread over the folder is in
            colour, else 1 (one printed line says which and why).
        labels: ``none`` (every label -1, ``num_classes`` 0) or ``folders`` (the first sub-folder under the
            split's root is the class; classes sorted by name).
        val_fraction: share of the pool held out for validation when there is no ``val/`` folder (at least 1).
        test_fraction: likewise for testing, when there is no ``test/`` folder.
        val_size: an exact validation count instead of ``val_fraction``.
        test_size: an exact test count instead of ``test_fraction``.
        split_seed: seeds the held-out draw (apart from ``seed``, which shuffles training: every training seed
            is scored on the same held-out images).
        split_file: a ``data_split.json``: when the file exists the split is read from it (files since added to
            the folder stay out; those gone are skipped), otherwise the split is made and written there.
        min_size: files whose shorter side is below this many pixels are skipped.
        cache: ``none`` (decode in the loader's workers every epoch) or ``memory`` (decode once, keep uint8
            tensors: for sets that fit in ``MEMORY_SHARE`` of the available memory).
        num_workers: loader processes (null: :func:`default_workers`).
        record_split: write ``data_split.json`` and ``data_skipped.txt`` into the trainer's log folder (the
            run folder under main.py) at setup.
        **kwargs: the shared options of :class:`~datamodules.base.ImageDataModule` (batch_size, value_range,
            seed, ...).
    """

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        channels: int | None = None,
        labels: str = "none",
        val_fraction: float = 0.05,
        test_fraction: float = 0.1,
        val_size: int | None = None,
        test_size: int | None = None,
        split_seed: int = 0,
        split_file: str | None = None,
        min_size: int = 8,
        cache: str = "none",
        num_workers: int | None = None,
        batch_size: int = 64,
        record_split: bool = True,
        **kwargs,
    ) -> None:
        workers = default_workers() if num_workers is None else num_workers
        super().__init__(batch_size=batch_size, val_size=0, test_size=0, num_workers=workers, **kwargs)
        _check_settings(resolution, channels, labels, val_fraction, test_fraction, val_size, test_size, min_size, cache)
        self.root = _checked_root(root)
        self.resolution, self.labels, self.min_size, self.cache = resolution, labels, min_size, cache
        self.held_out = {"val": (val_fraction, val_size), "test": (test_fraction, test_size)}
        self.split_seed, self.record_split = split_seed, record_split
        self.split_file = None if split_file is None else Path(split_file).expanduser()
        self.presplit = (self.root / "train").is_dir()
        listing = list_images(str(self.root))
        self.files, self.unlisted = listing.files, [(f"{p}/", "folder unreadable") for p in listing.unreadable_folders]
        if len(self.files) == 0:
            raise ConfigError(
                f"data.root {self.root} holds no image files ({', '.join(EXTENSIONS)}, in any case, in any "
                f"sub-folder; {listing.ignored} other files): put the images there or point data.root at them."
            )
        self.classes = self._classes() if labels == "folders" else []
        self.channels = channels if channels is not None else self._choose_channels()
        self.image_shape = (self.channels, resolution, resolution)
        self.num_classes = len(self.classes)
        if cache == "memory":
            self._check_memory()
        self.record: FolderSplit | None = None
        self._digests: dict[str, str] = {}

    # ---------------------------------------------------------------- before setup: cheap facts
    def _classes(self) -> list[str]:
        top = self.root / "train" if self.presplit else self.root
        classes = sub_folders(str(top))
        if not classes:
            raise ConfigError(
                f"data.labels: folders needs one sub-folder per class in {top}, and it has none: put each class's "
                "images in a folder named after it, or set data.labels: none."
            )
        return classes

    def _choose_channels(self) -> int:
        """3 if any sampled header shows colour, else 1. The sample is spread evenly over the folder's order; only
        when none of it is usable are the other files read, up to the first usable one."""
        n = len(self.files)
        sample = sorted({int(i) for i in np.linspace(0, n - 1, min(CHANNEL_SAMPLE, n)).round()})
        found = [probe(str(self.root / self.files[i]), self.min_size) for i in sample]
        usable = [colour for why, colour in found if why is None]
        sampled = set(sample)
        rest = (i for i in range(n) if i not in sampled)
        while not usable and (i := next(rest, None)) is not None:
            why, colour = probe(str(self.root / self.files[i]), self.min_size)
            usable += [colour] if why is None else []
        if not usable:
            raise ConfigError(
                f"data.root {self.root}: none of its {n} image files is usable (empty, unreadable, not an image, "
                f"or smaller than data.min_size={self.min_size} px): check the files."
            )
        channels, colour = (3 if any(usable) else 1), sum(usable)
        rank_zero_info(
            f"data: channels={channels}: {colour} of {len(usable)} usable files sampled across {self.root} are in "
            f"colour ({'any colour image makes the data RGB' if colour else 'all grey'}); set data.channels: "
            "1 or 3 to choose."
        )
        return channels

    def _check_memory(self) -> None:
        needed = len(self.files) * self.channels * self.resolution**2
        available = available_memory()
        if available is not None and needed > MEMORY_SHARE * available:
            raise ConfigError(
                f"data.cache: memory needs {needed / 2**30:.1f} GiB for {len(self.files):,} images of "
                f"{self.channels}x{self.resolution}x{self.resolution} bytes, more than {MEMORY_SHARE:.0%} of the "
                f"{available / 2**30:.1f} GiB available: set data.cache: none (decode while training), or use "
                "python -m datamodules.prepare and datamodules.StreamingImageDataModule."
            )

    # ---------------------------------------------------------------- setup
    def build_splits(self) -> dict[str, Dataset]:
        self.record = self._make_record()
        make = self._decoded if self.cache == "memory" else self.file_split
        splits = {name: make(name) for name in SPLITS}
        rank_zero_info(self.record.summary())
        return splits

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        trainer = self.trainer
        if self.record_split and trainer is not None:
            folder = trainer.log_dir or trainer.default_root_dir  # on every rank: log_dir is a collective call
            if trainer.is_global_zero:
                self.save_split(folder)

    def _make_record(self) -> FolderSplit:
        root = str(self.root)
        if self.split_file is not None and self.split_file.is_file():
            record = folder_split.load(self.split_file, root, self.min_size, self.classes)
            record.skipped[:0] = self.unlisted
            return record
        record = folder_split.build(
            root, self.files, self.classes, self.presplit, self.min_size, self.held_out, self.split_seed, self.unlisted
        )
        if self.split_file is not None:
            record.write_json(self.split_file)
        return record

    def file_split(self, name: str) -> ImageFileSplit:
        """Split ``name`` as files decoded on demand (whatever ``cache`` says)."""
        split = self.record.splits[name]
        return ImageFileSplit(str(self.root), split.files, split.labels, self.resolution, self.channels)

    def _decoded(self, name: str) -> TensorSplit:
        """``cache: memory``: split ``name`` decoded once; files that fail to decode leave it (and are recorded)."""
        files = self.file_split(name)
        images = torch.empty(len(files), *self.image_shape, dtype=torch.uint8)  # filled in place: no second copy

        def one(index: int) -> str | None:
            try:
                images[index] = files.decode(index)
            except BadImageError as err:
                return str(err)
            return None

        with ThreadPoolExecutor() as pool:  # Pillow decodes and resizes without holding the GIL
            failures = list(pool.map(one, range(len(files))))
        failed = [i for i, why in enumerate(failures) if why is not None]
        split = self.record.splits[name]
        if failed:
            self.record.skipped += [(files.files[i], f"failed to decode ({failures[i]})") for i in failed]
            kept = np.flatnonzero([why is None for why in failures])
            split.files, split.labels = split.files.take(kept), split.labels[kept]
            images = images[torch.from_numpy(kept)]
        return TensorSplit(images, torch.from_numpy(split.labels))

    # ---------------------------------------------------------------- evaluation caches
    #: shared with StreamingImageDataModule: the same images, prepared, hit the same cached statistics
    cache_name = "ImageFolder"

    def content_digest(self, split: str) -> str:
        """The split's content, wherever the folder lies (:func:`~datamodules.folder_split.images_digest`): every
        file's bytes for the held-out splits, whose statistics FID and KID cache; for the training split (the
        dataset classifier's key) every file's size and a strided sample of the files' bytes. Computed once."""
        if split not in self._digests:
            ImageDataModule.setup(self)
            shape = (len(self.record.splits[split]), *self.image_shape)
            self._digests[split] = images_digest(self.record.digest(split), shape, self.value_range)
        return self._digests[split]

    # ---------------------------------------------------------------- the record
    def describe(self) -> dict:
        """The split record (``data_split.json``'s content): the root, classes, how it was split, the files."""
        ImageDataModule.setup(self)  # the splits, without recording them anywhere
        return self.record.describe()

    def save_split(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``data_split.json`` and ``data_skipped.txt`` into ``folder`` (a run folder); returns the paths."""
        ImageDataModule.setup(self)
        return self.record.save(folder)


def _checked_root(root: str) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise ConfigError(f"data.root {path}: no such folder: give the folder that holds your images.")
    if not path.is_dir():
        raise ConfigError(
            f"data.root {path} is a file, not a folder: give the folder that holds the images (e.g. {path.parent})."
        )
    return path


def _check_settings(
    resolution: int,
    channels: int | None,
    labels: str,
    val_fraction: float,
    test_fraction: float,
    val_size: int | None,
    test_size: int | None,
    min_size: int,
    cache: str,
) -> None:
    problems = []
    if resolution < 4:
        problems.append(f"data.resolution must be >= 4, got {resolution}")
    if channels not in (None, 1, 3):
        problems.append(f"data.channels must be 1, 3 or null, got {channels}")
    if labels not in ("none", "folders"):
        problems.append(f"data.labels must be 'none' or 'folders', got {labels!r}")
    fractions: Sequence[float] = (val_fraction, test_fraction)
    if not all(0 <= f < 1 for f in fractions) or sum(fractions) >= 1:
        problems.append(f"data.val_fraction and test_fraction must be in [0, 1) with a sum below 1, got {fractions}")
    if any(size is not None and size < 0 for size in (val_size, test_size)):
        problems.append(f"data.val_size and test_size must be >= 0 or null, got {val_size}, {test_size}")
    if min_size < 1:
        problems.append(f"data.min_size must be >= 1, got {min_size}")
    if cache not in ("none", "memory"):
        problems.append(f"data.cache must be 'none' or 'memory', got {cache!r}")
    if problems:
        raise ConfigError("; ".join(problems) + ".")
