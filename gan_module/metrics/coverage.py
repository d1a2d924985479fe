"""Mode coverage: how much of the data's variety a generator reproduces.

On 2-D Gaussian mixtures, as VEEGAN (Srivastava et al. 2017, section 5) and PacGAN (Lin et al. 2018, section 5)
count it: a sample is *high quality* when it lies within 3 standard deviations of its nearest mode centre, and a
mode is *captured* when enough high-quality samples land on it (PacGAN: at least 20 of 2,500 samples).

On labelled images, through a classifier of the data's classes: the histogram of predicted classes of the
samples, how many classes appear, and KL(data classes || sample classes) (Lucic et al. 2018 use the reverse
direction too; this direction is infinite when a class is missing, so a small floor keeps it finite).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class MixtureCoverage:
    modes_captured: int
    num_modes: int
    high_quality: float  # fraction of samples within ``num_std`` standard deviations of a mode
    per_mode: Tensor  # high-quality samples on each mode


def mixture_coverage(
    samples: Tensor, centers: Tensor, std: float, num_std: float = 3.0, min_count: int | None = None
) -> MixtureCoverage:
    """Mode coverage of 2-D ``samples`` (N, 2) on a mixture with ``centers`` (K, 2) and per-axis ``std``.

    ``min_count`` (high-quality samples a mode needs to count as captured) defaults to PacGAN's 20 per 2,500
    samples, scaled to ``len(samples)`` (at least 1).
    """
    if min_count is None:
        min_count = max(1, round(20 * len(samples) / 2500))
    distance = torch.cdist(samples.double(), centers.double().to(samples.device))  # (N, K)
    nearest_distance, nearest = distance.min(dim=1)
    good = nearest_distance <= num_std * std
    per_mode = torch.bincount(nearest[good], minlength=len(centers)).cpu()
    return MixtureCoverage(
        modes_captured=int((per_mode >= min_count).sum()),
        num_modes=len(centers),
        high_quality=good.double().mean().item(),
        per_mode=per_mode,
    )


@dataclass
class ClassCoverage:
    histogram: Tensor  # fraction of samples predicted as each class
    classes_covered: int
    kl_from_data: float  # KL(data class distribution || sample class distribution), nats


def class_coverage(predicted: Tensor, num_classes: int, data_distribution: Tensor | None = None) -> ClassCoverage:
    """Class statistics of samples from their ``predicted`` classes; the data's distribution defaults to uniform.

    A class with no samples gets probability 1e-6 (of one sample in a million) in the KL, so a missing class
    shows as a large finite penalty rather than infinity.
    """
    counts = torch.bincount(predicted.cpu().long(), minlength=num_classes).double()
    histogram = counts / counts.sum()
    p = torch.ones(num_classes) if data_distribution is None else data_distribution.cpu()
    p = p.double() / p.sum()
    q = histogram.clamp_min(1e-6)
    kl = torch.sum(torch.where(p > 0, p * (p.log() - q.log()), torch.zeros_like(p))).item()
    return ClassCoverage(histogram=histogram.float(), classes_covered=int((counts > 0).sum()), kl_from_data=kl)
