"""Reading the idx files MNIST-style datasets come in (LeCun's format), checked, in place (nothing is written).

An idx file is a big-endian header (magic: two zero bytes, a type code, the number of dimensions; then one
uint32 per dimension) followed by the data. A file shorter than its header promises is truncated.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
from pathlib import Path

import torch

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


def read_idx_tensor(
    path: Path, official: tuple[tuple[int, ...], str] | None = None, source_hint: str = "its source"
) -> torch.Tensor:
    """An idx file as a uint8 tensor of its declared shape. ``official``: the (shape, md5 of the unpacked bytes)
    of the published file: a file of that shape must have that md5, or one line says the copy is damaged."""
    data, shape, offset = read_idx(path)
    if official is not None and shape == official[0]:
        found = hashlib.md5(data).hexdigest()
        if found != official[1]:
            raise ConfigError(
                f"{path} has the official {path.name.removesuffix('.gz')}'s size but not its content (md5 {found}, "
                f"expected {official[1]}): the copy is damaged or altered; get the file again from {source_hint}."
            )
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(shape)
