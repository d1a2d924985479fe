"""Lightning's start-up banners and warnings, silenced while a benchmark builds and trains, so the table is read."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Banners ("GPU available", "Seed set"), data-loader advice and the CLI's in-process notes, silenced; the
    levels and filters are restored afterwards, so a caller (the tests) keeps its own settings."""
    logs = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            warnings.filterwarnings("ignore", message=".*No seed found.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)
