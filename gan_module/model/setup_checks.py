"""Set-up checks of a GAN against its data, run before the first step: a mismatch is one ConfigError that says
what to change, not a shape error deep in the first iteration."""

from __future__ import annotations

import torch
from torch import nn

from gan_module.errors import ConfigError
from gan_module.model.packing import pack_samples


def agreed_classes(generator: nn.Module, discriminator: nn.Module) -> int:
    """How many classes the model is conditioned on (0: unconditional); G and D must agree."""
    g_classes = getattr(generator, "num_classes", 0) or 0
    d_classes = getattr(discriminator, "num_classes", 0) or 0
    if g_classes != d_classes:

        def describe(n: int) -> str:
            return f"conditional on {n} classes" if n else "unconditional"

        raise ConfigError(
            f"The generator is {describe(g_classes)} but the discriminator is {describe(d_classes)}: set "
            "`conditional: true` in the init_args of both networks, or of neither."
        )
    return g_classes


def check_networks(gan, image_shape: tuple[int, ...], value_range: tuple[float, float] | None) -> None:
    """Fail before training if G's samples cannot be compared with the data, or D's output is not (N,)."""
    n = 2 * gan.pack  # two inputs of D
    z = gan.noise.sample(n, gan.latent_dim, "cpu", torch.Generator().manual_seed(0)).to(gan.device)
    labels = torch.zeros(n, dtype=torch.long, device=gan.device) if gan.num_classes else None
    was_training = gan.training
    gan.eval()
    try:
        with torch.no_grad():
            fake = gan(z, labels)
            if tuple(fake.shape[1:]) != image_shape:
                raise ConfigError(
                    f"The generator {type(gan.generator).__name__} makes images of shape "
                    f"{tuple(fake.shape[1:])}, but the data's images are {image_shape} (C, H, W). "
                    "Choose a generator for this image size or change the dataset."
                )
            packed = pack_samples(fake, gan.pack)
            try:
                out = gan.judge(packed, labels)
            except RuntimeError as err:  # a shape mismatch inside D's first layer
                if gan.pack == 1:
                    raise
                raise ConfigError(
                    f"The discriminator {type(gan.discriminator).__name__} cannot judge packed inputs of shape "
                    f"{tuple(packed.shape[1:])} (model.pack: {gan.pack}): build it for that input shape "
                    f"(gan_module/cli.py links it from the data). {err}"
                ) from err
    finally:
        gan.train(was_training)
    if tuple(out.shape) != (2,):
        raise ConfigError(
            f"The discriminator {type(gan.discriminator).__name__} must return one raw output per image, "
            f"shape (N,); for 2 inputs it returned {tuple(out.shape)}."
        )
    g_range = getattr(gan.generator, "output_range", None)
    if value_range is not None and g_range is not None and tuple(g_range) != tuple(value_range):
        raise ConfigError(
            f"The generator's output range {tuple(g_range)} differs from the data's value_range "
            f"{tuple(value_range)}: set data.value_range to {list(g_range)} or change the generator's output."
        )
