"""Walks through latent space between fixed pairs of noise vectors (Goodfellow et al. 2014, Figure 3).

Smooth transitions show that G has learned a continuous map rather than memorising images. Spherical
interpolation (slerp; White 2016, "Sampling Generative Networks") keeps intermediate points at the norm a
Gaussian prior puts its mass on, where the linear path passes through the low-norm middle.
"""

from __future__ import annotations

import lightning as L
import torch
import torchvision
from torch import Tensor

from callbacks.images import log_image
from gan_module.errors import ConfigError

MODES = ("linear", "spherical")


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points (T, d) on the straight line from ``a`` to ``b`` (both (d,)) at fractions ``t`` (T,)."""
    return a + t[:, None] * (b - a)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points on the great-circle arc from ``a`` to ``b``, with the norm interpolated linearly.

    Falls back to :func:`lerp` when the vectors are (anti)parallel, where the arc is undefined.
    """
    omega = torch.arccos((a / a.norm()).dot(b / b.norm()).clamp(-1.0, 1.0))
    if omega.abs() < 1e-6 or (torch.pi - omega).abs() < 1e-6:
        return lerp(a, b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


class LatentInterpolation(L.Callback):
    """Logs one strip per noise pair: ``steps`` samples from z_a to z_b, for each mode in ``modes``.

    The pairs are drawn once from ``seed``, so strips from successive epochs (and after a resume) are comparable.
    A conditional model keeps one class along each strip (pair i shows class i mod num_classes).

    Args:
        num_pairs: strips (rows) in the image.
        steps: samples per strip, endpoints included.
        modes: ``linear`` and/or ``spherical``; each gets its own image (``interpolation_<mode>``).
        every_n_epochs: log after every n-th epoch; 0 logs only at the end of fitting.
        seed: seed of the fixed noise pairs.
    """

    def __init__(
        self,
        num_pairs: int = 8,
        steps: int = 10,
        modes: list[str] | None = None,
        every_n_epochs: int = 5,
        seed: int = 4321,
    ) -> None:
        modes = list(modes) if modes is not None else ["linear", "spherical"]
        unknown = sorted(set(modes) - set(MODES))
        if unknown:
            raise ConfigError(f"LatentInterpolation: unknown modes {unknown}; choose from {list(MODES)}.")
        if num_pairs < 1 or steps < 2:
            raise ConfigError(f"LatentInterpolation needs num_pairs >= 1 and steps >= 2, got {num_pairs}, {steps}.")
        self.num_pairs, self.steps, self.modes = num_pairs, steps, modes
        self.every_n_epochs, self.seed = every_n_epochs, seed

    def path_noise(self, pl_module, mode: str) -> Tensor:
        """(num_pairs * steps, latent_dim): the strips' noise, row by row."""
        ends = pl_module.sample_noise(2 * self.num_pairs, torch.Generator().manual_seed(self.seed)).cpu()
        t = torch.linspace(0, 1, self.steps, dtype=ends.dtype)
        walk = lerp if mode == "linear" else slerp
        return torch.cat([walk(ends[2 * i], ends[2 * i + 1], t) for i in range(self.num_pairs)])

    def labels(self, pl_module) -> Tensor | None:
        if not getattr(pl_module, "num_classes", 0):
            return None
        return (torch.arange(self.num_pairs) % pl_module.num_classes).repeat_interleave(self.steps)

    def render(self, trainer: L.Trainer, pl_module, mode: str) -> Tensor:
        # a path through G's noise space: G's own samples (a sampler guided by D would swap in other noise)
        plain = getattr(pl_module, "generate_plain", pl_module.generate)
        samples = plain(self.path_noise(pl_module, mode), self.labels(pl_module)).float().cpu()
        if trainer.datamodule is not None:
            samples = trainer.datamodule.to_unit_interval(samples)
        return torchvision.utils.make_grid(samples, nrow=self.steps, padding=2, pad_value=1.0)

    def log_strips(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        if len(getattr(trainer.datamodule, "image_shape", (1, 1, 1))) != 3:
            return  # strips of 2-D points say nothing a scatter plot does not
        for mode in self.modes:
            image = self.render(trainer, pl_module, mode)
            log_image(trainer, f"interpolation_{mode}", image, pl_module.iterations)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.log_strips(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        if not self.every_n_epochs or trainer.current_epoch % self.every_n_epochs != 0:
            self.log_strips(trainer, pl_module)
