"""Latent interpolation: the paths' geometry, and strips through the real callback (callbacks/interpolation.py)."""

import pytest
import torch

from callbacks.interpolation import LatentInterpolation, lerp, slerp
from gan_module import ConfigError


def test_lerp_and_slerp_hit_the_endpoints():
    a, b = torch.randn(16), torch.randn(16)
    t = torch.linspace(0, 1, 5)
    for walk in (lerp, slerp):
        path = walk(a, b, t)
        assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 1.0])
    mid = torch.tensor([0.5])
    assert torch.allclose(slerp(a, b, mid).norm(), torch.tensor(1.0))
    assert torch.allclose(lerp(a, b, mid).norm(), torch.tensor(0.5**0.5))
    # the slerp midpoint is at 45 degrees
    assert torch.allclose(slerp(a, b, mid)[0], torch.tensor([2**-0.5, 2**-0.5]))


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = torch.tensor([1.0, 1.0])
    assert torch.allclose(slerp(a, 2 * a, torch.tensor([0.5])), torch.tensor([[1.5, 1.5]]))


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown modes"):
        LatentInterpolation(modes=["cubic"])
    with pytest.raises(ConfigError, match="steps >= 2"):
        LatentInterpolation(steps=1)


class _Prior:
    latent_dim, num_classes, device = 3, 0, "cpu"

    def sample_noise(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)


def test_path_noise_is_fixed_and_each_strip_joins_one_pair():
    callback = LatentInterpolation(num_pairs=2, steps=4, seed=7)
    module = _Prior()
    noise = callback.path_noise(module, "linear")
    assert noise.shape == (8, 3)
    assert torch.equal(noise, callback.path_noise(module, "linear"))  # same pairs every time
    ends = module.sample_noise(4, torch.Generator().manual_seed(7))
    assert torch.allclose(noise[0], ends[0]) and torch.allclose(noise[3], ends[1])
    assert torch.allclose(noise[4], ends[2]) and torch.allclose(noise[7], ends[3])
