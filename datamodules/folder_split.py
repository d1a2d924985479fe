"""Which image of a folder is in which split, with which label, and which files were skipped and why.

A :class:`FolderSplit` is built once from a folder (:func:`build`) or read back from its own JSON file
(:func:`load`), and written beside a run (:meth:`FolderSplit.save`): ``data_split.json`` (the root, the classes,
how the split was made, and every split's files relative to the root) and ``data_skipped.txt`` (one skipped file
a line: its path, a tab, the reason). Given back as ``split_file``, the JSON pins the split, so ``test`` scores
the very held-out images a run never trained on even after files are added to the folder.

How a split is made:

- a root with a ``train/`` sub-folder is pre-split: ``train/``, ``val/`` and ``test/`` are the splits; a missing
  ``val/`` or ``test/`` is carved from ``train/`` as below;
- otherwise every usable file is in one pool, permuted with ``numpy.random.default_rng(split_seed)`` and cut
  ``[test | val | train]``: the held-out sizes are ``val_size``/``test_size`` when given, else
  ``max(1, round(fraction * n))`` (0 for a fraction of 0). Each split keeps the folder order.

Content digests (:func:`files_digest`, :func:`images_digest`) name the evaluation caches by what a split holds,
never by where it lies: a folder moved, renamed or copied keeps its digests, one changed image changes them.

Labels (``labels: folders``): the first-level sub-folder under the split's root is the class; classes are the
sorted names of ``train/``'s (or the root's) sub-folders. Unlabelled: every label is -1 (as the base's sources
without labels).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datamodules.base import DIGEST_SAMPLE
from datamodules.folder_listing import PathTable
from datamodules.image_files import DECODE_VERSION, probe_all
from gan_module.errors import ConfigError

SPLITS = ("train", "val", "test")
SPLIT_FILE = "data_split.json"
SKIPPED_FILE = "data_skipped.txt"
#: how many skipped files the printed line names (all are in data_skipped.txt)
NAMED_IN_LINE = 5


@dataclass
class SplitFiles:
    """One split: file paths relative to the root, and their int64 labels (-1: unlabelled)."""

    files: PathTable
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.files)


@dataclass
class FolderSplit:
    """The splits of one folder, their classes, the skipped files and how the split was made."""

    root: str
    classes: list[str]
    splits: dict[str, SplitFiles]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path relative to root, reason)
    how: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """The JSON record: everything :func:`load` needs to rebuild the same split."""
        return {
            "root": self.root,
            "classes": self.classes,
            "how": self.how,
            "counts": {name: len(split) for name, split in self.splits.items()},
            "skipped": len(self.skipped),
            "splits": {name: list(split.files) for name, split in self.splits.items()},
        }

    def save(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``data_split.json`` and ``data_skipped.txt`` into ``folder``; returns their paths."""
        folder = Path(folder)
        split_path, skipped_path = folder / SPLIT_FILE, folder / SKIPPED_FILE
        self.write_json(split_path)
        _write_atomically(skipped_path, "".join(f"{path}\t{why}\n" for path, why in self.skipped))
        return [split_path, skipped_path]

    def write_json(self, path: str | os.PathLike) -> None:
        """The record (:meth:`describe`) as JSON at ``path`` (what ``split_file`` reads back)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(Path(path), json.dumps(self.describe(), indent=1) + "\n")

    def digest(self, name: str) -> str:
        """:func:`files_digest` of split ``name``: every file's bytes for the held-out splits (whose FID/KID
        statistics are cached under it), a sample of them for the training split."""
        return files_digest(self.root, self.splits[name], whole=name != "train")

    def summary(self) -> str:
        """One line: images per split and the skipped files, the first few named."""
        counts = " / ".join(f"{len(split):,} {name}" for name, split in self.splits.items())
        line = f"data: {self.root}: {counts} images"
        if self.classes:
            line += f", {len(self.classes)} classes"
        if self.skipped:
            reasons: dict[str, int] = {}
            for _, why in self.skipped:
                kind = why.split(" (")[0]
                reasons[kind] = reasons.get(kind, 0) + 1
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(reasons.items()))
            named = ", ".join(path for path, _ in self.skipped[:NAMED_IN_LINE])
            more = ", ..." if len(self.skipped) > NAMED_IN_LINE else ""
            line += f"; {len(self.skipped):,} files skipped ({kinds}): {named}{more} (all in {SKIPPED_FILE})"
        return line


def held_out_count(n: int, fraction: float, size: int | None) -> int:
    """The images a held-out split takes from a pool of ``n``: ``size`` if given, else a fraction (at least 1)."""
    if size is not None:
        return size
    return max(1, round(fraction * n)) if fraction > 0 else 0


def carve(n: int, counts: Mapping[str, int], seed: int) -> dict[str, np.ndarray]:
    """Indices ``0..n-1`` cut into the held-out splits of ``counts`` and ``train`` (the rest), each sorted."""
    order = np.random.default_rng(seed).permutation(n)
    parts, start = {}, 0
    for name in ("test", "val"):
        parts[name] = np.sort(order[start : start + counts.get(name, 0)])
        start += counts.get(name, 0)
    parts["train"] = np.sort(order[start:])
    return parts


def build(
    root: str,
    files: PathTable,
    classes: list[str],
    presplit: bool,
    min_size: int,
    held_out: Mapping[str, tuple[float, int | None]],
    split_seed: int,
    skipped_before: list[tuple[str, str]] | None = None,
) -> FolderSplit:
    """Check every file's header and make the splits (module docstring).

    ``files``: every image file under ``root`` (relative paths); ``held_out``: ``{"val": (fraction, size),
    "test": ...}``; ``skipped_before``: files already known to be unusable (unlistable folders).
    """
    skipped = list(skipped_before or [])
    bad = probe_all(root, files, min_size)
    by_split: dict[str, list[int]] = {name: [] for name in SPLITS}
    labels = np.full(len(files), -1, dtype=np.int64)
    class_index = {name: i for i, name in enumerate(classes)}
    for i, path in enumerate(files):
        parts = path.split("/")
        split = parts[0] if presplit else "train"
        if presplit and split not in by_split:
            skipped.append((path, "outside train/, val/ and test/"))
            continue
        if i in bad:
            skipped.append((path, bad[i]))
            continue
        if classes:
            inside = parts[1:] if presplit else parts
            if len(inside) < 2:
                skipped.append((path, "not inside a class folder"))
                continue
            if inside[0] not in class_index:
                skipped.append((path, f"class folder {inside[0]!r} is not in train/"))
                continue
            labels[i] = class_index[inside[0]]
        by_split[split].append(i)
    if not any(by_split.values()):
        raise ConfigError(
            f"data.root {root}: none of its {len(files):,} image files is usable (the first: "
            f"{'; '.join(f'{path}: {why}' for path, why in skipped[:3])}): check the files, or data.min_size."
        )
    pool = np.asarray(by_split["train"], dtype=np.int64)
    missing = {name: held_out_count(len(pool), *held_out[name]) for name in ("val", "test") if not by_split[name]}
    if sum(missing.values()) >= len(pool):
        sizes = ", ".join(f"{n} {name}" for name, n in missing.items())
        raise ConfigError(
            f"data.root {root}: {len(pool)} usable training images cannot give {sizes} images and keep any for "
            "training: lower data.val_fraction / test_fraction (or val_size / test_size), or add images."
        )
    carved = carve(len(pool), missing, split_seed)
    chosen = {name: np.asarray(by_split[name], dtype=np.int64) for name in SPLITS}
    chosen["train"] = pool[carved["train"]]
    for name in missing:
        chosen[name] = pool[carved[name]]
    how = {
        "layout": "train/, val/, test/ folders" if presplit else "one pool",
        "carved": {name: {"fraction": held_out[name][0], "size": held_out[name][1]} for name in missing},
        "split_seed": split_seed,
        "min_size": min_size,
    }
    splits = {name: SplitFiles(files.take(chosen[name]), labels[chosen[name]]) for name in SPLITS}
    return FolderSplit(root, classes, splits, skipped, how)


def load(path: str | os.PathLike, root: str, min_size: int, classes: list[str]) -> FolderSplit:
    """The split recorded in ``path`` (a ``data_split.json``), for the folder ``root`` as it is now, labelled by
    ``classes`` (the folder's; empty: unlabelled). Files gone, no longer usable, or of a class not in ``classes``
    are skipped, with their reasons."""
    try:
        record = json.loads(Path(path).read_text())
        lists = record["splits"]
        if not isinstance(lists, dict) or not set(SPLITS) <= set(lists):
            raise ValueError("it lacks the train, val and test lists")
        presplit = str(record.get("how", {}).get("layout", "")).startswith("train/")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ConfigError(
            f"data.split_file {path} is not a readable split record ({err}): give a {SPLIT_FILE} a run wrote, "
            "or null to split the folder anew."
        ) from err
    class_index = {name: i for i, name in enumerate(classes)}
    splits, skipped = {}, []
    for name in SPLITS:
        paths = [str(p) for p in lists[name]]
        bad = probe_all(root, paths, min_size)
        kept, labels = [], []
        for i, relative in enumerate(paths):
            parts, depth = relative.split("/"), 1 if presplit else 0
            folder = parts[depth] if classes and len(parts) > depth + 1 else None
            if i in bad:
                skipped.append((relative, bad[i]))
            elif classes and folder not in class_index:
                skipped.append((relative, f"class folder {folder!r} is not among the folder's classes"))
            else:
                kept.append(relative)
                labels.append(class_index[folder] if classes else -1)
        splits[name] = SplitFiles(PathTable.of(kept), np.asarray(labels, dtype=np.int64))
    how = {**record.get("how", {}), "split_file": str(path)}
    return FolderSplit(root, classes, splits, skipped, how)


def file_digest(path: str) -> bytes:
    """BLAKE2b of a file's bytes (read in 1 MiB blocks); a file that cannot be read hashes as the error's name."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    except OSError as err:
        digest.update(f"unreadable: {type(err).__name__}".encode())
    return digest.digest()


def files_digest(root: str, split: SplitFiles, whole: bool = True) -> str:
    """A hex digest of what a split's files hold, whatever folder they are in: the decoding version, the count,
    every label, and, in the split's order, the bytes of every file (``whole``), or every file's size and the
    bytes of an evenly strided sample of about ``DIGEST_SAMPLE`` files (not ``whole``: a training split of a
    million photos is not read in full to name a cache; a same-size edit of an unsampled file goes unseen, as
    with the in-memory modules' strided sample). Paths are left out: only the content counts.

    Files are read on threads: hashing waits on the disk and hashlib releases the GIL on large buffers.
    """
    n = len(split)
    paths = [os.path.join(root, relative) for relative in split.files]
    digest = hashlib.sha256(f"decode {DECODE_VERSION}; {n} files; ".encode())
    digest.update(np.ascontiguousarray(split.labels, dtype=np.int64).tobytes())
    chosen = range(n) if whole else range(0, n, max(1, n // DIGEST_SAMPLE))
    with ThreadPoolExecutor() as pool:
        if not whole:
            for sizes in pool.map(_sizes, _chunks(paths)):
                digest.update(np.asarray(sizes, dtype=np.int64).tobytes())
        for hashes in pool.map(_hashes, _chunks([paths[i] for i in chosen])):
            digest.update(b"".join(hashes))
    return digest.hexdigest()


def images_digest(files: str, shape: Sequence[int], value_range: Sequence[float]) -> str:
    """The content digest of a split of decoded images as the model sees them: :func:`files_digest` of its files,
    the shape they are decoded to (count, channels, resolution, resolution) and the range they are scaled to.
    What a folder module and the same folder prepared for streaming both report (their caches are shared)."""
    digest = hashlib.sha1(files.encode())
    digest.update(str(tuple(int(v) for v in shape)).encode())
    digest.update(str(tuple(float(v) for v in value_range)).encode())
    return digest.hexdigest()


def _chunks(paths: list[str], size: int = 256) -> list[list[str]]:
    """Work for one thread at a time: one task per file would cost more than a stat."""
    return [paths[start : start + size] for start in range(0, len(paths), size)]


def _hashes(paths: list[str]) -> list[bytes]:
    return [file_digest(path) for path in paths]


def _sizes(paths: list[str]) -> list[int]:
    sizes = []
    for path in paths:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(-1)
    return sizes


def _write_atomically(path: Path, text: str) -> None:
    """Through a temporary name beside it, so a reader never sees half a file."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_text(text)
    partial.replace(path)
