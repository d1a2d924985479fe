"""The numbers behind the selection paper's training issues, the step's log, and D's scores on held-out data.

A part of :class:`gan_module.module.GAN` (mixed into it): the ``diag/*`` numbers of a D step, computed only on
the steps someone reads (the loggers, callbacks.TrainingDiagnostics), the writing of a logged step's numbers,
and ``validation_step``/``test_step``,
which score D on held-out real images against fresh samples. The maths is in gan_module/measures.py.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gan_module import names
from gan_module.losses import Critique
from gan_module.measures import diversity_ratio
from gan_module.packing import pack_samples
from gan_module.sampling import unpack

#: samples of each side that the diversity diagnostic compares (see Diagnosing.loss_diagnostics)
DIVERSITY_SAMPLES = 64


class Diagnosing:
    """Training diagnostics and held-out evaluation of D."""

    def request_diagnostics(self, every_n_steps: int) -> None:
        """Compute the ``diag/*`` numbers after every n-th D step (besides the steps the loggers keep)."""
        if every_n_steps > 0:
            self._diagnostic_intervals.add(every_n_steps)

    def _diagnostics_due(self) -> bool:
        """Whether this D step's diagnostics are read: logged, or watched by a callback."""
        step = self.d_steps  # this step's index; callbacks read after it, at d_steps + 1
        return self._logging_step or any((step + 1) % n == 0 for n in self._diagnostic_intervals)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # after the callbacks' own hooks (Lightning calls the module's last), so their numbers are in
        if self._logging_step:
            self.step_log.add(self.step_log.bar)  # the losses and the callbacks' numbers (issues) of this step
            self.step_log.write(
                self.trainer,
                **{
                    names.ITERATIONS: float(self.iterations),
                    names.KIMG: self.images_seen / 1000.0,
                    names.SECONDS: self.training_seconds(),
                },
            )

    @torch.no_grad()
    def loss_diagnostics(self, critique: Critique) -> dict[str, Tensor]:
        """The numbers behind the selection paper's training issues, for one D step.

        - ``d_real``/``d_fake``: mean raw D output on each side (a widening gap: D is winning);
        - ``d_accuracy``: see :meth:`d_accuracy`;
        - ``diversity``: mean pairwise distance between fakes over that between reals (near 0: mode collapse),
          estimated on the first :data:`DIVERSITY_SAMPLES` of each (the batch is a random draw, so these are
          too): the same expectation as over the whole batch at a sixteenth of the cost for a batch of 256.
          With packing, the distances are between packed inputs (m samples each): still 1 for a G like the data.
        """
        real, fake = critique.real_logits.float(), critique.fake_logits.float()
        n = DIVERSITY_SAMPLES
        return {
            names.D_REAL: real.mean(),
            names.D_FAKE: fake.mean(),
            names.D_ACCURACY: self.d_accuracy(real, fake),
            names.DIVERSITY: diversity_ratio(critique.fake[:n], critique.real[:n]),
        }

    def d_accuracy(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """For a probabilistic D, the share of images on the right side of 0; for critics, whose outputs have no
        fixed threshold, the share of (real_i, fake_i) pairs ranked real above fake."""
        if self.loss.probabilistic:
            return torch.cat([real_logits > 0, fake_logits <= 0]).float().mean()
        return (real_logits > fake_logits).float().mean()

    def _evaluate(self, batch: Any, batch_idx: int, split: str) -> None:
        """How well D tells held-out real images from fresh samples (D overfitting shows as a train/val gap).

        The noise comes from a generator seeded by the batch index: the numbers are the same every time and
        evaluation never moves training's random stream. The fakes are G's (not its moving average's): these
        numbers describe D against the player it trains against.
        """
        real, labels = unpack(batch)
        labels = self._condition(labels)
        real = real[: real.shape[0] - real.shape[0] % self.pack]  # a last batch of the split packs whole inputs
        fake = self(self.sample_noise(real.shape[0], torch.Generator().manual_seed(batch_idx)), labels)
        real, fake = pack_samples(real, self.pack), pack_samples(fake, self.pack)
        critique = Critique(
            real_logits=self.judge(real, labels), fake_logits=self.judge(fake, labels), real=real, fake=fake
        )
        self.log_dict(
            {
                names.split_key(split, names.LOSS_D): self.loss.discriminator_loss(critique),
                names.split_key(split, names.LOSS_G): self.loss.generator_loss(critique),
                names.split_key(split, names.HELD_OUT_D_ACCURACY): self.d_accuracy(
                    critique.real_logits.float(), critique.fake_logits.float()
                ),
            },
            batch_size=real.shape[0],
            sync_dist=True,  # under DDP each rank sees its share of the split: average over all of them
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")
