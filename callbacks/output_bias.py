"""Pylearn2's ``init_sigmoid_bias_from_marginals``, as the 2014 paper's released mnist.yaml sets G's output layer."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from gan_module.errors import ConfigError
from gan_module.networks.layers import sigmoid_bias_from_marginals


class OutputBiasFromMarginals(L.Callback):
    """Before a fresh fit, set G's sigmoid output bias b so that sigmoid(b) is the training images' mean pixel.

    An untrained G then draws the mean image instead of grey 0.5s everywhere, so the background of its first
    samples is already dark and D cannot win on it alone. A resumed fit keeps the checkpoint's weights (Lightning
    restores them after ``setup``); the moving average of G, when on, starts from the adjusted G.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        generator = pl_module.generator
        layer = getattr(generator, "output_layer", None)
        if not isinstance(layer, nn.Linear) or getattr(generator, "output_range", None) != (0.0, 1.0):
            raise ConfigError(
                f"OutputBiasFromMarginals needs a generator with a linear sigmoid output layer (MLPGenerator with "
                f"output: sigmoid); {type(generator).__name__} has none: remove the callback or change the network."
            )
        datamodule = trainer.datamodule
        mean = datamodule.to_unit_interval(datamodule.split_images("train")).flatten(1).mean(0)
        with torch.no_grad():
            layer.bias.copy_(sigmoid_bias_from_marginals(mean).to(layer.bias))
        if pl_module.ema is not None:
            pl_module.ema.attach(generator)
