"""gan_module/checkpoint_io.py: a save interrupted at any point leaves the previous checkpoint whole."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gan_module import checkpoint_io
from gan_module.checkpoint_io import AtomicCheckpointIO, partial_files


def test_a_save_is_complete_and_leaves_no_temporary_file(tmp_path):
    AtomicCheckpointIO().save_checkpoint({"weights": torch.arange(5)}, tmp_path / "ckpts" / "last.ckpt")
    assert torch.equal(torch.load(tmp_path / "ckpts" / "last.ckpt")["weights"], torch.arange(5))
    assert sorted(p.name for p in (tmp_path / "ckpts").iterdir()) == ["last.ckpt"]


def test_a_save_that_fails_half_way_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)

    def half_written(obj, file):
        file.write(b"\x80\x02partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint_io.torch, "save", half_written)
    with pytest.raises(OSError, match="No space"):
        AtomicCheckpointIO().save_checkpoint({"step": 2}, path)
    assert torch.load(path) == {"step": 1}
    assert partial_files(tmp_path) == []


def test_temporaries_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".last.ckpt.{int(dead.stdout)}.partial"
    leftover.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".last.ckpt.{os.getppid()}.partial"  # another process may be saving right now
    alive.write_bytes(b"in progress")
    AtomicCheckpointIO().save_checkpoint({"step": 3}, tmp_path / "last.ckpt")
    assert partial_files(tmp_path) == [alive]
