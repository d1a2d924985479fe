"""Shapes, sizes and behaviour of every network (Mimicry-style per-network tests)."""

import pytest
import torch

from gan_module.networks import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator
from gan_module.networks.layers import Maxout


def test_paper_mnist_generator_size_and_range():
    g = MLPGenerator()  # 100 -> 1200 -> 1200 -> 784
    assert sum(p.numel() for p in g.parameters()) == (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    x = g(torch.randn(7, 100))
    assert x.shape == (7, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert g.output_range == (0.0, 1.0) and g.latent_dim == 100


def test_paper_init_ranges():
    g, d = MLPGenerator(init_range=0.05), MaxoutDiscriminator(init_range=0.005)
    assert max(p.abs().max().item() for n, p in g.named_parameters() if "weight" in n) <= 0.05
    assert max(p.abs().max().item() for n, p in d.named_parameters() if "weight" in n) <= 0.005


def test_paper_mnist_discriminator_size_and_output_shape():
    d = MaxoutDiscriminator()  # maxout 240x5, maxout 240x5, 1
    assert sum(p.numel() for p in d.parameters()) == (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    assert d(torch.rand(7, 1, 28, 28)).shape == (7,)


def test_maxout_is_max_over_pieces():
    layer = Maxout(3, units=2, pieces=4)
    x = torch.randn(5, 3)
    pieces = layer.linear(x).view(5, 2, 4)
    assert torch.equal(layer(x), pieces.max(dim=2).values)


def test_discriminator_dropout_only_in_training():
    d = MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=[16], pieces=2, input_dropout=0.5)
    x = torch.rand(64, 1, 4, 4)
    d.eval()
    assert torch.equal(d(x), d(x))
    d.train()
    assert not torch.equal(d(x), d(x))


def test_tanh_generator_for_minus_one_one_data():
    g = MLPGenerator(image_shape=(3, 8, 8), latent_dim=4, hidden_dims=[16], output="tanh")
    x = g(torch.randn(2, 4) * 100)
    assert x.shape == (2, 3, 8, 8) and g.output_range == (-1.0, 1.0) and x.abs().max() <= 1


def test_unknown_output_activation_is_a_clear_error():
    from gan_module import ConfigError

    with pytest.raises(ConfigError, match=r"relu6.*sigmoid"):
        MLPGenerator(output="relu6")


def test_mlp_discriminator_shape_and_size():
    d = MLPDiscriminator(hidden_dims=[512, 256])
    assert sum(p.numel() for p in d.parameters()) == (784 * 512 + 512) + (512 * 256 + 256) + (256 + 1)
    assert d(torch.rand(3, 1, 28, 28)).shape == (3,)


def test_generator_batch_norm_switch():
    plain, normed = MLPGenerator(hidden_dims=[16]), MLPGenerator(hidden_dims=[16], batch_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in normed.modules()) == 1
    assert normed(torch.randn(4, 100)).shape == (4, 1, 28, 28)
