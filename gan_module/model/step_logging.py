"""The GAN module's part that writes each logged training step's numbers to the loggers, once
(gan_module/run/step_log.py says why the module does this itself instead of calling ``self.log``)."""

from __future__ import annotations

from typing import Any

from gan_module import names


class StepLogging:
    """A part of :class:`gan_module.model.module.GAN` (mixed into it): writes each logged step's numbers, once."""

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # after the callbacks' own hooks (Lightning calls the module's last), so their numbers are in
        if self.step_log.logging:
            self.step_log.add(self.step_log.bar)  # the losses and the callbacks' numbers (issues) of this step
            self.step_log.write(
                self.trainer,
                **{
                    names.ITERATIONS: float(self.iterations),
                    names.KIMG: self.images_seen / 1000.0,
                    names.SECONDS: self.training_seconds(),
                },
            )
