"""The numbers behind the selection paper's training issues.

A part of :class:`gan_module.model.module.GAN` (mixed into it): the ``diag/*`` numbers of a D step, computed only on
the steps someone reads (the loggers, callbacks.TrainingDiagnostics). The maths is in
gan_module/model/diagnostic_maths.py.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_module import names
from gan_module.losses import Critique
from gan_module.model.diagnostic_maths import spread_ratio

#: samples of each side that the diversity diagnostic compares (see Diagnosing.loss_diagnostics)
SPREAD_SAMPLES = 64


class Diagnosing:
    """The training diagnostics of each D step."""

    #: D-step intervals at which callbacks read the diagnostics (:meth:`request_diagnostics`)
    _diagnostic_intervals: tuple[int, ...] = ()

    def request_diagnostics(self, every_n_steps: int) -> None:
        """Compute the ``diag/*`` numbers after every n-th D step (besides the steps the loggers keep)."""
        if every_n_steps > 0 and every_n_steps not in self._diagnostic_intervals:
            self._diagnostic_intervals = (*self._diagnostic_intervals, every_n_steps)

    def _diagnostics_due(self) -> bool:
        """Whether this D step's diagnostics are read: logged, or watched by a callback."""
        step = self.d_steps  # this step's index; callbacks read after it, at d_steps + 1
        return self.step_log.logging or any((step + 1) % n == 0 for n in self._diagnostic_intervals)

    @torch.no_grad()
    def loss_diagnostics(self, critique: Critique) -> dict[str, Tensor]:
        """The numbers behind the selection paper's training issues, for one D step.

        - ``d_real``/``d_fake``: mean raw D output on each side (a widening gap: D is winning);
        - ``d_accuracy``: see :meth:`d_accuracy`;
        - ``diversity``: mean pairwise distance between fakes over that between reals (near 0: mode collapse),
          estimated on the first :data:`SPREAD_SAMPLES` of each (the batch is a random draw, so these are
          too): the same expectation as over the whole batch at a sixteenth of the cost for a batch of 256.
          With packing, the distances are between packed inputs (m samples each): still 1 for a G like the data.
        """
        real, fake = critique.real_logits.float(), critique.fake_logits.float()
        n = SPREAD_SAMPLES
        return {
            names.D_REAL: real.mean(),
            names.D_FAKE: fake.mean(),
            names.D_ACCURACY: self.d_accuracy(real, fake),
            names.SPREAD_RATIO: spread_ratio(critique.fake[:n], critique.real[:n]),
        }

    def d_accuracy(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """For a probabilistic D, the share of images on the right side of 0; for critics, whose outputs have no
        fixed threshold, the share of (real_i, fake_i) pairs ranked real above fake."""
        if self.loss.probabilistic:
            return torch.cat([real_logits > 0, fake_logits <= 0]).float().mean()
        return (real_logits > fake_logits).float().mean()
