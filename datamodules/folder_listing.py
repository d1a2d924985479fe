"""Listing a folder of images: every image file under it, in one fixed order, held compactly.

Order: entries are visited sorted by name at every level (a depth-first walk), which is the order of the paths'
components compared one by one, so the same files always list the same way and a seed always sees the same
images. Symbolic links to files and folders are followed; a folder reached twice (two links, a link cycle) is
listed once. Names starting with ``.`` (``.DS_Store``, ``.ipynb_checkpoints``) are left out.

Memory: a million file names take their bytes plus 8 bytes each (:class:`PathTable`: one bytes blob and an
offsets array), not a million Python strings or ``Path`` objects; only one folder's names are Python objects at
a time while listing.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from datamodules.image_files import is_image_name


@dataclass(frozen=True)
class PathTable:
    """Relative paths (``/``-separated), stored as one uint8 blob of their UTF-8/fs bytes and int64 offsets."""

    blob: np.ndarray
    offsets: np.ndarray  # len(self) + 1 entries; path i is blob[offsets[i]:offsets[i + 1]]

    @classmethod
    def of(cls, paths: Iterable[str]) -> PathTable:
        blob, offsets = bytearray(), array("q", [0])
        for path in paths:
            blob += os.fsencode(path)
            offsets.append(len(blob))
        return cls(np.frombuffer(bytes(blob), dtype=np.uint8), np.frombuffer(offsets, dtype=np.int64).copy())

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        return os.fsdecode(self.blob[self.offsets[index] : self.offsets[index + 1]].tobytes())

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def take(self, indices: Iterable[int]) -> PathTable:
        """The paths at ``indices``, in that order."""
        return PathTable.of(self[int(i)] for i in indices)

    @property
    def nbytes(self) -> int:
        return self.blob.nbytes + self.offsets.nbytes


@dataclass(frozen=True)
class Listing:
    """The image files under a root: their paths relative to it and the other (non-image) files' count."""

    files: PathTable
    ignored: int  # files whose names do not end in an image extension
    unreadable_folders: list[str]  # relative paths of folders that could not be listed (permissions)


def list_images(root: str, below: str = "") -> Listing:
    """Every image file under ``root/below`` (paths relative to ``root``), in the module's order."""
    paths = _Walk(root)
    table = PathTable.of(paths.files(below))
    return Listing(table, paths.ignored, paths.unreadable)


def sub_folders(folder: str) -> list[str]:
    """The names of the visible sub-folders of ``folder`` (links followed), sorted."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


class _Walk:
    """A sorted depth-first walk that follows links and visits each real folder once."""

    def __init__(self, root: str) -> None:
        self.root, self.ignored, self.unreadable = root, 0, []
        self._seen: set[tuple[int, int]] = set()

    def files(self, relative: str) -> Iterator[str]:
        folder = os.path.join(self.root, relative) if relative else self.root
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in self._seen:
                return
            self._seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as found:
                entries = sorted((e for e in found if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            self.unreadable.append(relative or ".")
            return
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:
                is_dir = False
            if is_dir:
                yield from self.files(path)
            elif is_image_name(entry.name):
                yield path  # broken links and unreadable files are kept: the header check names them
            else:
                self.ignored += 1
