"""Loggers: a W&B offline run holds the metrics, the images and the full config, and a resume continues the same
W&B run; TensorBoard gets the same scalars and images (configs/logger/, gan_module/cli.py, callbacks/images.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import CONFIGS, run_cli
from tests.test_cli import QUICKSTART, SMALL


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """W&B in offline mode, with every file it writes outside the run folder kept in tmp_path."""
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home" / name.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def fit(root: Path, *extra: str, finish: bool = True) -> None:
    run_cli(
        "fit",
        "--config",
        QUICKSTART,
        "--config",
        str(CONFIGS / "logger/wandb.yaml"),
        *SMALL,
        f"--trainer.default_root_dir={root}",
        *extra,
    )
    if finish:
        import wandb

        wandb.finish()  # what the end of the process does for a command-line run: flush and close the run


def offline_runs(run: Path) -> list[Path]:
    return sorted((run / "wandb").glob("offline-run-*"))


def written_records(offline: Path, patience: float = 60.0) -> bytes:
    """The offline run's record log once W&B's service process has written it: on a loaded machine that can come
    a moment after ``wandb.finish()`` returns (a CI run once read only the file's 7-byte header)."""
    path = next(offline.glob("run-*.wandb"))
    deadline = time.monotonic() + patience
    while len(records := path.read_bytes()) < 1000 and time.monotonic() < deadline:
        time.sleep(0.5)
    return records


def test_wandb_offline_run_holds_metrics_images_and_the_full_config(tmp_path, offline_wandb):
    import wandb

    fit(tmp_path / "runs", "--trainer.max_epochs=1", finish=False)
    run = tmp_path / "runs" / "version_0"
    try:
        assert wandb.run.name == str(run)  # named after its run folder (not the CSV logger's "lightning_logs")
    finally:
        wandb.finish()
    (offline,) = offline_runs(run)
    run_id = (run / "wandb_id").read_text().strip()
    assert offline.name.endswith(f"-{run_id}")
    # the offline .wandb file is a log of protobuf records: keys and config values appear as plain strings
    records = written_records(offline)
    for key in (b"loss_d", b"loss_g", b"progress/iterations", b"diag/grad_norm_d", b"lr-Adam"):
        assert key in records, key
    for config_value in (b"gan_module.losses.NonSaturatingLoss", b"datamodules.MlxtendMNISTDataModule"):
        assert config_value in records, config_value  # the full resolved config, not only the hyperparameters
    images = {p.name.rsplit("_", 2)[0] for p in (offline / "files" / "media" / "images").glob("*.png")}
    assert {"samples", "interpolation_linear", "interpolation_spherical"} <= images


def test_resuming_continues_the_same_wandb_run(tmp_path, offline_wandb):
    fit(tmp_path / "runs", "--trainer.max_epochs=1")
    time.sleep(1.1)  # W&B names offline sessions by the second: two in one second would share a folder
    fit(tmp_path / "runs", "--trainer.max_epochs=2", "--ckpt_path=last")
    run = tmp_path / "runs" / "version_0"
    run_id = (run / "wandb_id").read_text().strip()
    runs = offline_runs(run)
    assert len(runs) == 2 and all(r.name.endswith(f"-{run_id}") for r in runs)
    assert not (tmp_path / "runs" / "version_1").exists()


def test_tensorboard_gets_the_scalars_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_cli(
        "fit",
        "--config",
        QUICKSTART,
        "--config",
        str(CONFIGS / "logger/tensorboard.yaml"),
        *SMALL,
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.max_epochs=1",
    )
    events = EventAccumulator(str(tmp_path / "version_0")).Reload()
    assert {"loss_d", "loss_g", "progress/iterations"} <= set(events.Tags()["scalars"])
    assert {"samples", "interpolation_linear"} <= set(events.Tags()["images"])
