"""Discriminator rejection sampling (Azadi et al. 2019, "Discriminator Rejection Sampling", ICLR).

Rejection sampling from G towards the data: a proposal x ~ p_g is kept with probability
``p_data(x) / (M p_g(x)) = exp(D~(x) - D~*)``, where D~ is D's calibrated logit (gan_module/samplers/
calibration.py: the log density ratio for the optimal D) and D~* its maximum, ``log M``. The paper's practical
form (sec. 4.2, Algorithm 1) accepts with probability ``sigmoid(F~(x))``:

    F(x)  = D~(x) - D~* - log(1 - exp(D~(x) - D~* - eps))
    F~(x) = F(x) - gamma

``sigmoid(F(x))`` equals ``exp(D~(x) - D~*)`` up to eps (exact rejection sampling); ``gamma`` shifts it: below 0
more is kept (closer to G, cheaper), above 0 less (only what D rates most real). D~* is the maximum over the
burn-in samples (the calibration's fresh samples), raised whenever a larger logit is seen, as the paper does.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.samplers.base import Sampler, judging
from gan_module.samplers.calibration import Calibration, calibrate, calibrated_logits

log = logging.getLogger(__name__)
#: the most candidates judged at once (a round draws several per sample still waiting)
ROUND_SIZE = 8192


class DiscriminatorRejection(Sampler):
    """DRS: G's samples, each kept with the probability D's calibrated density ratio gives it.

    Args:
        gamma: the shift of F (the paper's gamma): 0 is rejection sampling against the largest ratio seen;
            below 0 keeps more (cheaper, closer to G), above 0 keeps only what D rates most real.
        gamma_quantile: instead of ``gamma``, set gamma to this quantile of F over the burn-in samples at each
            calibration (the paper chooses gamma from a percentile of F; e.g. 0.8: about a fifth of G's samples
            are kept with probability >= 1/2).
        epsilon: the paper's eps, which keeps ``log(1 - exp(...))`` finite at the largest ratio.
        max_draws_per_sample: the cap on generator samples drawn for one kept sample; a sample that reaches it is
            G's last proposal (unrefined), counted and reported in one line.
        calibration_size: held-out real images (and as many fresh samples) D is calibrated on; also the burn-in.
        partner_sets: sets of partner samples a packed D (``model.pack`` > 1) judges each sample with.
        seed: seed of the extra noise and the acceptance draws (re-seeded at every calibration).
    """

    label = "drs"
    needs_held_out = True

    def __init__(
        self,
        gamma: float = 0.0,
        gamma_quantile: float | None = None,
        epsilon: float = 1e-6,
        max_draws_per_sample: int = 100,
        calibration_size: int = 10000,
        partner_sets: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(gamma, int | float) or not math.isfinite(gamma):
            raise ConfigError(f"model.sampler DiscriminatorRejection: gamma must be a finite number, got {gamma!r}.")
        if gamma_quantile is not None and not 0.0 < gamma_quantile < 1.0:
            raise ConfigError(
                f"model.sampler DiscriminatorRejection: gamma_quantile must be in (0, 1), got {gamma_quantile!r}."
            )
        if not epsilon > 0:
            raise ConfigError(f"model.sampler DiscriminatorRejection: epsilon must be > 0, got {epsilon!r}.")
        _check_counts(max_draws_per_sample=max_draws_per_sample, calibration_size=calibration_size)
        _check_counts(partner_sets=partner_sets)
        self.gamma, self.gamma_quantile, self.epsilon = float(gamma), gamma_quantile, float(epsilon)
        self.max_draws_per_sample, self.calibration_size = max_draws_per_sample, calibration_size
        self.partner_sets, self.seed = partner_sets, seed
        self.calibration: Calibration | None = None
        self.log_m = -math.inf  # D~*: the largest calibrated logit seen
        self.shift = self.gamma  # the gamma in use (from gamma_quantile when set)
        self._rate = 1.0  # the share of the burn-in samples it would keep: how many proposals a round draws
        self._warned = False  # the cap line is said once per calibration; the evaluation logs the count
        self._generator = torch.Generator().manual_seed(seed)

    # ------------------------------------------------------------------ the paper's acceptance probability
    def acceptance(self, logits: Tensor) -> Tensor:
        """``sigmoid(F(x) - gamma)`` for calibrated logits ``D~(x)``, after raising D~* to their maximum."""
        if len(logits):
            self.log_m = max(self.log_m, float(logits.max()))
        return torch.sigmoid(self.f(logits) - self.shift)

    def f(self, logits: Tensor) -> Tensor:
        """F(x) = D~(x) - D~* - log(1 - exp(D~(x) - D~* - eps)) (Azadi et al. 2019, sec. 4.2)."""
        gap = logits.double() - self.log_m
        return (gap - torch.log1p(-torch.exp(gap - self.epsilon))).float()

    # ------------------------------------------------------------------ calibration, once per state of D
    def prepare(self, module: Any, held_out: tuple[Tensor, Tensor | None] | None = None) -> Calibration:
        """Calibrate D when its weights changed since the last time (on ``held_out`` real samples and labels, by
        default the data's ``val`` split), and set D~* and gamma from the burn-in."""
        if held_out is None and self.calibration is not None and self.calibration.d_steps == int(module.d_steps):
            return self.calibration
        self._generator.manual_seed(self.seed)
        with judging(module):
            data = held_out if held_out is not None else module.held_out()
            self.calibration = calibrate(module, data, self.calibration_size, self.partner_sets, self._generator, "DRS")
        burn_in = self.calibration.fake_logits
        self.log_m = float(burn_in.max())
        if self.gamma_quantile is not None:
            self.shift = float(torch.quantile(self.f(burn_in).double(), self.gamma_quantile))
        self._rate, self._warned = max(float(self.acceptance(burn_in).mean()), 1e-3), False
        log.info(
            "DRS: D~* = %.4g, gamma = %.4g; %.1f%% of the burn-in samples would be kept",
            self.log_m,
            self.shift,
            100 * self._rate,
        )
        return self.calibration

    # ------------------------------------------------------------------ drawing
    @torch.no_grad()
    def draw(self, module: Any, z: Tensor, labels: Tensor | None) -> Tensor:
        """One kept sample per noise vector of ``z``: its own G sample first, then fresh proposals until one is
        kept or ``max_draws_per_sample`` are drawn (then G's last proposal)."""
        began = time.perf_counter()
        calibration = self.prepare(module)
        n = z.shape[0]
        candidates = module.generate_plain(z, labels)
        out = candidates.clone()
        with judging(module):
            kept = self._accepted(module, calibration, candidates, labels)
        pending = torch.nonzero(~kept).flatten()
        used = 1
        while len(pending) and used < self.max_draws_per_sample:
            per = max(1, min(self.max_draws_per_sample - used, math.ceil(1.5 / self._rate), ROUND_SIZE // len(pending)))
            wanted = pending.repeat_interleave(per)
            wanted_labels = None if labels is None else labels[wanted]
            proposals = module.generate_plain(module.sample_noise(len(wanted), self._generator), wanted_labels)
            with judging(module):
                accepted = self._accepted(module, calibration, proposals, wanted_labels).reshape(len(pending), per)
            found = accepted.any(dim=1)
            first = accepted.float().argmax(dim=1)  # the first kept proposal: as if drawn one at a time
            rows = torch.arange(len(pending), device=first.device)
            chosen = proposals.reshape(len(pending), per, *proposals.shape[1:])[rows, first]
            out[pending[found]] = chosen[found]
            last = proposals.reshape(len(pending), per, *proposals.shape[1:])[:, -1]
            out[pending[~found]] = last[~found]  # kept only if the cap ends the search now
            used += per
            self.cost.draws += len(wanted)
            pending = pending[~found]
        self.cost.add(kept=n, draws=n, seconds=time.perf_counter() - began, capped=len(pending))
        if len(pending) and not self._warned:
            self._warned = True
            log.warning(
                "DRS: %d of %d samples reached max_draws_per_sample=%d without being accepted and are G's plain "
                "samples (said once per calibration; the evaluation logs the cost): raise "
                "model.sampler.init_args.max_draws_per_sample, or lower gamma to keep more.",
                len(pending),
                n,
                self.max_draws_per_sample,
            )
        return out

    def _accepted(self, module: Any, calibration: Calibration, x: Tensor, labels: Tensor | None) -> Tensor:
        probability = self.acceptance(calibrated_logits(module, calibration, x, labels))
        return torch.rand(len(x), generator=self._generator).to(probability.device) < probability

    def __repr__(self) -> str:
        gamma = f"gamma_quantile={self.gamma_quantile}" if self.gamma_quantile is not None else f"gamma={self.gamma}"
        return f"DiscriminatorRejection({gamma}, max_draws_per_sample={self.max_draws_per_sample})"


def _check_counts(**counts: Any) -> None:
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"model.sampler: {key} must be an integer >= 1, got {value!r}.")
