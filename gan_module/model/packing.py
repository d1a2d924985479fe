"""Packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks", section 3).

D judges m samples at once: m consecutive samples of a minibatch are put side by side (concatenated along the
first sample dimension, channels for images, coordinates for points) into one input of D. Real and fake
minibatches are packed alike, so a packed D sees m independent draws of the same distribution and the product
distribution p^m exposes a G that covers few modes (the paper's mode-collapse region argument).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from gan_module.errors import ConfigError


def packed_shape(sample_shape: Sequence[int], pack: int) -> tuple[int, ...]:
    """The shape of one input of a packed D: (m*C, H, W) for images (C, H, W), (m*d,) for points (d,)."""
    first, *rest = sample_shape
    return (pack * first, *rest)


def check_batch_size(batch_size: int, pack: int) -> None:
    """A minibatch must split into whole packed inputs; otherwise stop with what to set instead."""
    if batch_size % pack:
        nearest = batch_size - batch_size % pack or pack
        raise ConfigError(
            f"model.pack: {pack} packs {pack} samples into each input of D, but data.batch_size ({batch_size}) is "
            f"not a multiple of {pack}: set the batch size to a multiple of it (e.g. {nearest})."
        )


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """(N, C, ...) -> (N/m, m*C, ...): samples i*m .. i*m+m-1 side by side as D's i-th input.

    N must be a multiple of m (training checks the batch size at start-up; evaluation trims its last batch).
    """
    if pack == 1:
        return x
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])
