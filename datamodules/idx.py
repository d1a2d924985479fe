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


def idx_shape(path: Path) -> tuple[int, ...]:
    """The array shape an idx file declares; :class:`ConfigError` if the file is not idx or is truncated."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _ITEM_SIZES:
            raise ConfigError(f"{path} is not an idx file (bad header); download it again.")
        ndim = head[3]
        dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ConfigError(f"{path} is truncated (its header is incomplete); download it again.")
    shape = struct.unpack(f">{ndim}I", dims_raw)
    expected = 4 + 4 * ndim + math.prod(shape) * _ITEM_SIZES[head[2]]
    if size != expected:
        raise ConfigError(
            f"{path} is truncated or corrupt: its header declares shape {shape} ({expected} bytes) but the "
            f"file has {size} bytes; download it again."
        )
    return shape


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
