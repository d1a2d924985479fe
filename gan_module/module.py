"""The GAN LightningModule: Algorithm 1 of Goodfellow et al. (2014), "Generative Adversarial Nets".

    for number of training iterations:
        for k steps:
            sample m noise vectors z and m examples x from the data
            update D by ascending its stochastic gradient
        sample m noise vectors z
        update G by descending its stochastic gradient

Lightning hands ``training_step`` one fresh minibatch at a time, so each call makes one D step on that batch
and every k-th call also makes the G step on fresh noise: "each D step sees a new minibatch" holds by
construction and an epoch stays one pass over the data. The module only orchestrates: networks, loss, noise
prior and optimizers are objects it is given (from YAML, through LightningCLI's class_path/init_args).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from gan_module import names
from gan_module.checks import check_networks, conditioning_classes
from gan_module.distributed import average_gradients, broadcast_state, is_distributed
from gan_module.ema import ExponentialMovingAverage
from gan_module.errors import ConfigError, DivergenceError
from gan_module.losses import Critique, GANLoss, NonSaturatingLoss
from gan_module.measures import diversity_ratio, gradient_norm
from gan_module.networks.normalization import add_spectral_norm
from gan_module.noise import Gaussian, Noise
from gan_module.packing import check_batch_size, pack_samples
from gan_module.regularizers import Regularizer, check_regularizers
from gan_module.resume import (
    apply_changed_settings,
    between_batches,
    changed_settings,
    check_compatible,
    describe,
    gather_rng_states,
    is_fixed,
    next_batch,
    restore_rng_states,
)
from gan_module.step_log import StepLog, is_logging_step

try:  # set while LightningCLI instantiates the model: hparams are then the parsed config, not the objects
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
except ImportError:  # pragma: no cover - older Lightning
    _given_hyperparameters = None

#: samples of each side that the diversity diagnostic compares (see GAN.loss_diagnostics)
DIVERSITY_SAMPLES = 64

_OBJECT_ARGS = [
    "generator",
    "discriminator",
    "loss",
    "noise",
    "generator_optimizer",
    "discriminator_optimizer",
    "generator_scheduler",
    "discriminator_scheduler",
    "regularizers",
    "ema",
]


class GAN(L.LightningModule):
    """A generator/discriminator pair trained by Algorithm 1 with manual optimization.

    Conditional models p(x|c) (the 2014 paper's conclusion; Mirza & Osindero 2014): when both networks are
    built with ``conditional: true`` they receive the class labels of each batch, the fakes of a step carry the
    labels of that step's real minibatch, and samplers draw labels uniformly.

    Args:
        generator: maps noise (N, latent_dim) [and labels (N,)] to images; must expose ``latent_dim``.
        discriminator: maps images [and labels] to raw outputs of shape (N,).
        loss: the adversarial objective (default: the non-saturating loss of the 2014 paper).
        noise: the prior p_z (default: standard normal).
        k: discriminator steps per generator step (k of Algorithm 1); each on its own minibatch.
        generator_optimizer, discriminator_optimizer: one optimizer per player.
        generator_scheduler, discriminator_scheduler: optional; stepped after every step of their player.
        regularizers: terms added to D's loss (gradient penalties) or applied after D's step (clipping).
        generator_spectral_norm, discriminator_spectral_norm: spectral normalization of every weight of that
            network (Miyato et al. 2018), whatever its architecture.
        pack: D judges this many samples at once (PacGAN, Lin et al. 2018; see gan_module/packing.py): real and
            fake minibatches are packed alike, D is built for inputs ``pack`` samples wide (main.py links its
            shape), and the batch size must be a multiple of it. 1: no packing.
        ema: an exponential moving average of G's weights (gan_module/ema.py); when set, every sample a user
            sees (sample grids, interpolations, evaluation metrics, ``test``, ``predict``, :meth:`generate`)
            comes from the average, and training uses G.
        channels_last: keep images and conv weights in NHWC memory layout (faster convolutions on tensor-core
            GPUs, with 16-bit precision).
        compile: ``torch.compile`` the networks: ``true`` both, or only ``generator`` or ``discriminator``.
            Gradient penalties differentiate D twice, which compiled graphs do not support: compile only the
            generator with them.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        generator_optimizer: OptimizerCallable,
        discriminator_optimizer: OptimizerCallable,
        loss: GANLoss | None = None,
        noise: Noise | None = None,
        k: PositiveInt = 1,
        generator_scheduler: LRSchedulerCallable | None = None,
        discriminator_scheduler: LRSchedulerCallable | None = None,
        regularizers: list[Regularizer] | None = None,
        generator_spectral_norm: bool = False,
        discriminator_spectral_norm: bool = False,
        channels_last: bool = False,
        compile: bool | Literal["generator", "discriminator"] = False,
        pack: PositiveInt = 1,
        ema: ExponentialMovingAverage | None = None,
    ) -> None:
        super().__init__()
        # Under LightningCLI save_hyperparameters() records the parsed config (class_path/init_args), which
        # load_from_checkpoint re-instantiates. Built by hand, the objects themselves would be pickled into
        # every checkpoint, so only plain values are kept then.
        under_cli = _given_hyperparameters is not None and _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=None if under_cli else _OBJECT_ARGS)
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"model.k (discriminator steps per generator step) must be an integer >= 1, got {k!r}.")
        if not hasattr(generator, "latent_dim"):
            raise ConfigError(f"The generator {type(generator).__name__} must expose `latent_dim`.")
        self.automatic_optimization = False
        self.num_classes = conditioning_classes(generator, discriminator)
        self.generator = add_spectral_norm(generator) if generator_spectral_norm else generator
        self.discriminator = add_spectral_norm(discriminator) if discriminator_spectral_norm else discriminator
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.regularizers = list(regularizers or [])
        check_regularizers(self.regularizers)
        self.noise = noise if noise is not None else Gaussian()
        self.k = k
        if not isinstance(pack, int) or pack < 1:
            raise ConfigError(f"model.pack (samples per input of D) must be an integer >= 1, got {pack!r}.")
        if pack > 1 and self.num_classes:
            raise ConfigError(
                "model.pack > 1 with a conditional model: a packed input would hold samples of several classes "
                "but D takes one label per input. Set model.pack: 1 or use unconditional networks."
            )
        self.pack = pack
        self.ema = ema
        if ema is not None:
            ema.attach(self.generator)  # before compiling: the average is a plain eager copy
        self.channels_last = channels_last
        self._compile_networks(compile)
        self._optimizer_factories = (discriminator_optimizer, generator_optimizer)
        self._scheduler_factories = (discriminator_scheduler, generator_scheduler)
        # Progress in the units GAN papers use. Lightning's global_step counts optimizer steps (k + 1 per
        # iteration), so it is no measure of training length here.
        self.d_steps = 0
        self.iterations = 0  # generator steps
        self.images_seen = 0  # real images shown to D
        self._pending_rng_states: dict[str, Any] | None = None
        self._saved_settings: dict[str, Any] | None = None  # the resumed checkpoint's model settings
        self._labels_checked = False
        #: the latest training diagnostics (``diag/*``), read by loggers and callbacks.TrainingDiagnostics; the
        #: costlier ones are computed only on the D steps someone reads (see :meth:`request_diagnostics`)
        self.diagnostics: dict[str, Tensor] = {}
        self._diagnostic_intervals: set[int] = set()
        self._sync_gradients = False  # set at train start: True when distributed without a DDP wrapper
        #: this step's numbers for the loggers and the progress bar (gan_module/step_log.py)
        self.step_log = StepLog()
        self._logging_step = True
        self._seconds_before = 0.0  # fitting time of earlier attempts (from the checkpoint)
        self._clock: float | None = None  # when this attempt's fitting started

    def _compile_networks(self, which: bool | str) -> None:
        if which not in (False, True, "generator", "discriminator"):
            raise ConfigError(f"model.compile must be true, false, generator or discriminator; got {which!r}.")
        compile_d = which in (True, "discriminator")
        penalties = [r.name for r in self.regularizers if r.uses_input_gradient]
        if compile_d and penalties:
            raise ConfigError(
                f"model.compile: {which} compiles the discriminator, but {penalties[0]} differentiates it twice, "
                "which torch.compile does not support. Set model.compile: generator."
            )
        if which in (True, "generator"):
            self.generator.compile()  # in place: parameter names (and checkpoints) stay those of the eager module
        if compile_d:
            self.discriminator.compile()

    def request_diagnostics(self, every_n_steps: int) -> None:
        """Compute the ``diag/*`` numbers after every n-th D step (besides the steps the loggers keep)."""
        if every_n_steps > 0:
            self._diagnostic_intervals.add(every_n_steps)

    def _diagnostics_due(self) -> bool:
        """Whether this D step's diagnostics are read: logged, or watched by a callback."""
        step = self.d_steps  # this step's index; callbacks read after it, at d_steps + 1
        return self._logging_step or any((step + 1) % n == 0 for n in self._diagnostic_intervals)

    # ------------------------------------------------------------------ sampling
    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def sampler(self) -> nn.Module:
        """The generator whose samples a user sees: the moving average when ``ema`` is set, else G."""
        return self.ema.average if self.ema is not None else self.generator

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Noise from the prior. Pass a ``torch.Generator`` (on CPU) to leave training's random stream alone."""
        if generator is not None:
            return self.noise.sample(num, self.latent_dim, "cpu", generator).to(self.device)
        return self.noise.sample(num, self.latent_dim, self.device)

    def sample_labels(self, num: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Class labels drawn uniformly for a conditional model; ``None`` for an unconditional one."""
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (num,), generator=generator).to(self.device)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self._sample_with(self.generator, z, labels)

    def _sample_with(self, generator: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        # unconditional networks are called with the noise alone, so any nn.Module(z) can be a generator
        return generator(z) if not self.num_classes else generator(z, _required(labels))

    def judge(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's raw outputs for ``x`` (given the labels when the model is conditional)."""
        return self.discriminator(x) if not self.num_classes else self.discriminator(x, _required(labels))

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for inspection, from :attr:`sampler` (G, or its moving average) in eval mode.

        A conditional model given no labels draws them uniformly (from a generator seeded by the noise size, so
        the same call gives the same images).
        """
        if self.num_classes and labels is None:
            labels = self.sample_labels(z.shape[0], torch.Generator().manual_seed(z.shape[0]))
        sampler = self.sampler
        was_training = sampler.training
        sampler.eval()
        try:
            return self._sample_with(sampler, z.to(self.device), None if labels is None else labels.to(self.device))
        finally:
            sampler.train(was_training)

    # ------------------------------------------------------------------ set-up checks
    def setup(self, stage: str) -> None:
        if self.channels_last:
            # only 4-D weights (convolutions) change layout; the moving average is a submodule of ema
            for network in (self.generator, self.discriminator, self.ema):
                if network is not None:
                    network.to(memory_format=torch.channels_last)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        image_shape = getattr(datamodule, "image_shape", None)
        if image_shape is not None:
            self.check_networks(tuple(image_shape), getattr(datamodule, "value_range", None))
        batch_size = getattr(datamodule, "batch_size", None)
        if isinstance(batch_size, int):
            check_batch_size(batch_size, self.pack)
        data_classes = getattr(datamodule, "num_classes", None)
        if self.num_classes and data_classes is not None and data_classes != self.num_classes:
            raise ConfigError(
                f"The conditional networks were built for {self.num_classes} classes but the data has "
                f"{data_classes}: leave the networks' num_classes unset (main.py links it from the data)."
            )

    def check_networks(self, image_shape: tuple[int, ...], value_range: tuple[float, float] | None) -> None:
        """Fail before training if G's samples cannot be compared with the data, or D's output is not (N,)."""
        check_networks(self, image_shape, value_range)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        make_d, make_g = self._optimizer_factories
        optimizers = [make_d(self.discriminator.parameters()), make_g(self.generator.parameters())]
        schedulers = [
            make(opt) for make, opt in zip(self._scheduler_factories, optimizers, strict=True) if make is not None
        ]
        return optimizers, schedulers

    def _scheduler_for(self, optimizer: torch.optim.Optimizer):
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return None
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if scheduler.optimizer is optimizer:
                return scheduler
        return None

    def _step(self, optimizer, loss: Tensor, network: nn.Module) -> Tensor:
        """Backward, step and schedule; returns the L2 norm of the network's gradient (before the step)."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self._sync_gradients:
            average_gradients(network)  # every rank applies the same update (gan_module/distributed.py)
        grad_norm = gradient_norm(network)
        scaler = getattr(self.trainer.precision_plugin, "scaler", None) if self._trainer is not None else None
        if scaler is not None and scaler.is_enabled():
            # 16-bit AMP: the gradients are scaled, and an overflow is the GradScaler's business (it skips that
            # step and lowers the scale), so only the loss must be finite.
            grad_norm = grad_norm / scaler.get_scale()
            finite = torch.isfinite(loss)
        else:
            finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
        # Checked before the step: one NaN would spread to every weight (and into the next checkpoint).
        if not bool(finite):
            player = "discriminator" if network is self.discriminator else "generator"
            raise DivergenceError(
                f"The {player}'s loss ({loss.item():.4g}) or gradient norm ({grad_norm.item():.4g}) is not finite "
                f"at iteration {self.iterations} (D step {self.d_steps}); training stopped before the update, so "
                "the weights and the checkpoints saved so far are intact. Resume from the last checkpoint with a "
                "lower learning rate, a gradient penalty or spectral normalization."
            )
        optimizer.step()
        scheduler = self._scheduler_for(optimizer.optimizer)
        if scheduler is not None:
            scheduler.step()
        return grad_norm

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = _unpack(batch)
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        self._logging_step = is_logging_step(self._trainer)  # read by the steps and the callbacks below
        opt_d, opt_g = self.optimizers()
        self.step_log.bar[names.LOSS_D] = self.discriminator_step(real, opt_d, labels)
        generator_stepped = self.d_steps % self.k == 0  # k D steps done: one G step on fresh noise
        if generator_stepped:
            self.step_log.bar[names.LOSS_G] = self.generator_step(real, opt_g, labels)
        if self._logging_step:
            self.step_log.add(self.diagnostics)
        if self._sync_gradients:
            # Buffers (batch-norm running statistics) are rank 0's, as under DDP, but copied after the step
            # rather than before the next: every rank holds the same state whenever anyone looks at it.
            broadcast_state(self.generator)
            broadcast_state(self.discriminator)
        if generator_stepped and self.ema is not None:  # after the sync: every rank averages the same G
            self.ema.update(self.generator, self.images_seen / 1000.0)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # after the callbacks' own hooks (Lightning calls the module's last), so their numbers are in
        if self._logging_step:
            self.step_log.add(self.step_log.bar)  # the losses and the callbacks' numbers (issues) of this step
            self.step_log.write(
                self.trainer,
                **{
                    names.ITERATIONS: float(self.iterations),
                    names.KIMG: self.images_seen / 1000.0,
                    names.SECONDS: self.training_seconds(),
                },
            )

    def on_train_end(self) -> None:
        self._seconds_before, self._clock = self.training_seconds(), None

    def training_seconds(self) -> float:
        """Wall-clock seconds spent fitting, over every attempt of this run (StyleGAN's ``total_sec``)."""
        running = time.perf_counter() - self._clock if self._clock is not None else 0.0
        return self._seconds_before + running

    def discriminator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of D on this real minibatch and as many fresh fakes (the inner loop of Algorithm 1).

        A conditional model's fakes carry the real minibatch's labels, so D compares like with like and every
        penalty point (an interpolate of a real and a fake, a perturbed real) has one well-defined label.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):
            with torch.no_grad():  # D's step must not build G's graph
                fake = self(self.sample_noise(real.shape[0]), labels)
            packed_real, fake = pack_samples(real, self.pack), pack_samples(fake, self.pack)
            critique = Critique(
                real_logits=self.judge(packed_real, labels),
                fake_logits=self.judge(fake, labels),
                real=packed_real,
                fake=fake,
            )
            loss = self.loss.discriminator_loss(critique)
            judge = functools.partial(self._penalty_judge, labels=labels)  # what the penalties differentiate
            for regularizer in self.regularizers:
                term = regularizer.penalty(judge, critique, self.d_steps)
                if term is not None:
                    if self._logging_step:
                        self.step_log.add({f"reg/{regularizer.name}": term.detach()})
                    loss = loss + term
            grad_norm = self._step(optimizer, loss, self.discriminator)
            for regularizer in self.regularizers:
                regularizer.after_step(self.discriminator)
        self.diagnostics[names.GRAD_NORM_D] = grad_norm
        if self._diagnostics_due():  # a pairwise-distance matrix and a few reductions: only when read
            self.diagnostics.update(self.loss_diagnostics(critique))
        self.d_steps += 1
        self.images_seen += real.shape[0]
        return loss.detach()

    def _penalty_judge(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D for the gradient penalties, in float32 even under mixed precision.

        A penalty differentiates D with respect to its input and then again with respect to its weights; in
        16-bit the small input gradients underflow, and a GradScaler only scales the final loss, not this
        inner gradient. Running these forward passes outside autocast keeps the penalty exact in every precision.
        """
        device_type = x.device.type
        if not torch.is_autocast_enabled(device_type):
            return self.judge(x, labels)
        with torch.autocast(device_type, enabled=False):
            return self.judge(x.float(), labels).float()

    def generator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of G on fresh noise; ``real`` is only judged if the loss's G term needs D(x).

        A conditional G is asked for the minibatch's labels: the data's class frequencies, and the real
        outputs a relativistic loss compares against belong to the same classes.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):  # D's weights get no gradient from G's loss
            fake = pack_samples(self(self.sample_noise(real.shape[0]), labels), self.pack)
            critique = Critique(fake_logits=self.judge(fake, labels), fake=fake)
            if self.loss.generator_needs_real:
                real = pack_samples(real, self.pack)
                critique.real, critique.real_logits = real, self.judge(real, labels)
            loss = self.loss.generator_loss(critique)
            grad_norm = self._step(optimizer, loss, self.generator)
        self.diagnostics[names.GRAD_NORM_G] = grad_norm
        self.iterations += 1
        return loss.detach()

    # ------------------------------------------------------------------ diagnostics
    @torch.no_grad()
    def loss_diagnostics(self, critique: Critique) -> dict[str, Tensor]:
        """The numbers behind the selection paper's training issues, for one D step.

        - ``d_real``/``d_fake``: mean raw D output on each side (a widening gap: D is winning);
        - ``d_accuracy``: see :meth:`d_accuracy`;
        - ``diversity``: mean pairwise distance between fakes over that between reals (near 0: mode collapse),
          estimated on the first :data:`DIVERSITY_SAMPLES` of each (the batch is a random draw, so these are
          too): the same expectation as over the whole batch at a sixteenth of the cost for a batch of 256.
          With packing, the distances are between packed inputs (m samples each): still 1 for a G like the data.
        """
        real, fake = critique.real_logits.float(), critique.fake_logits.float()
        n = DIVERSITY_SAMPLES
        return {
            names.D_REAL: real.mean(),
            names.D_FAKE: fake.mean(),
            names.D_ACCURACY: self.d_accuracy(real, fake),
            names.DIVERSITY: diversity_ratio(critique.fake[:n], critique.real[:n]),
        }

    def d_accuracy(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """For a probabilistic D, the share of images on the right side of 0; for critics, whose outputs have no
        fixed threshold, the share of (real_i, fake_i) pairs ranked real above fake."""
        if self.loss.probabilistic:
            return torch.cat([real_logits > 0, fake_logits <= 0]).float().mean()
        return (real_logits > fake_logits).float().mean()

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, batch: Any, batch_idx: int, split: str) -> None:
        """How well D tells held-out real images from fresh samples (D overfitting shows as a train/val gap).

        The noise comes from a generator seeded by the batch index: the numbers are the same every time and
        evaluation never moves training's random stream. The fakes are G's (not its moving average's): these
        numbers describe D against the player it trains against.
        """
        real, labels = _unpack(batch)
        labels = self._condition(labels)
        real = real[: real.shape[0] - real.shape[0] % self.pack]  # a last batch of the split packs whole inputs
        fake = self(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)), labels)
        real, fake = pack_samples(real, self.pack), pack_samples(fake, self.pack)
        critique = Critique(
            real_logits=self.judge(real, labels), fake_logits=self.judge(fake, labels), real=real, fake=fake
        )
        self.log_dict(
            {
                names.split_key(split, names.LOSS_D): self.loss.discriminator_loss(critique),
                names.split_key(split, names.LOSS_G): self.loss.generator_loss(critique),
                names.split_key(split, "d_accuracy"): self.d_accuracy(
                    critique.real_logits.float(), critique.fake_logits.float()
                ),
            },
            batch_size=real.shape[0],
            sync_dist=True,  # under DDP each rank sees its share of the split: average over all of them
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """As many samples as the batch has images (of the batch's classes), from noise seeded by the batch index."""
        real, labels = _unpack(batch)
        return self.generate(
            self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)), self._condition(labels)
        )

    def _condition(self, labels: Tensor | None) -> Tensor | None:
        """The labels a conditional model is given; ``None`` for an unconditional one."""
        if not self.num_classes:
            return None
        if labels is None or labels.dtype != torch.long or (not self._labels_checked and not self._in_range(labels)):
            raise ValueError(
                f"A conditional model needs int64 class labels in [0, {self.num_classes}) with every batch; "
                "this batch has none or labels outside that range (unlabelled data?)."
            )
        self._labels_checked = True  # the range check waits for the GPU: once is enough for one dataset
        return labels

    def _in_range(self, labels: Tensor) -> bool:
        return bool(labels.min() >= 0) and bool(labels.max() < self.num_classes)

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "loops" in checkpoint and self._trainer is not None and self.trainer.state.fn == "fit":
            between_batches(checkpoint, *next_batch(self.trainer))  # every kind of checkpoint resumes alike
        checkpoint["gan_progress"] = {
            "d_steps": self.d_steps,
            "iterations": self.iterations,
            "images_seen": self.images_seen,
        }
        checkpoint["training_seconds"] = self.training_seconds()  # wall clock: kept apart from the exact state
        checkpoint["rng_states"] = gather_rng_states(self)  # Lightning calls this on every rank; rank 0 writes

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_compatible(self.state_dict(), checkpoint.get("state_dict", {}))
        progress = checkpoint.get("gan_progress", {})
        self.d_steps = progress.get("d_steps", 0)
        self.iterations = progress.get("iterations", 0)
        self.images_seen = progress.get("images_seen", 0)
        self._seconds_before = checkpoint.get("training_seconds", 0.0)
        self._pending_rng_states = checkpoint.get("rng_states")
        self._saved_settings = checkpoint.get("hyper_parameters")

    def on_train_start(self) -> None:
        self._clock = time.perf_counter()
        self._sync_gradients = is_distributed() and not isinstance(self.trainer.model, DistributedDataParallel)
        # Restored here, after Lightning's own start-up, which may draw random numbers of its own.
        restore_rng_states(self._pending_rng_states, self.trainer.global_rank, self.trainer.world_size)
        self._pending_rng_states = None
        self._apply_changed_settings()

    def _apply_changed_settings(self) -> None:
        """A resumed fit trains with this run's optimizer and scheduler settings, not the checkpoint's."""
        saved, self._saved_settings = self._saved_settings, None
        if not saved:
            return
        changes = {key: values for key, values in changed_settings(saved, self.hparams).items() if not is_fixed(key)}
        if changes:
            schedulers = self.lr_schedulers() or []
            schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
            apply_changed_settings(changes, self.optimizers(use_pl_optimizer=False), schedulers)
            rank_zero_info(
                "Resumed with settings changed since the checkpoint (the command line's values apply): "
                + describe(changes)
            )


def _unpack(batch: Any) -> tuple[Tensor, Tensor | None]:
    """(samples, labels) from a DataModule batch; a bare tensor has no labels."""
    if isinstance(batch, list | tuple):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _required(labels: Tensor | None) -> Tensor:
    if labels is None:
        raise ValueError("This model is conditional: pass the class labels along with the noise or images.")
    return labels
