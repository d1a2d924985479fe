"""callbacks/prediction_writer.py: ``predict`` saves its samples (tensor file and PNG grid) in <run>/predict/."""

from __future__ import annotations

import torch
from PIL import Image

from tests.conftest import run_cli
from tests.test_cli import QUICKSTART, SMALL


def test_predict_writes_the_samples_and_a_grid_into_the_run_s_predict_folder(tmp_path):
    run_cli("fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1", f"--trainer.default_root_dir={tmp_path}")
    run = tmp_path / "version_0"
    run_cli(
        "predict",
        "--config",
        QUICKSTART,
        *SMALL,
        "--trainer.limit_predict_batches=3",
        f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        "--prediction_writer.grid_size=16",
        "--prediction_writer.nrow=4",
    )
    saved = torch.load(run / "predict" / "samples.pt", weights_only=True)
    assert saved["samples"].shape == (48, 1, 28, 28)  # 3 batches of 16, one sample per test image
    assert saved["iterations"] == 3
    assert saved["samples"].min() >= 0.0 and saved["samples"].max() <= 1.0  # sigmoid output, the data's range
    grid = Image.open(run / "predict" / "samples.png")
    assert grid.size == (4 * 30 + 2, 4 * 30 + 2)  # 4 x 4 digits of 28 px with torchvision's 2 px padding
