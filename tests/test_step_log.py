"""gan_module/run/step_log.py: training-step numbers reach the loggers on exactly the steps Lightning logs, once each,
with the right values, without ``self.log``; the training clock carries over a resume."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from gan_module import GAN
from gan_module.networks import MLPDiscriminator, MLPGenerator
from gan_module.run.step_log import StepLog, _as_floats, is_logging_step
from tests.conftest import IndexedDataModule


def small_gan() -> GAN:
    return GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8]),
        discriminator=MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=[8]),
        generator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        discriminator_optimizer=lambda p: torch.optim.SGD(p, lr=1e-3),
    )


def fit(model: GAN, folder, steps: int, every: int = 5, ckpt_path=None) -> L.Trainer:
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=CSVLogger(folder, name="", version=""),
        log_every_n_steps=every,
        callbacks=[LearningRateMonitor(logging_interval="step")],  # logs by Lightning's own rule
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(model, IndexedDataModule(num_items=40, batch_size=4), ckpt_path=ckpt_path)  # 10 batches an epoch
    return trainer


def rows(folder) -> list[dict[str, str]]:
    with open(folder / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_the_module_logs_on_lightnings_own_logging_steps_with_this_steps_numbers(tmp_path):
    model = small_gan()
    fit(model, tmp_path, steps=2 * 23)  # 23 iterations of one D and one G step, across two epoch ends
    logged = rows(tmp_path)
    ours = [row for row in logged if row.get("loss_d")]
    lightnings = [row for row in logged if row.get("lr-Adam")]
    assert [row["step"] for row in ours] == [row["step"] for row in lightnings] == ["4", "9", "14", "19"]
    for row in ours:
        # the numbers of the batch the row is for: iteration step + 1, images 4 per batch, epochs of 10 batches
        step = int(row["step"])
        assert float(row["progress/iterations"]) == step + 1
        assert float(row["progress/kimg"]) == pytest.approx((step + 1) * 4 / 1000)
        assert int(row["epoch"]) == step // 10
        assert {"loss_g", "diag/grad_norm_d", "diag/grad_norm_g", "diag/spread_ratio"} <= {
            k for k, v in row.items() if v
        }
    seconds = [float(row["progress/seconds"]) for row in ours]
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert model.step_log.values == {}  # nothing left over for the next step


def test_the_training_clock_carries_over_a_resume(tmp_path):
    model = small_gan()
    trainer = fit(model, tmp_path / "a", steps=20)
    first = model.training_seconds()
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    resumed = small_gan()
    fit(resumed, tmp_path / "b", steps=40, ckpt_path=tmp_path / "a.ckpt")
    logged = [float(row["progress/seconds"]) for row in rows(tmp_path / "b") if row.get("progress/seconds")]
    assert logged and min(logged) >= first  # counted on from the checkpoint, not from zero
    assert resumed.training_seconds() > first


def test_nothing_is_logged_without_loggers_or_with_logging_off(tmp_path):
    assert is_logging_step(None)  # a module used by hand: every step is its own
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    assert not is_logging_step(trainer)
    trainer = L.Trainer(logger=CSVLogger(tmp_path), log_every_n_steps=0, enable_progress_bar=False)
    assert not is_logging_step(trainer)


def test_tensors_and_floats_become_floats_in_one_read():
    values = {"a": torch.tensor(1.5), "b": 2, "c": torch.tensor([[3.0]], dtype=torch.float64), "d": torch.tensor(4)}
    assert _as_floats(values) == {"a": 1.5, "b": 2.0, "c": 3.0, "d": 4.0}
    log = StepLog()
    log.add({"x": torch.tensor(1.0)})
    log.add({"y": 2.0})
    assert log.values == {"x": torch.tensor(1.0), "y": 2.0}
