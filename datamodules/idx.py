"""Checks for the idx files MNIST-style datasets come in (LeCun's format), before torchvision reads them.

An idx file is a big-endian header (magic: two zero bytes, a type code, the number of dimensions; then one
uint32 per dimension) followed by the data. A file shorter than its header promises is truncated.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
from pathlib import Path

from gan_module.errors import ConfigError

_ITEM_SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def _shape_of(head: bytes, size: int, where: Path) -> tuple[tuple[int, ...], int]:
    """The shape an idx header declares and where its data starts; ConfigError if ``size`` bytes cannot hold it."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _ITEM_SIZES:
        raise ConfigError(f"{where} is not an idx file (bad header); download it again.")
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise ConfigError(f"{where} is truncated (its header is incomplete); download it again.")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    expected = 4 + 4 * ndim + math.prod(shape) * _ITEM_SIZES[head[2]]
    if size != expected:
        raise ConfigError(
            f"{where} is truncated or corrupt: its header declares shape {shape} ({expected} bytes) but the "
            f"file has {size} bytes; download it again."
        )
    return shape, 4 + 4 * ndim


def idx_source(folder: Path, name: str) -> Path | None:
    """The file holding idx ``name`` in ``folder``: ``name.gz`` when present (the download is the source of
    truth: an unpacked copy beside it may be stale), else ``name``; None when neither is there."""
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            return path
    return None


def read_idx(path: Path) -> tuple[bytes, tuple[int, ...], int]:
    """An idx file's unpacked bytes (read in memory from ``.gz`` if it is one: nothing is written), its shape and
    the offset of its data; ConfigError naming the file if it is truncated or not idx."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ConfigError(f"{path} is truncated or corrupt ({err}); download it again.") from err
    shape, offset = _shape_of(data[:64], len(data), path)
    return data, shape, offset


def idx_shape(path: Path) -> tuple[int, ...]:
    """The array shape an idx file declares; :class:`ConfigError` if the file is not idx or is truncated."""
    with open(path, "rb") as f:
        head = f.read(64)  # the magic and up to 15 dimensions
    return _shape_of(head, path.stat().st_size, path)[0]


def _stale(target: Path, archive: Path) -> bool:
    """Whether ``target`` must be (re)made from ``archive``: missing, older than it, or damaged."""
    if not target.exists():
        return True
    if archive.stat().st_mtime > target.stat().st_mtime:  # the archive was downloaded again since
        return True
    try:
        idx_shape(target)
    except ConfigError:  # a truncated earlier unpacking (or download): the archive may be whole
        return True
    return False


def ensure_unpacked(folder: Path, names: list[str]) -> list[str]:
    """Unpack ``name.gz`` into ``name`` where it is missing, older than the archive or damaged (written to a
    temporary file and renamed, so an interrupted unpacking leaves nothing half-written); return the names
    still missing."""
    missing = []
    for name in names:
        target, archive = folder / name, folder / f"{name}.gz"
        if archive.exists() and _stale(target, archive):
            # one temporary file per process: parallel runs (a study's shards, DDP ranks) may unpack at once
            partial = folder / f".{name}.{os.getpid()}.partial"
            try:
                with gzip.open(archive, "rb") as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                partial.replace(target)
            except (OSError, EOFError) as err:
                raise ConfigError(f"{archive} is truncated or corrupt ({err}); download it again.") from err
            finally:
                partial.unlink(missing_ok=True)
        if not target.exists():
            missing.append(name)
    return missing
