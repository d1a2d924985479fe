"""Shapes, sizes and behaviour of every network (Mimicry-style per-network tests)."""

import itertools

import pytest
import torch

from gan_module.networks import (
    ConditionalBatchNorm,
    DCGANDiscriminator,
    DCGANGenerator,
    LabelEmbedding,
    MaxoutDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)
from gan_module.networks.layers import (
    OUTPUT_RANGES,
    BinomialBlur,
    Maxout,
    max_col_norm_,
    output_activation,
    sigmoid_bias_from_marginals,
)
from gan_module.networks.normalization import add_spectral_norm


def test_paper_mnist_generator_size_and_range():
    g = MLPGenerator()  # 100 -> 1200 -> 1200 -> 784
    assert sum(p.numel() for p in g.parameters()) == (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    x = g(torch.randn(7, 100))
    assert x.shape == (7, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert g.output_range == (0.0, 1.0) and g.latent_dim == 100


def test_paper_init_ranges():
    g, d = MLPGenerator(init_range=0.05), MaxoutDiscriminator(init_range=0.005)
    # U(-r, r) is drawn in float32, whose nearest value to r may lie just above the float64 r
    assert max(p.abs().max() for n, p in g.named_parameters() if "weight" in n) <= torch.tensor(0.05)
    assert max(p.abs().max() for n, p in d.named_parameters() if "weight" in n) <= torch.tensor(0.005)


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


# --------------------------------------------------------------------------------------------------------------
# Every network x every compatible sample shape x {unconditional, conditional}
# --------------------------------------------------------------------------------------------------------------

IMAGE_SHAPES = [(1, 28, 28), (3, 32, 32), (1, 48, 48)]
POINTS = (2,)
CLASSES = 10


def small_generators():
    """name -> (factory(shape, **kw), shapes it supports); small widths so every test runs in well under a second."""
    return {
        "mlp": (
            lambda s, **kw: MLPGenerator(
                s, latent_dim=8, hidden_dims=[32, 32], output="linear" if s == POINTS else "tanh", **kw
            ),
            [*IMAGE_SHAPES, POINTS],
        ),
        "dcgan": (lambda s, **kw: DCGANGenerator(s, latent_dim=8, base_channels=4, **kw), IMAGE_SHAPES),
        "dcgan_no_bn": (
            lambda s, **kw: DCGANGenerator(s, latent_dim=8, base_channels=4, batch_norm=False, **kw),
            IMAGE_SHAPES,
        ),
        "resnet": (lambda s, **kw: ResNetGenerator(s, latent_dim=8, channels=8, **kw), IMAGE_SHAPES),
    }


def small_discriminators():
    return {
        "maxout": (
            lambda s, **kw: MaxoutDiscriminator(s, hidden_units=[16, 16], pieces=3, **kw),
            [*IMAGE_SHAPES, POINTS],
        ),
        "mlp": (lambda s, **kw: MLPDiscriminator(s, hidden_dims=[32, 16], **kw), [*IMAGE_SHAPES, POINTS]),
        "dcgan": (lambda s, **kw: DCGANDiscriminator(s, base_channels=4, **kw), IMAGE_SHAPES),
        "dcgan_no_bn": (lambda s, **kw: DCGANDiscriminator(s, base_channels=4, batch_norm=False, **kw), IMAGE_SHAPES),
        "resnet": (lambda s, **kw: ResNetDiscriminator(s, channels=8, **kw), IMAGE_SHAPES),
    }


def cases(table):
    return [
        pytest.param(
            name, shape, conditional, id=f"{name}-{'x'.join(map(str, shape))}-{'cond' if conditional else 'uncond'}"
        )
        for name, (_, shapes) in table().items()
        for shape in shapes
        for conditional in (False, True)
    ]


def build(table, name, shape, conditional, **kw):
    factory, _ = table()[name]
    return factory(shape, num_classes=CLASSES, conditional=conditional, **kw)


def labels(n: int) -> torch.Tensor:
    return torch.arange(n) % CLASSES


@pytest.mark.parametrize(("name", "shape", "conditional"), cases(small_generators))
def test_generator_shape_range_and_contract(name, shape, conditional):
    g = build(small_generators, name, shape, conditional)  # tanh, or a linear output for points
    assert g.num_classes == (CLASSES if conditional else 0) and g.latent_dim == 8
    z = torch.randn(6, 8) * 10  # large noise drives bounded outputs to their limits
    x = g(z, labels(6)) if conditional else g(z)
    assert x.shape == (6, *shape) and x.dtype == torch.float32
    if shape != POINTS:
        assert g.output_range == (-1.0, 1.0) and x.abs().max() <= 1
    else:
        assert g.output_range is None
    if not conditional:
        assert torch.equal(g.eval()(z), g(z, None)) and torch.equal(g(z), g(z, labels(6)))  # y is ignored


@pytest.mark.parametrize(("name", "shape", "conditional"), cases(small_discriminators))
def test_discriminator_shape_and_contract(name, shape, conditional):
    d = build(small_discriminators, name, shape, conditional)
    assert d.num_classes == (CLASSES if conditional else 0)
    x = torch.randn(6, *shape)
    out = d(x, labels(6)) if conditional else d(x)
    assert out.shape == (6,) and torch.isfinite(out).all()
    if not conditional:
        d.eval()
        assert torch.equal(d(x), d(x, None)) and torch.equal(d(x), d(x, labels(6)))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules())  # raw outputs: the loss applies it


@pytest.mark.parametrize("output", ["sigmoid", "tanh", "linear"])
def test_output_activations_and_ranges(output):
    assert OUTPUT_RANGES[output] == {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "linear": None}[output]
    g = MLPGenerator((1, 4, 4), latent_dim=3, hidden_dims=[8], output=output, init_range=None)
    x = g(torch.randn(64, 3) * 100)
    if output == "linear":
        assert isinstance(output_activation("linear"), torch.nn.Identity) and x.abs().max() > 1
    else:
        low, high = g.output_range
        assert low <= x.min() and x.max() <= high


@pytest.mark.parametrize("table", [small_generators, small_discriminators], ids=["G", "D"])
def test_every_network_refuses_conditional_without_labelled_data(table):
    from gan_module import ConfigError

    for name, (factory, shapes) in table().items():
        with pytest.raises(ConfigError, match="needs labelled data"):
            factory(shapes[0], num_classes=0, conditional=True)
        assert factory(shapes[0], num_classes=0, conditional=False).num_classes == 0, name


@pytest.mark.parametrize(("name", "shape", "conditional"), [c for c in cases(small_generators) if c.values[2]])
def test_conditional_generator_needs_int64_labels(name, shape, conditional):
    g = build(small_generators, name, shape, conditional)
    with pytest.raises(ValueError, match="is conditional"):
        g(torch.randn(2, 8))
    with pytest.raises(ValueError, match="int64"):
        g(torch.randn(2, 8), torch.zeros(2))


@pytest.mark.parametrize(("name", "shape", "conditional"), [c for c in cases(small_discriminators) if c.values[2]])
def test_conditional_discriminator_needs_labels(name, shape, conditional):
    d = build(small_discriminators, name, shape, conditional)
    with pytest.raises(ValueError, match="is conditional"):
        d(torch.randn(2, *shape))


@pytest.mark.parametrize("shape", [POINTS, (1, 28)])
@pytest.mark.parametrize("network", [DCGANGenerator, DCGANDiscriminator, ResNetGenerator, ResNetDiscriminator])
def test_convolutional_networks_reject_non_image_shapes(network, shape):
    from gan_module import ConfigError

    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        network(shape)


def test_unconditional_parameter_names_are_unchanged_so_old_checkpoints_load():
    # the names the networks had before conditioning was added
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    g_names = ["project.weight", "project.bias", *(f"first.0.{n}" for n in bn)]
    g_names += ["blocks.0.weight", "blocks.0.bias", *(f"blocks.1.{n}" for n in bn)]
    g_names += ["blocks.3.weight", "blocks.3.bias", *(f"blocks.4.{n}" for n in bn), "blocks.6.weight", "blocks.6.bias"]
    assert list(DCGANGenerator().state_dict()) == g_names
    assert list(MLPGenerator(hidden_dims=[8]).state_dict()) == [
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
    ]
    assert list(MaxoutDiscriminator(hidden_units=[8]).state_dict())[-2:] == ["net.3.weight", "net.3.bias"]


# --------------------------------------------------------------------------------------------------------------
# Conditioning layers
# --------------------------------------------------------------------------------------------------------------


def randomise_class_tables(network: torch.nn.Module) -> None:
    """What training does to conditional batch norm: per-class gains and biases move away from 1 and 0."""
    g = torch.Generator().manual_seed(0)  # fixed: some draws (negative gains) switch every ReLU off
    with torch.no_grad():
        for m in network.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.gains.copy_(torch.rand(m.gains.shape, generator=g) + 0.5)  # positive, 0.5..1.5
                m.biases.copy_(0.5 * torch.randn(m.biases.shape, generator=g))


@pytest.mark.parametrize("name", ["mlp", "dcgan", "dcgan_no_bn", "resnet"])
def test_conditional_generator_draws_differently_per_label(name):
    torch.manual_seed(0)  # the weights and z: independent of the tests that ran before
    g = build(small_generators, name, (1, 28, 28), True).eval()
    uses_cbn = any(isinstance(m, ConditionalBatchNorm) for m in g.modules())
    z = torch.randn(1, 8).expand(CLASSES, 8)  # one z, every label
    y = torch.arange(CLASSES)
    if uses_cbn:  # at initialisation every gain is 1 and every bias 0: plain batch norm, the same for all labels
        assert torch.allclose(g(z, y), g(z, torch.zeros_like(y)))
        randomise_class_tables(g)
    x = g(z, y)
    distances = torch.cdist(x.flatten(1), x.flatten(1))
    assert (distances + torch.eye(CLASSES)).min() > 1e-4  # every pair of labels gives a different image
    assert torch.allclose(
        g(z[:3], y[:3])[1], x[1], atol=1e-6
    )  # in eval mode each sample depends on its own (z, y) only


def test_label_embedding_one_hot_and_learned():
    one_hot = LabelEmbedding(4, dim=0)
    assert one_hot.dim == 4 and not list(one_hot.parameters())
    assert torch.equal(one_hot(torch.tensor([2, 0])), torch.tensor([[0.0, 0, 1, 0], [1, 0, 0, 0]]))
    learned = LabelEmbedding(4, dim=6)
    assert learned.dim == 6 and learned(torch.tensor([3])).shape == (1, 6)
    assert torch.equal(learned(torch.tensor([3]))[0], learned.embed.weight[3])


def test_generators_concatenate_the_label_to_z():
    def mlp(**kw):
        return MLPGenerator((1, 28, 28), latent_dim=100, hidden_dims=[64], **kw)

    g = mlp(num_classes=10, conditional=True)  # default: a learned embedding of z's size
    assert g.net[0].in_features == 100 + 100 and g.embedding.embed.weight.shape == (10, 100)
    n_uncond = sum(p.numel() for p in mlp().parameters())
    assert sum(p.numel() for p in g.parameters()) == n_uncond + 100 * 64 + 10 * 100
    assert mlp(num_classes=10, conditional=True, embedding_dim=20).net[0].in_features == 120
    one_hot = mlp(num_classes=10, conditional=True, embedding_dim=0)  # y beside z as in Mirza & Osindero 2014
    assert one_hot.net[0].in_features == 110 and sum(p.numel() for p in one_hot.parameters()) == n_uncond + 10 * 64
    dcgan = DCGANGenerator((1, 28, 28), num_classes=10, conditional=True, batch_norm=False, embedding_dim=0)
    assert dcgan.project.in_features == 110
    with pytest.raises(ValueError, match="embedding_dim"):
        mlp(num_classes=10, conditional=True, embedding_dim=-1)


def test_conditional_batch_norm_is_batch_norm_then_per_class_gain_and_bias():
    cbn = ConditionalBatchNorm(3, num_classes=4)
    assert torch.equal(cbn.gains, torch.ones(4, 3)) and torch.equal(cbn.biases, torch.zeros(4, 3))
    assert cbn.weight is None and cbn.bias is None  # no affine step of its own
    with torch.no_grad():
        cbn.gains.copy_(torch.arange(12.0).view(4, 3))
        cbn.biases.copy_(-torch.arange(12.0).view(4, 3))
    x, y = torch.randn(8, 3, 5, 5) * 3 + 2, torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    normed = torch.nn.functional.batch_norm(x, None, None, training=True, eps=cbn.eps)
    expected = cbn.gains[y][:, :, None, None] * normed + cbn.biases[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)
    assert torch.allclose(cbn.running_mean, 0.1 * x.mean(dim=(0, 2, 3)), atol=1e-5)  # shared running statistics
    cbn.eval()
    running = (x - cbn.running_mean[:, None, None]) / (cbn.running_var[:, None, None] + cbn.eps).sqrt()
    assert torch.allclose(
        cbn(x, y), cbn.gains[y][:, :, None, None] * running + cbn.biases[y][:, :, None, None], atol=1e-5
    )
    flat = ConditionalBatchNorm(3, num_classes=4)(torch.randn(8, 3), y)  # (N, C) too
    assert flat.shape == (8, 3)


def test_conditional_generators_use_conditional_batch_norm_where_they_had_batch_norm():
    def count(module, kind):
        return sum(type(m) is kind for m in module.modules())

    for plain, conditional in [
        (DCGANGenerator((3, 32, 32)), DCGANGenerator((3, 32, 32), num_classes=10, conditional=True)),
        (ResNetGenerator((3, 32, 32), channels=8), ResNetGenerator((3, 32, 32), 10, True, channels=8)),
    ]:
        bn = count(plain, torch.nn.BatchNorm2d)
        assert count(conditional, ConditionalBatchNorm) + count(conditional, torch.nn.BatchNorm2d) == bn
    assert count(DCGANGenerator((3, 32, 32), num_classes=10, conditional=True), torch.nn.BatchNorm2d) == 0
    resnet = ResNetGenerator((3, 32, 32), 10, True, channels=8)
    assert count(resnet, ConditionalBatchNorm) == 2 * 3  # two in every block; the final BN stays plain
    no_bn = DCGANGenerator((3, 32, 32), num_classes=10, conditional=True, batch_norm=False)
    assert count(no_bn, ConditionalBatchNorm) == 0 and no_bn.project.in_features == 100 + 100


def projection_parts(d, x):
    """(h, psi(h)) for each discriminator: its last features and its unconditional output."""
    if isinstance(d, ResNetDiscriminator):
        h = d.features(x)
        return h, d.head(h).squeeze(1)
    if isinstance(d, DCGANDiscriminator):
        h = d.features(x).flatten(1)
        return h, d.head(h).squeeze(1)
    h = d.net[:-1](x.flatten(1))
    return h, d.net[-1](h).squeeze(1)


@pytest.mark.parametrize("name", ["maxout", "mlp", "dcgan", "dcgan_no_bn", "resnet"])
def test_projection_discriminator_is_psi_plus_inner_product(name):
    d = build(small_discriminators, name, (3, 32, 32), True).eval()
    x, y = torch.randn(5, 3, 32, 32), torch.tensor([0, 3, 3, 7, 9])
    h, psi = projection_parts(d, x)
    assert d.projection.embed.weight.shape == (CLASSES, h.shape[1])
    expected = psi + (d.projection.embed.weight[y] * h).sum(dim=1)
    assert torch.allclose(d(x, y), expected, atol=1e-5)
    assert not torch.allclose(d(x, y), d(x, (y + 1) % CLASSES))


def test_conditioning_adds_only_the_class_parameters():
    def size(m):
        return sum(p.numel() for p in m.parameters())

    assert size(DCGANDiscriminator((3, 32, 32), 10, True)) == size(DCGANDiscriminator((3, 32, 32))) + 10 * 256 * 4 * 4
    assert size(MaxoutDiscriminator((1, 28, 28), 10, True)) == size(MaxoutDiscriminator()) + 10 * 240
    assert size(MLPDiscriminator((1, 28, 28), 10, True)) == size(MLPDiscriminator()) + 10 * 256
    # DCGAN G at 28x28: BNs of 256 (first), 128, 64 channels lose their affine pair and gain 10 of them each
    widths = [256, 128, 64]
    assert size(DCGANGenerator((1, 28, 28), 10, True)) == size(DCGANGenerator()) + sum(2 * 9 * w for w in widths)


# --------------------------------------------------------------------------------------------------------------
# SNGAN ResNet pair
# --------------------------------------------------------------------------------------------------------------


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def test_sngan_cifar_resnet_sizes_by_hand():
    # G (Miyato et al. 2018, Table 4): z 128 -> linear 4x4x256 -> 3 x up-block(256) -> BN, ReLU, conv3x3 3 -> tanh
    g_block = 2 * 256 + conv(256, 256, 3) + 2 * 256 + conv(256, 256, 3) + conv(256, 256, 1)
    g_total = (128 * 4 * 4 * 256 + 4 * 4 * 256) + 3 * g_block + 2 * 256 + conv(256, 3, 3)
    # D: optimized block(3 -> 128), down-block(128) with conv1x1 shortcut, 2 plain blocks (identity shortcuts), linear
    d_total = (
        (conv(3, 128, 3) + conv(128, 128, 3) + conv(3, 128, 1))
        + (2 * conv(128, 128, 3) + conv(128, 128, 1))
        + 2 * (2 * conv(128, 128, 3))
        + (128 + 1)
    )
    assert (g_total, d_total) == (4_276_739, 1_053_825)
    g, d = ResNetGenerator(), ResNetDiscriminator()
    assert sum(p.numel() for p in g.parameters()) == g_total
    assert sum(p.numel() for p in d.parameters()) == d_total
    # conditional: each of the 6 block BNs trades its (gain, bias) pair for one per class; D adds the embedding V
    cg, cd = ResNetGenerator(num_classes=10, conditional=True), ResNetDiscriminator(num_classes=10, conditional=True)
    assert sum(p.numel() for p in cg.parameters()) == g_total + 6 * (10 - 1) * 2 * 256
    assert sum(p.numel() for p in cd.parameters()) == d_total + 10 * 128


@pytest.mark.parametrize(
    ("shape", "start", "up_blocks", "d_sizes"),
    [
        ((3, 32, 32), 4, 3, [16, 8, 8, 8]),  # SNGAN's CIFAR-10 pair
        ((1, 28, 28), 7, 2, [14, 14, 14]),
        ((1, 48, 48), 6, 3, [24, 12, 12, 12]),
    ],
)
def test_resnet_stages_follow_the_image_size(shape, start, up_blocks, d_sizes):
    g, d = ResNetGenerator(shape, channels=8), ResNetDiscriminator(shape, channels=8)
    assert g.start == start and len(g.blocks) == up_blocks
    sizes, x = [], torch.randn(2, *shape)
    for block in d.blocks:
        x = block(x)
        sizes.append(x.shape[-1])
    assert sizes == d_sizes
    assert type(d.blocks[0]).__name__ == "OptimizedDiscriminatorBlock"
    assert [b.downsample for b in d.blocks[1:]] == [s < p for p, s in itertools.pairwise(d_sizes)]


def test_resnet_blocks_compute_the_sngan_residuals():
    from torch.nn.functional import avg_pool2d, interpolate, relu

    from gan_module.networks.resnet import DiscriminatorBlock, GeneratorBlock, OptimizedDiscriminatorBlock

    def up(t):
        return interpolate(t, scale_factor=2, mode="nearest")

    x = torch.randn(2, 4, 6, 6)
    g = GeneratorBlock(4, 5).train()
    expected = g.c2(relu(g.b2(g.c1(up(relu(g.b1(x))))))) + g.shortcut(up(x))
    assert torch.allclose(g(x), expected, atol=1e-6) and expected.shape == (2, 5, 12, 12)
    d = DiscriminatorBlock(4, 4, downsample=True)
    expected = avg_pool2d(d.c2(relu(d.c1(relu(x)))), 2) + avg_pool2d(d.shortcut(x), 2)
    assert torch.allclose(d(x), expected, atol=1e-6)
    plain = DiscriminatorBlock(4, 4, downsample=False)
    assert plain.shortcut is None and torch.allclose(plain(x), plain.c2(relu(plain.c1(relu(x)))) + x, atol=1e-6)
    o = OptimizedDiscriminatorBlock(4, 5)
    expected = avg_pool2d(o.c2(relu(o.c1(x))), 2) + o.shortcut(avg_pool2d(x, 2))
    assert torch.allclose(o(x), expected, atol=1e-6)


def test_resnet_discriminator_sums_over_positions():
    d = ResNetDiscriminator((3, 32, 32), channels=8).eval()
    x = torch.randn(2, 3, 32, 32)
    h = torch.relu(d.blocks(x))
    assert torch.allclose(d.features(x), h.sum(dim=(2, 3)))  # global SUM pooling, not mean
    assert torch.allclose(d(x), d.head(h.sum(dim=(2, 3))).squeeze(1))


def test_resnet_sngan_cifar_forward_at_full_width():
    g, d = ResNetGenerator(), ResNetDiscriminator()
    x = g(torch.randn(2, 128))
    assert x.shape == (2, 3, 32, 32) and x.abs().max() <= 1 and d(x).shape == (2,)


# --------------------------------------------------------------------------------------------------------------
# Spectral norm coverage
# --------------------------------------------------------------------------------------------------------------

WEIGHTED = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Embedding)


@pytest.mark.parametrize("table", [small_generators, small_discriminators], ids=["G", "D"])
def test_spectral_norm_covers_every_weight_of_every_network(table):
    from torch.nn.utils import parametrize

    for name, (factory, shapes) in table().items():
        net = add_spectral_norm(factory(shapes[0], num_classes=CLASSES, conditional=True))
        weighted = [m for m in net.modules() if isinstance(m, WEIGHTED)]
        assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted), name
        # every trainable matrix is either spectrally normalised or a normalisation layer's scale/shift
        for pname, p in net.named_parameters():
            assert "parametrizations.weight.original" in pname or pname.rsplit(".", 1)[-1] in (
                "weight",
                "bias",
                "gains",
                "biases",
            ), (name, pname)
            if pname.endswith(("gains", "biases")):
                assert p.dim() == 2  # conditional batch norm tables: left alone


def test_spectral_norm_normalises_the_projection_embedding():
    d = add_spectral_norm(MLPDiscriminator(POINTS, num_classes=10, conditional=True, hidden_dims=[16, 8]))
    x, y = torch.randn(4, 2), torch.arange(4)
    for _ in range(30):  # power iterations run in training-mode forwards
        d(x, y)
    d.eval()
    for m in (d.projection.embed, *(m for m in d.net if isinstance(m, torch.nn.Linear))):
        assert torch.linalg.matrix_norm(m.weight.detach(), ord=2) == pytest.approx(1.0, rel=1e-3)


def test_spectral_norm_leaves_conditional_batch_norm_gains_at_one():
    g = add_spectral_norm(ResNetGenerator((3, 32, 32), num_classes=10, conditional=True, channels=8))
    cbn = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm)]
    assert cbn and all(torch.equal(m.gains, torch.ones_like(m.gains)) for m in cbn)
    assert g(torch.randn(2, 128), torch.tensor([1, 2])).shape == (2, 3, 32, 32)


# --------------------------------------------------------------------------------------------------------------
# 2-D point data and the 2014 paper's TFD / CIFAR-10 fully connected models
# --------------------------------------------------------------------------------------------------------------


def test_two_dimensional_mlp_pair():
    g = MLPGenerator(POINTS, latent_dim=16, hidden_dims=[128, 128, 128], output="linear", init_range=None)
    d = MLPDiscriminator(POINTS, hidden_dims=[128, 128])
    assert sum(p.numel() for p in g.parameters()) == (16 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 2 + 2)
    assert sum(p.numel() for p in d.parameters()) == (2 * 128 + 128) + (128 * 128 + 128) + (128 + 1)
    points = g(torch.randn(5, 16))
    assert points.shape == (5, 2) and g.output_range is None and d(points).shape == (5,)
    cg = MLPGenerator(POINTS, num_classes=8, conditional=True, latent_dim=16, hidden_dims=[32], output="linear")
    cd = MLPDiscriminator(POINTS, num_classes=8, conditional=True, hidden_dims=[32])
    y = torch.arange(5)
    assert cd(cg(torch.randn(5, 16), y), y).shape == (5,)


TFD_G = dict(  # tfd_pretrain/train.yaml of goodfeli/adversarial: its two new layers on top of pretrain.yaml's G
    image_shape=(1, 48, 48),
    latent_dim=100,
    hidden_dims=[8000, 100, 8000, 8000],
    hidden_activations=["relu", "sigmoid", "relu", "sigmoid"],
    hidden_init_bias=[0.0, -2.0, 0.0, -2.0],
    output="sigmoid",
    init_range=0.05,
    output_sparse_init=100,
    max_col_norm=1.9365,
)
TFD_D = dict(image_shape=(1, 48, 48), hidden_units=[1200, 1200], pieces=5, init_range=0.005, max_col_norm=1.9365)


def test_paper_tfd_model_sizes():
    with torch.device("meta"):  # 85 M parameters: count them without allocating
        g, d = MLPGenerator(**TFD_G), MaxoutDiscriminator(**TFD_D)
    widths = [100, 8000, 100, 8000, 8000, 2304]
    assert sum(p.numel() for p in g.parameters()) == sum(a * b + b for a, b in itertools.pairwise(widths))
    assert [type(m).__name__ for m in g.net if not isinstance(m, torch.nn.Linear)] == [
        "ReLU",
        "Sigmoid",
        "ReLU",
        "Sigmoid",
        "Sigmoid",
    ]
    assert sum(p.numel() for p in d.parameters()) == (2304 * 6000 + 6000) + (1200 * 6000 + 6000) + (1200 + 1)


def test_tfd_style_initialisation_scaled_down():
    g = MLPGenerator(
        (1, 8, 8),
        latent_dim=10,
        hidden_dims=[40, 12],
        hidden_activations=["relu", "sigmoid"],
        hidden_init_bias=[0.0, -2.0],
        init_range=0.05,
        output_sparse_init=5,
    )
    first, second, out = (m for m in g.net if isinstance(m, torch.nn.Linear))
    assert torch.equal(second.bias, torch.full((12,), -2.0)) and torch.equal(first.bias, torch.zeros(40))
    assert first.weight.abs().max() <= torch.tensor(0.05)
    assert ((out.weight != 0).sum(dim=1) == 5).all() and torch.equal(out.bias, torch.zeros(64))
    assert isinstance(g.net[3], torch.nn.Sigmoid) and g.output_layer is out


def test_hidden_settings_need_one_value_per_layer():
    from gan_module import ConfigError

    with pytest.raises(ConfigError, match="one value per hidden layer"):
        MLPGenerator(hidden_dims=[8, 8], hidden_activations=["relu"])
    with pytest.raises(ConfigError, match="Unknown hidden activation"):
        MLPGenerator(hidden_dims=[8], hidden_activations="gelu")
    assert isinstance(MLPGenerator(hidden_dims=[8, 8], hidden_activations="sigmoid").net[3], torch.nn.Sigmoid)


def test_output_init_range_for_the_cifar_fully_connected_generator():
    # cifar10_fully_connected.yaml: hidden U(-0.05, 0.05), linear output U(-0.5, 0.5)
    g = MLPGenerator(
        (3, 4, 4),
        latent_dim=10,
        hidden_dims=[30, 30],
        init_range=0.05,
        output_init_range=0.5,
        hidden_activations=["relu", "sigmoid"],
        output="linear",
    )
    weights = [m.weight for m in g.net if isinstance(m, torch.nn.Linear)]
    assert all(w.abs().max() <= torch.tensor(0.05) for w in weights[:-1])
    assert 0.05 < weights[-1].abs().max() <= 0.5


def test_sigmoid_bias_from_marginals():
    mean = torch.tensor([0.0, 0.25, 0.5, 1.0])
    bias = sigmoid_bias_from_marginals(mean)
    assert torch.allclose(torch.sigmoid(bias), mean.clamp(1e-7, 1 - 1e-7)) and torch.isfinite(bias).all()


def test_max_col_norm_projects_each_unit_after_each_update_like_pylearn2():
    torch.manual_seed(0)
    d = MaxoutDiscriminator((1, 4, 4), hidden_units=[6], pieces=2, init_range=1.0, max_col_norm=0.5)
    linears = [m for m in d.modules() if isinstance(m, torch.nn.Linear)]
    initial = [m.weight.detach().clone() for m in linears]
    x = torch.rand(8, 1, 4, 4)
    d(x)  # pylearn2 constrained updated weights only: the first forward uses the initial draw
    assert all(torch.equal(m.weight, w) for m, w in zip(linears, initial, strict=True))
    assert max(w.norm(dim=1).max() for w in initial) > 0.5
    opt = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.5)
    for _ in range(3):
        opt.zero_grad()
        (d(x).sum() + d(x * 0.5).sum()).backward()  # two forwards before one backward: no in-place change between
        opt.step()
        updated = [m.weight.detach().clone() for m in linears]
        d(x)
        for m, w in zip(linears, updated, strict=True):
            norms = w.norm(dim=1, keepdim=True)
            expected = torch.where(norms > 0.5, w * 0.5 / norms, w)
            assert torch.allclose(m.weight, expected, atol=1e-6)
            assert (m.weight.norm(dim=1) <= 0.5 + 1e-6).all()


def test_max_col_norm_leaves_small_rows_alone():
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    max_col_norm_(w, 1.0)
    assert torch.allclose(w, torch.tensor([[0.6, 0.8], [0.3, 0.4]]))


def test_an_mlp_discriminator_takes_another_hidden_activation():
    from gan_module import ConfigError

    d = MLPDiscriminator(POINTS, hidden_dims=[128, 128], activation="tanh")  # the Unrolled-GAN / VEEGAN 2-D D
    assert [type(m) for m in d.net] == [torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear, torch.nn.Tanh, torch.nn.Linear]
    hidden = d.net[:-1](100 * torch.randn(64, 2))  # far-out points: tanh keeps the features within [-1, 1]
    assert hidden.abs().max() <= 1 and d(torch.randn(7, 2)).shape == (7,)
    with pytest.raises(ConfigError, match="swish"):
        MLPDiscriminator(POINTS, activation="swish")


def test_an_mlp_discriminator_with_batch_norm_normalises_each_hidden_layer_over_the_batch():
    """The claims study's "batch norm in D" candidate: BN after every hidden Linear, before the nonlinearity."""
    d = MLPDiscriminator(POINTS, hidden_dims=[32, 16], batch_norm=True)
    kinds = [type(m) for m in d.net]
    assert kinds == [torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.LeakyReLU] * 2 + [torch.nn.Linear]
    x = torch.randn(64, 2)
    normalised = d.net[:2](3 * x + 5)  # training mode: batch statistics remove any shift and scale of the batch
    assert torch.allclose(normalised.mean(0), torch.zeros(32), atol=1e-5)
    assert torch.allclose(normalised.var(0, unbiased=False), torch.ones(32), atol=1e-2)
    # so D's output for one point depends on the rest of its batch -- why BN in D couples real and fake samples
    assert not torch.allclose(d(torch.cat([x[:1], x[1:]]))[0], d(torch.cat([x[:1], 10 * x[1:]]))[0])


def test_orthogonal_init_gives_scaled_orthogonal_weights_and_zero_biases():
    """The Unrolled-GAN notebook's 2-D networks: orthogonal weights with gain 1.4."""
    from gan_module.networks import MLPDiscriminator, MLPGenerator

    for network in (
        MLPGenerator(image_shape=(2,), latent_dim=256, hidden_dims=[128, 128], output="linear", orthogonal_gain=1.4),
        MLPDiscriminator(image_shape=(2,), hidden_dims=[128, 128], activation="tanh", orthogonal_gain=1.4),
    ):
        linears = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
        assert len(linears) == 3
        for linear in linears:
            w = linear.weight.detach()
            small = min(w.shape)
            gram = w @ w.T if w.shape[0] == small else w.T @ w  # orthonormal rows or columns, times gain^2
            assert torch.allclose(gram, 1.4**2 * torch.eye(small), atol=1e-4)
            assert torch.count_nonzero(linear.bias) == 0


def test_every_shipped_network_keeps_the_contract_through_its_base_class():
    import gan_module.networks as networks
    from gan_module.networks import Discriminator, Generator

    generators = [getattr(networks, n) for n in networks.__all__ if n.endswith("Generator") and n != "Generator"]
    discriminators = [
        getattr(networks, n) for n in networks.__all__ if n.endswith("Discriminator") and n != "Discriminator"
    ]
    assert len(generators) == 3 and len(discriminators) == 4
    assert all(issubclass(g, Generator) for g in generators)
    assert all(issubclass(d, Discriminator) for d in discriminators)
    g = networks.MLPGenerator(POINTS, latent_dim=8, hidden_dims=[16], output="linear")
    assert (g.image_shape, g.latent_dim, g.output_range, g.num_classes) == (POINTS, 8, None, 0)
    d = networks.DCGANDiscriminator((1, 28, 28), num_classes=10, conditional=True)
    assert (d.image_shape, d.num_classes) == ((1, 28, 28), 10)


def test_binomial_blur_is_the_3x3_binomial_low_pass_with_flat_borders():
    blur = BinomialBlur(2)
    flat = torch.full((1, 2, 7, 7), -1.0)  # a tanh background: zero padding would lift its border towards 0
    assert torch.equal(blur(flat), flat)
    impulse = torch.zeros(1, 2, 7, 7)
    impulse[0, :, 3, 3] = 16.0
    expected = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    assert torch.allclose(blur(impulse)[0, :, 2:5, 2:5], expected.expand(2, 3, 3))
    assert blur(impulse).sum().item() == pytest.approx(32.0)  # each channel's mass kept, none mixed across
    assert not list(blur.parameters()) and not blur.state_dict()  # fixed: nothing to train or checkpoint


def test_dcgan_generator_blur_output_smooths_in_range_without_new_parameters():
    torch.manual_seed(0)
    sharp = DCGANGenerator(base_channels=8)
    torch.manual_seed(0)
    smooth = DCGANGenerator(base_channels=8, blur_output=True)
    assert sharp.state_dict().keys() == smooth.state_dict().keys()
    z = torch.randn(16, 100)
    a, b = sharp(z), smooth(z)
    assert b.shape == a.shape == (16, 1, 28, 28) and b.abs().max() <= 1.0
    assert torch.allclose(b, BinomialBlur(1)(a), atol=1e-6)
    total_variation = lambda x: (x.diff(dim=-1).abs().mean() + x.diff(dim=-2).abs().mean()).item()  # noqa: E731
    assert total_variation(b) < 0.8 * total_variation(a)


# --------------------------------------------------------------------------------------------------------------
# A user's own images: 64x64 and 128x128, grey or colour (datamodules/image_folder.py)
# --------------------------------------------------------------------------------------------------------------


def test_dcgan_at_64_is_radfords_64x64_pair_and_128_caps_the_widths():
    g64, d64 = DCGANGenerator((3, 64, 64)), DCGANDiscriminator((3, 64, 64))
    assert g64.widths == [1024, 512, 256, 128, 64] and g64.start == 4  # 4x4x1024 -> 64x64 in 4 stages
    assert [m.out_channels for m in d64.features if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256, 512]
    assert d64.head.in_features == 512 * 4 * 4
    g128, d128 = DCGANGenerator((1, 128, 128)), DCGANDiscriminator((1, 128, 128))
    assert g128.widths == [1024, 1024, 512, 256, 128, 64]  # 2048 at 4x4 without the cap
    assert [m.out_channels for m in d128.features if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256, 512, 1024]
    uncapped = DCGANGenerator((1, 128, 128), max_channels=4096)
    assert uncapped.widths[0] == 2048
    size = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert round(size(uncapped) / 1e6) == 48 and round(size(g128) / 1e6) == 30
    assert DCGANGenerator((3, 48, 48)).widths == [512, 256, 128, 64]  # smaller images: unchanged by the cap


def test_resnet_at_64_and_128_adds_blocks():
    assert (ResNetGenerator((3, 64, 64)).start, len(ResNetGenerator((3, 64, 64)).blocks)) == (4, 4)
    assert len(ResNetGenerator((1, 128, 128)).blocks) == 5
    d64, d128 = ResNetDiscriminator((3, 64, 64)), ResNetDiscriminator((1, 128, 128))
    assert d64(torch.randn(2, 3, 64, 64)).shape == (2,) and len(d64.blocks) == 1 + 2 + 2  # 64 -> 8, 2 plain
    assert len(d128.blocks) == 1 + 3 + 2  # 128 -> 8


@pytest.mark.parametrize("side", [64, 128])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_a_users_resolution_trains_a_step_on_real_images(family, channels, side):
    from tests.conftest import stacked_digit_images

    torch.manual_seed(0)
    shape = (channels, side, side)
    if family == "dcgan":
        g, d = DCGANGenerator(shape, latent_dim=8, base_channels=4), DCGANDiscriminator(shape, base_channels=4)
    else:
        g, d = ResNetGenerator(shape, latent_dim=8, channels=8), ResNetDiscriminator(shape, channels=8)
    real = torch.from_numpy(stacked_digit_images(4, size=side)).permute(0, 3, 1, 2)[:, :channels]
    real = real.float() / 127.5 - 1  # tanh range, as the configs scale the data
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
    before_g, before_d = [p.detach().clone() for p in g.parameters()], [p.detach().clone() for p in d.parameters()]
    fake = g(torch.randn(4, 8))
    assert fake.shape == (4, *shape) and fake.abs().max() <= 1
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    loss_d = bce(d(real), torch.ones(4)) + bce(d(fake.detach()), torch.zeros(4))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = bce(d(g(torch.randn(4, 8))), torch.ones(4))  # the non-saturating G step
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    assert all(not torch.equal(a, b) for a, b in zip(before_d, d.parameters(), strict=True) if b.grad is not None)
    assert sum(not torch.equal(a, b) for a, b in zip(before_g, g.parameters(), strict=True)) == len(before_g)
