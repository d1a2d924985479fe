"""Parzen-window log-likelihood, as Goodfellow et al. (2014) estimated it (their parzen_ll.py).

A Gaussian kernel of width sigma sits on each generated sample mu_j; the log-likelihood of a test image x is

    log p(x) = logmeanexp_j( -||x - mu_j||^2 / (2 sigma^2) ) - d * log(sigma * sqrt(2 pi))

in nats, with pixels on [0, 1]. sigma is chosen from ``logspace(-1, 0, 10)`` by the highest mean
log-likelihood on validation images; the reported number is the mean over the test set with its standard
error. Computed in float64 in batches (one (batch x centres) distance matrix at a time).

Every sample is a kernel centre, so all of them are held at once (in float64, beside the float32 samples):
the metric takes at most :data:`PARZEN_LIMIT` samples, five times the paper's 10,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from gan_module.metrics.base import EvaluationContext, EvaluationMetric, register

#: the paper's candidate kernel widths: numpy.logspace(-1, 0, 10)
PAPER_SIGMAS = tuple(float(s) for s in torch.logspace(-1, 0, 10, dtype=torch.float64))
#: the most samples ``parzen`` takes: at 3,072 values a sample (CIFAR-10), 50,000 centres are 1.2 GB in float64
#: beside two float32 copies (the samples, on [0, 1]) of 0.6 GB each, and each of the ~20,000 scored images
#: (10 sigmas x 1,000 validation images, then the test split) meets every centre
PARZEN_LIMIT = 50_000


def parzen_log_likelihood(x: Tensor, centres: Tensor, sigma: float, batch_size: int = 256) -> Tensor:
    """log p(x) for each row of ``x`` (M, d) under the kernel density on ``centres`` (N, d); shape (M,)."""
    x = x.flatten(1).double()
    centres = centres.flatten(1).double().to(x.device)
    d = x.shape[1]
    c_sq = (centres**2).sum(1)
    log_norm = math.log(centres.shape[0]) + d * math.log(sigma * math.sqrt(2 * math.pi))
    out = []
    for batch in x.split(batch_size):
        # ||x - mu||^2 = ||x||^2 + ||mu||^2 - 2 x.mu; clamp the rounding error below 0
        sq = ((batch**2).sum(1, keepdim=True) + c_sq - 2.0 * batch @ centres.T).clamp_min(0.0)
        out.append(torch.logsumexp(-sq / (2 * sigma**2), dim=1) - log_norm)
    return torch.cat(out)


@dataclass
class ParzenResult:
    mean: float  # mean log-likelihood over the test images (nats)
    std_error: float  # std / sqrt(M)
    sigma: float  # the kernel width chosen on validation data
    val_scores: dict[float, float]  # mean validation log-likelihood per candidate sigma


def parzen_estimate(
    samples: Tensor,
    val: Tensor,
    test: Tensor,
    sigmas: tuple[float, ...] = PAPER_SIGMAS,
    batch_size: int = 256,
) -> ParzenResult:
    """The paper's protocol: pick sigma on ``val``, report mean +- standard error on ``test``."""
    val_scores = {s: parzen_log_likelihood(val, samples, s, batch_size).mean().item() for s in sigmas}
    sigma = max(val_scores, key=val_scores.get)
    ll = parzen_log_likelihood(test, samples, sigma, batch_size)
    return ParzenResult(ll.mean().item(), (ll.std() / math.sqrt(len(ll))).item(), sigma, val_scores)


@register
class ParzenMetric(EvaluationMetric):
    """``parzen``: the paper's protocol on the samples, sigma chosen on ``parzen_val_size`` validation images,
    mean ± standard error over the real split, pixels on [0, 1]."""

    key = "parzen"
    protocol = ("real_split",)
    outputs = ("", "_stderr", "_sigma")
    margins: ClassVar[dict[str, float]] = {"": 5.0}  # nats: about twice the 2014 table's standard errors
    max_samples: ClassVar[int] = PARZEN_LIMIT
    limit_reason: ClassVar[str] = "every sample is a kernel centre, all held at once"

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        data = context.datamodule
        unit = data.to_unit_interval
        val = data.split_images("val")[: context.parzen_val_size]
        parzen = parzen_estimate(unit(samples), unit(val), unit(data.split_images(context.real_split)))
        name = self.base_name(context)
        return {name: parzen.mean, f"{name}_stderr": parzen.std_error, f"{name}_sigma": parzen.sigma}
