"""Discriminator regularizers: composable with any loss, given to the module as a list in YAML.

Each regularizer adds a term to D's loss in the D step (gradient penalties) or acts after the D step (weight
clipping). ``every`` makes a penalty lazy (Karras et al. 2020, StyleGAN2): it is applied on every n-th D step
only, multiplied by n, so its average strength is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gan_module.errors import ConfigError
from gan_module.losses import Critique

#: D as the penalties see it: images -> raw outputs (N,), bound to the batch's labels for a conditional model
Judge = Callable[[Tensor], Tensor]


class Regularizer:
    """Base: ``penalty`` returns a term for D's loss (or ``None``); ``after_step`` acts on D's weights."""

    #: the term needs gradients of D with respect to its input
    uses_input_gradient: bool = False

    def __init__(self, weight: float = 10.0, every: int = 1) -> None:
        if weight < 0:
            raise ConfigError(f"{type(self).__name__}: weight must be >= 0, got {weight}.")
        if every < 1:
            raise ConfigError(f"{type(self).__name__}: every must be an integer >= 1, got {every}.")
        self.weight, self.every = weight, every

    @property
    def name(self) -> str:
        return type(self).__name__

    def penalty(self, discriminator: Judge, critique: Critique, d_step: int) -> Tensor | None:
        """The weighted term for this D step (``d_step`` counts from 0), or ``None`` when it is skipped."""
        if d_step % self.every != 0:
            return None
        return self.weight * self.every * self.term(discriminator, critique)

    def term(self, discriminator: Judge, critique: Critique) -> Tensor:
        raise NotImplementedError

    def after_step(self, discriminator: nn.Module) -> None:
        """Called after each D step."""

    def __repr__(self) -> str:
        return f"{self.name}(weight={self.weight}, every={self.every})"


def input_gradient_norms(discriminator: Judge, x: Tensor) -> Tensor:
    """||dD(x_i)/dx_i||_2 for each sample i, over all of its (C, H, W) dimensions; shape (N,).

    ``create_graph=True`` so that the penalty itself can be differentiated with respect to D's weights.
    """
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): ``weight * E[(||grad D(x_hat)||_2 - target)^2]``.

    ``x_hat = eps * x_real + (1 - eps) * x_fake`` with one ``eps ~ U[0, 1]`` per sample and the norm taken per
    sample over all pixel dimensions. ``one_sided`` penalises only norms above the target (their appendix).
    """

    uses_input_gradient = True

    def __init__(self, weight: float = 10.0, target: float = 1.0, one_sided: bool = False, every: int = 1) -> None:
        super().__init__(weight, every)
        self.target, self.one_sided = target, one_sided

    def points(self, critique: Critique) -> Tensor:
        real, fake = critique.real.detach(), critique.fake.detach()
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        return eps * real + (1 - eps) * fake

    def term(self, discriminator: Judge, critique: Critique) -> Tensor:
        gap = input_gradient_norms(discriminator, self.points(critique)) - self.target
        return (gap.clamp_min(0) if self.one_sided else gap).pow(2).mean()


class DRAGANPenalty(GradientPenalty):
    """DRAGAN (Kodali et al. 2017): the gradient penalty around the data instead of between real and fake.

    ``x_hat = x + alpha * (x_perturbed - x)``, ``x_perturbed = x + c * std(x) * u``, ``u ~ U[0, 1]`` per pixel,
    one ``alpha ~ U[0, 1]`` per sample; ``c = 0.5`` as in the authors' code.
    """

    def __init__(self, weight: float = 10.0, c: float = 0.5, target: float = 1.0, every: int = 1) -> None:
        super().__init__(weight, target, one_sided=False, every=every)
        self.c = c

    def points(self, critique: Critique) -> Tensor:
        real = critique.real.detach()
        perturbed = real + self.c * real.std() * torch.rand_like(real)
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        return real + alpha * (perturbed - real)


class R1Penalty(Regularizer):
    """R1 (Mescheder et al. 2018, eq. 9): ``weight / 2 * E_real ||grad D(x)||^2``."""

    uses_input_gradient = True
    side = "real"

    def term(self, discriminator: Judge, critique: Critique) -> Tensor:
        x = critique.real if self.side == "real" else critique.fake
        return 0.5 * input_gradient_norms(discriminator, x).pow(2).mean()


class R2Penalty(R1Penalty):
    """R2 (Mescheder et al. 2018, eq. 10): ``weight / 2 * E_fake ||grad D(x)||^2``."""

    side = "fake"


class LipschitzPenalty(Regularizer):
    """The Loss-Sensitive GAN's Lipschitz regularization (Qi 2017, arXiv 1701.06264v1, section 5: minimise the
    loss function's input-gradient norm directly): ``weight / 2 * (E_real + E_fake) ||grad L(x)||^2``.

    LS-GAN's generalization bound holds for a Lipschitz loss function L; without a constraint L can grow
    without limit on the real side. Penalising the gradient at both the real and the generated samples keeps
    L flat where the margin is measured."""

    uses_input_gradient = True

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight, every)

    def term(self, discriminator: Judge, critique: Critique) -> Tensor:
        real = input_gradient_norms(discriminator, critique.real).pow(2).mean()
        fake = input_gradient_norms(discriminator, critique.fake).pow(2).mean()
        return 0.5 * (real + fake)


class WeightClipping(Regularizer):
    """WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1): every D weight into [-clip, clip] after
    each D step.

    Clipping and a gradient penalty on the same D fight each other (Gulrajani et al. 2017, sec. 3); the
    module refuses the pair unless ``with_gradient_penalty: true`` says it is meant.
    """

    def __init__(self, clip: float = 0.01, with_gradient_penalty: bool = False) -> None:
        super().__init__(weight=0.0)
        if clip <= 0:
            raise ConfigError(f"WeightClipping: clip must be > 0, got {clip}.")
        self.clip, self.with_gradient_penalty = clip, with_gradient_penalty

    def penalty(self, discriminator: Judge, critique: Critique, d_step: int) -> Tensor | None:
        return None

    @torch.no_grad()
    def after_step(self, discriminator: nn.Module) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip, self.clip)

    def __repr__(self) -> str:
        return f"WeightClipping(clip={self.clip})"


def check_regularizers(regularizers: list[Regularizer]) -> None:
    """Reject combinations that are almost always a mistake, naming the option that allows them."""
    clipping = [r for r in regularizers if isinstance(r, WeightClipping)]
    penalties = [r for r in regularizers if r.uses_input_gradient]
    if penalties and any(not c.with_gradient_penalty for c in clipping):
        raise ConfigError(
            f"model.regularizers has both WeightClipping and {penalties[0].name} on the discriminator: the "
            "gradient penalty replaces clipping (Gulrajani et al. 2017). Remove one, or set "
            "WeightClipping's with_gradient_penalty: true if you mean to combine them."
        )
