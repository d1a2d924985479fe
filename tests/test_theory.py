"""Theorem 1 of Goodfellow et al. (2014), checked numerically with the project's own loss.

For a fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and the value of the
game there is C(G) = -log 4 + 2 JSD(p_data || p_g).
"""

import math

import pytest
import torch

from gan_module.losses import Critique, MinimaxLoss
from tests.conftest import fit_pointwise_discriminator

P_DATA = torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64)
P_G = torch.tensor([0.25, 0.05, 0.5, 0.2], dtype=torch.float64)


def value(d_logits: torch.Tensor) -> torch.Tensor:
    """V(D, G) = E_pdata log D + E_pg log(1 - D), for D given by one logit per point of the discrete space."""
    # The loss averages over samples; weighting each point by its probability turns that into an expectation.
    log_d = torch.nn.functional.logsigmoid(d_logits)
    log_one_minus_d = torch.nn.functional.logsigmoid(-d_logits)
    return (P_DATA * log_d).sum() + (P_G * log_one_minus_d).sum()


def jsd(p: torch.Tensor, q: torch.Tensor) -> float:
    m = (p + q) / 2
    return float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())


def test_optimal_discriminator_value_is_minus_log4_plus_2jsd():
    d_star = P_DATA / (P_DATA + P_G)
    logits = torch.log(d_star / (1 - d_star))
    assert float(value(logits)) == pytest.approx(-math.log(4) + 2 * jsd(P_DATA, P_G), rel=1e-12)


def test_training_d_with_the_minimax_loss_reaches_d_star():
    # Sample the two distributions, train free logits with MinimaxLoss.discriminator_loss and compare.
    g = torch.Generator().manual_seed(0)
    real_idx = torch.multinomial(P_DATA, 200_000, replacement=True, generator=g)
    fake_idx = torch.multinomial(P_G, 200_000, replacement=True, generator=g)
    loss_fn = MinimaxLoss()
    logits = fit_pointwise_discriminator(loss_fn, real_idx, fake_idx, num_points=4)
    learned = torch.sigmoid(logits)
    d_star = P_DATA / (P_DATA + P_G)
    assert torch.allclose(learned, d_star, atol=0.01)
    # and -loss at the optimum is the game's value, -log 4 + 2 JSD, up to sampling error
    value = -loss_fn.discriminator_loss(Critique(real_logits=logits[real_idx], fake_logits=logits[fake_idx]))
    assert value.item() == pytest.approx(-math.log(4) + 2 * jsd(P_DATA, P_G), abs=0.01)


def test_value_is_minus_log4_when_generator_matches_data():
    assert float(value(torch.zeros(4, dtype=torch.float64))) == pytest.approx(-math.log(4), rel=1e-12)
    assert jsd(P_DATA, P_DATA) == pytest.approx(0.0, abs=1e-12)
