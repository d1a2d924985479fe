"""FID, KID and IS as evaluation metrics: feature statistics of samples against the real split (torchmetrics).

- ``fid``: Fréchet distance of feature means and covariances (Heusel et al. 2017);
- ``kid``: kernel (polynomial MMD) distance, unbiased, mean and std over subsets (Bińkowski et al. 2018);
- ``is``: Inception score exp(E KL(p(y|x) || p(y))) of the samples alone (Salimans et al. 2016).

The feature network is ``evaluation.feature``: Inception-v3 (torch-fidelity weights) or the dataset classifier
(gan_module/metrics/features.py); it is part of each name. Real statistics are computed once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.metrics.features import ClassifierFeatures
from gan_module.metrics.registry import EvaluationContext, EvaluationMetric, register


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
            f"{err}). Pass evaluation.inception_weights=<local weights-inception-2015-12-05-6726825d.pth> or "
            "use evaluation.feature=classifier."
        ) from err


class _FeatureMetric(EvaluationMetric):
    """A torchmetrics metric on the chosen feature network; FID and KID also hold the real split's statistics."""

    protocol: ClassVar[tuple[str, ...]] = ("feature", "real_split")
    compares_real: ClassVar[bool] = True

    def applies(self, context: EvaluationContext) -> bool:
        return context.images and (context.feature == "inception" or context.labelled)

    def extractor(self, context: EvaluationContext) -> Any:
        return 2048 if context.feature == "inception" else ClassifierFeatures(context.classifier()[0])

    def build(self, context: EvaluationContext) -> Any:
        raise NotImplementedError

    def prepare(self, context: EvaluationContext) -> None:
        self.metric = _built(lambda: self.build(context), context).to(context.device)
        if self.compares_real:  # once per run; reset() keeps them (reset_real_features=False)
            for batch in context.datamodule.split_images(context.real_split).split(context.batch_size):
                self.metric.update(_inception_input(batch.to(context.device), context), real=True)

    def values(self, samples: Tensor, context: EvaluationContext) -> Any:
        self.metric.reset()
        side = {"real": False} if self.compares_real else {}
        for batch in samples.split(context.batch_size):
            self.metric.update(_inception_input(batch.to(context.device), context), **side)
        return self.metric.compute()


@register
class FID(_FeatureMetric):
    key = "fid"

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import FrechetInceptionDistance

        weights = (
            {"feature_extractor_weights_path": context.inception_weights} if context.feature == "inception" else {}
        )
        return FrechetInceptionDistance(self.extractor(context), reset_real_features=False, normalize=True, **weights)

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        return {self.base_name(context): float(self.values(samples, context))}


@register
class KID(_FeatureMetric):
    key = "kid"
    outputs = ("", "_std")

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import KernelInceptionDistance

        subset = min(1000, context.num_samples, len(context.datamodule.split_labels(context.real_split)))
        return KernelInceptionDistance(
            self.extractor(context), subset_size=subset, reset_real_features=False, normalize=True
        )

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        mean, std = self.values(samples, context)
        return {self.base_name(context): float(mean), self.base_name(context) + "_std": float(std)}


@register
class IS(_FeatureMetric):
    key = "is"
    protocol = ("feature",)
    outputs = ("", "_std")
    compares_real = False  # a score of the samples alone

    def build(self, context: EvaluationContext) -> Any:
        from torchmetrics.image import InceptionScore

        inception = context.feature == "inception"
        # normalize=True turns [0, 1] floats into bytes for Inception; a custom network must get the floats
        return InceptionScore("logits_unbiased" if inception else context.classifier()[0], normalize=inception)

    def score(self, samples: Tensor, context: EvaluationContext) -> dict[str, float]:
        mean, std = self.values(samples, context)
        return {self.base_name(context): float(mean), self.base_name(context) + "_std": float(std)}
