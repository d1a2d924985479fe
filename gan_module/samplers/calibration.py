"""D's logit, calibrated on held-out real images, as the log density ratio the samplers need.

Both samplers read ``log p_data(x) / p_g(x)`` off D: for the optimal D of the 2014 paper's Theorem 1,
``D*(x) = p_data / (p_data + p_g)``, so its logit is that log ratio. A trained D is neither optimal nor
calibrated (a WGAN critic or a hinge D is not even a probability), so, as Azadi et al. (2019, "Discriminator
Rejection Sampling", sec. 4.1) do, a logistic regression on top of D's logit is fitted on held-out real images
(the data's ``val`` split: never the test split, which scores the samples) against as many fresh samples:
``logit = a * D(x) + b`` (Platt scaling; Turner et al. 2019 calibrate the same way or isotonically).

Packing (PacGAN): a packed D judges m samples at once, and the logit of the optimal packed D is the sum of the
samples' log ratios (the m samples are independent). One sample's logit is read off as the mean, over a few fixed
sets of partner samples from G and over the m positions, of D on the sample packed with the partners: exact
(up to a constant the calibration absorbs) for the optimal packed D.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """D's calibration for one state of its weights (``d_steps``), and the samples it was fitted on."""

    d_steps: int
    scale: float  # a: calibrated logit = a * (per-sample D logit) + b
    shift: float  # b
    partners: Tensor | None  # (R, m - 1, *sample) samples of G that a packed D judges a sample with
    real: Tensor  # the held-out real samples (MH-GAN starts its chains at them)
    real_labels: Tensor | None
    fake_logits: Tensor  # calibrated logits of as many fresh G samples (the burn-in of DRS)
    real_logits: Tensor  # calibrated logits of the held-out real samples


def per_sample_logits(module: Any, x: Tensor, labels: Tensor | None, partners: Tensor | None) -> Tensor:
    """D's raw output for each sample of ``x`` (N,), in float32; packed D: averaged over partners and positions."""
    if module.pack == 1 or partners is None:
        return module.judge(x, labels).float()
    total = torch.zeros(x.shape[0], device=x.device)
    sets, others = partners.shape[0], partners.shape[1]
    for r in range(sets):
        fixed = [partners[r, i].to(x.device).expand_as(x) for i in range(others)]
        for position in range(others + 1):
            parts = [*fixed[:position], x, *fixed[position:]]
            total += module.judge(torch.cat(parts, dim=1), None).float()
    return total / (sets * (others + 1))


def fit_logistic(real: Tensor, fake: Tensor, ridge: float = 1e-4, steps: int = 50) -> tuple[float, float]:
    """``(a, b)`` maximising the likelihood of sigmoid(a * l + b) for real (1) against fake (0) logits ``l``.

    Newton's method on the two parameters, in float64 on standardised logits; a small ridge on ``a`` keeps it
    finite when D separates the held-out samples perfectly.
    """
    logits = torch.cat([real, fake]).double().cpu()
    target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).double()
    weight = torch.cat([torch.full((len(real),), 0.5 / len(real)), torch.full((len(fake),), 0.5 / len(fake))])
    mean, std = logits.mean(), logits.std().clamp_min(1e-12)
    features = torch.stack([(logits - mean) / std, torch.ones_like(logits)], dim=1)
    theta = torch.zeros(2, dtype=torch.float64)
    for _ in range(steps):
        p = torch.sigmoid(features @ theta)
        gradient = features.T @ (weight.double() * (p - target)) + ridge * torch.tensor([theta[0], 0.0])
        hessian = (features * (weight.double() * p * (1 - p))[:, None]).T @ features
        hessian += torch.diag(torch.tensor([ridge, 1e-12], dtype=torch.float64))
        step = torch.linalg.solve(hessian, gradient)
        theta = theta - step
        if float(step.abs().max()) < 1e-10:
            break
    a = float(theta[0] / std)
    return a, float(theta[1] - a * mean)


@torch.no_grad()
def calibrate(
    module: Any,
    held_out: tuple[Tensor, Tensor | None],
    size: int,
    partner_sets: int,
    generator: torch.Generator,
    name: str,
) -> Calibration:
    """Fit the calibration of D's logit on ``size`` of the ``held_out`` real samples (and their labels: the data's
    ``val`` split) against as many fresh samples of G."""
    real_all, labels_all = held_out
    order = torch.randperm(len(real_all), generator=generator)[: min(size, len(real_all))]
    real = real_all[order].to(module.device)
    real_labels = labels_all[order].to(module.device) if module.num_classes and labels_all is not None else None
    partners = None
    if module.pack > 1:
        count = partner_sets * (module.pack - 1)
        partners = module.generate_plain(module.sample_noise(count, generator), None)
        partners = partners.reshape(partner_sets, module.pack - 1, *partners.shape[1:])
    fake = module.generate_plain(module.sample_noise(len(real), generator), real_labels)
    raw_real = _batched(module, real, real_labels, partners)
    raw_fake = _batched(module, fake, real_labels, partners)
    scale, shift = fit_logistic(raw_real, raw_fake)
    calibration = Calibration(
        d_steps=int(module.d_steps),
        scale=scale,
        shift=shift,
        partners=partners,
        real=real,
        real_labels=real_labels,
        fake_logits=(scale * raw_fake + shift),
        real_logits=(scale * raw_real + shift),
    )
    accuracy = 0.5 * float((calibration.real_logits > 0).float().mean() + (calibration.fake_logits < 0).float().mean())
    log.info(
        "%s: D calibrated on %d held-out real and %d fresh samples (logit = %.3g * D + %.3g; held-out accuracy %.3f)",
        name,
        len(real),
        len(fake),
        scale,
        shift,
        accuracy,
    )
    return calibration


def _batched(module: Any, x: Tensor, labels: Tensor | None, partners: Tensor | None, chunk: int = 2048) -> Tensor:
    parts = []
    for start in range(0, len(x), chunk):
        part_labels = None if labels is None else labels[start : start + chunk]
        parts.append(per_sample_logits(module, x[start : start + chunk], part_labels, partners))
    return torch.cat(parts) if parts else torch.empty(0)


def calibrated_logits(module: Any, calibration: Calibration, x: Tensor, labels: Tensor | None) -> Tensor:
    """``a * D(x) + b``: the calibrated estimate of ``log p_data(x) / p_g(x)`` for each sample."""
    raw = _batched(module, x, labels, calibration.partners)
    return calibration.scale * raw + calibration.shift
