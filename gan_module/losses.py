"""Adversarial losses as small callable objects, chosen in YAML by ``class_path``.

Every loss works on *raw* discriminator outputs (logits), never on probabilities: the log-sigmoid forms
below stay finite for any logit, where ``log(sigmoid(l))`` underflows to ``-inf`` at ``l = -100``.

The module hands a loss one :class:`Critique` per step: the discriminator's outputs on real and generated
samples, plus the samples themselves. Most losses read only the outputs; a loss whose generator term needs
the outputs on real data sets ``generator_needs_real = True`` and the module computes them in the G step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


@dataclass
class Critique:
    """What the discriminator said about one minibatch.

    ``real_logits``/``fake_logits`` have shape (N,). ``real``/``fake`` are the samples that were judged; in
    the generator step ``real``/``real_logits`` are ``None`` unless the loss asked for them.
    """

    fake_logits: Tensor
    real_logits: Tensor | None = None
    fake: Tensor | None = None
    real: Tensor | None = None


class GANLoss:
    """Base class: a discriminator objective and a generator objective, both to be *minimised*."""

    #: the generator term reads D's outputs on real data (relativistic losses)
    generator_needs_real: bool = False

    def discriminator_loss(self, critique: Critique) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, critique: Critique) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MinimaxLoss(GANLoss):
    """The saturating game of equation 1 in Goodfellow et al. (2014).

    D maximises ``log D(x) + log(1 - D(G(z)))``; G minimises ``log(1 - D(G(z)))``. With ``D = sigmoid(l)``:
    ``-log D(x) = softplus(-l_real)`` and ``log(1 - D(G(z))) = -softplus(l_fake)``. The G gradient vanishes
    when D confidently rejects samples (the reason the paper recommends the non-saturating loss).
    """

    def discriminator_loss(self, critique: Critique) -> Tensor:
        return F.softplus(-critique.real_logits).mean() + F.softplus(critique.fake_logits).mean()

    def generator_loss(self, critique: Critique) -> Tensor:
        return -F.softplus(critique.fake_logits).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Equation 1's discriminator with the generator maximising ``log D(G(z))`` (section 3 of the paper).

    Same fixed point as the minimax game, but strong gradients early in training. This is what the paper's
    released code trains with.
    """

    def generator_loss(self, critique: Critique) -> Tensor:
        return F.softplus(-critique.fake_logits).mean()
