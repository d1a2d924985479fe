"""The training-issue flags (callbacks/diagnostics.py): each condition on made-up histories, then a deliberately
collapsed generator against a healthy one in real short runs on real digits."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from callbacks.diagnostics import TrainingDiagnostics
from gan_module import GAN
from gan_module.losses import NonSaturatingLoss, WassersteinLoss
from gan_module.names import ISSUES
from gan_module.networks import MLPDiscriminator, MLPGenerator
from tests.conftest import offline_digits


def diagnostics_with(series: dict[str, list[float]] | None = None, window: int = 10) -> TrainingDiagnostics:
    """A callback whose history holds healthy numbers, with the given series appended (the newest values)."""
    callback = TrainingDiagnostics(window=window)
    defaults = {"diag/spread_ratio": 1.0, "diag/grad_norm_g": 1.0, "diag/grad_norm_d": 1.0, "diag/d_accuracy": 0.7}
    for key, value in defaults.items():
        callback.history[key].extend([value] * window)
    for key, values in (series or {}).items():
        callback.history[key].extend(values)
    callback.early_grad_g = 1.0
    return callback


def test_healthy_numbers_raise_nothing():
    assert not any(diagnostics_with().conditions().values())


def test_each_condition_fires_on_its_own_signature():
    collapsed = diagnostics_with({"diag/spread_ratio": [0.05] * 10}).conditions()
    assert collapsed["mode_collapse"] and not collapsed["vanishing_gradient"]
    vanished = diagnostics_with({"diag/grad_norm_g": [1e-4] * 10, "diag/d_accuracy": [0.99] * 10}).conditions()
    assert vanished["vanishing_gradient"]
    assert not diagnostics_with({"diag/grad_norm_g": [1e-4] * 10}).conditions()["vanishing_gradient"]  # D unsure
    assert diagnostics_with({"diag/grad_norm_d": [1.0] * 9 + [50.0]}).conditions()["unstable_training"]
    assert diagnostics_with({"diag/grad_norm_g": [1.0] * 5 + [20.0] + [1.0] * 4}).conditions()["unstable_training"]
    assert diagnostics_with({"diag/d_accuracy": [1.0] * 10}).conditions()["non_convergence"]
    assert diagnostics_with({"diag/d_accuracy": [0.0] * 10}).conditions()["non_convergence"]


def test_a_critic_that_ranks_every_real_above_every_fake_is_not_flagged_as_non_converging():
    """A Wasserstein/hinge/LS critic separating the distributions is doing its job; ranking fakes first is not."""
    critic = diagnostics_with({"diag/d_accuracy": [1.0] * 10})
    critic.probabilistic_d = False
    assert not critic.conditions()["non_convergence"]
    fooled = diagnostics_with({"diag/d_accuracy": [0.0] * 10})
    fooled.probabilistic_d = False
    assert fooled.conditions()["non_convergence"]


def test_the_callback_reads_from_the_loss_whether_d_outputs_a_probability():
    for loss, probabilistic in ((NonSaturatingLoss(), True), (WassersteinLoss(), False)):
        callback = TrainingDiagnostics()
        callback.setup(None, SimpleNamespace(loss=loss), "fit")
        assert callback.probabilistic_d is probabilistic


def test_a_condition_must_hold_over_the_whole_window():
    assert not diagnostics_with({"diag/spread_ratio": [0.05] * 9 + [0.5]}).conditions()["mode_collapse"]


class CollapsedGenerator(nn.Module):
    """A generator that ignores its noise: one learned image for every z, the extreme of mode collapse."""

    def __init__(self, latent_dim: int = 8) -> None:
        super().__init__()
        self.latent_dim, self.output_range, self.num_classes = latent_dim, (0.0, 1.0), 0
        self.image = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def forward(self, z):
        return torch.sigmoid(self.image).expand(z.shape[0], -1, -1, -1)


def short_run(generator: nn.Module, folder) -> TrainingDiagnostics:
    diagnostics = TrainingDiagnostics(window=20)
    model = GAN(
        generator=generator,
        discriminator=MLPDiscriminator(hidden_dims=[64]),
        generator_optimizer=lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999)),
        discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999)),
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=60,
        limit_val_batches=0,
        logger=CSVLogger(folder, name="", version=""),
        log_every_n_steps=10,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[diagnostics],
    )
    trainer.fit(model, offline_digits(batch_size=64))
    with open(folder / "metrics.csv", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("issue/mode_collapse")]
    assert len(rows) == 6  # every 10th of 60 steps, each with the four flags
    assert all(row[f"issue/{name}"] in ("0.0", "1.0") for row in rows for name in ISSUES)
    assert model.step_log.bar["issues"] == sum(diagnostics.active.values())  # the progress bar's count
    return diagnostics


@pytest.mark.filterwarnings("ignore:Training issue detected")
def test_a_collapsed_generator_is_flagged_and_a_healthy_one_is_not(tmp_path):
    collapsed = short_run(CollapsedGenerator(), tmp_path / "collapsed")
    assert collapsed.steps_flagged["mode_collapse"] >= 40  # from the first full window on
    healthy = short_run(
        MLPGenerator(latent_dim=8, hidden_dims=[64, 128], batch_norm=True, init_range=None), tmp_path / "healthy"
    )
    assert healthy.steps_flagged["mode_collapse"] == 0
    assert healthy.steps_flagged["vanishing_gradient"] == 0
