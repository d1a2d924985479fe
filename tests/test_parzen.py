"""The Parzen estimator against a direct numpy computation."""

import math

import numpy as np
import pytest
import torch

from gan_module.metrics.parzen import PAPER_SIGMAS, parzen_estimate, parzen_log_likelihood


def numpy_parzen(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    d = x.shape[1]
    out = []
    for row in x:
        a = -((row - mu) ** 2).sum(1) / (2 * sigma**2)
        m = a.max()
        out.append(m + math.log(np.exp(a - m).mean()) - d * math.log(sigma * math.sqrt(2 * math.pi)))
    return np.array(out)


def test_matches_direct_numpy_computation():
    rng = np.random.default_rng(0)
    x, mu = rng.random((37, 20)), rng.random((53, 20))
    for sigma in (0.1, 0.3, 1.0):
        ours = parzen_log_likelihood(torch.from_numpy(x), torch.from_numpy(mu), sigma, batch_size=8).numpy()
        np.testing.assert_allclose(ours, numpy_parzen(x, mu, sigma), rtol=1e-10)


def test_one_centre_is_a_gaussian_density():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    ll = parzen_log_likelihood(x, torch.zeros(1, 2), sigma=0.5)
    expected = [-math.log(2 * math.pi * 0.25), -5 / 0.5 - math.log(2 * math.pi * 0.25)]
    assert ll.tolist() == pytest.approx(expected, rel=1e-12)


def test_protocol_selects_sigma_on_validation_and_reports_standard_error():
    assert PAPER_SIGMAS[0] == pytest.approx(0.1) and PAPER_SIGMAS[-1] == pytest.approx(1.0)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(500, 2, generator=g) * 0.3
    val, test = torch.randn(200, 2, generator=g) * 0.3, torch.randn(300, 2, generator=g) * 0.3
    result = parzen_estimate(centres, val, test)
    assert result.sigma == max(result.val_scores, key=result.val_scores.get)
    ll = parzen_log_likelihood(test, centres, result.sigma)
    assert result.mean == pytest.approx(ll.mean().item())
    assert result.std_error == pytest.approx(ll.std().item() / math.sqrt(300))
