"""callbacks/preemption.py: SIGTERM or Ctrl-C mid-epoch saves a checkpoint that resumes to the very same result."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from gan_module.errors import ConfigError
from tests.conftest import run_cli
from tests.test_cli import QUICKSTART, SMALL

#: 2 epochs of 6 batches, k = 2 (a G step every other batch), dropout in D and a scheduler on G: every piece of
#: state an exact resume has to carry
RUN = [
    *SMALL,
    "--threads=1",  # compared bit for bit: one fixed count (`auto` re-picks it as the load changes)
    "--trainer.limit_train_batches=6",
    "--trainer.max_epochs=2",
    "--trainer.limit_val_batches=0",
    "--model.k=2",
    "--model.generator_scheduler.class_path=torch.optim.lr_scheduler.ExponentialLR",
    "--model.generator_scheduler.init_args.gamma=0.9",
    "--sample_grid.every_n_epochs=0",
    "--interpolation.every_n_epochs=0",
]


class SendSignal(L.Callback):
    """Signals this process after the given D step, as a cluster's scheduler or a person at the keyboard would."""

    def __init__(self, name: str = "SIGTERM", after_d_step: int = 4, times: int = 1) -> None:
        self.signum, self.after_d_step, self.times = signal.Signals[name], after_d_step, times

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.d_steps == self.after_d_step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def signal_flag(name: str, after: int, times: int = 1) -> str:
    spec = {
        "class_path": "tests.test_preemption.SendSignal",
        "init_args": {"name": name, "after_d_step": after, "times": times},
    }
    import json

    return f"--trainer.callbacks+={json.dumps(spec)}"


def fit(root: Path, *args: str) -> None:
    run_cli("fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={root}", *args)


def checkpoint(root: Path) -> dict:
    return torch.load(root / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)


def assert_same_training_state(a: dict, b: dict) -> None:
    assert a["gan_progress"] == b["gan_progress"]
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for key, state in opt_a["state"].items():
            for field, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][key][field])), field
    assert a["lr_schedulers"] == b["lr_schedulers"]
    for state_a, state_b in zip(a["rng_states"]["per_rank"], b["rng_states"]["per_rank"], strict=True):
        assert torch.equal(state_a["torch"], state_b["torch"])


@pytest.mark.parametrize(("name", "after", "code"), [("SIGTERM", 4, 143), ("SIGINT", 9, 130)])
def test_a_signal_mid_epoch_saves_a_checkpoint_that_resumes_exactly(tmp_path, name, after, code):
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN when pytest runs as a background job
    fit(tmp_path / "straight")
    with pytest.raises(SystemExit) as stopped:
        fit(tmp_path / "preempted", signal_flag(name, after))
    assert stopped.value.code == code
    saved = checkpoint(tmp_path / "preempted")
    assert saved["gan_progress"]["d_steps"] == after  # saved right after the signalled iteration, mid-epoch
    assert saved["MlxtendMNISTDataModule"] == {
        "epoch": after // 6,
        "batches": after % 6,
    }
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are given back
    fit(tmp_path / "preempted", "--ckpt_path=last")
    assert_same_training_state(checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "preempted"))
    assert checkpoint(tmp_path / "preempted")["gan_progress"]["d_steps"] == 12
    assert sorted(p.name for p in (tmp_path / "preempted" / "version_0" / "checkpoints").iterdir()) == ["last.ckpt"]
    # the resumed run appended to the log: one history, before and after the stop, as in the straight run
    assert logged_steps(tmp_path / "preempted") == logged_steps(tmp_path / "straight") == list(range(12))


def logged_steps(root: Path) -> list[int]:
    with open(root / "version_0" / "metrics.csv", newline="") as file:
        return sorted({int(row["step"]) for row in csv.DictReader(file) if row.get("loss_d")})


def test_a_second_ctrl_c_aborts_without_saving(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        fit(tmp_path, signal_flag("SIGINT", 3, times=2))
    assert stopped.value.code == 1  # Lightning's exit for a KeyboardInterrupt
    assert not (tmp_path / "version_0" / "checkpoints" / "last.ckpt").exists()


def test_unknown_signal_names_are_a_config_error():
    from callbacks.preemption import Preemption

    with pytest.raises(ConfigError, match="SIGNOPE"):
        Preemption(["SIGTERM", "SIGNOPE"])
