"""One writer per folder: OS locks (``flock``) that the kernel drops when their holder dies, so a lock is never
left behind by a killed process. Run folders, study runs, tuning trials and the study's database share them."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK = ".lock"  # held by the one process writing a run (an OS lock: the kernel drops it when the holder dies)


class RunBusyError(RuntimeError):
    """Another live process holds the folder's lock."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(
            f"{folder} is being written by process {holder or '(unknown)'}: two writers would interleave its logs "
            "and checkpoints. Wait for that process to end (or stop it), then run the same command again."
        )
        self.folder, self.holder = folder, holder


def lock_folder(folder: Path, wait: bool = False) -> IO[str]:
    """Take the folder's lock for this process (kept while the returned file stays open); raise
    :class:`RunBusyError` naming the holder when another process has it (``wait``: block until it is free)."""
    return lock_file(folder / LOCK, folder, wait)


def lock_file(path: Path, what: Path, wait: bool = False) -> IO[str]:
    """:func:`lock_folder` with the lock kept in ``path`` (outside a folder that may be deleted and made anew)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file = open(path, "a+")  # noqa: SIM115  (kept open: closing it would release the lock)
    try:
        fcntl.flock(file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip()
        file.close()
        raise RunBusyError(what, holder) from None
    file.seek(0)
    file.truncate()
    file.write(str(os.getpid()))
    file.flush()
    return file


def lock_beside(folder: Path, wait: bool = False) -> IO[str]:
    """:func:`lock_folder` with the lock in ``.<name>.lock`` beside the folder, so it outlives the folder being
    deleted and made anew (a study run started over, a tuning trial retried)."""
    return lock_file(folder.with_name(f".{folder.name}.lock"), folder, wait)
