"""FID, KID and IS as evaluation metrics: feature statistics of samples against the real split (torchmetrics).

- ``fid``: Fréchet distance of feature means and covariances (Heusel et al. 2017);
- ``kid``: kernel (polynomial MMD) distance, unbiased, mean and std over subsets (Bińkowski et al. 2018);
- ``is``: Inception score exp(E KL(p(y|x) || p(y))) of the samples alone (Salimans et al. 2016).

The feature network is ``evaluation.feature``: Inception-v3 (torch-fidelity weights) or the dataset classifier
(gan_module/metrics/features.py); it is part of each name. Real statistics are computed once per dataset, split
and feature network, and cached (``evaluation.statistics_cache``, gan_module/metrics/real_statistics.py).

All three are fed the samples batch by batch (:meth:`_FeatureMetric.update`), never as one tensor. FID keeps only
running sums (a mean and a covariance of the features), so any number of samples fits in memory; KID keeps every
sample's features (its subsets are drawn from all of them) and IS every sample's class scores (split at random),
so they take at most :data:`HELD_FEATURES_LIMIT` samples (``evaluation.num_samples`` above it is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.metrics.base import EvaluationContext, EvaluationMetric, register
from gan_module.metrics.features import ClassifierFeatures
from gan_module.metrics.inception import INSTALL, InceptionFeatures
from gan_module.metrics.real_statistics import load_or_compute, statistics_file

#: the most samples KID and IS take: they hold a feature row per sample (2,048 floats with Inception: 100,000
#: samples are 0.8 GB, and KID's compute copies them once more)
HELD_FEATURES_LIMIT = 100_000


def _inception_input(images: Tensor, context: EvaluationContext) -> Tensor:
    """What the feature network reads: Inception wants 3 channels on [0, 1]; the classifier the data's scale."""
    if context.feature != "inception":
        return images
    images = context.datamodule.to_unit_interval(images)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def _built(factory: Callable[[], Any], context: EvaluationContext) -> Any:
    """``factory()``; a failed download of the Inception weights becomes one line that says what to do."""
    try:
        return factory()
    except Exception as err:  # no internet, a proxy, a full disk
        if context.feature != "inception" or context.inception_weights is not None:
            raise
        raise ConfigError(
            f"evaluation.feature=inception: the Inception weights could not be fetched ({type(err).__name__}: "
            f"{err}); instead: {INSTALL}."
        ) from err


class _FeatureMetric(EvaluationMetric):
    """A torchmetrics metric on the chosen feature network; FID and KID also hold the real split's statistics.

    It is fed batch by batch (``streams``: the Evaluation callback calls :meth:`reset`, :meth:`update` for every
    generated batch, then :meth:`compute`), so the callback never holds all samples for it.
    """

    protocol: ClassVar[tuple[str, ...]] = ("feature", "real_split")
    compares_real: ClassVar[bool] = True
    streams: ClassVar[bool] = True
    max_samples: ClassVar[int | None] = None  # FID keeps running sums only; KID and IS set their own

    def applies(self, context: EvaluationContext) -> bool:
        return context.images and (context.feature == "inception" or context.labelled)

    def extractor(self, context: EvaluationContext) -> Any:
        if context.feature != "inception":
            return ClassifierFeatures(context.classifier()[0])
        # a weights file (official, or converted offline): the same network torchmetrics builds, from that file
        return InceptionFeatures(context.inception_weights) if context.inception_weights else 2048

    def build(self, context: EvaluationContext) -> Any:
        raise NotImplementedError

    def prepare(self, context: EvaluationContext) -> None:
        self.metric = _built(lambda: self.build(context), context).to(context.device)
        if self.compares_real:  # once per run, or once per cache; reset() keeps them (reset_real_features=False)
            path = None
            if context.statistics_cache is not None:
                network, data = self.metric.inception, context.datamodule
                path = statistics_file(context.statistics_cache, self.key, network, data, context.real_split)
            load_or_compute(self.metric, path, lambda: self._feed_real(context), context.device)

    def _feed_real(self, context: EvaluationContext) -> None:
        """The real split, batch by batch as the data module reads it (a folder's split is never held whole)."""
        data = context.datamodule
        for images, _ in data.split_batches(context.real_split, context.batch_size):
            self.metric.update(_inception_input(data.scale(images).to(context.device), context), real=True)

    def reset(self, context: EvaluationContext) -> None:
        """Forget the samples of the last evaluation (the real split's statistics stay)."""
        self.metric.reset()

    def update(self, batch: Tensor, context: EvaluationContext) -> None:
        """Add one batch of samples (on the CPU, in the model's value range)."""
        side = {"real": False} if self.compares_real else {}
        self.metric.update(_inception_input(batch.to(context.device), context), **side)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        """The logged numbers of the samples given since :meth:`reset`."""
        raise NotImplementedError

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        self.reset(context)
        for batch in samples.split(context.batch_size):
            self.update(batch, context)
        return self.compute(context)


@register
class FID(_FeatureMetric):
    key = "fid"
    ideals: ClassVar[dict[str, float]] = {"": 0.0}  # the real split against itself

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import FrechetInceptionDistance

        return FrechetInceptionDistance(self.extractor(context), reset_real_features=False, normalize=True)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        return {self.base_name(context): float(self.metric.compute())}


@register
class KID(_FeatureMetric):
    key = "kid"
    outputs = ("", "_std")
    ideals: ClassVar[dict[str, float]] = {"": 0.0}
    max_samples: ClassVar[int] = HELD_FEATURES_LIMIT
    limit_reason: ClassVar[str] = "every sample's features are kept to draw its subsets from"

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import KernelInceptionDistance

        subset = min(1000, context.num_samples, len(context.datamodule.reader(context.real_split)))
        return KernelInceptionDistance(
            self.extractor(context), subset_size=subset, reset_real_features=False, normalize=True
        )

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        mean, std = self.metric.compute()
        return {self.base_name(context): float(mean), self.base_name(context) + "_std": float(std)}


@register
class IS(_FeatureMetric):
    key = "is"
    protocol = ("feature",)
    outputs = ("", "_std")
    compares_real = False  # a score of the samples alone
    max_samples: ClassVar[int] = HELD_FEATURES_LIMIT
    limit_reason: ClassVar[str] = "every sample's class scores are kept to split them at random"

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import InceptionScore

        inception = context.feature == "inception"
        if inception and context.inception_weights:  # the official file, named or cached (Evaluation checked)
            feature = InceptionFeatures(context.inception_weights, "logits_unbiased")
        else:
            feature = "logits_unbiased" if inception else context.classifier()[0]
        # normalize=True turns [0, 1] floats into bytes for Inception; a custom network must get the floats
        return InceptionScore(feature, normalize=inception)

    def compute(self, context: EvaluationContext) -> dict[str, float]:
        mean, std = self.metric.compute()
        return {self.base_name(context): float(mean), self.base_name(context) + "_std": float(std)}
