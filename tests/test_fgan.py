"""f-GAN (Nowozin, Cseke & Tomioka 2016): each divergence's loss is the paper's variational bound, which is
tight at T* = f'(p/q) and which a free-parameter T trained on samples drives to the true divergence.

The test's own table is the paper's, written out independently of the implementation: f from Table 1, the
output activation g_f and the conjugate f* from Table 2 in their plain (unstable) forms, f' and the inverse
of g_f derived by hand and checked below against f and f*.
"""

import math

import pytest
import torch

from gan_module.losses import Critique, FGANLoss, MinimaxLoss
from gan_module.losses.fgan import DIVERGENCES
from tests.conftest import fit_pointwise_discriminator

LOG2 = math.log(2.0)


def xlogx(u: float) -> float:
    return u * math.log(u)


# name: (f(u), f'(u), g_f(v), f*(t), g_f^-1(t))
PAPER = {
    "kl": (
        xlogx,
        lambda u: 1 + math.log(u),
        lambda v: v,
        lambda t: math.exp(t - 1),
        lambda t: t,
    ),
    "reverse_kl": (
        lambda u: -math.log(u),
        lambda u: -1 / u,
        lambda v: -math.exp(-v),
        lambda t: -1 - math.log(-t),
        lambda t: -math.log(-t),
    ),
    "pearson": (
        lambda u: (u - 1) ** 2,
        lambda u: 2 * (u - 1),
        lambda v: v,
        lambda t: t * t / 4 + t,
        lambda t: t,
    ),
    "squared_hellinger": (
        lambda u: (math.sqrt(u) - 1) ** 2,
        lambda u: 1 - 1 / math.sqrt(u),
        lambda v: 1 - math.exp(-v),
        lambda t: t / (1 - t),
        lambda t: -math.log(1 - t),
    ),
    "jensen_shannon": (  # Table 1's f: its D_f is 2 JSD (at most log 4), not the table's "1/2 ∫ ..." JSD
        lambda u: -(u + 1) * math.log((1 + u) / 2) + xlogx(u),
        lambda u: math.log(2 * u / (u + 1)),
        lambda v: LOG2 - math.log(1 + math.exp(-v)),
        lambda t: -math.log(2 - math.exp(t)),
        lambda t: -math.log(2 * math.exp(-t) - 1),
    ),
    "gan": (
        lambda u: xlogx(u) - (u + 1) * math.log(u + 1),
        lambda u: math.log(u / (u + 1)),
        lambda v: -math.log(1 + math.exp(-v)),
        lambda t: -math.log(1 - math.exp(t)),
        lambda t: -math.log(math.exp(-t) - 1),
    ),
}
NAMES = sorted(PAPER)
P1, Q1 = [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]
P2, Q2 = [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]
REAL, FAKE = [2.0, -1.0, 0.5], [-3.0, 0.0, 1.5]


def divergence(name: str, p: list[float], q: list[float]) -> float:
    """D_f(P || Q) = sum_x q(x) f(p(x) / q(x))."""
    f = PAPER[name][0]
    return sum(qi * f(pi / qi) for pi, qi in zip(p, q, strict=True))


def bound(loss: FGANLoss, v: list[float], p: list[float], q: list[float]) -> float:
    """F = E_P[g_f(v)] - E_Q[f*(g_f(v))] for a T with raw value v[i] at point i, from the loss's own code.

    The D loss of a one-sample batch (real at point i, fake at point j) is f*(g_f(v_j)) - g_f(v_i); weighting
    it by p_i q_j and summing gives -F exactly.
    """
    vs = torch.tensor(v, dtype=torch.float64)
    total = 0.0
    for i, pi in enumerate(p):
        for j, qj in enumerate(q):
            c = Critique(real_logits=vs[i : i + 1], fake_logits=vs[j : j + 1])
            total += pi * qj * loss.discriminator_loss(c).item()
    return -total


def test_every_divergence_is_implemented_and_tested():
    assert sorted(DIVERGENCES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_test_table_is_consistent(name):
    f, df, g, conj, g_inv = PAPER[name]
    # f(1) = 0 makes D_f(P || P) = 0; the GAN's f is shifted by -log 4 (its D_f is 2 JSD - log 4)
    assert f(1.0) == pytest.approx(-math.log(4) if name == "gan" else 0.0, abs=1e-15)
    for u in (0.2, 0.9, 1.0, 1.7, 4.0):
        h = 1e-6
        assert df(u) == pytest.approx((f(u + h) - f(u - h)) / (2 * h), rel=1e-6, abs=1e-8)
        # Fenchel-Young equality at t = f'(u): f*(t) = u t - f(u), i.e. Table 2's f* is the conjugate of Table 1's f
        t = df(u)
        assert conj(t) == pytest.approx(u * t - f(u), rel=1e-12, abs=1e-12)
        assert g(g_inv(t)) == pytest.approx(t, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_losses_by_hand(name):
    _, _, g, conj, _ = PAPER[name]
    c = Critique(
        real_logits=torch.tensor(REAL, dtype=torch.float64), fake_logits=torch.tensor(FAKE, dtype=torch.float64)
    )
    d = sum(conj(g(v)) for v in FAKE) / 3 - sum(g(v) for v in REAL) / 3
    practical = -sum(g(v) for v in FAKE) / 3
    minimax = -sum(conj(g(v)) for v in FAKE) / 3
    assert FGANLoss(name).discriminator_loss(c).item() == pytest.approx(d, rel=1e-12)
    assert FGANLoss(name).generator_loss(c).item() == pytest.approx(practical, rel=1e-12)
    assert FGANLoss(name, "minimax").generator_loss(c).item() == pytest.approx(minimax, rel=1e-12)


def test_gan_divergence_is_the_2014_game():
    c = Critique(
        real_logits=torch.tensor(REAL, dtype=torch.float64), fake_logits=torch.tensor(FAKE, dtype=torch.float64)
    )
    minimax = MinimaxLoss().discriminator_loss(c).item()
    assert FGANLoss("gan").discriminator_loss(c).item() == pytest.approx(minimax, rel=1e-12)
    assert FGANLoss("jensen_shannon").discriminator_loss(c).item() == pytest.approx(minimax - 2 * LOG2, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("p", "q"), [(P1, Q1), (P2, Q2), (Q1, P1)])
def test_bound_is_tight_at_the_optimal_variational_function(name, p, q):
    _, df, _, _, g_inv = PAPER[name]
    v_star = [g_inv(df(pi / qi)) for pi, qi in zip(p, q, strict=True)]  # g_f(v*) = T* = f'(p/q)
    loss = FGANLoss(name)
    true = divergence(name, p, q)
    assert true > PAPER[name][0](1.0) + 0.01  # P != Q: strictly above D_f(P || P) = f(1)
    assert bound(loss, v_star, p, q) == pytest.approx(true, abs=1e-9)
    # and it is a lower bound: any other T gives less
    for k in range(4):
        for step in (-0.3, 0.3):
            v = list(v_star)
            v[k] += step
            assert bound(loss, v, p, q) < true


@pytest.fixture
def one_thread():
    """Ops on 100k elements are as fast on one thread, and do not stall while another process holds a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", NAMES)
def test_training_t_on_samples_estimates_the_divergence(name, one_thread):
    gen = torch.Generator().manual_seed(0)
    n = 100_000
    x_p = torch.multinomial(torch.tensor(P2, dtype=torch.float64), n, replacement=True, generator=gen)
    x_q = torch.multinomial(torch.tensor(Q2, dtype=torch.float64), n, replacement=True, generator=gen)
    loss = FGANLoss(name)
    v = fit_pointwise_discriminator(loss, x_p, x_q, num_points=4)  # T(x) = g_f(v[x]): one free value per point
    estimate = -loss.discriminator_loss(Critique(real_logits=v[x_p], fake_logits=v[x_q])).item()
    assert estimate == pytest.approx(divergence(name, P2, Q2), abs=0.02)
    # T is free on each point, so the optimum is exactly the divergence of the empirical distributions
    p_hat, q_hat = (torch.bincount(x, minlength=4).double() / n for x in (x_p, x_q))
    assert estimate == pytest.approx(divergence(name, p_hat.tolist(), q_hat.tolist()), abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("objective", ["practical", "minimax"])
def test_extreme_outputs_are_finite(name, objective):
    loss = FGANLoss(name, objective)
    extremes = [1e4, -1e4, 100.0, -100.0, 50.0, -50.0]
    for dtype in (torch.float32, torch.float64):
        for real, fake in [(extremes, extremes[::-1]), (extremes, extremes), ([-1e4] * 6, [1e4] * 6)]:
            c = Critique(
                real_logits=torch.tensor(real, dtype=dtype, requires_grad=True),
                fake_logits=torch.tensor(fake, dtype=dtype, requires_grad=True),
            )
            for value in (loss.discriminator_loss(c), loss.generator_loss(c)):
                assert torch.isfinite(value)
                grads = torch.autograd.grad(value, [c.real_logits, c.fake_logits], allow_unused=True)
                assert all(g is None or torch.isfinite(g).all() for g in grads)
