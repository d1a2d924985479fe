"""The adversarial losses against hand-computed values, at ordinary and extreme outputs, and the direction
of one D step and one G step on a 1-D problem."""

import importlib
import math

import pytest
import torch
from torch import nn

from gan_module.errors import ConfigError
from gan_module.losses import (
    Critique,
    FGANLoss,
    GANLoss,
    HingeLoss,
    LeastSquaresLoss,
    LossSensitiveLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    RelativisticAverageHingeLoss,
    RelativisticAverageLoss,
    RelativisticAverageLSLoss,
    RelativisticLoss,
    WassersteinLoss,
)
from gan_module.losses.fgan import DIVERGENCES


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


REAL, FAKE = [2.0, -1.0, 0.5], [-3.0, 0.0, 1.5]


def critique(real=REAL, fake=FAKE, requires_grad=False) -> Critique:
    r = torch.tensor(real, dtype=torch.float64, requires_grad=requires_grad)
    f = torch.tensor(fake, dtype=torch.float64, requires_grad=requires_grad)
    return Critique(real_logits=r, fake_logits=f)


def test_minimax_discriminator_loss_is_negative_value_function():
    # D maximises V = E log D(x) + E log(1 - D(G(z))); its loss is -V.
    expected = -sum(math.log(sigmoid(v)) for v in REAL) / 3 - sum(math.log(1 - sigmoid(v)) for v in FAKE) / 3
    assert MinimaxLoss().discriminator_loss(critique()).item() == pytest.approx(expected, rel=1e-12)


def test_minimax_generator_minimises_log_one_minus_d():
    expected = sum(math.log(1 - sigmoid(v)) for v in FAKE) / 3
    assert MinimaxLoss().generator_loss(critique()).item() == pytest.approx(expected, rel=1e-12)


def test_non_saturating_generator_maximises_log_d():
    expected = -sum(math.log(sigmoid(v)) for v in FAKE) / 3
    assert NonSaturatingLoss().generator_loss(critique()).item() == pytest.approx(expected, rel=1e-12)
    # same discriminator as the minimax game
    assert NonSaturatingLoss().discriminator_loss(critique()).item() == pytest.approx(
        MinimaxLoss().discriminator_loss(critique()).item()
    )


@pytest.mark.parametrize("loss", [MinimaxLoss(), NonSaturatingLoss()], ids=repr)
def test_extreme_logits_give_finite_losses_and_gradients(loss):
    c = critique(real=[1e4, -1e4, 100.0], fake=[-1e4, 1e4, -100.0], requires_grad=True)
    for value in (loss.discriminator_loss(c), loss.generator_loss(c)):
        assert torch.isfinite(value)
        grads = torch.autograd.grad(value, [c.real_logits, c.fake_logits], allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)
    # a badly fooled D (real at -1e4, fake at +1e4) costs about 1e4 per sample, not inf
    assert loss.discriminator_loss(c).item() == pytest.approx((1e4 + 1e4) / 3, rel=1e-6)


def test_saturating_loss_saturates_where_non_saturating_does_not():
    # Section 3 of the paper: early on D rejects samples confidently (logit -10) and log(1 - D(G(z)))
    # has almost no gradient; log D(G(z)) still has a strong one.
    fake = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(MinimaxLoss().generator_loss(Critique(fake_logits=fake)), fake)
    (g_ns,) = torch.autograd.grad(NonSaturatingLoss().generator_loss(Critique(fake_logits=fake)), fake)
    assert abs(g_mm.item()) < 1e-4
    assert abs(g_ns.item()) > 0.99


# ---------------------------------------------------------------------------------------------------------------
# The package: every loss of the selection framework, by the class path users write in YAML.

RELATIVISTIC = [
    RelativisticLoss(),
    RelativisticAverageLoss(),
    RelativisticAverageLSLoss(),
    RelativisticAverageHingeLoss(),
]
ALL_LOSSES = [
    MinimaxLoss(),
    NonSaturatingLoss(),
    LeastSquaresLoss(),
    LeastSquaresLoss(a=-1.0, b=1.0, c=0.0),
    HingeLoss(),
    WassersteinLoss(),
    *RELATIVISTIC,
    *[FGANLoss(d, objective) for d in DIVERGENCES for objective in ("practical", "minimax")],
    LossSensitiveLoss(),
    LossSensitiveLoss(lam=0.5, distance="l2"),
]

# samples behind REAL and FAKE, for the loss-sensitive margin: 3 images of 2 pixels each
REAL_X = [[0.5, -0.5], [1.0, 0.0], [-1.0, 0.25]]
FAKE_X = [[0.0, 0.5], [1.0, 1.0], [0.0, -0.75]]


def with_samples(c: Critique, real_x=REAL_X, fake_x=FAKE_X) -> Critique:
    c.real = torch.tensor(real_x, dtype=torch.float64)
    c.fake = torch.tensor(fake_x, dtype=torch.float64)
    return c


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_every_loss_resolves_from_its_yaml_class_path():
    package = importlib.import_module("gan_module.losses")
    for name in package.__all__:
        assert getattr(package, name).__module__.startswith("gan_module.losses")
    for loss in ALL_LOSSES:
        assert isinstance(loss, GANLoss)
        assert getattr(package, type(loss).__name__) is type(loss)


def test_flags():
    for loss in ALL_LOSSES:
        assert loss.generator_needs_real == (loss in RELATIVISTIC)
    assert MinimaxLoss.probabilistic and NonSaturatingLoss.probabilistic
    for cls in (LeastSquaresLoss, HingeLoss, WassersteinLoss, LossSensitiveLoss, RelativisticLoss):
        assert not cls.probabilistic
    # f-GAN: v is a logit of P(real) exactly for the GAN and JS divergences (optimal v = log p/q)
    assert {d for d in DIVERGENCES if FGANLoss(d).probabilistic} == {"gan", "jensen_shannon"}


# --------------------------------------------------------------------------- values computed by hand


def test_least_squares_by_hand():
    # Mao et al. eq. 2 on raw outputs: D 0.5 E (D(x) - b)^2 + 0.5 E (D(G(z)) - a)^2, G 0.5 E (D(G(z)) - c)^2
    for a, b, c in [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)]:
        loss = LeastSquaresLoss(a=a, b=b, c=c)
        d = 0.5 * mean((r - b) ** 2 for r in REAL) + 0.5 * mean((f - a) ** 2 for f in FAKE)
        g = 0.5 * mean((f - c) ** 2 for f in FAKE)
        assert loss.discriminator_loss(critique()).item() == pytest.approx(d, rel=1e-12)
        assert loss.generator_loss(critique()).item() == pytest.approx(g, rel=1e-12)


def test_hinge_by_hand():
    d = mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE)
    assert HingeLoss().discriminator_loss(critique()).item() == pytest.approx(d, rel=1e-12)
    assert HingeLoss().generator_loss(critique()).item() == pytest.approx(-mean(FAKE), rel=1e-12)


def test_wasserstein_by_hand():
    assert WassersteinLoss().discriminator_loss(critique()).item() == pytest.approx(mean(FAKE) - mean(REAL))
    assert WassersteinLoss().generator_loss(critique()).item() == pytest.approx(-mean(FAKE))


def test_relativistic_by_hand():
    # RSGAN: pairs (x_r, x_f) index by index
    d = -mean(math.log(sigmoid(r - f)) for r, f in zip(REAL, FAKE, strict=True))
    g = -mean(math.log(sigmoid(f - r)) for r, f in zip(REAL, FAKE, strict=True))
    assert RelativisticLoss().discriminator_loss(critique()).item() == pytest.approx(d, rel=1e-12)
    assert RelativisticLoss().generator_loss(critique()).item() == pytest.approx(g, rel=1e-12)

    mr, mf = mean(REAL), mean(FAKE)
    cases = {
        RelativisticAverageLoss: (
            -mean(math.log(sigmoid(r - mf)) for r in REAL) - mean(math.log(1 - sigmoid(f - mr)) for f in FAKE),
            -mean(math.log(sigmoid(f - mr)) for f in FAKE) - mean(math.log(1 - sigmoid(r - mf)) for r in REAL),
        ),
        RelativisticAverageLSLoss: (
            mean((r - mf - 1) ** 2 for r in REAL) + mean((f - mr + 1) ** 2 for f in FAKE),
            mean((f - mr - 1) ** 2 for f in FAKE) + mean((r - mf + 1) ** 2 for r in REAL),
        ),
        RelativisticAverageHingeLoss: (
            mean(max(0.0, 1 - (r - mf)) for r in REAL) + mean(max(0.0, 1 + (f - mr)) for f in FAKE),
            mean(max(0.0, 1 - (f - mr)) for f in FAKE) + mean(max(0.0, 1 + (r - mf)) for r in REAL),
        ),
    }
    for cls, (d, g) in cases.items():
        assert cls().discriminator_loss(critique()).item() == pytest.approx(d, rel=1e-12), cls
        assert cls().generator_loss(critique()).item() == pytest.approx(g, rel=1e-12), cls


@pytest.mark.parametrize("loss", RELATIVISTIC, ids=repr)
def test_relativistic_generator_reads_real_outputs(loss):
    assert loss.generator_needs_real
    before = loss.generator_loss(critique()).item()
    after = loss.generator_loss(critique(real=[r + 0.7 for r in REAL])).item()
    assert after != pytest.approx(before)


def test_loss_sensitive_by_hand():
    l1 = [mean(abs(a - b) for a, b in zip(xr, xf, strict=True)) for xr, xf in zip(REAL_X, FAKE_X, strict=True)]
    l2 = [mean((a - b) ** 2 for a, b in zip(xr, xf, strict=True)) for xr, xf in zip(REAL_X, FAKE_X, strict=True)]
    for lam, distance, delta in [(1.0, "l1", l1), (0.5, "l2", l2), (3.0, "l1", l1)]:
        loss = LossSensitiveLoss(lam=lam, distance=distance)
        hinge = mean(max(0.0, dl + r - f) for dl, r, f in zip(delta, REAL, FAKE, strict=True))
        d = mean(REAL) + lam * hinge
        assert loss.discriminator_loss(with_samples(critique())).item() == pytest.approx(d, rel=1e-12)
        assert loss.generator_loss(critique()).item() == pytest.approx(mean(FAKE), rel=1e-12)
    # the margin is per sample, normalised per pixel: images of any shape
    real, fake = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert LossSensitiveLoss().margin(real, fake).tolist() == [0.5, 0.5]
    assert LossSensitiveLoss(distance="l2").margin(real, fake).tolist() == [0.25, 0.25]


def test_bad_settings_raise_config_error():
    with pytest.raises(ConfigError, match=r"chi2.*choose one of.*gan.*jensen_shannon.*kl"):
        FGANLoss("chi2")
    with pytest.raises(ConfigError, match=r"choose one of.*practical.*minimax"):
        FGANLoss("kl", generator_objective="saturating")
    with pytest.raises(ConfigError, match=r"choose one of.*l1.*l2"):
        LossSensitiveLoss(distance="linf")
    for lam in (-0.1, float("nan")):
        with pytest.raises(ConfigError, match="lam >= 0"):
            LossSensitiveLoss(lam=lam)


# --------------------------------------------------------------------------- extreme outputs


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_every_loss_is_finite_at_extreme_outputs(loss):
    extremes = [1e4, -1e4, 100.0, -100.0, 50.0, -50.0]
    for real, fake in [(extremes, extremes[::-1]), (extremes, extremes), ([-1e4] * 6, [1e4] * 6)]:
        c = critique(real=real, fake=fake, requires_grad=True)
        with_samples(c, real_x=[[1e4, -1.0]] * 6, fake_x=[[-1e4, 1.0]] * 6)
        for value in (loss.discriminator_loss(c), loss.generator_loss(c)):
            assert torch.isfinite(value), (real, fake)
            grads = torch.autograd.grad(value, [c.real_logits, c.fake_logits], allow_unused=True)
            assert all(g is None or torch.isfinite(g).all() for g in grads), (real, fake)
    # the same in float32, what training runs in
    c = Critique(
        real_logits=torch.tensor(extremes, requires_grad=True),
        fake_logits=torch.tensor(extremes[::-1], requires_grad=True),
        real=torch.ones(6, 2),
        fake=-torch.ones(6, 2),
    )
    for value in (loss.discriminator_loss(c), loss.generator_loss(c)):
        assert torch.isfinite(value)
        grads = torch.autograd.grad(value, [c.real_logits, c.fake_logits], allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)


# --------------------------------------------------------------------------- direction of the updates


def toy_problem(weight: float):
    """Real ~ N(1, 0.1), fake = N(-1, 0.1) noise + a learnable shift, D = nn.Linear(1, 1) with a given slope."""
    gen = torch.Generator().manual_seed(0)
    real = 1 + 0.1 * torch.randn(256, 1, generator=gen, dtype=torch.float64)
    noise = -1 + 0.1 * torch.randn(256, 1, generator=gen, dtype=torch.float64)
    shift = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    d = nn.Linear(1, 1).double()
    with torch.no_grad():
        d.weight.fill_(weight)
        d.bias.fill_(0.1)
    return real, noise, shift, d


def gap(loss: GANLoss, d: nn.Module, real, fake) -> float:
    """How much better D scores real than fake; for the loss-sensitive GAN low L means real."""
    with torch.no_grad():
        g = d(real).mean() - d(fake).mean()
    return -g.item() if isinstance(loss, LossSensitiveLoss) else g.item()


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_discriminator_step_widens_the_gap(loss):
    real, noise, shift, d = toy_problem(weight=0.1)
    fake = (noise + shift).detach()
    before = gap(loss, d, real, fake)
    c = Critique(real_logits=d(real).squeeze(1), fake_logits=d(fake).squeeze(1), real=real, fake=fake)
    opt = torch.optim.SGD(d.parameters(), lr=1e-2)
    loss.discriminator_loss(c).backward()
    opt.step()
    assert gap(loss, d, real, fake) > before + 1e-4


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_generator_step_narrows_the_gap(loss):
    # a D that already separates: slope +0.5 (real scores high), or -0.5 for L of the loss-sensitive GAN
    real, noise, shift, d = toy_problem(weight=-0.5 if isinstance(loss, LossSensitiveLoss) else 0.5)
    before = gap(loss, d, real, noise + shift)
    fake = noise + shift
    c = Critique(fake_logits=d(fake).squeeze(1), fake=fake)
    if loss.generator_needs_real:
        c.real, c.real_logits = real, d(real).squeeze(1)
    opt = torch.optim.SGD([shift], lr=1e-2)
    loss.generator_loss(c).backward()
    opt.step()
    assert gap(loss, d, real, noise + shift) < before - 1e-4
    assert d.weight.grad is not None  # (the G loss flows through D; the module's toggling freezes D's weights)
