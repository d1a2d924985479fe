"""Drawing from the GAN: noise from the prior, class labels, G's samples and D's outputs.

A part of :class:`gan_module.model.module.GAN` (mixed into it), kept apart from Algorithm 1: it reads the module's
``generator``, ``discriminator``, ``noise``, ``num_classes`` and ``ema``. Conditional models p(x|c) (the 2014
paper's conclusion; Mirza & Osindero 2014) take class labels with the noise or the images.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class Sampling:
    """Sampling, judging and the labels a conditional model is given."""

    _labels_checked = False  # the data's labels were checked against the model's classes (once per run)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def sampling_generator(self) -> nn.Module:
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
        return generator(z) if not self.num_classes else generator(z, required(labels))

    def judge(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's raw outputs for ``x`` (given the labels when the model is conditional)."""
        return self.discriminator(x) if not self.num_classes else self.discriminator(x, required(labels))

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

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, refined: bool = True) -> Tensor:
        """The samples a user sees, one per noise vector: through the module's ``sampler`` (gan_module/samplers/:
        the plain generator by default, or one that D guides, which may draw more noise of its own), or, with
        ``refined=False``, :meth:`generate_plain`'s.

        Every user-facing sample path calls this: sample grids, evaluation, ``test``, ``predict``. A
        conditional model given no labels draws them uniformly (from a generator seeded by the noise size, so
        the same call gives the same images).
        """
        if self.num_classes and labels is None:
            labels = self.sample_labels(z.shape[0], torch.Generator().manual_seed(z.shape[0]))
        z, labels = z.to(self.device), None if labels is None else labels.to(self.device)
        if refined and self.sampler.guides:
            return self.sampler.draw(self, z, labels)
        return self.generate_plain(z, labels)

    @torch.no_grad()
    def generate_plain(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G's samples for ``z`` (the moving average's when ``ema`` is set), in eval mode."""
        network = self.sampling_generator
        was_training = network.training
        network.eval()
        try:
            return self._sample_with(network, z.to(self.device), None if labels is None else labels.to(self.device))
        finally:
            network.train(was_training)

    def held_out(self) -> tuple[Tensor, Tensor]:
        """The data's ``val`` split as the model sees it (samples, labels): what a guided sampler calibrates D on
        (never the test split, which scores the samples)."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is None:
            raise RuntimeError(
                "A discriminator-guided sampler calibrates D on the data's val split: run through a Trainer with a "
                "datamodule, or call the sampler's prepare(module, (real, labels)) first."
            )
        return datamodule.split_images("val"), datamodule.split_labels("val")

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """As many samples as the batch has images (of the batch's classes), from noise seeded by the batch index."""
        real, labels = split_batch(batch)
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


def split_batch(batch: Any) -> tuple[Tensor, Tensor | None]:
    """(samples, labels) from a DataModule batch; a bare tensor has no labels."""
    if isinstance(batch, list | tuple):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def required(labels: Tensor | None) -> Tensor:
    if labels is None:
        raise ValueError("This model is conditional: pass the class labels along with the noise or images.")
    return labels
