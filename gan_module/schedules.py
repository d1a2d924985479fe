"""Learning-rate schedules that the GAN papers used and torch lacks."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class ExponentialDecay(LRScheduler):
    """Pylearn2's ExponentialDecay (the 2014 paper's code): ``lr_t = max(lr_0 / decay_factor**t, min_lr)``.

    The module steps it once per step of its player.
    """

    def __init__(
        self, optimizer: Optimizer, decay_factor: float = 1.000004, min_lr: float = 1e-6, last_epoch: int = -1
    ) -> None:
        self.decay_factor, self.min_lr = decay_factor, min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [max(base / self.decay_factor**self.last_epoch, self.min_lr) for base in self.base_lrs]
