"""Pylearn2's MomentumAdjustor, as the 2014 paper's code used it: momentum rises linearly over epochs."""

from __future__ import annotations

import lightning as L

from gan_module.errors import ConfigError


class MomentumRamp(L.Callback):
    """Sets SGD momentum of every optimizer before each epoch.

    momentum(e) = initial for e <= start, final for e >= saturate, linear in between. The 2014 MNIST model:
    0.5 rising to 0.7 between epochs 1 and 250.
    """

    def __init__(
        self, initial: float = 0.5, final: float = 0.7, start_epoch: int = 1, saturate_epoch: int = 250
    ) -> None:
        if saturate_epoch <= start_epoch:
            raise ConfigError(
                f"MomentumRamp needs saturate_epoch > start_epoch, got {saturate_epoch} <= {start_epoch}."
            )
        self.initial, self.final = initial, final
        self.start_epoch, self.saturate_epoch = start_epoch, saturate_epoch

    def momentum(self, epoch: int) -> float:
        alpha = (epoch - self.start_epoch) / (self.saturate_epoch - self.start_epoch)
        alpha = min(max(alpha, 0.0), 1.0)
        return self.initial * (1.0 - alpha) + self.final * alpha

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        value = self.momentum(trainer.current_epoch)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                if "momentum" not in group:
                    raise ConfigError(
                        f"MomentumRamp needs optimizers with momentum; {type(optimizer).__name__} has none."
                    )
                group["momentum"] = value
