"""The maths behind the training diagnostics (``diag/*``): cheap numbers computed on the D and G steps."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def gradient_norm(network: nn.Module) -> Tensor:
    """L2 norm of all of a network's gradients together (0 when none has a gradient)."""
    grads = [p.grad for p in network.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).detach()


def spread_ratio(fake: Tensor, real: Tensor) -> Tensor:
    """Mean pairwise L2 distance within ``fake`` over that within ``real`` (1: as varied as the data)."""

    def mean_distance(x: Tensor) -> Tensor:
        x = x.detach().flatten(1).float()
        n = x.shape[0]
        return torch.cdist(x, x).sum() / max(n * (n - 1), 1)

    return mean_distance(fake) / mean_distance(real).clamp_min(1e-12)
