"""Reading a checkpoint a user names (``--ckpt_path``): once, safely, and with one line when it cannot be used."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from gan_module.errors import ConfigError


def read_checkpoint(path: Path, flag: str = "--ckpt_path") -> dict[str, Any]:
    """The checkpoint, read once; one that cannot be read stops here with its name, not deep inside Lightning.

    It is read with ``weights_only=True``: tensors, numbers, strings and containers, what this project saves. A
    file asking for anything else (a pickle that would call a function or build an object) is refused before
    any of it runs, as unsafe, not as damaged, and without torch's advice to load it with ``weights_only=False``.
    """
    path = Path(path)
    others = sorted(str(p) for p in path.parent.glob("*.ckpt") if p != path)
    instead = f" Resume from another checkpoint of the run: {', '.join(others)}." if others else ""
    if path.stat().st_size == 0:
        raise ConfigError(f"{flag} {path} is empty (0 bytes: a save was cut off).{instead}")
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning would break the one line
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in str(err):  # refused, not damaged
            named = re.search(r"GLOBAL (\S+)", str(err))  # the function or class the file asks for, if it names one
            asks = f" (it asks for {named.group(1)})" if named else ""
            raise ConfigError(
                f"{flag} {path} holds objects this project never writes{asks}: refused for safety, nothing in "
                "it was run. Use a checkpoint this project wrote."
            ) from None
        reason = " ".join(str(err).split())  # one line, whatever torch wrote
        raise ConfigError(
            f"{flag} {path} is not a readable checkpoint (truncated or corrupt: {reason}).{instead}"
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"{flag} {path} is not a Lightning checkpoint (it has no state_dict).")
    return ckpt


def loads(path: Path) -> bool:
    """Whether ``path`` is a checkpoint :func:`read_checkpoint` accepts (a study's check before resuming a run)."""
    try:
        read_checkpoint(path)
    except (ConfigError, OSError):
        return False
    return True
