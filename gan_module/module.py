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

from typing import Any

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from gan_module.errors import ConfigError
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

    Args:
        generator: maps noise (N, latent_dim) to images; must expose ``latent_dim``.
        discriminator: maps images to raw outputs of shape (N,).
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

    # ------------------------------------------------------------------ sampling
    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def sample_noise(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        """Noise from the prior. Pass a ``torch.Generator`` (on CPU) to leave training's random stream alone."""
        if generator is not None:
            return self.noise.sample(num, self.latent_dim, "cpu", generator).to(self.device)
        return self.noise.sample(num, self.latent_dim, self.device)

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """Samples for inspection: G in eval mode, then back to the mode it was in."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(z.to(self.device))
        finally:
            self.generator.train(was_training)

    # ------------------------------------------------------------------ set-up checks
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        image_shape = getattr(datamodule, "image_shape", None)
        if image_shape is not None:
            self.check_networks(tuple(image_shape), getattr(datamodule, "value_range", None))

    def check_networks(self, image_shape: tuple[int, ...], value_range: tuple[float, float] | None) -> None:
        """Fail before training if G's samples cannot be compared with the data, or D's output is not (N,)."""
        z = self.noise.sample(2, self.latent_dim, "cpu", torch.Generator().manual_seed(0))
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                fake = self.generator(z.to(self.device))
                if tuple(fake.shape[1:]) != image_shape:
                    raise ConfigError(
                        f"The generator {type(self.generator).__name__} makes images of shape "
                        f"{tuple(fake.shape[1:])}, but the data's images are {image_shape} (C, H, W). "
                        "Choose a generator for this image size or change the dataset."
                    )
                out = self.discriminator(fake)
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

    def _step(self, optimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        scheduler = self._scheduler_for(optimizer.optimizer)
        if scheduler is not None:
            scheduler.step()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = batch[0] if isinstance(batch, list | tuple) else batch
        opt_d, opt_g = self.optimizers()
        d_loss = self.discriminator_step(real, opt_d)
        self.log("loss_d", d_loss, prog_bar=True)
        if self.d_steps % self.k == 0:  # k D steps done: one G step on fresh noise
            g_loss = self.generator_step(real, opt_g)
            self.log("loss_g", g_loss, prog_bar=True)
        self.log("progress/iterations", float(self.iterations))
        self.log("progress/kimg", self.images_seen / 1000.0)

    def discriminator_step(self, real: Tensor, optimizer) -> Tensor:
        """One update of D on this real minibatch and as many fresh fakes (the inner loop of Algorithm 1)."""
        with self.toggled_optimizer(optimizer):
            with torch.no_grad():  # D's step must not build G's graph
                fake = self.generator(self.sample_noise(real.shape[0]))
            critique = Critique(
                real_logits=self.discriminator(real),
                fake_logits=self.discriminator(fake),
                real=real,
                fake=fake,
            )
            loss = self.loss.discriminator_loss(critique)
            for regularizer in self.regularizers:
                term = regularizer.penalty(self.discriminator, critique, self.d_steps)
                if term is not None:
                    self.log(f"reg/{regularizer.name}", term.detach())
                    loss = loss + term
            self._step(optimizer, loss)
            for regularizer in self.regularizers:
                regularizer.after_step(self.discriminator)
        self.d_steps += 1
        self.images_seen += real.shape[0]
        return loss.detach()

    def generator_step(self, real: Tensor, optimizer) -> Tensor:
        """One update of G on fresh noise; ``real`` is only judged if the loss's G term needs D(x)."""
        with self.toggled_optimizer(optimizer):  # D's weights get no gradient from G's loss
            fake = self.generator(self.sample_noise(real.shape[0]))
            critique = Critique(fake_logits=self.discriminator(fake), fake=fake)
            if self.loss.generator_needs_real:
                critique.real, critique.real_logits = real, self.discriminator(real)
            loss = self.loss.generator_loss(critique)
            self._step(optimizer, loss)
        self.iterations += 1
        return loss.detach()

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, batch: Any, batch_idx: int, split: str) -> None:
        """How well D tells held-out real images from fresh samples (D overfitting shows as a train/val gap).

        The noise comes from a generator seeded by the batch index: the numbers are the same every time and
        evaluation never moves training's random stream.
        """
        real = batch[0] if isinstance(batch, list | tuple) else batch
        fake = self.generator(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)))
        critique = Critique(
            real_logits=self.discriminator(real), fake_logits=self.discriminator(fake), real=real, fake=fake
        )
        correct = (critique.real_logits > 0).float().sum() + (critique.fake_logits <= 0).float().sum()
        self.log_dict(
            {
                f"{split}/loss_d": self.loss.discriminator_loss(critique),
                f"{split}/loss_g": self.loss.generator_loss(critique),
                f"{split}/d_accuracy": correct / (2 * real.shape[0]),
            },
            batch_size=real.shape[0],
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """As many samples as the batch has images, from noise seeded by the batch index."""
        real = batch[0] if isinstance(batch, list | tuple) else batch
        return self.generator(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)))

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
