"""The progress bar: Lightning's RichProgressBar, drawn a few times a second, showing the GAN's step numbers.

RichProgressBar redraws the bar from a background thread 100 times a second and updates its task and metrics
after every batch. Both hold Python's GIL: for a small GAN that trains a hundred iterations a second on a CPU,
that is a tenth of the run. A person reads a bar a few times a second at most, so this one redraws
``refresh_rate`` times a second (4 by default) and updates on training batches no more often (always on an
epoch's last batch). Training itself is untouched.

The losses and the number of active training issues come from the module's
:class:`~gan_module.run.step_log.StepLog` (``step_log.bar``), which the module fills without ``self.log``.
"""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """A RichProgressBar that redraws ``refresh_rate`` times a second and shows ``pl_module.step_log.bar``.

    Args:
        refresh_rate: redraws per second (0 hides the bar).
        leave: keep each finished epoch's bar on screen.
    """

    def __init__(self, refresh_rate: int = 4, leave: bool = False, **kwargs: Any) -> None:
        super().__init__(refresh_rate=refresh_rate, leave=leave, **kwargs)
        self._next_update = 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        now = time.monotonic()
        last = batch_idx + 1 >= trainer.num_training_batches
        if now < self._next_update and not last:
            return
        self._next_update = now + 1.0 / max(self.refresh_rate, 1)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        step_log = getattr(pl_module, "step_log", None)
        if step_log is not None:
            items.update({key: float(value) for key, value in step_log.bar.items()})
        return items
