"""Before training: the networks' memory layout and compilation, and the checks against the data.

A part of :class:`gan_module.model.module.GAN` (mixed into it); the checks themselves are in
gan_module/model/setup_checks.py.
"""

from __future__ import annotations

import torch

from gan_module.errors import ConfigError
from gan_module.model.packing import check_batch_size
from gan_module.model.setup_checks import check_networks


class Preparation:
    """Compile, lay out and check the networks against the data before anything trains."""

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
        if self.augment is not None and image_shape is not None:
            self.augment.check_data(tuple(image_shape), getattr(datamodule, "value_range", None))
        self.sampler.check_augment(self.augment)
        splits = getattr(datamodule, "splits", None)
        if self.sampler.needs_held_out and isinstance(splits, dict) and "val" in splits:
            self.sampler.check_data(len(splits["val"]))
        data_classes = getattr(datamodule, "num_classes", None)
        if self.num_classes and data_classes is not None and data_classes != self.num_classes:
            raise ConfigError(
                f"The conditional networks were built for {self.num_classes} classes but the data has "
                f"{data_classes}: leave the networks' num_classes unset (gan_module/cli.py links it from the data)."
            )

    def check_networks(self, image_shape: tuple[int, ...], value_range: tuple[float, float] | None) -> None:
        """Fail before training if G's samples cannot be compared with the data, or D's output is not (N,)."""
        check_networks(self, image_shape, value_range)
