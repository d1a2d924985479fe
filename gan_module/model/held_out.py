"""How well D tells held-out real images from fresh samples: the module's ``validation_step`` and ``test_step``.

A part of :class:`gan_module.model.module.GAN` (mixed into it). A D that overfits its training images shows as a gap
between the training diagnostics and these numbers (``val/loss_d``, ``val/d_accuracy``).
"""

from __future__ import annotations

from typing import Any

import torch

from gan_module import names
from gan_module.losses import Critique
from gan_module.model.packing import pack_samples
from gan_module.model.sampling import split_batch


class HeldOut:
    """D's losses and accuracy on a held-out split."""

    def _evaluate(self, batch: Any, batch_idx: int, split: str) -> None:
        """How well D tells held-out real images from fresh samples (D overfitting shows as a train/val gap).

        The noise comes from a generator seeded by the batch index: the numbers are the same every time and
        evaluation never moves training's random stream. The fakes are G's (not its moving average's): these
        numbers describe D against the player it trains against.
        """
        real, labels = split_batch(batch)
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
