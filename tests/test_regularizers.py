"""Regularizers against closed forms, spectral normalization, and free combination with every loss."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn

from gan_module import GAN, ConfigError
from gan_module.losses import Critique
from gan_module.networks import DCGANDiscriminator, MLPDiscriminator, MLPGenerator
from gan_module.networks.normalization import add_spectral_norm
from gan_module.regularizers import (
    DRAGANPenalty,
    GradientPenalty,
    LipschitzPenalty,
    R1Penalty,
    R2Penalty,
    WeightClipping,
    check_regularizers,
)
from tests.conftest import IndexedDataModule

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (2, 3, 4)  # (C, H, W): norms must run over all three


class Quadratic(nn.Module):
    """D(x) = 0.5 * sum(a * x^2): grad D(x) = a * x, a different norm for every sample."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.linspace(0.5, 2.0, 24).view(SHAPE))

    def forward(self, x):
        return 0.5 * (self.a * x**2).flatten(1).sum(1)


class InputRecorder(nn.Module):
    """D(x) = sum(x), remembering every input it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach())
        return x.flatten(1).sum(1)


def images(n=5, seed=0):
    return torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def test_gradient_penalty_equals_hand_computed_per_sample_value():
    d, x = Quadratic(), images() * torch.linspace(0.05, 0.5, 5).view(5, 1, 1, 1)  # norms on both sides of 1
    # real == fake makes every interpolate x itself, whatever eps is drawn
    critique = Critique(fake_logits=torch.zeros(5), real=x, fake=x.clone())
    norms = (d.a * x).flatten(1).norm(dim=1)  # per sample, over (C, H, W)
    two_sided = GradientPenalty(weight=10.0).penalty(d, critique, 0)
    one_sided = GradientPenalty(weight=10.0, one_sided=True).penalty(d, critique, 0)
    assert two_sided.item() == pytest.approx(10 * ((norms - 1) ** 2).mean().item(), rel=1e-6)
    assert one_sided.item() == pytest.approx(10 * ((norms - 1).clamp_min(0) ** 2).mean().item(), rel=1e-6)
    assert one_sided < two_sided  # some norms are below 1
    # a batch-wide norm (a known bug elsewhere) would give a different number
    assert two_sided.item() != pytest.approx(10 * (norms.norm() - 1).item() ** 2, rel=1e-3)


def test_gradient_penalty_for_a_linear_critic_is_weight_norm_minus_one_squared():
    lin = nn.Linear(24, 1)
    d = nn.Sequential(nn.Flatten(), lin)
    critique = Critique(fake_logits=torch.zeros(5), real=images(), fake=images(seed=1))
    expected = 10 * (lin.weight.norm().item() - 1) ** 2
    assert GradientPenalty(weight=10.0).penalty(d, critique, 0).item() == pytest.approx(expected, rel=1e-6)


def test_interpolation_weight_is_drawn_per_sample():
    recorder = InputRecorder()
    real, fake = torch.zeros(64, *SHAPE), torch.ones(64, *SHAPE)
    GradientPenalty().penalty(recorder, Critique(fake_logits=torch.zeros(64), real=real, fake=fake), 0)
    x_hat = recorder.inputs[0].flatten(1)
    assert torch.allclose(x_hat, x_hat[:, :1].expand_as(x_hat))  # one eps per sample, shared by its pixels
    assert x_hat[:, 0].unique().numel() == 64 and x_hat.min() >= 0 and x_hat.max() <= 1


def test_r1_and_r2_are_half_the_squared_gradient_norm_on_real_and_on_fake():
    d, real, fake = Quadratic(), images(), images(seed=1)
    critique = Critique(fake_logits=torch.zeros(5), real=real, fake=fake)
    r1 = 0.5 * (d.a * real).flatten(1).pow(2).sum(1).mean()
    r2 = 0.5 * (d.a * fake).flatten(1).pow(2).sum(1).mean()
    assert R1Penalty(weight=3.0).penalty(d, critique, 0).item() == pytest.approx(3 * r1.item(), rel=1e-6)
    assert R2Penalty(weight=3.0).penalty(d, critique, 0).item() == pytest.approx(3 * r2.item(), rel=1e-6)


def test_the_loss_sensitive_lipschitz_penalty_is_half_the_squared_gradient_norm_on_real_and_on_fake():
    d, real, fake = Quadratic(), images(), images(seed=1)
    critique = Critique(fake_logits=torch.zeros(5), real=real, fake=fake)
    both = 0.5 * ((d.a * real).flatten(1).pow(2).sum(1).mean() + (d.a * fake).flatten(1).pow(2).sum(1).mean())
    assert LipschitzPenalty(weight=2.0).penalty(d, critique, 0).item() == pytest.approx(2 * both.item(), rel=1e-6)
    flat = nn.Linear(int(torch.tensor(SHAPE).prod()), 1)
    nn.init.zeros_(flat.weight)  # a constant loss function: Lipschitz with constant 0, nothing to penalise
    flat_d = lambda x: flat(x.flatten(1)).squeeze(1)  # noqa: E731
    assert LipschitzPenalty().penalty(flat_d, critique, 0).item() == 0.0


def test_the_shipped_loss_sensitive_recipe_regularises_its_loss_function():
    recipe = yaml.safe_load((ROOT / "configs" / "losses" / "loss_sensitive.yaml").read_text())
    assert [r["class_path"] for r in recipe["model"]["regularizers"]] == ["gan_module.regularizers.LipschitzPenalty"]


def test_penalty_gradient_reaches_the_discriminator_weights():
    d, x = Quadratic(), images()
    term = R1Penalty(weight=1.0).penalty(d, Critique(fake_logits=torch.zeros(5), real=x, fake=x), 0)
    (grad,) = torch.autograd.grad(term, d.a)
    # d/da of 0.5 * mean ||a x||^2 = mean a x^2
    assert torch.allclose(grad, (d.a * x**2).mean(0), rtol=1e-5)


def test_dragan_perturbs_only_the_real_data():
    recorder = InputRecorder()
    real = images(200)
    critique = Critique(fake_logits=torch.zeros(200), real=real, fake=torch.full_like(real, 100.0))
    DRAGANPenalty(c=0.5).penalty(recorder, critique, 0)
    offset = recorder.inputs[0] - real
    assert offset.min() >= 0 and offset.max() <= 0.5 * real.std() + 1e-6  # within c * std(x) of the data


def test_lazy_interval_applies_every_n_steps_scaled_by_n():
    d, x = Quadratic(), images()
    critique = Critique(fake_logits=torch.zeros(5), real=x, fake=x)
    eager = R1Penalty(weight=1.0).penalty(d, critique, 0)
    lazy = R1Penalty(weight=1.0, every=4)
    assert [lazy.penalty(d, critique, s) is None for s in range(5)] == [False, True, True, True, False]
    assert lazy.penalty(d, critique, 8).item() == pytest.approx(4 * eager.item())


def test_weight_clipping_clamps_every_discriminator_weight():
    d = MLPDiscriminator(image_shape=SHAPE, hidden_dims=[8])
    WeightClipping(clip=0.01).after_step(d)
    assert max(p.abs().max().item() for p in d.parameters()) <= 0.01


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GradientPenalty(weight=-1.0), "weight must be >= 0"),
        (lambda: R1Penalty(every=0), "every"),
        (lambda: WeightClipping(clip=0.0), "clip"),
        (lambda: check_regularizers([WeightClipping(), GradientPenalty()]), "with_gradient_penalty"),
    ],
)
def test_bad_regularizer_settings_are_clear_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_clipping_with_a_penalty_is_allowed_when_said_so():
    check_regularizers([WeightClipping(with_gradient_penalty=True), GradientPenalty()])


def test_spectral_norm_makes_every_weight_have_unit_largest_singular_value():
    d = add_spectral_norm(DCGANDiscriminator(image_shape=(1, 28, 28), base_channels=8, batch_norm=False))
    d.train()
    with torch.no_grad():
        for _ in range(30):  # one power iteration per training forward
            d(torch.randn(4, 1, 28, 28))
    weights = [m.weight for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(weights) == 3
    for w in weights:
        sigma = torch.linalg.matrix_norm(w.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.02)


def test_spectral_norm_switch_on_the_module():
    model = GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8]),
        discriminator=MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=[8]),
        generator_optimizer=torch.optim.Adam,
        discriminator_optimizer=torch.optim.Adam,
        discriminator_spectral_norm=True,
    )
    assert any("parametrizations" in n for n, _ in model.discriminator.named_parameters())
    assert not any("parametrizations" in n for n, _ in model.generator.named_parameters())


def test_batch_norm_switch_in_the_discriminator():
    with_bn = DCGANDiscriminator(base_channels=8, batch_norm=True)
    without = DCGANDiscriminator(base_channels=8, batch_norm=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without.modules())


def all_losses():
    import gan_module.losses as losses

    for name in losses.__all__:
        cls = getattr(losses, name)
        if isinstance(cls, type) and issubclass(cls, losses.GANLoss) and cls is not losses.GANLoss:
            if cls is losses.FGANLoss:
                from gan_module.losses.fgan import DIVERGENCES

                yield from (losses.FGANLoss(divergence=d) for d in DIVERGENCES)
            else:
                yield cls()


@pytest.mark.parametrize("loss", list(all_losses()), ids=repr)
@pytest.mark.parametrize(
    ("regularizer", "spectral_norm"),
    [(None, False), (GradientPenalty(weight=1.0), True), (R1Penalty(weight=1.0, every=2), False)],
    ids=["plain", "gp+sn", "lazy-r1"],
)
def test_every_loss_combines_with_regularizers_and_spectral_norm(loss, regularizer, spectral_norm):
    model = GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8]),
        discriminator=MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=[8]),
        generator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        discriminator_optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        loss=loss,
        regularizers=[regularizer] if regularizer else None,
        discriminator_spectral_norm=spectral_norm,
        k=2,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=6,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, IndexedDataModule(num_items=32, batch_size=4))
    assert model.iterations == 2
    shown = model.step_log.bar  # the progress bar's numbers: this step's losses
    assert torch.isfinite(shown["loss_d"]) and torch.isfinite(shown["loss_g"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
