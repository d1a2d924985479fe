"""Checkpoints written so that a crash at any instant leaves either the old file or the new one, never half.

Lightning's own save writes the file into ``$TMPDIR`` and moves it into place. When ``$TMPDIR`` is on another
filesystem than the run (node-local /tmp, runs on NFS or a parallel filesystem) that move is a copy: a job
killed during it leaves a truncated ``last.ckpt`` and nothing to resume from, and every kill leaks a partial
file into ``$TMPDIR``. Here the bytes go to a temporary file beside the checkpoint, are flushed to the disk
(fsync), and only then renamed over it -- one atomic step on every POSIX filesystem.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from gan_module.run.faults import naming

#: temporary files are named ``.<checkpoint name>.<pid>.partial`` in the checkpoint's folder
PARTIAL_SUFFIX = ".partial"
#: why a save into a folder deleted during the run stops
VANISHED = "folder deleted while the run was writing into it (not made again)"


def partial_files(folder: Path) -> list[Path]:
    """Temporary files of interrupted saves in ``folder``."""
    return sorted(folder.glob(f".*{PARTIAL_SUFFIX}"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_leftovers(folder: Path) -> None:
    """Delete the temporaries of saves whose process has died (a kill during the save)."""
    for path in partial_files(folder):
        pid = path.name.removesuffix(PARTIAL_SUFFIX).rsplit(".", 1)[-1]
        if not pid.isdigit() or (int(pid) != os.getpid() and not _pid_alive(int(pid))):
            path.unlink(missing_ok=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic and durable (temporary file beside, fsync, rename).

    Remote paths (``s3://`` and the like) keep Lightning's save, whose object stores replace whole objects.
    A folder it saved into that has since vanished (the run folder deleted mid-run) is not made again: the save
    stops with a ``FileNotFoundError`` naming it, rather than silently starting a new, partial run folder.
    """

    def __init__(self) -> None:
        super().__init__()
        self._folders: set[Path] = set()  # the folders saved into so far

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options}.")
        if "://" in str(path):  # a remote store (s3://, gs://, ...)
            super().save_checkpoint(checkpoint, path)
            return
        folder = Path(path).parent
        if folder in self._folders and not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, VANISHED, str(folder))
        write_atomically(Path(path), lambda file: torch.save(checkpoint, file))
        self._folders.add(folder)


def write_atomically(target: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """``write(file)`` into a temporary file beside ``target``, flushed to the disk, then renamed over it: a crash
    at any instant leaves the old file or the new one, never half of one.

    A fault while writing (a full disk: torch raises a RuntimeError for it) is an ``OSError`` naming ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target.parent)
    partial = target.parent / f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}"
    try:
        with naming(target, temporary=partial), open(partial, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _sync_folder(target.parent)  # the rename itself reaches the disk


def write_text_atomically(target: Path, text: str) -> None:
    """:func:`write_atomically` for a text file (a study run's ``result.json``)."""
    write_atomically(target, lambda file: file.write(text.encode()))


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some filesystems do not open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
