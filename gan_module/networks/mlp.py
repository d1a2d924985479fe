"""The fully connected networks of Goodfellow et al. (2014), section 5 and its released yaml files.

The paper's three models, as MLPGenerator / MaxoutDiscriminator arguments (goodfeli/adversarial):

- MNIST (``mnist.yaml``): G 100 -> ReLU 1200 -> ReLU 1200 -> sigmoid 784, U(-0.05, 0.05); D maxout 240x5 ->
  maxout 240x5 -> 1, U(-0.005, 0.005) -- the defaults here.
- CIFAR-10 fully connected (``cifar10_fully_connected.yaml``): G 100 -> ReLU 8000 -> sigmoid 8000 -> linear
  3072 (hidden U(-0.05, 0.05), output U(-0.5, 0.5)): ``hidden_dims=[8000, 8000], hidden_activations=[relu,
  sigmoid], output=linear, output_init_range=0.5``; D maxout 1600x5 -> maxout 1600x5 -> 1.
- TFD (``tfd_pretrain/pretrain.yaml`` then ``tfd_pretrain/train.yaml``): G 100 -> ReLU 8000 -> sigmoid 100 ->
  ReLU 8000 -> sigmoid 8000 -> sigmoid 2304, sigmoid hidden biases starting at -2, output weights sparse (100
  N(0, 1) inputs per pixel), every weight's columns kept to norm <= 1.9365: ``hidden_dims=[8000, 100, 8000,
  8000], hidden_activations=[relu, sigmoid, relu, sigmoid], hidden_init_bias=[0, -2, 0, -2],
  output_sparse_init=100, max_col_norm=1.9365``; D maxout 1200x5 -> maxout 1200x5 -> 1, ``max_col_norm=1.9365``.
  (The released run first trained the last three G layers as a GAN of their own, ``pretrain.yaml``, and
  then stacked the first two on top, ``adversarial.add_layers``.)

Every network also takes the data's ``num_classes`` and ``conditional``: a conditional generator concatenates a
learned label embedding to z (Mirza & Osindero 2014), a conditional discriminator adds the projection term
``<embed(y), h>`` on its last hidden features (Miyato & Koyama 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jsonargparse.typing import PositiveInt
from torch import Tensor, nn

from gan_module.errors import ConfigError
from gan_module.networks.base import Discriminator, Generator
from gan_module.networks.conditioning import (
    LabelEmbedding,
    Projection,
    projected,
    require_labels,
)
from gan_module.networks.layers import (
    Maxout,
    add_max_col_norm,
    flatten,
    hidden_activation,
    init_orthogonal_,
    init_uniform_,
    num_pixels,
    output_activation,
    sparse_init_,
)


def _per_layer(name: str, values: Sequence | str | float | None, count: int, default: object) -> list:
    """One setting per hidden layer: a list of ``count`` values, or one value for all of them."""
    if values is None:
        return [default] * count
    if isinstance(values, str | int | float):
        return [values] * count
    values = list(values)
    if len(values) != count:
        raise ConfigError(f"{name} needs one value per hidden layer ({count}), got {len(values)}: {values}.")
    return values


class MLPGenerator(Generator):
    """MLP generator: noise [+ label embedding] -> hidden layers -> sigmoid, tanh or linear outputs.

    The paper's MNIST model is ``latent_dim=100, hidden_dims=[1200, 1200]``, weights ~ U(-0.05, 0.05).
    ``batch_norm`` normalises each hidden layer before its activation (Radford et al. 2016 found it helps G).
    ``image_shape`` (2,) with ``output: linear`` makes a point generator for 2-D mixtures.

    Args:
        hidden_activations: one of relu, sigmoid, tanh per hidden layer (or one for all); default relu.
        hidden_init_bias: the hidden layers' initial biases (pylearn2's ``init_bias``), one per layer or one for
            all; ``None``: what the weight init gives (0 with ``init_range``).
        output_init_range: U(-r, r) for the output layer's weights; ``None``: the same as ``init_range``.
        output_sparse_init: pylearn2's ``sparse_init``: this many N(0, 1) weights into each output, the rest 0.
        max_col_norm: keep each unit's incoming weight vector at L2 norm <= this (pylearn2's ``max_col_norm``).
        embedding_dim: size of the learned label embedding of a conditional G; ``None``: ``latent_dim``; 0:
            one-hot labels (:class:`~gan_module.networks.conditioning.LabelEmbedding`).
        orthogonal_gain: orthogonal weights with this gain and zero biases instead of ``init_range`` (the
            Unrolled-GAN notebook: 1.4).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        conditional: bool = False,
        latent_dim: PositiveInt = 100,
        hidden_dims: Sequence[PositiveInt] = (1200, 1200),
        output: str = "sigmoid",
        init_range: float | None = 0.05,
        batch_norm: bool = False,
        hidden_activations: Sequence[str] | str | None = None,
        hidden_init_bias: Sequence[float] | float | None = None,
        output_init_range: float | None = None,
        output_sparse_init: int | None = None,
        max_col_norm: float | None = None,
        embedding_dim: int | None = None,
        orthogonal_gain: float | None = None,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional, latent_dim, output)
        activations = _per_layer("hidden_activations", hidden_activations, len(hidden_dims), "relu")
        biases = _per_layer("hidden_init_bias", hidden_init_bias, len(hidden_dims), None)
        embedding_size = latent_dim if embedding_dim is None else embedding_dim
        self.embedding = LabelEmbedding(self.num_classes, embedding_size) if self.num_classes else None
        layers: list[nn.Module] = []
        width = latent_dim + (self.embedding.dim if self.embedding is not None else 0)
        for hidden, activation in zip(hidden_dims, activations, strict=True):
            layers += [nn.Linear(width, hidden)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [hidden_activation(activation)]
            width = hidden
        layers += [nn.Linear(width, num_pixels(self.image_shape)), output_activation(output)]
        self.net = nn.Sequential(*layers)
        init_uniform_(self.net, init_range)
        init_orthogonal_(self.net, orthogonal_gain)
        hidden_linears = [m for m in self.net if isinstance(m, nn.Linear)][:-1]
        for linear, bias in zip(hidden_linears, biases, strict=True):
            if bias is not None:
                nn.init.constant_(linear.bias, float(bias))
        if output_sparse_init is not None:
            sparse_init_(self.output_layer, output_sparse_init)
        elif output_init_range is not None:
            init_uniform_(self.output_layer, output_init_range)
        add_max_col_norm(self, max_col_norm)

    @property
    def output_layer(self) -> nn.Linear:
        """The last linear layer (its bias can be set from the data: ``layers.sigmoid_bias_from_marginals``)."""
        return self.net[-2]

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embedding is not None:
            z = torch.cat([z, self.embedding(require_labels(self, y, z.shape[0])).to(z.dtype)], dim=1)
        return self.net(z).view(z.shape[0], *self.image_shape)


class MaxoutDiscriminator(Discriminator):
    """Maxout MLP discriminator with dropout, returning one logit per image.

    The paper's MNIST model: two maxout layers of 240 units x 5 pieces, then one sigmoid unit (applied by the
    loss). Dropout on every layer's input: keep probability 0.8 on the pixels, 0.5 after (its
    ``input_include_probs``, with pylearn2's ``input_scales`` 1/p, which is what ``nn.Dropout`` does), weights
    ~ U(-0.005, 0.005). A conditional D adds ``<embed(y), h>`` for the last maxout layer's (dropped-out) output h.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        conditional: bool = False,
        hidden_units: Sequence[PositiveInt] = (240, 240),
        pieces: int = 5,
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
        init_range: float | None = 0.005,
        max_col_norm: float | None = None,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional)
        layers: list[nn.Module] = []
        width = num_pixels(image_shape)
        for i, units in enumerate(hidden_units):
            layers += [nn.Dropout(input_dropout if i == 0 else hidden_dropout), Maxout(width, units, pieces)]
            width = units
        layers += [nn.Dropout(hidden_dropout if hidden_units else input_dropout), nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)
        init_uniform_(self, init_range)
        self.projection = Projection(self.num_classes, width) if self.num_classes else None
        add_max_col_norm(self, max_col_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return _project(self, self.net, flatten(x), y)


class MLPDiscriminator(Discriminator):
    """LeakyReLU MLP discriminator with optional dropout, returning one raw output per image (or 2-D point).

    The fully connected D most GAN code since 2015 uses (e.g. 784 -> 512 -> 256 -> 1, slope 0.2). A conditional
    D adds ``<embed(y), h>`` for the last hidden layer's output h. ``activation`` (relu, sigmoid or tanh) replaces
    the LeakyReLU: the Unrolled-GAN / VEEGAN 2-D discriminator is ``[128, 128]`` tanh. ``orthogonal_gain``:
    orthogonal weights with that gain and zero biases (the notebook's 1.4). ``batch_norm`` normalises each hidden
    layer before its nonlinearity: Radford et al. (2016) kept it out of D's input layer only, Motwani & Parmar
    (2020) report that it hurts in D (the claims study tests that).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
        conditional: bool = False,
        hidden_dims: Sequence[PositiveInt] = (512, 256),
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_range: float | None = None,
        activation: str | None = None,
        orthogonal_gain: float | None = None,
    ) -> None:
        super().__init__(image_shape, num_classes, conditional)
        layers: list[nn.Module] = []
        width = num_pixels(image_shape)
        for hidden in hidden_dims:
            nonlinearity = nn.LeakyReLU(negative_slope) if activation is None else hidden_activation(activation)
            layers += [nn.Linear(width, hidden)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [nonlinearity]
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        init_uniform_(self, init_range)
        init_orthogonal_(self.net, orthogonal_gain)
        self.projection = Projection(self.num_classes, width) if self.num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return _project(self, self.net, flatten(x), y)


def _project(network: nn.Module, net: nn.Sequential, x: Tensor, y: Tensor | None) -> Tensor:
    """``psi(h) + <embed(y), h>`` with psi the last layer of ``net`` and h what the layers before it give."""
    if network.projection is None:
        return net(x).squeeze(1)
    h = net[:-1](x)
    return projected(network, net[-1](h).squeeze(1), h, y)
