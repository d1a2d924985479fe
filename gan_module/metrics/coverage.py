"""Mode coverage: how much of the data's variety a generator reproduces.

On 2-D Gaussian mixtures, as VEEGAN (Srivastava et al. 2017, section 5) and PacGAN (Lin et al. 2018, section 5)
count it: a sample is *high quality* when it lies within 3 standard deviations of its nearest mode centre. A mode
is *captured* when high-quality samples land on it. How many it takes differs: PacGAN's released metric code
(``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``: the modes with a non-zero count of
points within 3 std) counts one; this project used to require 20 per 2,500 samples. Both are reported, with the
rule in the name (:data:`CAPTURE_RULES`). The *reverse KL* is KL(samples' mode histogram || the data's), the
histogram taken over every sample's nearest mode (PacGAN Table 1 reports it beside modes and high quality).

On labelled images, through a classifier of the data's classes: the histogram of predicted classes of the
samples, how many classes appear, and KL(data classes || sample classes) (Lucic et al. 2018 use the reverse
direction too; this direction is infinite when a class is missing, so a small floor keeps it finite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from gan_module.metrics.base import EvaluationContext, EvaluationMetric, register
from gan_module.metrics.features import dataset_classifier
from gan_module.names import CLASSIFIER_ACCURACY

#: name suffix -> high-quality samples per 2,500 that a mode needs to count as captured (scaled to the sample count)
CAPTURE_RULES = {"any": 0, "20of2500": 20}


@dataclass
class MixtureCoverage:
    num_samples: int
    num_modes: int
    high_quality: float  # fraction of samples within ``num_std`` standard deviations of a mode
    per_mode: Tensor  # high-quality samples on each mode
    reverse_kl: float  # KL(histogram of the samples' nearest modes || uniform over modes), nats

    def modes_captured(self, per_2500: int = 0) -> int:
        """Modes with at least ``per_2500`` high-quality samples per 2,500 samples (scaled), and at least one."""
        needed = max(1, round(per_2500 * self.num_samples / 2500))
        return int((self.per_mode >= needed).sum())


def mixture_coverage(samples: Tensor, centers: Tensor, std: float, num_std: float = 3.0) -> MixtureCoverage:
    """Mode coverage of 2-D ``samples`` (N, 2) on an equal-weight mixture with ``centers`` (K, 2) and per-axis
    ``std``."""
    distance = torch.cdist(samples.double(), centers.double().to(samples.device))  # (N, K)
    nearest_distance, nearest = distance.min(dim=1)
    good = nearest_distance <= num_std * std
    k = len(centers)
    histogram = torch.bincount(nearest, minlength=k).double().cpu() / len(samples)
    present = histogram > 0
    reverse_kl = float((histogram[present] * (histogram[present] * k).log()).sum())  # sum p log(p / (1/K))
    return MixtureCoverage(
        num_samples=len(samples),
        num_modes=k,
        high_quality=good.double().mean().item(),
        per_mode=torch.bincount(nearest[good], minlength=k).cpu(),
        reverse_kl=reverse_kl,
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


# ------------------------------------------------------------------------------------ as evaluation metrics
@register
class ModeCoverageMetric(EvaluationMetric):
    """``modes``: on a 2-D mixture (a DataModule with ``centers`` and ``std``), modes captured under each rule of
    :data:`CAPTURE_RULES`, the share of high-quality samples and the reverse KL of the mode histogram."""

    key = "modes"
    outputs = (*(f"_captured_{rule}" for rule in CAPTURE_RULES), "_high_quality", "_reverse_kl")
    data = "points"
    # one mode; 5 points of the high-quality share (PacGAN's spread over trials is 0.2-2 points); 0.05 nats
    margins: ClassVar[dict[str, float]] = {
        **{f"_captured_{rule}": 1.0 for rule in CAPTURE_RULES},
        "_high_quality": 0.05,
        "_reverse_kl": 0.05,
    }
    # under the 3-sigma rule a perfect generator's share is P(chi2_2 < 9) = 1 - exp(-4.5) = 0.989 (NOTES.md)
    ideals: ClassVar[dict[str, float]] = {"_high_quality": 1 - math.exp(-4.5), "_reverse_kl": 0.0}

    def applies(self, context: EvaluationContext) -> bool:
        return super().applies(context) and getattr(context.datamodule, "centers", None) is not None

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        coverage = mixture_coverage(samples, context.datamodule.centers, context.datamodule.std)
        name = self.base_name(context)
        results = {f"{name}_captured_{rule}": float(coverage.modes_captured(n)) for rule, n in CAPTURE_RULES.items()}
        return results | {f"{name}_high_quality": coverage.high_quality, f"{name}_reverse_kl": coverage.reverse_kl}


@register
class ClassCoverageMetric(EvaluationMetric):
    """``classes``: the dataset classifier's histogram of the samples' classes (one ``_share/<label>`` each), how
    many classes appear, KL from the training split's class balance, and the classifier's own test accuracy."""

    key = "classes"
    outputs = ("_covered", "_kl")
    extra_outputs = (CLASSIFIER_ACCURACY,)
    margins: ClassVar[dict[str, float]] = {"_covered": 1.0, "_kl": 0.05}  # one class; 0.05 nats
    ideals: ClassVar[dict[str, float]] = {"_kl": 0.0}

    def applies(self, context: EvaluationContext) -> bool:
        return super().applies(context) and context.labelled

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        classifier, accuracy = context.classifier()
        classes = context.datamodule.num_classes
        data_distribution = context.datamodule.class_counts("train").double()  # counted without decoding images
        coverage = class_coverage(classifier.predict(samples.to(context.device)), classes, data_distribution)
        name = self.base_name(context)
        results = {f"{name}_covered": float(coverage.classes_covered), f"{name}_kl": coverage.kl_from_data}
        results |= {f"{name}_share/{label}": share for label, share in enumerate(coverage.histogram.tolist())}
        return results | {CLASSIFIER_ACCURACY: accuracy}


def stacked_modes(predicted: Tensor, num_modes: int = 1000) -> tuple[int, float]:
    """Modes covered by samples with these mode labels, and KL(sample mode histogram || uniform) in nats: the
    Stacked-MNIST numbers of VEEGAN (Srivastava et al. 2017) and PacGAN Table 2 (finite even when modes are missing)."""
    counts = torch.bincount(predicted.cpu().long(), minlength=num_modes).double()
    q = counts / counts.sum()
    kl = torch.sum(torch.where(q > 0, q * (q * num_modes).log(), torch.zeros_like(q))).item()
    return int((counts > 0).sum()), kl


@register
class StackedModesMetric(EvaluationMetric):
    """``stacked_modes``: Stacked-MNIST's modes: each colour channel classified by an MNIST digit classifier (the
    DataModule's :meth:`digits`, trained and cached like the dataset classifier), the three digits read as one of
    1,000 modes; how many are covered and the KL of their histogram to uniform. VEEGAN and PacGAN use 26,000
    samples (``evaluation.num_samples: 26000``)."""

    key = "stacked_modes"
    outputs = ("_covered", "_kl")
    margins: ClassVar[dict[str, float]] = {"_covered": 10.0, "_kl": 0.05}  # 1% of the modes; 0.05 nats
    ideals: ClassVar[dict[str, float]] = {"_covered": 1000.0, "_kl": 0.0}

    def applies(self, context: EvaluationContext) -> bool:
        return super().applies(context) and hasattr(context.datamodule, "digits")

    def prepare(self, context: EvaluationContext) -> None:
        digits = context.datamodule.digits()
        self.classifier, self.accuracy = dataset_classifier(
            digits, context.classifier_cache, context.classifier_epochs, context.device, context.classifier_pool
        )

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        samples = samples.to(context.device)
        channels = [self.classifier.predict(samples[:, c : c + 1]) for c in range(samples.shape[1])]
        modes = channels[0] * 100 + channels[1] * 10 + channels[2]
        covered, kl = stacked_modes(modes)
        name = self.base_name(context)
        return {f"{name}_covered": float(covered), f"{name}_kl": kl}
