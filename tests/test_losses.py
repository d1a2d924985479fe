"""The adversarial losses against hand-computed values, at ordinary and extreme logits."""

import math

import pytest
import torch

from gan_module.losses import Critique, MinimaxLoss, NonSaturatingLoss


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
