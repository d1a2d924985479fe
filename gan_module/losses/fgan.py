"""f-GAN: Nowozin, Cseke & Tomioka (2016), "f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization", arXiv 1606.00709.

D outputs a raw value v; the variational function is T = g_f(v), with g_f the output activation of the
paper's Table 2, which maps v into the domain of the convex conjugate f*. D maximises
the lower bound F(theta, omega) of the paper's saddle-point problem,

    F = E_P[g_f(v(x))] - E_Q[f*(g_f(v(G(z))))]  <=  D_f(P || Q) = E_Q[f(p/q)],

tight at T*(x) = f'(p(x)/q(x)). Each divergence below is written as the pair (g_f(v), f*(g_f(v))) in closed
form in v, with softplus/expm1, so no composition overflows or takes log(0):

    name               f(u)                              g_f(v)               f*(t)             f*(g_f(v))
    kl                 u log u                           v                    exp(t - 1)        exp(v - 1)
    reverse_kl         -log u                            -exp(-v)             -1 - log(-t)      v - 1
    pearson            (u - 1)^2                         v                    t^2/4 + t         v^2/4 + v
    squared_hellinger  (sqrt(u) - 1)^2                   1 - exp(-v)          t / (1 - t)       exp(v) - 1
    jensen_shannon     u log u - (u+1) log((1+u)/2)      log 2 - softplus(-v) -log(2 - exp(t))  softplus(v) - log 2
    gan                u log u - (u+1) log(u+1)          -softplus(-v)        -log(1 - exp(t))  softplus(v)

Where a term grows like exp(|v|) the raw output is clamped to ``|v| <= V_MAX = 50`` on that side (kl: v <= 50;
reverse_kl: v >= -50; squared_hellinger: both). T is then g_f of the clamped v, still a valid variational
function, so F stays a lower bound; outputs beyond the clamp get no gradient. Note that the f of
``jensen_shannon`` (the paper's Table 1) gives D_f = 2 JSD(P, Q), at most 2 log 2; ``gan`` gives 2 JSD - log 4,
and its D loss equals the 2014 GAN's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.losses.base import Critique, GANLoss

V_MAX = 50.0
LOG2 = math.log(2.0)


def _kl(v: Tensor) -> tuple[Tensor, Tensor]:
    v = v.clamp(max=V_MAX)
    return v, torch.exp(v - 1)


def _reverse_kl(v: Tensor) -> tuple[Tensor, Tensor]:
    v = v.clamp(min=-V_MAX)
    return -torch.exp(-v), v - 1


def _pearson(v: Tensor) -> tuple[Tensor, Tensor]:
    return v, v * v / 4 + v


def _squared_hellinger(v: Tensor) -> tuple[Tensor, Tensor]:
    v = v.clamp(-V_MAX, V_MAX)
    return -torch.expm1(-v), torch.expm1(v)


def _jensen_shannon(v: Tensor) -> tuple[Tensor, Tensor]:
    return LOG2 - F.softplus(-v), F.softplus(v) - LOG2


def _gan(v: Tensor) -> tuple[Tensor, Tensor]:
    return -F.softplus(-v), F.softplus(v)


#: divergence name -> v -> (T = g_f(v), f*(T))
DIVERGENCES: dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]] = {
    "kl": _kl,
    "reverse_kl": _reverse_kl,
    "pearson": _pearson,
    "squared_hellinger": _squared_hellinger,
    "jensen_shannon": _jensen_shannon,
    "gan": _gan,
}
GENERATOR_OBJECTIVES = ("practical", "minimax")


class FGANLoss(GANLoss):
    """f-GAN variational divergence minimisation (Nowozin et al. 2016; f from Table 1, g_f and f* from Table 2).

    D: ``min -F = -E_P[g_f(v(x))] + E_Q[f*(g_f(v(G(z))))]``. G, with ``generator_objective``:

    - ``"practical"`` (default; the paper's practical G objective, the analogue of the non-saturating GAN):
      ``max E_Q[g_f(v(G(z)))]``, so the loss is ``-E_Q[g_f(v(G(z)))]``;
    - ``"minimax"``: G minimises F, whose G-dependent part is ``-E_Q[f*(g_f(v(G(z))))]``.
    """

    probabilistic = False

    def __init__(self, divergence: str = "kl", generator_objective: str = "practical") -> None:
        if divergence not in DIVERGENCES:
            raise ConfigError(f"Unknown f-GAN divergence {divergence!r}: choose one of {sorted(DIVERGENCES)}.")
        if generator_objective not in GENERATOR_OBJECTIVES:
            raise ConfigError(
                f"Unknown f-GAN generator_objective {generator_objective!r}: "
                f"choose one of {list(GENERATOR_OBJECTIVES)}."
            )
        self.divergence, self.generator_objective = divergence, generator_objective
        self._terms = DIVERGENCES[divergence]
        # for these two, sigmoid(v) is D's estimate of p / (p + q) (v* = log p/q), so v is a logit of P(real)
        self.probabilistic = divergence in ("gan", "jensen_shannon")

    def discriminator_loss(self, critique: Critique) -> Tensor:
        t_real, _ = self._terms(critique.real_logits)
        _, conj_fake = self._terms(critique.fake_logits)
        return conj_fake.mean() - t_real.mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        t_fake, conj_fake = self._terms(critique.fake_logits)
        return -(t_fake if self.generator_objective == "practical" else conj_fake).mean()

    def __repr__(self) -> str:
        return f"FGANLoss(divergence={self.divergence!r}, generator_objective={self.generator_objective!r})"
