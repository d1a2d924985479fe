"""callbacks/last_checkpoint.py: ``last.ckpt`` is never older than an epoch or ``every_minutes`` of training."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import ClassVar

import lightning as L
import pytest
import torch

from callbacks.last_checkpoint import LastCheckpoint, last_checkpoint_path
from gan_module.errors import ConfigError
from tests.test_preemption import fit


class RecordLast(L.Callback):
    """Before each batch, the D steps that ``last.ckpt`` holds (None while there is none)."""

    seen: ClassVar[list[int | None]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        path = last_checkpoint_path(trainer)
        saved = torch.load(path, weights_only=True)["gan_progress"]["d_steps"] if path.is_file() else None
        RecordLast.seen.append(saved)


RECORD = "--trainer.callbacks+=" + json.dumps({"class_path": "tests.test_last_checkpoint.RecordLast"})


@pytest.fixture(autouse=True)
def fresh_record():
    RecordLast.seen = []


def test_last_ckpt_is_written_after_every_epoch_though_periodic_checkpoints_are_rarer(tmp_path):
    fit(tmp_path, RECORD, "--checkpoint.every_n_epochs=5", "--last_checkpoint.every_minutes=null")
    # 2 epochs of 6 batches: nothing during the first, then the state after epoch 0 during the second
    assert RecordLast.seen == [None] * 6 + [6] * 6
    assert sorted(p.name for p in (tmp_path / "version_0" / "checkpoints").iterdir()) == ["last.ckpt"]


def test_last_ckpt_is_refreshed_on_a_wall_clock_interval_within_an_epoch(tmp_path):
    fit(tmp_path, RECORD, "--last_checkpoint.every_n_epochs=0", "--last_checkpoint.every_minutes=1e-9")
    assert RecordLast.seen == [None, *range(1, 12)]  # due after every iteration at this interval


@pytest.mark.parametrize(("epochs", "minutes"), [(-1, None), (1, 0.0)])
def test_bad_intervals_are_config_errors(epochs, minutes):
    with pytest.raises(ConfigError, match="last_checkpoint"):
        LastCheckpoint(every_n_epochs=epochs, every_minutes=minutes)


class RowsOnDisk(L.Callback):
    """Before each batch, the highest step ``metrics.csv`` holds on disk (what a kill -9 would leave)."""

    seen: ClassVar[list[int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        path = Path(trainer.default_root_dir) / "metrics.csv"
        rows = list(csv.DictReader(path.open())) if path.is_file() else []
        RowsOnDisk.seen.append(max((int(row["step"]) for row in rows), default=-1))


def test_every_logged_row_a_checkpoint_covers_is_on_disk_when_it_is_saved(tmp_path):
    """The CSV logger buffers 100 rows by default; the epoch's last.ckpt flushes them before it saves."""
    rows = "--trainer.callbacks+=" + json.dumps({"class_path": "tests.test_last_checkpoint.RowsOnDisk"})
    RowsOnDisk.seen = []
    fit(tmp_path, rows, "--trainer.log_every_n_steps=1", "--last_checkpoint.every_minutes=null")
    # nothing on disk during epoch 0 (the buffer), then every row the epoch-0 checkpoint covers (steps 0-5)
    assert RowsOnDisk.seen == [-1] * 6 + [5] * 6
