"""Numbers that compare generators: FID, KID, IS, the 2014 paper's Parzen estimate and mode coverage.

One set of samples per evaluation feeds every metric. The protocol is part of each logged name, so numbers
from different protocols are never compared by accident: ``eval/fid_classifier_10k_test`` is FID with the
dataset-classifier features, 10,000 samples, against the test split.

- ``fid`` / ``kid``: Fréchet / kernel distance of feature statistics, samples vs ``real_split`` (Heusel et al.
  2017; Bińkowski et al. 2018);
- ``is``: Inception score of the samples (Salimans et al. 2016);
- ``parzen``: Parzen-window log-likelihood of ``real_split``, sigma chosen on 1,000 validation images, pixels on
  [0, 1] (Goodfellow et al. 2014, section 5);
- ``classes``: class histogram of the samples by the dataset classifier: classes covered, KL from the data's
  class distribution (Lucic et al. 2018);
- ``modes``: on 2-D mixtures, the share of high-quality samples, modes captured under each rule of
  ``CAPTURE_RULES`` and the reverse KL of the mode histogram (Srivastava et al. 2017; Lin et al. 2018).

Metric networks live here, never in the LightningModule, so they stay out of its checkpoints. Real-image
statistics are computed once per run. Works after training: ``python main.py test --config ... --ckpt_path ...``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.metrics.coverage import CAPTURE_RULES, class_coverage, mixture_coverage
from gan_module.metrics.features import DEFAULT_CACHE, FEATURES, ClassifierFeatures, dataset_classifier
from gan_module.metrics.parzen import parzen_estimate
from gan_module.names import CLASSIFIER_ACCURACY, EVAL, eval_name

METRICS = ("fid", "kid", "is", "parzen", "classes", "modes")
IMAGE_METRICS = ("fid", "kid", "is", "parzen", "classes")
log = logging.getLogger(__name__)


class Evaluation(L.Callback):
    """Evaluates the generator every ``every_n_epochs`` epochs while fitting, and in ``test``.

    Metrics that do not apply to the data (``modes`` on images, image metrics on 2-D points) are skipped with
    a note in the log.

    Args:
        metrics: any of ``fid``, ``kid``, ``is``, ``parzen``, ``classes``, ``modes``.
        num_samples: generated samples per evaluation (the 2014 Parzen protocol uses 10,000).
        feature: feature network of FID/KID/IS: ``classifier`` (offline, trained on the data) or ``inception``.
        real_split: the split FID/KID compare against and Parzen scores (``val`` or ``test``).
        every_n_epochs: evaluate while fitting every n epochs; 0 only in ``test``.
        parzen_val_size: validation images used to choose Parzen's sigma (the paper: 1,000).
        batch_size: samples generated (and featurised) at a time.
        seed: seed of the evaluation noise, the same at every evaluation.
        inception_weights: a local Inception weights file for machines without internet.
        classifier_cache: folder of the cached dataset classifiers.
        classifier_epochs: training epochs of a new dataset classifier.
    """

    def __init__(
        self,
        metrics: list[str] | None = None,
        num_samples: int = 10000,
        feature: str = "classifier",
        real_split: str = "test",
        every_n_epochs: int = 0,
        parzen_val_size: int = 1000,
        batch_size: int = 500,
        seed: int = 0,
        inception_weights: str | None = None,
        classifier_cache: str = str(DEFAULT_CACHE),
        classifier_epochs: int = 3,
    ) -> None:
        self.metrics = list(metrics) if metrics is not None else ["fid", "kid", "parzen", "classes", "modes"]
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown:
            raise ConfigError(f"evaluation.metrics: unknown {unknown}; choose from {list(METRICS)}.")
        if feature not in FEATURES:
            raise ConfigError(f"evaluation.feature must be one of {list(FEATURES)}, got {feature!r}.")
        if real_split not in ("val", "test"):
            raise ConfigError(f"evaluation.real_split must be 'val' or 'test', got {real_split!r}.")
        if num_samples < 2 or every_n_epochs < 0:
            raise ConfigError("evaluation.num_samples must be >= 2 and every_n_epochs >= 0.")
        if inception_weights is not None and not Path(inception_weights).expanduser().is_file():
            raise ConfigError(f"evaluation.inception_weights: no such file {inception_weights}.")
        self.num_samples, self.feature, self.real_split = num_samples, feature, real_split
        self.every_n_epochs, self.parzen_val_size = every_n_epochs, parzen_val_size
        self.batch_size, self.seed, self.inception_weights = batch_size, seed, inception_weights
        self.classifier_cache, self.classifier_epochs = classifier_cache, classifier_epochs
        self._state: dict | None = None  # feature networks, real statistics: built on first use, once per run
        self.last_results: dict[str, float] = {}

    # ------------------------------------------------------------------ what applies
    def active_metrics(self, datamodule) -> list[str]:
        images = len(datamodule.image_shape) == 3
        active = [m for m in self.metrics if (m in IMAGE_METRICS) == images]
        if "modes" in active and getattr(datamodule, "centers", None) is None:
            active.remove("modes")
        needs_classes = {"classes"} | ({"fid", "kid", "is"} if self.feature == "classifier" else set())
        if not getattr(datamodule, "num_classes", 0):
            active = [m for m in active if m not in needs_classes]
        skipped = sorted(set(self.metrics) - set(active))
        if skipped:
            log.info("Evaluation: %s do not apply to %s; skipped.", skipped, type(datamodule).__name__)
        return active

    def name(self, metric: str) -> str:
        """The logged name, with the protocol in it."""
        return eval_name(metric, self.feature, self.num_samples, self.real_split)

    # ------------------------------------------------------------------ set-up, once per run
    def _prepare(self, datamodule, device: torch.device) -> dict:
        if self._state is not None:
            return self._state
        active = self.active_metrics(datamodule)
        state: dict = {"active": active}
        needs_classifier = "classes" in active or (
            self.feature == "classifier" and any(m in active for m in ("fid", "kid", "is"))
        )
        if needs_classifier:
            classifier, accuracy = dataset_classifier(datamodule, self.classifier_cache, self.classifier_epochs, device)
            state["classifier"], state["classifier_accuracy"] = classifier, accuracy
            log.info("Evaluation: dataset classifier test accuracy %.4f", accuracy)
        distribution_metrics = [m for m in ("fid", "kid", "is") if m in active]
        if distribution_metrics:
            state.update(self._distribution_metrics(distribution_metrics, state.get("classifier"), datamodule, device))
        self._state = state
        return state

    def _distribution_metrics(self, metrics: list[str], classifier, datamodule, device) -> dict:
        from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

        real = datamodule.split_images(self.real_split)
        inception = self.feature == "inception"
        extractor = 2048 if inception else ClassifierFeatures(classifier)
        extra = {"feature_extractor_weights_path": self.inception_weights} if inception else {}
        built = {}
        try:
            if "fid" in metrics:
                built["fid"] = FrechetInceptionDistance(extractor, reset_real_features=False, normalize=True, **extra)
            if "kid" in metrics:
                subset = min(1000, self.num_samples, len(real))
                built["kid"] = KernelInceptionDistance(
                    extractor, subset_size=subset, reset_real_features=False, normalize=True
                )
            if "is" in metrics:
                # normalize=True turns [0, 1] floats into bytes for Inception; a custom network must get the floats
                built["is"] = InceptionScore("logits_unbiased" if inception else classifier, normalize=inception)
        except Exception as err:  # the weights' download: no internet, a proxy, a full disk
            if not inception or self.inception_weights is not None:
                raise
            raise ConfigError(
                f"evaluation.feature=inception: the Inception weights could not be fetched ({type(err).__name__}: "
                f"{err}). Pass evaluation.inception_weights=<local weights-inception-2015-12-05-6726825d.pth> or "
                "use evaluation.feature=classifier."
            ) from err
        for metric in built.values():
            metric.to(device)
        for key in ("fid", "kid"):
            if key in built:  # real statistics once; reset() keeps them (reset_real_features=False)
                for batch in real.split(self.batch_size):
                    built[key].update(self._metric_input(batch.to(device), datamodule), real=True)
        return built

    def _metric_input(self, images: Tensor, datamodule) -> Tensor:
        """What the feature network reads: Inception wants 3 channels on [0, 1]; the classifier the data's scale."""
        if self.feature != "inception":
            return images
        images = datamodule.to_unit_interval(images)
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, trainer: L.Trainer, pl_module) -> dict[str, float]:
        """Every rank generates its share of the samples; global rank 0 scores them all and tells the others.

        Call it on every rank of a distributed run (it gathers and broadcasts).
        """
        rank, world = trainer.global_rank, trainer.world_size
        samples = self.generate(pl_module, rank, world)
        if world > 1:
            samples = _gather_batches(trainer, samples, self.batch_size, self.num_samples)
        results = self.score(trainer.datamodule, samples, pl_module.device) if rank == 0 else {}
        if world > 1:
            results = trainer.strategy.broadcast(results, src=0)
        self.last_results = results
        return results

    def score(self, datamodule, samples: Tensor, device: torch.device) -> dict[str, float]:
        """Every active metric of ``samples`` (on the CPU), by name."""
        state = self._prepare(datamodule, device)
        results: dict[str, float] = {}
        active = state["active"]
        for key in ("fid", "kid", "is"):
            if key in active:
                metric = state[key]
                metric.reset()
                side = {} if key == "is" else {"real": False}  # IS has no real side
                for batch in samples.split(self.batch_size):
                    metric.update(self._metric_input(batch.to(device), datamodule), **side)
                value = metric.compute()
                if key == "fid":
                    results[self.name("fid")] = float(value)
                else:
                    results[self.name(key)], results[self.name(key) + "_std"] = float(value[0]), float(value[1])
        if "parzen" in active:
            val = datamodule.split_images("val")[: self.parzen_val_size]
            real = datamodule.split_images(self.real_split)
            unit = datamodule.to_unit_interval
            parzen = parzen_estimate(unit(samples), unit(val), unit(real))
            results[self.name("parzen")] = parzen.mean
            results[self.name("parzen") + "_stderr"] = parzen.std_error
            results[self.name("parzen") + "_sigma"] = parzen.sigma
        if "classes" in active:
            predicted = state["classifier"].predict(samples.to(device))
            train_labels = datamodule.splits["train"].tensors[1]
            data_distribution = torch.bincount(train_labels, minlength=datamodule.num_classes).double()
            coverage = class_coverage(predicted, datamodule.num_classes, data_distribution)
            results[self.name("classes") + "_covered"] = float(coverage.classes_covered)
            results[self.name("classes") + "_kl"] = coverage.kl_from_data
            for label, share in enumerate(coverage.histogram.tolist()):  # the histogram itself, one key per class
                results[f"{self.name('classes')}_share/{label}"] = share
            results[CLASSIFIER_ACCURACY] = state["classifier_accuracy"]
        if "modes" in active:
            coverage = mixture_coverage(samples, datamodule.centers, datamodule.std)
            for rule, per_2500 in CAPTURE_RULES.items():
                results[f"{self.name('modes')}_captured_{rule}"] = float(coverage.modes_captured(per_2500))
            results[self.name("modes") + "_high_quality"] = coverage.high_quality
            results[self.name("modes") + "_reverse_kl"] = coverage.reverse_kl
        return results

    def generate(self, pl_module, rank: int = 0, world_size: int = 1) -> Tensor:
        """Samples (on the CPU) from seeded noise; labels drawn uniformly for conditional models.

        The noise of all ``num_samples`` is drawn in batches from one seeded stream; rank r generates batches
        r, r + world_size, ... of it, so the gathered set is the same whatever the number of ranks.
        """
        g = torch.Generator().manual_seed(self.seed)
        conditional = bool(getattr(pl_module, "num_classes", 0))
        batches = []
        for index, start in enumerate(range(0, self.num_samples, self.batch_size)):
            n = min(self.batch_size, self.num_samples - start)
            z = pl_module.noise.sample(n, pl_module.latent_dim, "cpu", g)  # drawn on every rank: keeps the stream
            labels = torch.randint(0, pl_module.num_classes, (n,), generator=g) if conditional else None
            if index % world_size == rank:
                batches.append(pl_module.generate(z, labels).float().cpu())
        return torch.cat(batches) if batches else torch.empty(0)

    def _log(self, pl_module, results: dict[str, float]) -> None:
        for key, value in results.items():
            # the same number on every rank (broadcast), so the cross-rank mean Lightning takes changes nothing
            pl_module.log(key, value, sync_dist=True)
        summary = ", ".join(f"{k.removeprefix(EVAL)} {v:.4g}" for k, v in results.items())
        log.info("Evaluation at iteration %d: %s", pl_module.iterations, summary)

    # ------------------------------------------------------------------ hooks
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self._log(pl_module, self.evaluate(trainer, pl_module))

    def on_test_start(self, trainer, pl_module) -> None:
        if self.feature == "inception" and trainer.global_rank == 0:
            # fetch the Inception weights before the test loop, so that offline it fails now, not after it
            self._prepare(trainer.datamodule, pl_module.device)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._log(pl_module, self.evaluate(trainer, pl_module))


def _gather_batches(trainer: L.Trainer, mine: Tensor, batch_size: int, total: int) -> Tensor:
    """Reassemble the batches the ranks generated (rank r holds batches r, r + world, ...) in their order."""
    world = trainer.world_size
    per_rank = [len(range(r * batch_size, total, world * batch_size)) for r in range(world)]  # batches per rank
    padded = torch.zeros(max(per_rank) * batch_size, *mine.shape[1:], dtype=mine.dtype)  # all_gather needs one shape
    padded[: len(mine)] = mine
    gathered = trainer.strategy.all_gather(padded.to(trainer.strategy.root_device)).cpu()  # (world, n, ...)
    ordered = []
    for index in range(max(per_rank)):
        for r in range(world):
            if index < per_rank[r]:
                ordered.append(gathered[r, index * batch_size : (index + 1) * batch_size])
    return torch.cat(ordered)[:total]  # only the very last batch may be short
