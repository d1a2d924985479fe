"""callbacks/budget.py: the budget counts generator iterations (not optimizer steps) and ends with a last.ckpt."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from callbacks.budget import IterationBudget
from gan_module.errors import ConfigError
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

#: the 2-D ring (fast on a CPU) in epochs of 3 batches, periodic checkpoints every 2 epochs
TINY = [
    "--config",
    str(ROOT / "configs" / "mixtures" / "base.yaml"),
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=0",
    "--trainer.max_epochs=100",
    "--data.init_args.batch_size=32",
    "--checkpoint.every_n_epochs=2",
    "--sample_grid.num_samples=50",
    "--sample_grid.at_end=true",
    "--interpolation.every_n_epochs=0",
]


def progress(run: Path) -> tuple[dict, dict]:
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return checkpoint["gan_progress"], checkpoint["callbacks"]["IterationBudget"]


def test_a_budget_ending_mid_epoch_leaves_last_ckpt_and_samples_at_the_final_iteration(tmp_path):
    run_cli("fit", *TINY, "--budget.max_iterations=7", f"--trainer.default_root_dir={tmp_path}")
    run = tmp_path / "version_0"
    # 7 iterations = epochs of 3 + 3 + 1 batches: ModelCheckpoint's own last save was at 6 (epoch 2)
    counts, state = progress(run)
    assert counts["iterations"] == 7 and counts["d_steps"] == 7
    assert state["seconds"] > 0
    assert (run / "images" / "samples" / "iter_00000007.png").is_file()  # at_end: the final samples

    run_cli("fit", *TINY, "--budget.max_iterations=7", f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last")
    assert progress(run)[0]["iterations"] == 7  # resumed with the budget spent: nothing more trained
    assert not (tmp_path / "version_1").exists()


def test_the_budget_counts_generator_iterations_and_seconds(tmp_path):
    run_cli("fit", *TINY, "--model.k=2", "--budget.max_iterations=2", f"--trainer.default_root_dir={tmp_path / 'k2'}")
    counts, _ = progress(tmp_path / "k2" / "version_0")
    assert counts["iterations"] == 2 and counts["d_steps"] == 4  # k D steps per G step, not max_steps

    run_cli("fit", *TINY, "--budget.max_seconds=1e-6", f"--trainer.default_root_dir={tmp_path / 'time'}")
    assert progress(tmp_path / "time" / "version_0")[0]["iterations"] == 1  # out of time after the first batch


@pytest.mark.parametrize("kwargs", [{"max_iterations": 0}, {"max_seconds": -1.0}])
def test_a_budget_below_one_step_is_refused(kwargs):
    with pytest.raises(ConfigError, match=r"budget\.max_iterations"):
        IterationBudget(**kwargs)


def test_seconds_carry_over_a_resume():
    budget = IterationBudget(max_seconds=10.0)
    budget.load_state_dict({"seconds": 4.0})
    assert 4.0 <= budget.state_dict()["seconds"] < 5.0
