"""gan_module/run/resume.py: a run resumed from any checkpoint the project writes ends exactly as a straight run.

Each case interrupts a 2-epoch run in a different way, resumes it, and compares the final checkpoint with the
straight run's: weights, optimizer moments, schedulers, random streams, the data position and Lightning's own
loop counters (the epoch counter once gained one per resume, and the data order came out one epoch off).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.test_cli import QUICKSTART
from tests.test_preemption import RUN, assert_same_training_state, checkpoint, fit


def resume(root: Path, start: Path, *args: str) -> dict:
    """Resume ``start`` in a fresh run folder (the file copied there, as a user would pass it) to the end."""
    folder = root / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    shutil.copy(start, folder / "start.ckpt")
    fit(root, f"--ckpt_path={folder / 'start.ckpt'}", *args)
    return checkpoint(root)


def assert_same_run(straight: dict, resumed: dict) -> None:
    assert_same_training_state(straight, resumed)
    assert resumed["loops"] == straight["loops"]
    assert resumed["epoch"] == straight["epoch"] == 2
    assert resumed["MlxtendMNISTDataModule"] == straight["MlxtendMNISTDataModule"] == {"epoch": 2, "batches": 0}


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[Path, dict]:
    """2 epochs of 6 batches, saving every epoch and every 5 optimizer steps besides last.ckpt."""
    root = tmp_path_factory.mktemp("straight")
    fit(root, "--checkpoint.every_n_epochs=1", "--checkpoint.save_top_k=-1")
    fit(root / "steps", "--checkpoint.every_n_epochs=null", "--checkpoint.every_n_train_steps=5")
    return root, checkpoint(root)


def test_from_an_epoch_end_checkpoint(straight, tmp_path):
    root, final = straight
    assert_same_run(final, resume(tmp_path, root / "version_0" / "checkpoints" / "epoch0000.ckpt"))


def test_from_a_mid_epoch_checkpoint(straight, tmp_path):
    root, final = straight
    periodic = sorted((root / "steps" / "version_0" / "checkpoints").glob("epoch*.ckpt"))
    start = periodic[0]
    assert torch.load(start, weights_only=True)["MlxtendMNISTDataModule"]["batches"] > 0  # really mid-epoch
    assert_same_run(final, resume(tmp_path, start))


@pytest.mark.parametrize(
    "first",
    [
        ["--trainer.max_steps=5"],  # Lightning counts the half-done epoch as finished
        ["--budget.max_iterations=2"],
        ["--trainer.max_epochs=1"],
    ],
    ids=["max_steps", "budget", "max_epochs"],
)
def test_after_a_run_that_ended_on_its_limit(straight, tmp_path, first):
    fit(tmp_path, *first)
    fit(tmp_path, "--ckpt_path=last")
    assert_same_run(straight[1], checkpoint(tmp_path))


def test_twice_and_with_max_steps_in_the_resumed_run(straight, tmp_path):
    """Iteration-based training (``max_steps`` set) takes another restart path in Lightning."""
    fit(tmp_path, "--trainer.max_steps=4")
    fit(tmp_path, "--ckpt_path=last", "--trainer.max_steps=11")
    fit(tmp_path, "--ckpt_path=last", "--trainer.max_steps=18")  # 12 batches, k = 2: 12 D + 6 G steps
    assert_same_run(straight[1], checkpoint(tmp_path))


def test_with_loader_workers_the_resumed_epoch_keeps_its_order(tmp_path):
    """Workers draw the sampler's indices before Lightning sets the epoch, so the saved epoch must be right."""
    workers = ["--data.init_args.num_workers=1"]
    fit(tmp_path / "straight", *workers)
    fit(tmp_path / "resumed", *workers, "--trainer.max_steps=5")
    fit(tmp_path / "resumed", *workers, "--ckpt_path=last")
    assert_same_run(checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "resumed"))


def learning_rates(saved: dict) -> list[float]:
    return [group["lr"] for state in saved["optimizer_states"] for group in state["param_groups"]]


def test_settings_changed_on_the_command_line_apply_to_the_resumed_run(tmp_path, caplog):
    """Lightning restores the checkpoint's optimizer and scheduler settings; the command line's must win."""
    fit(tmp_path, "--trainer.max_epochs=1")  # 6 batches, 3 generator steps: G's lr 2e-4 * 0.9^3
    fit(
        tmp_path,
        "--ckpt_path=last",
        "--model.discriminator_optimizer.init_args.lr=0.001",
        "--model.generator_scheduler.init_args.gamma=0.5",
    )
    saved = checkpoint(tmp_path)
    assert learning_rates(saved) == pytest.approx([1e-3, 2e-4 * 0.9**3 * 0.5**3])
    assert saved["lr_schedulers"][0]["gamma"] == 0.5
    assert saved["hyper_parameters"]["discriminator_optimizer"]["init_args"]["lr"] == 1e-3
    config = (tmp_path / "version_0" / "config.yaml").read_text()
    assert "lr: 0.001" in config  # the run's config records what it trained with
    lines = [m for m in caplog.messages if m.startswith("Resumed with settings")]
    assert lines == [
        "Resumed with settings changed since the checkpoint (the command line's values apply): "
        "model.discriminator_optimizer.init_args.lr: 0.0002 -> 0.001; "
        "model.generator_scheduler.init_args.gamma: 0.9 -> 0.5"
    ]


def test_a_checkpoint_of_another_model_is_one_error_line_before_anything_is_written(tmp_path, capsys):
    fit(tmp_path, "--trainer.max_epochs=1")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as stopped:
        fit(
            tmp_path,
            "--ckpt_path=last",
            "--model.generator.init_args.hidden_dims=[64]",
            "--model.loss=gan_module.losses.LeastSquaresLoss",
        )
    assert stopped.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    assert "model.generator.init_args.hidden_dims: [32] -> [64]" in err[0]
    assert "model.loss.class_path: gan_module.losses.NonSaturatingLoss -> gan_module.losses.LeastSquaresLoss" in err[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


assert "--trainer.max_epochs=2" in RUN  # the cases above count on 2 epochs of 6 batches


#: written at commit 3d9c27d, before the GAN's parts moved into gan_module/model/ and the run's into gan_module/run/:
#: ``start.ckpt`` is RUN stopped by ``--trainer.max_steps=5``, ``final.pt`` the end state of that code's straight RUN
BEFORE_THE_LAYOUT = Path(__file__).resolve().parent / "fixtures" / "checkpoint_3d9c27d"


def test_a_checkpoint_written_before_the_layout_change_resumes_exactly(tmp_path):
    """Resumed by ``main.py`` in a fresh process, as a user would, with the two intra-op threads the fixture was
    written with (another count changes the last bit of a reduction, which Adam turns into an lr-sized step)."""
    assert torch.load(BEFORE_THE_LAYOUT / "start.ckpt", weights_only=True)["gan_progress"]["d_steps"] < 12  # mid-run
    folder = tmp_path / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    shutil.copy(BEFORE_THE_LAYOUT / "start.ckpt", folder / "start.ckpt")
    command = [sys.executable, "main.py", "fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={tmp_path}"]
    env = os.environ | {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    resume_args = [f"--ckpt_path={folder / 'start.ckpt'}", "--threads=2"]  # not chosen for the work: the fixture's
    done = subprocess.run([*command, *resume_args], cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert_same_run(torch.load(BEFORE_THE_LAYOUT / "final.pt", weights_only=True), checkpoint(tmp_path))


def test_a_class_path_that_reaches_the_same_class_is_the_same_model():
    """Resume compares the classes a class_path imports: a piece re-exported from a new module is the same piece."""
    from gan_module.run.resume import changed_settings

    saved = {"loss": {"class_path": "gan_module.losses.NonSaturatingLoss"}, "k": 1}
    moved = {"loss": {"class_path": "gan_module.losses.standard.NonSaturatingLoss"}, "k": 1}
    assert changed_settings(saved, moved) == {}
    other = {"loss": {"class_path": "gan_module.losses.LeastSquaresLoss"}, "k": 2}
    assert set(changed_settings(saved, other)) == {"loss.class_path", "k"}
    gone = {"loss": {"class_path": "gan_module.losses.NoSuchLoss"}, "k": 1}  # a class removed since: another model
    assert set(changed_settings(saved, gone)) == {"loss.class_path"}
