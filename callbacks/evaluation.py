"""The evaluation callback: it generates one set of samples, hands it to every metric that applies, and logs.

The metrics themselves are small classes beside their maths, found by name (gan_module/metrics/registry.py):
``fid``, ``kid``, ``is`` (distribution.py), ``parzen`` (parzen.py), ``classes`` and ``modes`` (coverage.py), or
any EvaluationMetric subclass named by its import path. The protocol is part of each logged name, so numbers
from different protocols are never compared by accident: ``eval/fid_classifier_10k_test`` is FID with the
dataset-classifier features, 10,000 samples, against the test split.

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
from gan_module.metrics.features import DEFAULT_CACHE, FEATURES
from gan_module.metrics.registry import EvaluationContext, metric_class
from gan_module.names import EVAL

#: what an Evaluation measures unless told otherwise; each applies only where its data allows
DEFAULT_METRICS = ("fid", "kid", "parzen", "classes", "modes")
log = logging.getLogger(__name__)


class Evaluation(L.Callback):
    """Evaluates the generator every ``every_n_epochs`` epochs while fitting, and in ``test``.

    Metrics that do not apply to the data (``modes`` on images, image metrics on 2-D points) are skipped with
    a note in the log.

    Args:
        metrics: any of ``fid``, ``kid``, ``is``, ``parzen``, ``classes``, ``modes``, or the import path of an
            ``EvaluationMetric`` subclass (gan_module/metrics/registry.py).
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
        self.metrics = list(metrics) if metrics is not None else list(DEFAULT_METRICS)
        self._classes = {name: metric_class(name) for name in self.metrics}  # ConfigError for an unknown name
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

    # ------------------------------------------------------------------ what applies, set-up once per run
    def context(self, datamodule, device: torch.device) -> EvaluationContext:
        return EvaluationContext(
            datamodule,
            device,
            feature=self.feature,
            num_samples=self.num_samples,
            real_split=self.real_split,
            batch_size=self.batch_size,
            parzen_val_size=self.parzen_val_size,
            inception_weights=self.inception_weights,
            classifier_cache=self.classifier_cache,
            classifier_epochs=self.classifier_epochs,
        )

    def active_metrics(self, datamodule) -> list[str]:
        """The names in ``metrics`` that apply to this data (the others are skipped with a log line)."""
        context = self.context(datamodule, torch.device("cpu"))
        active = [name for name, cls in self._classes.items() if cls().applies(context)]
        skipped = sorted(set(self.metrics) - set(active))
        if skipped:
            log.info("Evaluation: %s do not apply to %s; skipped.", skipped, type(datamodule).__name__)
        return active

    def name(self, metric: str) -> str:
        """The logged name, with the protocol in it."""
        return self._classes[metric].name(self.num_samples, self.feature, self.real_split)

    def _prepare(self, datamodule, device: torch.device) -> dict:
        if self._state is not None:
            return self._state
        context = self.context(datamodule, device)
        active = [self._classes[name]() for name in self.active_metrics(datamodule)]
        for metric in active:
            metric.prepare(context)
        self._state = {"context": context, "active": active}
        return self._state

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
        for metric in state["active"]:
            results |= metric.score(samples, state["context"])
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
