"""The interface every adversarial loss implements: a :class:`Critique` in, a scalar to minimise out."""

from __future__ import annotations

from dataclasses import dataclass

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
    #: D's raw output is a logit of P(real), so ``output > 0`` means "judged real". False for critics whose
    #: outputs are scores (Wasserstein, hinge, least squares, relativistic, loss-sensitive, most f-GANs).
    probabilistic: bool = True

    def discriminator_loss(self, critique: Critique) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, critique: Critique) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
