"""A short real-data run: the quickstart's generator gets measurably better at modelling held-out digits."""

from __future__ import annotations

import pytest
import torch

from gan_module import GAN
from gan_module.metrics.parzen import parzen_estimate
from tests.conftest import CONFIGS, offline_digits, run_cli


def parzen_of_checkpoint(path, num_samples: int = 2000) -> float:
    """The 2014 protocol on the quickstart data: sigma chosen on validation digits, scored on test digits."""
    model = GAN.load_from_checkpoint(path, map_location="cpu")
    dm = offline_digits()
    samples = model.generate(model.sample_noise(num_samples, torch.Generator().manual_seed(0)))
    return parzen_estimate(samples, dm.split_images("val"), dm.split_images("test")).mean


@pytest.mark.slow
def test_quickstart_generator_improves_on_held_out_digits(tmp_path):
    common = [
        "--config",
        str(CONFIGS / "quickstart.yaml"),
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
    run_cli(
        "fit",
        *common,
        f"--trainer.default_root_dir={tmp_path}/start",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=1",
    )
    run_cli("fit", *common, f"--trainer.default_root_dir={tmp_path}/trained", "--trainer.max_epochs=8")
    start = parzen_of_checkpoint(tmp_path / "start/version_0/checkpoints/last.ckpt")
    trained = parzen_of_checkpoint(tmp_path / "trained/version_0/checkpoints/last.ckpt")
    print(f"Parzen log-likelihood of test digits: {start:.1f} after 1 step, {trained:.1f} after 8 epochs")
    # One step in, samples are grey noise; after ~500 iterations they are digit-like strokes.
    assert trained > start + 100, (start, trained)
