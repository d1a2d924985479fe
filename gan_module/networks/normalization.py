"""Normalization switches that apply to any network, so no architecture needs an "SN" copy of itself."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def add_spectral_norm(network: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every linear, convolutional and embedding weight.

    Each weight is divided by its largest singular value, estimated by one power iteration per training
    forward pass; torch picks the right dimension for transposed convolutions. This covers every weight SNGAN
    normalises in this package's networks, the projection discriminator's class embedding included (Miyato &
    Koyama 2018). Batch-norm scales are left alone, including the per-class gains of conditional batch norm,
    which are plain parameters and not embeddings for that reason. Returns ``network``.
    """
    for module in network.modules():
        if isinstance(module, _WEIGHTED) and not parametrize.is_parametrized(module, "weight"):
            spectral_norm(module)
    return network
