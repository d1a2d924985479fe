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
from typing import Any, Literal

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from gan_module import names
from gan_module.augment import DiffAugment
from gan_module.ema import ExponentialMovingAverage
from gan_module.errors import ConfigError
from gan_module.losses import Critique, GANLoss, NonSaturatingLoss
from gan_module.model.held_out import HeldOut
from gan_module.model.packing import pack_samples
from gan_module.model.preparation import Preparation
from gan_module.model.progress import Clock, Progress
from gan_module.model.run_state import RunState
from gan_module.model.sampling import Sampling, split_batch
from gan_module.model.setup_checks import agreed_classes
from gan_module.model.step_diagnostics import Diagnosing
from gan_module.model.step_logging import StepLogging
from gan_module.model.stepping import Stepping
from gan_module.networks.normalization import add_spectral_norm
from gan_module.noise import Gaussian, Noise
from gan_module.regularizers import Regularizer, check_regularizers
from gan_module.run.step_log import StepLog
from gan_module.samplers import Sampler

try:  # set while LightningCLI instantiates the model: hparams are then the parsed config, not the objects
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
except ImportError:  # pragma: no cover - older Lightning
    _given_hyperparameters = None

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
    "sampler",
    "augment",
]


class GAN(Stepping, Sampling, Diagnosing, StepLogging, HeldOut, Preparation, RunState, L.LightningModule):
    """A generator/discriminator pair trained by Algorithm 1 with manual optimization.

    This page is Algorithm 1; the module's other parts are mixed in from rooms of their own, each owning the
    state and the hooks it touches: stepping.py (backward, divergence check, step, schedule), sampling.py
    (noise, labels, samples), step_diagnostics.py (the training issues' numbers), step_log.py (writing a logged
    step), held_out.py (D on held-out data: validation and test steps), preparation.py (compile, memory
    layout, checks against the data) and run_state.py (checkpoints, clock, exact resume).

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
        pack: D judges this many samples at once (PacGAN, Lin et al. 2018; see gan_module/model/packing.py): real and
            fake minibatches are packed alike, D is built for inputs ``pack`` samples wide (gan_module/cli.py links its
            shape), and the batch size must be a multiple of it. 1: no packing.
        simultaneous: update D and G together, as the 2014 paper's released code does (pylearn2
            ``AdversaryCost2``) rather than as its Algorithm 1 reads: one minibatch of fakes, judged by D once
            (one dropout mask), gives both players' losses; both gradients are taken at the same weights, then
            both players step. Needs k = 1. False: Algorithm 1's alternation (D's step, then G's on fresh noise).
        ema: an exponential moving average of G's weights (gan_module/ema.py); when set, every sample a user
            sees (sample grids, interpolations, evaluation metrics, ``test``, ``predict``, :meth:`generate`)
            comes from the average, and training uses G.
        channels_last: keep images and conv weights in NHWC memory layout (faster convolutions on tensor-core
            GPUs, with 16-bit precision).
        compile: ``torch.compile`` the networks: ``true`` both, or only ``generator`` or ``discriminator``.
            Gradient penalties differentiate D twice, which compiled graphs do not support: compile only the
            generator with them.
        sampler: how the samples a user sees are drawn (gan_module/samplers/): plain G by default, or guided by
            D (``DiscriminatorRejection``, ``MetropolisHastings``), which calibrate D on the data's ``val`` split.
            It can change between ``fit`` and ``test``/``predict`` of the same checkpoint.
        augment: differentiable augmentation of every input of D, real and fake, in both players' steps
            (gan_module/augment.py: DiffAugment, Zhao et al. 2020); for images only.
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
        simultaneous: bool = False,
        sampler: Sampler | None = None,
        augment: DiffAugment | None = None,
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
        self.num_classes = agreed_classes(generator, discriminator)
        self.generator = add_spectral_norm(generator) if generator_spectral_norm else generator
        self.discriminator = add_spectral_norm(discriminator) if discriminator_spectral_norm else discriminator
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.regularizers = list(regularizers or [])
        check_regularizers(self.regularizers)
        self.noise = noise if noise is not None else Gaussian()
        self.k = k
        if simultaneous and k != 1:
            raise ConfigError(
                f"model.simultaneous: true updates D and G together from one minibatch, so it needs model.k: 1 "
                f"(got {k}). Set model.k: 1 or model.simultaneous: false."
            )
        self.simultaneous = simultaneous
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
        self.sampler = sampler if sampler is not None else Sampler()
        self.augment = augment
        self.channels_last = channels_last
        self._compile_networks(compile)
        self._optimizer_factories = (discriminator_optimizer, generator_optimizer)
        self._scheduler_factories = (discriminator_scheduler, generator_scheduler)
        self.progress = (
            Progress()
        )  # D steps, iterations, kimg: what Algorithm 1 has done (gan_module/model/progress.py)
        self.clock = Clock()  # seconds of fitting over every attempt
        #: the latest training diagnostics (``diag/*``), read by loggers and callbacks.TrainingDiagnostics; the
        #: costlier ones are computed only on the D steps someone reads (see :meth:`request_diagnostics`)
        self.diagnostics: dict[str, Tensor] = {}
        #: this step's numbers for the loggers and the progress bar (gan_module/run/step_log.py)
        self.step_log = StepLog()

    # Progress as callbacks read it: generator iterations, D steps, real images shown to D
    d_steps = property(lambda self: self.progress.d_steps)
    iterations = property(lambda self: self.progress.iterations)
    images_seen = property(lambda self: self.progress.images_seen)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        make_d, make_g = self._optimizer_factories
        optimizers = [make_d(self.discriminator.parameters()), make_g(self.generator.parameters())]
        schedulers = [
            make(opt) for make, opt in zip(self._scheduler_factories, optimizers, strict=True) if make is not None
        ]
        return optimizers, schedulers

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = split_batch(batch)
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        self.step_log.begin(self._trainer)  # is this step logged: read by the steps and the callbacks below
        opt_d, opt_g = self.optimizers()
        if self.simultaneous:
            losses = self.simultaneous_step(real, opt_d, opt_g, labels)
            self.step_log.bar[names.LOSS_D], self.step_log.bar[names.LOSS_G] = losses
            self.progress.discriminator_stepped(real.shape[0])
            generator_stepped = True
        else:
            self.step_log.bar[names.LOSS_D] = self.discriminator_step(real, opt_d, labels)
            self.progress.discriminator_stepped(real.shape[0])
            generator_stepped = self.progress.generator_due(self.k)  # k D steps done: one G step on fresh noise
            if generator_stepped:
                self.step_log.bar[names.LOSS_G] = self.generator_step(real, opt_g, labels)
        if generator_stepped:
            self.progress.generator_stepped()
        if self.step_log.logging:
            self.step_log.add(self.diagnostics)
        self._synchronise_buffers()
        if generator_stepped and self.ema is not None:  # after the sync: every rank averages the same G
            self.ema.update(self.generator, self.images_seen / 1000.0)

    def discriminator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of D on this real minibatch and as many fresh fakes (the inner loop of Algorithm 1).

        A conditional model's fakes carry the real minibatch's labels, so D compares like with like and every
        penalty point (an interpolate of a real and a fake, a perturbed real) has one well-defined label.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):
            with torch.no_grad():  # D's step must not build G's graph
                fake = self(self.sample_noise(real.shape[0]), labels)
            critique = self._judged(real, fake, labels)
            loss = self._discriminator_objective(critique, labels)
            grad_norm = self._step(optimizer, loss, self.discriminator)
            for regularizer in self.regularizers:
                regularizer.after_step(self.discriminator)
        self._record_discriminator_step(grad_norm, critique)
        return loss.detach()

    def _judged(self, real: Tensor, fake: Tensor, labels: Tensor | None) -> Critique:
        """D's outputs on the real minibatch and on the fakes, each packed (``pack``) as D takes them (and
        augmented alike when ``augment`` is set; the critique keeps the un-augmented samples)."""
        real, fake = pack_samples(real, self.pack), pack_samples(fake, self.pack)
        return Critique(
            real_logits=self.judge(self._augmented(real), labels),
            fake_logits=self.judge(self._augmented(fake), labels),
            real=real,
            fake=fake,
        )

    def _augmented(self, packed: Tensor) -> Tensor:
        """D's input as D sees it: each sample of a packed input transformed by ``augment`` on its own (DiffAugment,
        Zhao et al. 2020: the same random transformations for real and fake inputs, differentiable for G)."""
        if self.augment is None:
            return packed
        samples = packed.reshape(packed.shape[0] * self.pack, packed.shape[1] // self.pack, *packed.shape[2:])
        return pack_samples(self.augment(samples), self.pack)

    def _penalised_judge(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """D as the penalties differentiate it: through the augmentation, at points formed from clean samples."""
        return self._penalty_judge(self._augmented(x), labels)

    def _discriminator_objective(self, critique: Critique, labels: Tensor | None) -> Tensor:
        """D's loss on this critique plus the regularizers' penalty terms (logged on logging steps)."""
        loss = self.loss.discriminator_loss(critique)
        judge = functools.partial(self._penalised_judge, labels=labels)  # what the penalties differentiate
        for regularizer in self.regularizers:
            term = regularizer.penalty(judge, critique, self.d_steps)
            if term is not None:
                if self.step_log.logging:
                    self.step_log.add({names.regularizer_key(regularizer.name): term.detach()})
                loss = loss + term
        return loss

    def _record_discriminator_step(self, grad_norm: Tensor, critique: Critique) -> None:
        """This D step's diagnostics, before training_step counts it."""
        self.diagnostics[names.GRAD_NORM_D] = grad_norm
        if self._diagnostics_due():  # a pairwise-distance matrix and a few reductions: only when read
            self.diagnostics.update(self.loss_diagnostics(critique))

    def generator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of G on fresh noise; ``real`` is only judged if the loss's G term needs D(x).

        A conditional G is asked for the minibatch's labels: the data's class frequencies, and the real
        outputs a relativistic loss compares against belong to the same classes.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):  # D's weights get no gradient from G's loss
            fake = pack_samples(self(self.sample_noise(real.shape[0]), labels), self.pack)
            critique = Critique(fake_logits=self.judge(self._augmented(fake), labels), fake=fake)
            if self.loss.generator_needs_real:
                real = pack_samples(real, self.pack)
                critique.real, critique.real_logits = real, self.judge(self._augmented(real), labels)
            loss = self.loss.generator_loss(critique)
            grad_norm = self._step(optimizer, loss, self.generator)
        self.diagnostics[names.GRAD_NORM_G] = grad_norm
        return loss.detach()

    def simultaneous_step(self, real: Tensor, opt_d, opt_g, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Both players' updates from one minibatch of fakes, as the 2014 release trains (``simultaneous``).

        D judges the real minibatch and the fakes once each; D's loss (with any penalties) and G's loss are
        read off those same outputs, each player's gradient is taken at the current weights (``inputs=``
        keeps each backward pass to its own player's weights), and only then do both step.
        """
        labels = self._condition(labels)
        critique = self._judged(real, self(self.sample_noise(real.shape[0]), labels), labels)
        loss_d = self._discriminator_objective(critique, labels)
        loss_g = self.loss.generator_loss(critique)
        d_weights, g_weights = list(self.discriminator.parameters()), list(self.generator.parameters())
        grad_d = self._backward(opt_d, loss_d, self.discriminator, inputs=d_weights, retain_graph=True)
        grad_g = self._backward(opt_g, loss_g, self.generator, inputs=g_weights)
        self._take_step(opt_d)
        for regularizer in self.regularizers:
            regularizer.after_step(self.discriminator)
        self._take_step(opt_g)
        self._record_discriminator_step(grad_d, critique)
        self.diagnostics[names.GRAD_NORM_G] = grad_g
        return loss_d.detach(), loss_g.detach()
