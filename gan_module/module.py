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
from typing import Any

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from gan_module.errors import ConfigError, DivergenceError
from gan_module.losses import Critique, GANLoss, NonSaturatingLoss
from gan_module.networks.normalization import add_spectral_norm
from gan_module.noise import Gaussian, Noise
from gan_module.regularizers import Regularizer, check_regularizers

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
        self.num_classes = _conditioning_classes(generator, discriminator)
        self.generator = add_spectral_norm(generator) if generator_spectral_norm else generator
        self.discriminator = add_spectral_norm(discriminator) if discriminator_spectral_norm else discriminator
        self.loss = loss if loss is not None else NonSaturatingLoss()
        self.regularizers = list(regularizers or [])
        check_regularizers(self.regularizers)
        self.noise = noise if noise is not None else Gaussian()
        self.k = k
        self._optimizer_factories = (discriminator_optimizer, generator_optimizer)
        self._scheduler_factories = (discriminator_scheduler, generator_scheduler)
        # Progress in the units GAN papers use. Lightning's global_step counts optimizer steps (k + 1 per
        # iteration), so it is no measure of training length here.
        self.d_steps = 0
        self.iterations = 0  # generator steps
        self.images_seen = 0  # real images shown to D
        self._pending_rng_states: dict[str, Any] | None = None
        self._labels_checked = False
        #: the latest training diagnostics (``diag/*``), updated every step, read by callbacks.TrainingDiagnostics
        self.diagnostics: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ sampling
    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

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
        # unconditional networks are called with the noise alone, so any nn.Module(z) can be a generator
        return self.generator(z) if not self.num_classes else self.generator(z, _required(labels))

    def judge(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's raw outputs for ``x`` (given the labels when the model is conditional)."""
        return self.discriminator(x) if not self.num_classes else self.discriminator(x, _required(labels))

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for inspection: G in eval mode, then back to the mode it was in.

        A conditional model given no labels draws them uniformly (from a generator seeded by the noise size, so
        the same call gives the same images).
        """
        if self.num_classes and labels is None:
            labels = self.sample_labels(z.shape[0], torch.Generator().manual_seed(z.shape[0]))
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self(z.to(self.device), None if labels is None else labels.to(self.device))
        finally:
            self.generator.train(was_training)

    # ------------------------------------------------------------------ set-up checks
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        image_shape = getattr(datamodule, "image_shape", None)
        if image_shape is not None:
            self.check_networks(tuple(image_shape), getattr(datamodule, "value_range", None))
        data_classes = getattr(datamodule, "num_classes", None)
        if self.num_classes and data_classes is not None and data_classes != self.num_classes:
            raise ConfigError(
                f"The conditional networks were built for {self.num_classes} classes but the data has "
                f"{data_classes}: leave the networks' num_classes unset (main.py links it from the data)."
            )

    def check_networks(self, image_shape: tuple[int, ...], value_range: tuple[float, float] | None) -> None:
        """Fail before training if G's samples cannot be compared with the data, or D's output is not (N,)."""
        z = self.noise.sample(2, self.latent_dim, "cpu", torch.Generator().manual_seed(0)).to(self.device)
        labels = torch.zeros(2, dtype=torch.long, device=self.device) if self.num_classes else None
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                fake = self(z, labels)
                if tuple(fake.shape[1:]) != image_shape:
                    raise ConfigError(
                        f"The generator {type(self.generator).__name__} makes images of shape "
                        f"{tuple(fake.shape[1:])}, but the data's images are {image_shape} (C, H, W). "
                        "Choose a generator for this image size or change the dataset."
                    )
                out = self.judge(fake, labels)
        finally:
            self.train(was_training)
        if tuple(out.shape) != (2,):
            raise ConfigError(
                f"The discriminator {type(self.discriminator).__name__} must return one raw output per image, "
                f"shape (N,); for 2 images it returned {tuple(out.shape)}."
            )
        g_range = getattr(self.generator, "output_range", None)
        if value_range is not None and g_range is not None and tuple(g_range) != tuple(value_range):
            raise ConfigError(
                f"The generator's output range {tuple(g_range)} differs from the data's value_range "
                f"{tuple(value_range)}: set data.value_range to {list(g_range)} or change the generator's output."
            )

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
        grad_norm = gradient_norm(network)
        # Checked before the step: one NaN would spread to every weight (and into the next checkpoint).
        if not bool(torch.isfinite(loss) & torch.isfinite(grad_norm)):
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
        opt_d, opt_g = self.optimizers()
        d_loss = self.discriminator_step(real, opt_d, labels)
        self.log("loss_d", d_loss, prog_bar=True)
        if self.d_steps % self.k == 0:  # k D steps done: one G step on fresh noise
            g_loss = self.generator_step(real, opt_g, labels)
            self.log("loss_g", g_loss, prog_bar=True)
        self.log("progress/iterations", float(self.iterations))
        self.log("progress/kimg", self.images_seen / 1000.0)
        if self._trainer is not None and (self.d_steps - 1) % self.trainer.log_every_n_steps == 0:
            # self.log costs ~0.1 ms per call; the loggers only keep every n-th step, so only log those
            self.log_dict(self.diagnostics)

    def discriminator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of D on this real minibatch and as many fresh fakes (the inner loop of Algorithm 1).

        A conditional model's fakes carry the real minibatch's labels, so D compares like with like and every
        penalty point (an interpolate of a real and a fake, a perturbed real) has one well-defined label.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):
            with torch.no_grad():  # D's step must not build G's graph
                fake = self(self.sample_noise(real.shape[0]), labels)
            critique = Critique(
                real_logits=self.judge(real, labels),
                fake_logits=self.judge(fake, labels),
                real=real,
                fake=fake,
            )
            loss = self.loss.discriminator_loss(critique)
            judge = functools.partial(self.judge, labels=labels)  # what the penalties differentiate
            for regularizer in self.regularizers:
                term = regularizer.penalty(judge, critique, self.d_steps)
                if term is not None:
                    self.log(f"reg/{regularizer.name}", term.detach())
                    loss = loss + term
            grad_norm = self._step(optimizer, loss, self.discriminator)
            for regularizer in self.regularizers:
                regularizer.after_step(self.discriminator)
        self.diagnostics.update(self.loss_diagnostics(critique), **{"diag/grad_norm_d": grad_norm})
        self.d_steps += 1
        self.images_seen += real.shape[0]
        return loss.detach()

    def generator_step(self, real: Tensor, optimizer, labels: Tensor | None = None) -> Tensor:
        """One update of G on fresh noise; ``real`` is only judged if the loss's G term needs D(x).

        A conditional G is asked for the minibatch's labels: the data's class frequencies, and the real
        outputs a relativistic loss compares against belong to the same classes.
        """
        labels = self._condition(labels)
        with self.toggled_optimizer(optimizer):  # D's weights get no gradient from G's loss
            fake = self(self.sample_noise(real.shape[0]), labels)
            critique = Critique(fake_logits=self.judge(fake, labels), fake=fake)
            if self.loss.generator_needs_real:
                critique.real, critique.real_logits = real, self.judge(real, labels)
            loss = self.loss.generator_loss(critique)
            grad_norm = self._step(optimizer, loss, self.generator)
        self.diagnostics["diag/grad_norm_g"] = grad_norm
        self.iterations += 1
        return loss.detach()

    # ------------------------------------------------------------------ diagnostics
    @torch.no_grad()
    def loss_diagnostics(self, critique: Critique) -> dict[str, Tensor]:
        """The numbers behind the selection paper's training issues, for one D step.

        - ``d_real``/``d_fake``: mean raw D output on each side (a widening gap: D is winning);
        - ``d_accuracy``: for a probabilistic D, the share of images on the right side of 0; for critics,
          whose outputs have no fixed threshold, the share of (real_i, fake_i) pairs ranked real above fake;
        - ``diversity``: mean pairwise distance between fakes over that between reals (near 0: mode collapse).
        """
        real, fake = critique.real_logits.float(), critique.fake_logits.float()
        if self.loss.probabilistic:
            accuracy = torch.cat([real > 0, fake <= 0]).float().mean()
        else:
            accuracy = (real > fake).float().mean()
        return {
            "diag/d_real": real.mean(),
            "diag/d_fake": fake.mean(),
            "diag/d_accuracy": accuracy,
            "diag/diversity": diversity_ratio(critique.fake, critique.real),
        }

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, batch: Any, batch_idx: int, split: str) -> None:
        """How well D tells held-out real images from fresh samples (D overfitting shows as a train/val gap).

        The noise comes from a generator seeded by the batch index: the numbers are the same every time and
        evaluation never moves training's random stream.
        """
        real, labels = _unpack(batch)
        labels = self._condition(labels)
        fake = self(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)), labels)
        critique = Critique(
            real_logits=self.judge(real, labels), fake_logits=self.judge(fake, labels), real=real, fake=fake
        )
        diagnostics = self.loss_diagnostics(critique)
        self.log_dict(
            {
                f"{split}/loss_d": self.loss.discriminator_loss(critique),
                f"{split}/loss_g": self.loss.generator_loss(critique),
                f"{split}/d_accuracy": diagnostics["diag/d_accuracy"],
            },
            batch_size=real.shape[0],
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """As many samples as the batch has images (of the batch's classes), from noise seeded by the batch index."""
        real, labels = _unpack(batch)
        return self(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)), self._condition(labels))

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
        checkpoint["gan_progress"] = {
            "d_steps": self.d_steps,
            "iterations": self.iterations,
            "images_seen": self.images_seen,
        }
        # The noise and dropout draw from the global generators; saving them makes a resumed run continue
        # the exact random stream of an uninterrupted one.
        checkpoint["rng_states"] = _torch_rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        progress = checkpoint.get("gan_progress", {})
        self.d_steps = progress.get("d_steps", 0)
        self.iterations = progress.get("iterations", 0)
        self.images_seen = progress.get("images_seen", 0)
        self._pending_rng_states = checkpoint.get("rng_states")

    def on_train_start(self) -> None:
        # Restored here, after Lightning's own start-up, which may draw random numbers of its own.
        if self._pending_rng_states is not None:
            _set_torch_rng_states(self._pending_rng_states)
            self._pending_rng_states = None


def gradient_norm(network: nn.Module) -> Tensor:
    """L2 norm of all of a network's gradients together (0 when none has a gradient)."""
    grads = [p.grad for p in network.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).detach()


def diversity_ratio(fake: Tensor, real: Tensor) -> Tensor:
    """Mean pairwise L2 distance within ``fake`` over that within ``real`` (1: as varied as the data)."""

    def mean_distance(x: Tensor) -> Tensor:
        x = x.detach().flatten(1).float()
        n = x.shape[0]
        return torch.cdist(x, x).sum() / max(n * (n - 1), 1)

    return mean_distance(fake) / mean_distance(real).clamp_min(1e-12)


def _unpack(batch: Any) -> tuple[Tensor, Tensor | None]:
    """(samples, labels) from a DataModule batch; a bare tensor has no labels."""
    if isinstance(batch, list | tuple):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _required(labels: Tensor | None) -> Tensor:
    if labels is None:
        raise ValueError("This model is conditional: pass the class labels along with the noise or images.")
    return labels


def _conditioning_classes(generator: nn.Module, discriminator: nn.Module) -> int:
    """How many classes the model is conditioned on (0: unconditional); G and D must agree."""
    g_classes = getattr(generator, "num_classes", 0) or 0
    d_classes = getattr(discriminator, "num_classes", 0) or 0
    if g_classes != d_classes:

        def describe(n: int) -> str:
            return f"conditional on {n} classes" if n else "unconditional"

        raise ConfigError(
            f"The generator is {describe(g_classes)} but the discriminator is {describe(d_classes)}: set "
            "`conditional: true` in the init_args of both networks, or of neither."
        )
    return g_classes


def _torch_rng_states() -> dict[str, Any]:
    """torch's CPU and CUDA generator states: tensors only, so checkpoints load with ``weights_only=True``."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_torch_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
