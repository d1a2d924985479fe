"""The fully connected networks of Goodfellow et al. (2014), section 5 and the released mnist.yaml."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from gan_module.networks.layers import (
    OUTPUT_RANGES,
    Maxout,
    flatten,
    init_uniform_,
    num_pixels,
    output_activation,
)


class MLPGenerator(nn.Module):
    """ReLU MLP generator: noise -> ReLU hidden layers -> sigmoid (or tanh) pixels.

    The paper's MNIST model is ``latent_dim=100, hidden_dims=[1200, 1200]``, weights ~ U(-0.05, 0.05).
    ``batch_norm`` normalises each hidden layer before its ReLU (Radford et al. 2016 found it helps G).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        hidden_dims: Sequence[int] = (1200, 1200),
        output: str = "sigmoid",
        init_range: float | None = 0.05,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.output_range = OUTPUT_RANGES.get(output)
        layers: list[nn.Module] = []
        width = latent_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [nn.ReLU()]
            width = hidden
        layers += [nn.Linear(width, num_pixels(self.image_shape)), output_activation(output)]
        self.net = nn.Sequential(*layers)
        init_uniform_(self, init_range)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)


class MaxoutDiscriminator(nn.Module):
    """Maxout MLP discriminator with dropout, returning one logit per image.

    The paper's MNIST model: two maxout layers of 240 units x 5 pieces, then one sigmoid unit (applied by the
    loss). Dropout on every layer's input: keep probability 0.8 on the pixels, 0.5 after (its
    ``input_include_probs``), weights ~ U(-0.005, 0.005).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_units: Sequence[int] = (240, 240),
        pieces: int = 5,
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
        init_range: float | None = 0.005,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = num_pixels(image_shape)
        for i, units in enumerate(hidden_units):
            layers += [nn.Dropout(input_dropout if i == 0 else hidden_dropout), Maxout(width, units, pieces)]
            width = units
        layers += [nn.Dropout(hidden_dropout if hidden_units else input_dropout), nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)
        init_uniform_(self, init_range)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(flatten(x)).squeeze(1)


class MLPDiscriminator(nn.Module):
    """LeakyReLU MLP discriminator with optional dropout, returning one raw output per image.

    The fully connected D most GAN code since 2015 uses (e.g. 784 -> 512 -> 256 -> 1, slope 0.2).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden_dims: Sequence[int] = (512, 256),
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        init_range: float | None = None,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = num_pixels(image_shape)
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(negative_slope)]
            layers += [nn.Dropout(dropout)] if dropout > 0 else []
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        init_uniform_(self, init_range)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(flatten(x)).squeeze(1)
