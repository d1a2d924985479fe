"""gan_module/distributed.py: two CPU processes (gloo) train one GAN through main.py and stay identical."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
MIXTURE = [
    "--config",
    "configs/mixtures/base.yaml",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=6",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--evaluation.num_samples=1000",
    "--evaluation.batch_size=300",  # 4 batches, the last one short: 2 for each rank
    "--sample_grid.num_samples=100",
    "--model.generator.init_args.hidden_dims=[64, 64]",
    # batch norm in G: its running statistics differ between ranks unless they are synchronised
    "--model.generator.init_args.batch_norm=true",
    # packing and a generator average (with its batch-norm statistics): the same on every rank too
    "--model.pack=2",
    "--model.ema=gan_module.ema.ExponentialMovingAverage",
    "--model.ema.decay=0.9",
]


class SaveRankState(L.Callback):
    """Each rank writes its weights and buffers at the end of fitting, to compare them across ranks."""

    def on_train_end(self, trainer, pl_module) -> None:
        torch.save(pl_module.state_dict(), Path(trainer.default_root_dir) / f"rank{trainer.global_rank}.pt")


@pytest.mark.slow
def test_two_processes_hold_identical_weights_and_evaluate_all_samples(tmp_path):
    root = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k != "GAN_RUN_DIR"} | {"PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "main.py",
        "fit",
        *MIXTURE,
        "--config",
        "configs/trainer/ddp.yaml",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--evaluation.every_n_epochs=1",
        f"--trainer.default_root_dir={root}",
        '--trainer.callbacks+={"class_path": "tests.test_distributed.SaveRankState"}',
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = root / "version_0"
    assert sorted(p.name for p in root.iterdir()) == ["version_0"]  # both ranks wrote into one run folder
    rank0, rank1 = (torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert any("running_mean" in name for name in rank0)
    assert any(name.startswith("ema.average.") and "running_mean" in name for name in rank0)
    for name, tensor in rank0.items():
        assert torch.equal(tensor, rank1[name]), name
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["gan_progress"]["images_seen"] == 6 * 256  # per rank: each rank trained on its own share
    per_rank = checkpoint["rng_states"]["per_rank"]
    assert len(per_rank) == 2 and not torch.equal(per_rank[0]["torch"], per_rank[1]["torch"])  # own noise streams

    # The evaluation during DDP fitting scored the samples of both ranks: exactly what one process computes
    # from the same weights (rank 0's half alone would give other numbers).
    with open(run / "metrics.csv", newline="") as file:  # the epoch's evaluation (not the one at iteration 0)
        logged = [row for row in csv.DictReader(file) if row.get("eval/modes_1k_high_quality")][1:]
    run_cli("test", *MIXTURE, f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "--trainer.accelerator=cpu")
    with open(run / "test" / "metrics.csv", newline="") as file:
        tested = [row for row in csv.DictReader(file) if row.get("eval/modes_1k_high_quality")]
    assert len(logged) == len(tested) == 1
    for key in ("eval/modes_1k_high_quality", "eval/modes_1k_captured_any", "eval/modes_1k_reverse_kl"):
        assert float(logged[0][key]) == pytest.approx(float(tested[0][key]), abs=1e-6), key


def ddp_fit(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GAN_RUN_DIR"} | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "main.py", "fit", *MIXTURE, "--config", "configs/trainer/ddp.yaml"]
    cmd += ["--trainer.accelerator=cpu", "--trainer.devices=2", f"--trainer.default_root_dir={root}", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_resume_exactly_after_a_run_that_max_steps_ended(tmp_path):
    """Two epochs straight, against one stopped mid-epoch by max_steps and resumed: every rank's state alike."""
    from tests.test_preemption import assert_same_training_state

    two_epochs = ["--trainer.max_epochs=2", "--sample_grid.every_n_epochs=0", "--interpolation.every_n_epochs=0"]
    ddp_fit(tmp_path / "straight", *two_epochs)
    ddp_fit(tmp_path / "resumed", *two_epochs, "--trainer.max_steps=8")  # 4 of the 12 iterations (k = 1)
    ddp_fit(tmp_path / "resumed", *two_epochs, "--ckpt_path=last")
    straight, resumed = (
        torch.load(tmp_path / name / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
        for name in ("straight", "resumed")
    )
    assert resumed["gan_progress"]["iterations"] == 12
    assert_same_training_state(straight, resumed)  # weights, moments, schedulers, both ranks' random streams
    assert resumed["loops"] == straight["loops"]


@pytest.mark.slow
def test_two_processes_stay_identical_under_the_simultaneous_update(tmp_path):
    """model.simultaneous: each player's gradient is averaged across ranks after its own backward pass."""
    root = tmp_path / "ddp"
    ddp_fit(
        root, "--model.simultaneous=true", '--trainer.callbacks+={"class_path": "tests.test_distributed.SaveRankState"}'
    )
    run = root / "version_0"
    rank0, rank1 = (torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, tensor in rank0.items():
        assert torch.equal(tensor, rank1[name]), name
    progress = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["gan_progress"]
    assert progress["iterations"] == progress["d_steps"] == 6  # one D and one G update per batch


class RecordBatches(L.Callback):
    """Each rank writes the labels of every training batch it saw, to check the ranks' shares."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen = getattr(self, "seen", []) + batch[1].tolist()

    def on_train_end(self, trainer, pl_module) -> None:
        torch.save(
            {"labels": self.seen, "state": pl_module.state_dict()},
            Path(trainer.default_root_dir) / f"rank{trainer.global_rank}.pt",
        )


@pytest.mark.slow
@pytest.mark.parametrize("source", ["folder", "streamed"])
def test_a_users_folder_trains_under_ddp_in_two_processes_each_on_its_share(tmp_path, source, digit_png_folder):
    """The image-folder module (a DistributedSampler) and the streamed chunks (LitData's sharding) under DDP: two
    processes, identical weights, and each rank trains on its own batches."""
    from datamodules.prepare import prepare

    if source == "folder":
        data = ["--data.class_path=datamodules.ImageFolderDataModule", f"--data.init_args.root={digit_png_folder}"]
        data += ["--data.init_args.resolution=28", "--data.init_args.labels=folders", "--data.init_args.num_workers=0"]
    else:
        prepare(str(digit_png_folder), str(tmp_path / "chunks"), num_workers=1, resolution=28, labels="folders")
        data = [
            "--data.class_path=datamodules.StreamingImageDataModule",
            f"--data.init_args.input_dir={tmp_path / 'chunks'}",
        ]
        data += ["--data.init_args.num_workers=0"]
    root = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k != "GAN_RUN_DIR"} | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "main.py", "fit", "--config", "configs/quickstart.yaml", *data]
    cmd += ["--config", "configs/trainer/ddp.yaml", "--trainer.accelerator=cpu", "--trainer.devices=2"]
    cmd += ["--trainer.max_epochs=1", "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=0"]
    cmd += ["--data.init_args.batch_size=32", "--trainer.enable_progress_bar=false", "--evaluation.every_n_epochs=0"]
    cmd += ["--sample_grid.every_n_epochs=0", "--interpolation.every_n_epochs=0", f"--trainer.default_root_dir={root}"]
    cmd += ['--trainer.callbacks+={"class_path": "tests.test_distributed.RecordBatches"}']
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(root / "version_0" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), name
    assert len(rank0["labels"]) == len(rank1["labels"]) == 4 * 32
    assert rank0["labels"] != rank1["labels"]  # each rank its own share of the images, not the same batches
