"""The interface every evaluation metric implements, and the table of shipped metrics it registers into.

gan_module/metrics/registry.py finds a metric by name; the shipped metrics (distribution.py, parzen.py,
coverage.py) subclass :class:`EvaluationMetric` from here and :func:`register` themselves, so the registry imports
them and nothing here imports the registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from gan_module.metrics.features import CLASSIFIER_POOL, DEFAULT_CACHE, dataset_classifier
from gan_module.names import eval_name

log = logging.getLogger(__name__)
#: the most samples a metric given all samples at once takes unless it declares its own ``max_samples``: the
#: callback holds them all (a CIFAR-10 sample is 3,072 float32 values: 100,000 samples are 1.2 GB)
WHOLE_SET_LIMIT = 100_000


@dataclass
class EvaluationContext:
    """What every metric of one evaluation shares: the data, the protocol settings, the device, and the dataset
    classifier (trained or loaded once, on first use)."""

    datamodule: Any
    device: torch.device
    feature: str = "classifier"
    num_samples: int = 10000
    real_split: str = "test"
    batch_size: int = 500
    parzen_val_size: int = 1000
    inception_weights: str | None = None
    classifier_cache: str | Path = DEFAULT_CACHE
    classifier_epochs: int = 3
    #: the most training images the classifier learns from a split read from files (features.CLASSIFIER_POOL)
    classifier_pool: int | None = CLASSIFIER_POOL
    #: folder of the cached real statistics of FID and KID (gan_module/metrics/real_statistics.py); None: none
    statistics_cache: str | Path | None = None
    #: the name part of the sampler whose samples are scored (gan_module/samplers/); None: the plain generator
    sampler: str | None = None
    _classifier: tuple[Any, float] | None = field(default=None, repr=False)

    @property
    def images(self) -> bool:
        return len(self.datamodule.image_shape) == 3

    @property
    def labelled(self) -> bool:
        return bool(getattr(self.datamodule, "num_classes", 0))

    def classifier(self) -> tuple[Any, float]:
        """The dataset classifier and its test accuracy (gan_module/metrics/features.py)."""
        if self._classifier is None:
            self._classifier = dataset_classifier(
                self.datamodule, self.classifier_cache, self.classifier_epochs, self.device, self.classifier_pool
            )
            log.info("Evaluation: dataset classifier test accuracy %.4f", self._classifier[1])
        return self._classifier


class EvaluationMetric:
    """One metric. Subclasses set ``key`` and ``outputs`` and implement :meth:`score`.

    ``protocol`` names the settings its numbers depend on besides the sample count (they go into its name);
    ``outputs`` are the suffixes logged after that name (``("", "_std")``: ``eval/kid_..._test`` and
    ``eval/kid_..._test_std``); ``extra_outputs`` are whole names it also logs. ``data`` says what samples it
    measures (``"images"``, ``"points"`` or ``"any"``).
    """

    key: ClassVar[str]
    #: the settings its numbers depend on, written into its name: "feature" and/or "real_split"
    protocol: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ("",)
    extra_outputs: ClassVar[tuple[str, ...]] = ()
    data: ClassVar[str] = "images"
    #: the default equivalence margin of each output (by suffix), in the output's own units: two candidates
    #: closer than this are "equally good" (the study's TOST, gan_module/study/statistics.py). None where the
    #: scale depends on the protocol (FID's feature network): a study declares it in `margins`.
    margins: ClassVar[dict[str, float]] = {}
    #: what a perfect generator (or the real data) scores on each output (by suffix): with the untrained level,
    #: the fixed ends of the scale a study's pick reads (gan_module/study/references.py). None where it depends
    #: on the data (modes captured: the number of modes) or is unbounded (IS, Parzen).
    ideals: ClassVar[dict[str, float]] = {}
    #: fed batch by batch (:meth:`reset`, :meth:`update`, :meth:`compute`) instead of all samples at once
    #: (:meth:`score`), so the Evaluation callback never holds all samples for it
    streams: ClassVar[bool] = False
    #: the most samples it takes (``evaluation.num_samples`` above is refused before training), and why; None:
    #: any number. By default the callback holds all samples at once for :meth:`score`.
    max_samples: ClassVar[int | None] = WHOLE_SET_LIMIT
    limit_reason: ClassVar[str] = "all samples are given at once, in one tensor"

    def applies(self, context: EvaluationContext) -> bool:
        """Whether it can measure this data (the callback skips it with a log line otherwise)."""
        return self.data == "any" or (self.data == "images") == context.images

    def prepare(self, context: EvaluationContext) -> None:
        """Once per run, before the first :meth:`score`: feature networks, real-data statistics."""

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        """The logged numbers of ``samples`` (on the CPU, in the model's value range), by full name."""
        raise NotImplementedError

    def reset(self, context: EvaluationContext) -> None:
        """A streaming metric: forget the samples of the last evaluation."""
        raise NotImplementedError

    def update(self, batch: Tensor, context: EvaluationContext) -> None:
        """A streaming metric: add one batch of samples (on the CPU, in the model's value range)."""
        raise NotImplementedError

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        """A streaming metric: the logged numbers of the samples given since :meth:`reset`."""
        raise NotImplementedError

    @classmethod
    def name(cls, *, num_samples: int, feature: str, real_split: str, sampler: str | None = None) -> str:
        """Its logged name under these settings (``eval/fid_classifier_10k_test``; ``..._test_drs`` for samples
        a discriminator-guided sampler drew)."""
        chosen = {"feature": feature, "real_split": real_split}
        protocol = (chosen[p] if p in cls.protocol else None for p in chosen)
        return eval_name(cls.key, num_samples, *protocol, sampler=sampler)

    @classmethod
    def logged_names(cls, *, num_samples: int, feature: str, real_split: str, sampler: str | None = None) -> list[str]:
        base = cls.name(num_samples=num_samples, feature=feature, real_split=real_split, sampler=sampler)
        return [base + suffix for suffix in cls.outputs] + list(cls.extra_outputs)

    def base_name(self, context: EvaluationContext) -> str:
        return self.name(
            num_samples=context.num_samples,
            feature=context.feature,
            real_split=context.real_split,
            sampler=context.sampler,
        )


REGISTRY: dict[str, type[EvaluationMetric]] = {}


def register(cls: type[EvaluationMetric]) -> type[EvaluationMetric]:
    """Make a metric available by its ``key`` in ``evaluation.metrics``."""
    REGISTRY[cls.key] = cls
    return cls
