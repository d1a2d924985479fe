"""The generator's moving average: the arithmetic, the ramp-up, batch norm, and what uses it."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn

from gan_module import GAN, ConfigError
from gan_module.ema import ExponentialMovingAverage
from gan_module.networks import MaxoutDiscriminator, MLPGenerator
from tests.conftest import IndexedDataModule
from tests.test_module import sgd, trainer


def batch_norm_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def take_a_step(net: nn.Module) -> None:
    """Move every weight and the batch-norm statistics, as a G step would."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    net.train()(torch.randn(16, 3))


def test_the_average_after_n_steps_is_the_hand_computed_one():
    net = batch_norm_net()
    ema = ExponentialMovingAverage(decay=0.9)
    ema.attach(net)
    expected = {k: v.clone().double() for k, v in net.state_dict().items()}
    for step in range(5):
        take_a_step(net)
        ema.update(net, kimg=float(step))
        for name, value in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                expected[name] = value.clone().double()  # a counter is copied, not averaged
            else:
                expected[name] = 0.9 * expected[name] + 0.1 * value.double()
    for name, value in ema.average.state_dict().items():
        assert torch.allclose(value.double(), expected[name], atol=1e-6), name
    assert ema.average.state_dict()["1.num_batches_tracked"] == 5
    assert not any(p.requires_grad for p in ema.average.parameters())


def test_batch_norm_copy_takes_the_generators_own_statistics():
    net = batch_norm_net()
    ema = ExponentialMovingAverage(decay=0.9, batch_norm="copy")
    ema.attach(net)
    take_a_step(net)
    ema.update(net, kimg=1.0)
    assert torch.equal(ema.average[1].running_mean, net[1].running_mean)
    assert not torch.equal(ema.average[0].weight, net[0].weight)


def test_spectral_norm_vectors_are_copied_not_averaged():
    net = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 4))
    ema = ExponentialMovingAverage(decay=0.5)
    ema.attach(net)
    net.train()(torch.randn(2, 4))  # a power iteration moves u
    ema.update(net, kimg=1.0)
    u = "parametrizations.weight.0._u"
    assert torch.equal(ema.average.state_dict()[u], net.state_dict()[u])
    assert torch.linalg.vector_norm(ema.average.state_dict()[u]).item() == pytest.approx(1.0, abs=1e-5)


def test_the_ramp_up_grows_the_half_life_linearly_in_images():
    ema = ExponentialMovingAverage(decay=0.999, rampup_kimg=10.0)
    half_life = math.log(0.5) / math.log(0.999)  # 693 steps
    assert ema.decay_at(0.0) == 0.0  # the first step copies G
    assert ema.decay_at(5.0) ** (half_life / 2) == pytest.approx(0.5)  # halfway: half the half-life
    assert ema.decay_at(10.0) == ema.decay_at(50.0) == 0.999
    assert ExponentialMovingAverage(decay=0.999).decay_at(0.0) == 0.999


@pytest.mark.parametrize("kwargs", [{"decay": 1.0}, {"decay": -0.1}, {"rampup_kimg": 0.0}, {"batch_norm": "recompute"}])
def test_bad_settings_are_clear_errors(kwargs):
    with pytest.raises(ConfigError, match=r"model\.ema"):
        ExponentialMovingAverage(**kwargs)


def ema_gan(decay: float = 0.5) -> GAN:
    torch.manual_seed(0)
    return GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8], batch_norm=True),
        discriminator=MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=[8], pieces=2),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        ema=ExponentialMovingAverage(decay=decay),
    )


class GeneratorSnapshots(L.Callback):
    """G's weights after every G step."""

    def __init__(self) -> None:
        self.after_steps: list[list[torch.Tensor]] = []

    def on_train_start(self, trainer, pl_module) -> None:
        snapshot = lambda *_: self.after_steps.append([p.detach().clone() for p in pl_module.generator.parameters()])  # noqa: E731
        trainer.optimizers[1].register_step_post_hook(snapshot)


def test_training_averages_g_after_every_generator_step_and_samples_come_from_the_average():
    model = ema_gan(decay=0.5)
    expected = [p.detach().clone().double() for p in model.generator.parameters()]
    snapshots, seen = GeneratorSnapshots(), []
    model.ema.average.register_forward_pre_hook(lambda m, _: seen.append(m.training))
    trainer(max_steps=6, limit_val_batches=0, callbacks=[snapshots]).fit(model, IndexedDataModule())
    assert len(snapshots.after_steps) == 3
    for weights in snapshots.after_steps:  # by hand: a <- 0.5 a + 0.5 G, from a = G at the start
        expected = [0.5 * a + 0.5 * g.double() for a, g in zip(expected, weights, strict=True)]
    for average, hand in zip(model.ema.average.parameters(), expected, strict=True):
        assert torch.allclose(average.double(), hand, atol=1e-6)
    z = torch.randn(4, 3)
    with torch.no_grad():
        expected_samples = model.ema.average.eval()(z).view(4, 1, 4, 4)
    seen.clear()
    assert torch.equal(model.generate(z), expected_samples) and seen == [False]
    assert model.sampling_generator is model.ema.average and model.generator.training


def test_load_from_checkpoint_restores_the_average(tmp_path):
    model = ema_gan()
    trained = trainer(max_steps=6, limit_val_batches=0, default_root_dir=tmp_path)
    trained.fit(model, IndexedDataModule())
    path = tmp_path / "model.ckpt"
    trained.save_checkpoint(path)
    fresh = ema_gan(decay=0.5)
    fresh.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    for a, b in zip(fresh.ema.average.state_dict().values(), model.ema.average.state_dict().values(), strict=True):
        assert torch.equal(a, b)
