"""Metropolis-Hastings GAN (Turner et al. 2019, "Metropolis-Hastings Generative Adversarial Networks", ICML).

An independence Metropolis-Hastings chain whose proposals are G's samples and whose target is the data: from
the state x_k, a proposal x' ~ p_g is accepted with probability (their eq. 5, D a calibrated probability)

    alpha = min(1, (1/D(x_k) - 1) / (1/D(x') - 1)) = min(1, exp(D~(x') - D~(x_k)))

with D~ the calibrated logit (gan_module/samplers/calibration.py). For the optimal D this is
``min(1, p_data(x') p_g(x_k) / (p_data(x_k) p_g(x')))``, the independence sampler's acceptance, so the data's
distribution is the chain's stationary distribution. As in the paper, each chain starts at a real held-out
sample (no burn-in: the chain starts in the target) and a chain that accepted no proposal in its K steps is
run again from a sample of G, so every sample it gives is a generated one. A conditional model's chains start
from G's sample of the requested class (the held-out images of that class are not looked up).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.samplers.base import Sampler, judging
from gan_module.samplers.calibration import Calibration, calibrate, calibrated_logits

log = logging.getLogger(__name__)


def metropolis_chain(
    state: Tensor,
    state_logits: Tensor,
    propose: Callable[[int], tuple[Tensor, Tensor]],
    steps: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """``steps`` independence MH steps of parallel chains: ``propose(n)`` gives n proposals and their calibrated
    logits; returns the final states, their logits, and which chains accepted at least one proposal."""
    moved = torch.zeros(len(state), dtype=torch.bool, device=state.device)
    for _ in range(steps):
        proposal, proposal_logits = propose(len(state))
        u = torch.rand(len(state), generator=generator, dtype=torch.float64).to(state.device)
        accept = torch.log(u) < (proposal_logits - state_logits).double()  # log alpha = min(0, D~(x') - D~(x_k))
        state = torch.where(accept.view(-1, *[1] * (state.dim() - 1)), proposal, state)
        state_logits = torch.where(accept, proposal_logits, state_logits)
        moved |= accept
    return state, state_logits, moved


class MetropolisHastings(Sampler):
    """MH-GAN: each sample is the end of an independence Metropolis-Hastings chain of G's proposals.

    Args:
        chain_length: K, proposals per chain (the paper's K); a chain that accepts none is run once more from a
            sample of G, so at most 2K generator draws per sample (the cap).
        calibration_size: held-out real images (and as many fresh samples) D is calibrated on; the chains start
            at these real images.
        partner_sets: sets of partner samples a packed D (``model.pack`` > 1) judges each sample with.
        seed: seed of the proposals, the chains' starts and the acceptance draws (re-seeded at every calibration).
    """

    label = "mh"
    needs_held_out = True

    def __init__(self, chain_length: int = 20, calibration_size: int = 10000, partner_sets: int = 4, seed: int = 0):
        super().__init__()
        for key, value in {
            "chain_length": chain_length,
            "calibration_size": calibration_size,
            "partner_sets": partner_sets,
        }.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"model.sampler MetropolisHastings: {key} must be an integer >= 1, got {value!r}.")
        self.chain_length, self.calibration_size = chain_length, calibration_size
        self.partner_sets, self.seed = partner_sets, seed
        self.calibration: Calibration | None = None
        self._warned = False
        self._generator = torch.Generator().manual_seed(seed)

    def prepare(self, module: Any, held_out: tuple[Tensor, Tensor | None] | None = None) -> Calibration:
        """Calibrate D when its weights changed since the last time (on ``held_out`` real samples and labels, by
        default the data's ``val`` split)."""
        if held_out is not None or self.calibration is None or self.calibration.d_steps != int(module.d_steps):
            self._generator.manual_seed(self.seed)
            with judging(module):
                data = held_out if held_out is not None else module.held_out()
                self.calibration = calibrate(
                    module, data, self.calibration_size, self.partner_sets, self._generator, "MH"
                )
            self._warned = False
        return self.calibration

    @torch.no_grad()
    def draw(self, module: Any, z: Tensor, labels: Tensor | None) -> Tensor:
        """The state of one chain per noise vector after K steps; ``z`` gives each chain's first proposal."""
        began = time.perf_counter()
        calibration = self.prepare(module)
        n, first = z.shape[0], [z]

        def propose(count: int, chain_labels: Tensor | None = labels) -> tuple[Tensor, Tensor]:
            noise = first.pop() if first else module.sample_noise(count, self._generator)
            proposal = module.generate_plain(noise, chain_labels)
            with judging(module):
                return proposal, calibrated_logits(module, calibration, proposal, chain_labels)

        if labels is None:  # the paper's start: real held-out samples, already in the target
            pick = torch.randint(0, len(calibration.real), (n,), generator=self._generator).to(calibration.real.device)
            state, state_logits = calibration.real[pick].to(module.device), calibration.real_logits[pick]
        else:
            state, state_logits = propose(n)
        state, state_logits, moved = metropolis_chain(
            state, state_logits.to(state.device), propose, self.chain_length, self._generator
        )
        draws = n * self.chain_length + (n if labels is not None else 0)
        stuck = torch.nonzero(~moved).flatten() if labels is None else torch.empty(0, dtype=torch.long)
        if len(stuck):  # still at its real start: run again from a sample of G
            again = lambda count: propose(count, None)  # noqa: E731  (unconditional here)
            restart, restart_logits = again(len(stuck))
            state[stuck], _, _ = metropolis_chain(restart, restart_logits, again, self.chain_length, self._generator)
            draws += len(stuck) * (self.chain_length + 1)
            if not self._warned:
                self._warned = True
                log.warning(
                    "MH-GAN: %d of %d chains accepted no proposal in %d steps (their real start has a higher "
                    "density ratio than every proposal) and were run again from a sample of G, which biases them "
                    "towards G (said once per calibration): a longer model.sampler.init_args.chain_length helps.",
                    len(stuck),
                    n,
                    self.chain_length,
                )
        self.cost.add(kept=n, draws=draws, seconds=time.perf_counter() - began, capped=len(stuck))
        return state

    def __repr__(self) -> str:
        return f"MetropolisHastings(chain_length={self.chain_length})"
