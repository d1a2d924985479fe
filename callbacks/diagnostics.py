"""Watches for the four training issues the selection paper (Motwani & Parmar 2020, section 3) names.

The module computes the underlying numbers (``pl_module.diagnostics``: gradient norms, mean D outputs, D
accuracy, sample diversity) on the D steps that are logged (``diag/*`` every ``log_every_n_steps``) and on those
this callback reads (every ``every_n_steps``; by default the logged ones, so the diagnostics cost nothing on the
other steps, while the non-finite check still runs on every step); this callback keeps the readings of the
last ``window`` D steps and flags an issue while its condition has held over the whole window:

- mode collapse: fakes far less varied than reals, ``diversity`` (mean pairwise distance of fakes / of reals)
  below ``collapse_diversity``;
- vanishing gradient: G's gradient norm below ``vanishing_ratio`` x its median over the first window, while D
  is confident (accuracy above ``confident_accuracy``) -- the saturation Goodfellow et al. (2014, section 3)
  describe for the minimax loss;
- unstable training: a gradient-norm spike (a step above ``spike_factor`` x the window median, for G or D)
  within the window. Gradient norms rather than losses, because loss levels differ between objectives (a
  Wasserstein critic's loss hovers around 0 and changes sign while training is healthy);
- non-convergence / imbalance: D's accuracy pinned, its window mean above ``1 - pinned_margin`` (D wins
  outright) or below ``pinned_margin`` (D is fooled by everything). D winning counts only for a D that outputs
  the probability of "real" (``loss.probabilistic``): a critic (Wasserstein, hinge, least squares,
  relativistic, loss-sensitive) is meant to score every real above every fake while the distributions differ,
  so its ranking accuracy near 1 is the normal state (a WGAN-GP run would be flagged ~95% of the time). A
  critic ranking fakes above reals throughout the window is still flagged.

Each flag is logged as ``issue/<name>`` (0 or 1) every ``log_every_n_steps``, so its history is in every logger,
and ``steps_flagged`` counts every flagged step (kept in checkpoints); ``issues`` (the number of active flags)
appears in the progress bar, and the onset of each issue is a warning in the log.
"""

from __future__ import annotations

import math
from collections import deque
from statistics import median

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn

from gan_module.errors import ConfigError
from gan_module.names import (
    D_ACCURACY,
    GRAD_NORM_D,
    GRAD_NORM_G,
    ISSUES,
    ISSUES_NOW,
    MODE_COLLAPSE,
    NON_CONVERGENCE,
    SPREAD_RATIO,
    UNSTABLE_TRAINING,
    VANISHING_GRADIENT,
    issue_key,
)
from gan_module.run.step_log import is_logging_step

_WATCHED = (SPREAD_RATIO, GRAD_NORM_G, GRAD_NORM_D, D_ACCURACY)


class TrainingDiagnostics(L.Callback):
    """Flags mode collapse, vanishing gradients, unstable training and non-convergence while training.

    Args:
        every_n_steps: read the numbers every n-th D step (each read waits for the GPU); 0 turns this off; None
            (the default): on the logged steps, every ``trainer.log_every_n_steps``.
        window: D steps a condition must hold for (and the span of the statistics' history), read every
            ``every_n_steps``: at least 2 readings.
        collapse_diversity: diversity ratio under which samples count as collapsed.
        vanishing_ratio: G gradient norm, relative to its early median, under which it counts as vanished.
        confident_accuracy: D accuracy above which D counts as confident.
        spike_factor: a gradient norm this many times the window median is a spike.
        pinned_margin: D accuracy within this margin of 0 or 1 counts as pinned.
    """

    def __init__(
        self,
        every_n_steps: int | None = None,
        window: int = 200,
        collapse_diversity: float = 0.2,
        vanishing_ratio: float = 0.01,
        confident_accuracy: float = 0.95,
        spike_factor: float = 10.0,
        pinned_margin: float = 0.01,
    ) -> None:
        if (every_n_steps is not None and every_n_steps < 0) or window < 2:
            raise ConfigError(
                f"TrainingDiagnostics needs every_n_steps >= 0 and window >= 2, got {every_n_steps}, {window}."
            )
        self.every_n_steps, self.window = every_n_steps, window
        self.collapse_diversity, self.vanishing_ratio = collapse_diversity, vanishing_ratio
        self.confident_accuracy, self.spike_factor = confident_accuracy, spike_factor
        self.pinned_margin = pinned_margin
        self.history: dict[str, deque[float]] = self._histories()
        self.early_grad_g: float | None = None
        self.probabilistic_d = True  # set from the module's loss in setup
        self.active = dict.fromkeys(ISSUES, False)
        self.steps_flagged = dict.fromkeys(ISSUES, 0)

    @property
    def readings(self) -> int:
        """Readings in a window: ``window`` D steps read every ``every_n_steps``."""
        return max(2, math.ceil(self.window / max(self.every_n_steps or 1, 1)))

    def _histories(self) -> dict[str, deque[float]]:
        return {key: deque(maxlen=self.readings) for key in _WATCHED}

    # ----------------------------------------------------------------- conditions
    def _full(self, key: str) -> deque[float] | None:
        values = self.history[key]  # read as it is (no copy): this runs on every watched D step
        return values if len(values) == self.readings else None

    def conditions(self) -> dict[str, bool]:
        """Which issues hold over the current window (all False until the window is full)."""
        diversity, grad_g, grad_d = (self._full(k) for k in (SPREAD_RATIO, GRAD_NORM_G, GRAD_NORM_D))
        accuracy = self._full(D_ACCURACY)
        flags = dict.fromkeys(ISSUES, False)
        if diversity is not None:
            flags[MODE_COLLAPSE] = max(diversity) < self.collapse_diversity
        if grad_g is not None and accuracy is not None and self.early_grad_g:
            flags[VANISHING_GRADIENT] = (
                max(grad_g) < self.vanishing_ratio * self.early_grad_g and min(accuracy) > self.confident_accuracy
            )
        flags[UNSTABLE_TRAINING] = any(
            values is not None and max(values) > self.spike_factor * max(median(values), 1e-12)
            for values in (grad_g, grad_d)
        )
        if accuracy is not None:
            mean_accuracy = sum(accuracy) / len(accuracy)
            d_wins = self.probabilistic_d and mean_accuracy > 1 - self.pinned_margin
            flags[NON_CONVERGENCE] = d_wins or mean_accuracy < self.pinned_margin
        return flags

    # ----------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        self.probabilistic_d = getattr(getattr(pl_module, "loss", None), "probabilistic", True)
        if self.every_n_steps is None:  # the logged steps: the module computes their numbers anyway
            self.every_n_steps = max(int(getattr(trainer, "log_every_n_steps", 1)), 1)
            self.history = self._histories()
        if self.every_n_steps and hasattr(pl_module, "request_diagnostics"):
            pl_module.request_diagnostics(self.every_n_steps)  # the module computes them only when read

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.every_n_steps or pl_module.d_steps % self.every_n_steps != 0:
            return
        numbers = getattr(pl_module, "diagnostics", {})
        for key in _WATCHED:
            if key in numbers:
                self.history[key].append(float(numbers[key]))
        grad_g = self.history[GRAD_NORM_G]
        if self.early_grad_g is None and len(grad_g) == self.readings:
            self.early_grad_g = median(grad_g)
        flags = self.conditions()
        for issue, on in flags.items():
            if on and not self.active[issue]:
                rank_zero_warn(f"Training issue detected at iteration {pl_module.iterations}: {_DESCRIPTIONS[issue]}")
            self.steps_flagged[issue] += int(on) * self.every_n_steps  # each reading stands for n D steps
            self.active[issue] = on
        if is_logging_step(trainer):  # what the loggers keep (steps_flagged counts every step)
            pl_module.step_log.add({issue_key(name): float(on) for name, on in flags.items()})
        pl_module.step_log.bar[ISSUES_NOW] = sum(flags.values())

    def state_dict(self) -> dict:
        return {"early_grad_g": self.early_grad_g, "steps_flagged": dict(self.steps_flagged)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.early_grad_g = state_dict.get("early_grad_g")
        self.steps_flagged.update(state_dict.get("steps_flagged", {}))


_DESCRIPTIONS = {
    MODE_COLLAPSE: "mode collapse -- the samples are far less varied than the data (diag/spread_ratio).",
    VANISHING_GRADIENT: "vanishing gradient -- G's gradient has collapsed while D is confident "
    "(diag/grad_norm_g, diag/d_accuracy); a non-saturating or Wasserstein loss is the usual remedy.",
    UNSTABLE_TRAINING: "unstable training -- gradient-norm spikes "
    "(diag/grad_norm_*); try a gradient penalty, spectral norm or a lower learning rate.",
    NON_CONVERGENCE: "non-convergence -- D's accuracy is pinned at 0 or 1 (diag/d_accuracy); the players are "
    "out of balance (adjust k or the learning rates).",
}
