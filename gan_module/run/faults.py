"""The machine's faults (a full disk, a read-only or vanished folder, a path that is a file) found behind the
errors libraries raise for them, and told in one line that names the path and never a password.

torch's zip writer, handling the ``OSError`` of a full disk, raises ``RuntimeError: [enforce fail at
inline_container.cc:...] unexpected pos`` (the ``OSError`` is only its ``__context__``); given a file name instead
of a file, it raises the same with no ``OSError`` at all. :func:`os_fault_behind` finds the fault in both;
:func:`naming` adds the path to a fault raised while writing one file (a failed ``write`` names no file).
Light (no torch): the CLI and the study both use it.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type hint only: faults.py stays light (no torch)
    from gan_module.run.layout import RunLayout

#: faults of the storage a message may describe in words instead of raising an OSError (torch, SQLite, ...)
_STORAGE_ERRNOS = (
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EFBIG,
    errno.ENAMETOOLONG,
    errno.ESTALE,
)
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")
#: what torch's C++ stream writer says when a write below it failed (with or without the OSError behind it)
_TORCH_WRITER = ("inline_container.cc", "PytorchStreamWriter", "iostream error")
#: ``scheme://user:password@host``: the password is everything up to the last ``@`` of the address
_CREDENTIALS = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<password>\S*)@")


def os_fault_behind(err: BaseException | None) -> OSError | None:
    """The OS fault behind ``err``: ``err`` itself, an ``OSError`` it was raised from (``__cause__``), or, for a
    RuntimeError (torch), the ``OSError`` it was raised while handling (``__context__``) or the fault its text
    names. None when nothing in the chain is a fault of the machine.

    Another error's ``__context__`` is not followed: a ValueError raised in an ``except OSError`` block is a
    decision of the code, not the machine's fault.
    """
    seen: set[int] = set()
    chain: list[BaseException] = []
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        chain.append(err)
        follow_context = isinstance(err, RuntimeError) and not err.__suppress_context__
        err = err.__cause__ or (err.__context__ if follow_context else None)
    for link in chain:
        if isinstance(link, RuntimeError) and (described := _described_fault(str(link))) is not None:
            return described
    return None


def _described_fault(text: str) -> OSError | None:
    """An OSError for a RuntimeError whose text names a storage fault (``No space left on device``,
    ``[Errno 28]``) or is torch's writer failing without saying why."""
    found = _ERRNO_IN_TEXT.search(text)
    if found is not None and int(found.group(1)) in _STORAGE_ERRNOS:
        code = int(found.group(1))
        return OSError(code, os.strerror(code))
    for code in _STORAGE_ERRNOS:
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code))
    if any(mark in text for mark in _TORCH_WRITER):
        flat = " ".join(text.split())
        return OSError(errno.EIO, f"a write failed (torch: {flat}; a full disk or a vanished folder says this)")
    return None


@contextmanager
def naming(path: str | Path, temporary: str | Path | None = None) -> Iterator[None]:
    """Around the writing of ``path``: an OS fault that names no file (a failed ``write`` or ``fsync``, torch's
    RuntimeError) or names ``temporary`` (the file written first, then renamed to ``path``) is raised again as
    an ``OSError`` naming ``path``, the original chained behind it."""
    try:
        yield
    except Exception as err:
        fault = os_fault_behind(err)
        if fault is None or fault.filename not in (None, *([str(temporary)] if temporary else [])):
            raise
        raise OSError(fault.errno, fault.strerror or str(fault), str(path)) from err


def describe_fault(fault: OSError, folder: str | Path | None = None) -> str:
    """``No space left on device (/runs/x/version_0/checkpoints/last.ckpt)``: the cause and the path (both
    paths of a rename; ``folder`` when the fault names none), credentials masked."""
    where = fault.filename if fault.filename is not None else folder
    if where is not None and fault.filename2 is not None:
        where = f"{where} -> {fault.filename2}"
    cause = fault.strerror or " ".join(str(fault).split()) or type(fault).__name__
    if fault.errno == errno.EEXIST and fault.filename is not None and Path(fault.filename).is_file():
        cause = "A file is where a folder is needed"  # mkdir(exist_ok=True) of a file's path says only "exists"
    return mask_credentials(f"{cause} ({where})" if where is not None else cause)


def stopped_by(fault: OSError, run: RunLayout | None) -> str:
    """A command's one line for a fault: what the system refused, where, and what is safe to resume from."""
    text = f"{describe_fault(fault, folder=run.root if run is not None else None)}: the command stopped."
    last = run.last_checkpoint if run is not None else None
    if last is not None and last.is_file():
        text += f" The last good checkpoint is {last}: fix the cause, then run the same command with --ckpt_path last."
    return text


def mask_credentials(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host`` everywhere in ``text`` (a storage URL in an
    error message or a log must never show its password)."""
    return _CREDENTIALS.sub(lambda m: f"{m['head']}:***@", text)
