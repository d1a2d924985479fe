"""Building blocks shared by several architectures."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gan_module.errors import ConfigError

#: the interval each supported output activation maps to; ``None``: a linear output, unbounded (2-D point data)
OUTPUT_RANGES: dict[str, tuple[float, float] | None] = {"linear": None, "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}

_ACTIVATIONS = {"linear": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def output_activation(name: str) -> nn.Module:
    """The generator's last activation, by name; it fixes the range the data must be scaled to."""
    if name not in OUTPUT_RANGES:
        raise ConfigError(f"Unknown output activation {name!r}: choose one of {sorted(OUTPUT_RANGES)}.")
    return _ACTIVATIONS[name]()


class BinomialBlur(nn.Module):
    """A fixed 3x3 binomial low-pass ([1, 2, 1] x [1, 2, 1] / 16) on each channel, borders replicated.

    At a generator's output it makes every sample smoother, the property the 2014 Parzen estimate rewards most
    (Theis et al. 2016: a blur of real MNIST digits scores far above the digits themselves). Replicating the
    border keeps a flat background flat: zero padding would pull a tanh background of -1 towards 0. The kernel
    sums to 1, so the output stays in the activation's interval.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = (torch.outer(k, k) / 16).expand(channels, 1, 3, 3).clone()
        self.register_buffer("kernel", kernel, persistent=False)  # fixed, so not a parameter nor checkpointed

    def forward(self, x: Tensor) -> Tensor:
        x = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        return nn.functional.conv2d(x, self.kernel.to(x.dtype), groups=x.shape[1])


def hidden_activation(name: str) -> nn.Module:
    """A hidden layer's activation by name (the 2014 TFD and CIFAR generators mix ReLU and sigmoid layers)."""
    if name not in ("relu", "sigmoid", "tanh"):
        raise ConfigError(f"Unknown hidden activation {name!r}: choose one of ['relu', 'sigmoid', 'tanh'].")
    return _ACTIVATIONS[name]()


class Maxout(nn.Module):
    """Maxout unit layer (Goodfellow et al. 2013): ``h_i = max_j (W x + b)_{i,j}`` over ``pieces`` pieces."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


def init_uniform_(module: nn.Module, init_range: float | None) -> None:
    """Pylearn2's ``irange`` initialisation: weights ~ U(-r, r), biases 0. ``None`` keeps PyTorch's default."""
    if init_range is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.uniform_(m.weight, -init_range, init_range)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def init_orthogonal_(module: nn.Module, gain: float | None) -> None:
    """Orthogonal weights scaled by ``gain`` (Saxe et al. 2014), biases 0; the Unrolled-GAN notebook's 2-D
    networks use gain 1.4. ``None`` leaves the weights as they are."""
    if gain is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def sparse_init_(linear: nn.Linear, nonzero: int, std: float = 1.0, generator: torch.Generator | None = None) -> None:
    """Pylearn2's ``sparse_init``: each unit gets exactly ``nonzero`` incoming weights ~ N(0, std^2), at inputs
    chosen without replacement; every other weight and the bias are 0."""
    out_features, in_features = linear.weight.shape
    if not 0 < nonzero <= in_features:
        raise ConfigError(f"sparse init: nonzero must be in 1..{in_features} (the layer's inputs), got {nonzero}.")
    with torch.no_grad():
        weight = torch.zeros(out_features, in_features)
        chosen = torch.rand(out_features, in_features, generator=generator).topk(nonzero, dim=1).indices
        weight.scatter_(1, chosen, torch.randn(out_features, nonzero, generator=generator) * std)
        linear.weight.copy_(weight)
        if linear.bias is not None:
            linear.bias.zero_()


def sigmoid_bias_from_marginals(mean: Tensor, eps: float = 1e-7) -> Tensor:
    """Pylearn2's ``init_sigmoid_bias_from_marginals``: the bias b with sigmoid(b) = the data's mean per pixel
    (means clipped to [eps, 1 - eps]), so an untrained sigmoid G starts at the mean image."""
    return torch.logit(mean.clamp(eps, 1 - eps))


def max_col_norm_(weight: Tensor, max_norm: float) -> None:
    """Pylearn2's ``max_col_norm``: scale every unit's incoming weight vector (a row of a torch weight, a column of
    pylearn2's) whose L2 norm exceeds ``max_norm`` back to ``max_norm``; the others stay as they are."""
    with torch.no_grad():
        norms = weight.flatten(1).norm(dim=1)
        over = norms > max_norm
        if over.any():
            scale = torch.where(over, max_norm / norms.clamp_min(1e-12), torch.ones_like(norms))
            weight.mul_(scale.view(-1, *([1] * (weight.dim() - 1))))


def _raw_weight(module: nn.Module) -> Tensor:
    parametrizations = getattr(module, "parametrizations", None)
    return parametrizations.weight.original if parametrizations is not None else module.weight


def _constrain_before_forward(network: nn.Module, inputs: object) -> None:
    for module in network.modules():
        if isinstance(module, nn.Linear):
            weight = _raw_weight(module)
            if getattr(module, "_max_col_norm_version", None) != weight._version:  # changed since last time
                max_col_norm_(weight, network.max_col_norm)
                module._max_col_norm_version = weight._version


def add_max_col_norm(network: nn.Module, max_norm: float | None) -> None:
    """Keep every linear weight of ``network`` inside pylearn2's max-col-norm ball (the 2014 TFD model, 1.9365).

    Pylearn2 projected each weight right after its update (not at initialisation); here a forward pre-hook
    projects a weight the first time the network runs after the weight changed (an optimizer step, a loaded
    checkpoint), before anything reads it, so every forward and every gradient sees what pylearn2's would: the
    same trajectory. The weight is never changed between a forward and its backward. Call it after
    initialising the weights. ``None`` adds nothing.
    """
    network.max_col_norm = max_norm
    if max_norm is None:
        return
    if max_norm <= 0:
        raise ConfigError(f"max_col_norm must be > 0, got {max_norm}.")
    for module in network.modules():
        if isinstance(module, nn.Linear):  # the initial weights are used as drawn, as pylearn2 did
            module._max_col_norm_version = _raw_weight(module)._version
    network.register_forward_pre_hook(_constrain_before_forward)


def num_pixels(image_shape: tuple[int, ...] | list[int]) -> int:
    """The number of values in one sample: C * H * W for images, 2 for 2-D points."""
    return math.prod(image_shape)


def flatten(x: Tensor) -> Tensor:
    return torch.flatten(x, start_dim=1)


def stages_for(size: int, network: str = "DCGAN networks") -> tuple[int, int]:
    """(number of 2x stages, smallest feature-map size) for a square image of side ``size``: halve while the
    side stays even and at least 4 (32 -> 3 stages to 4x4, 28 -> 2 to 7x7, 48 -> 3 to 6x6)."""
    stages = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        stages += 1
    if stages == 0:
        raise ConfigError(f"{network} need an image side divisible by 2 at least once (>= 8), got {size}.")
    return stages, size


def square_image(image_shape: Sequence[int], network: str = "DCGAN networks") -> tuple[int, int]:
    """(channels, side) of a square (C, H, W) image shape; a clear error for anything else (2-D points)."""
    if len(image_shape) != 3:
        raise ConfigError(
            f"{network} need images of shape (C, H, W), got image_shape {tuple(image_shape)}: use the MLP "
            "networks for point data."
        )
    channels, height, width = image_shape
    if height != width:
        raise ConfigError(f"{network} need square images, got {height}x{width}.")
    return channels, height
