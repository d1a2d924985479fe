"""Differentiable augmentation of D's inputs (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training", NeurIPS): ``model.augment`` in YAML.

With few training images D memorises them and G's gradients stop carrying information. DiffAugment applies the
same random transformations T to every input of D, real and fake, in D's step and in G's step, so D judges
T(x) and T(G(z)) and G is trained through T (every transformation here is differentiable in its input). Applying
T to real images only would teach G to produce augmented images; applying it to both keeps the target p_data.

The policies (the paper's, sec. 3 and its reference code): ``color`` = brightness (+U(-1/4, 1/4) of the data's
range), saturation (x U(0, 2) around each pixel's channel mean) and contrast (x U(1/2, 3/2) around the image
mean); ``translation`` = a shift of up to 1/8 of the image in each direction, the uncovered border set to 0;
``cutout`` = one square of half the image side set to 0. Every sample gets its own transformation, drawn
independently and identically for real and fake samples.

Where the module applies it (gan_module/model/module.py): to each sample before packing, so a packed input of
D holds independently augmented samples; a gradient penalty's points (interpolates, perturbed or real samples)
are formed from the un-augmented samples and judged through T, as DiffAugment's StyleGAN2 R1 (its
``ns_DiffAugment_r1``) does: the augmentation is never applied to the penalty's interpolation itself. Held-out
numbers (``val/*``) and the samplers read D on clean images.

ADA's adaptive probability (Karras et al. 2020) is not implemented: it exists to keep non-leaking transforms
(rotations, colour rotations) from showing up in G's samples; DiffAugment's three policies are applied with
probability 1 in the paper's limited-data results, and an adaptive p adds a tuned target (r_t) to a recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from gan_module.errors import ConfigError


def brightness(x: Tensor, width: float) -> Tensor:
    """Add one offset U(-width/4, width/4) per sample (DiffAugment's U(-0.5, 0.5) on [-1, 1] images)."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5) * (width / 2)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's distance from its mean over channels by U(0, 2) (one factor per sample)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (2 * torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale the distance from the image's mean by U(1/2, 3/2) (one factor per sample)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def translate(x: Tensor, ratio: float) -> Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its height and width; the border left uncovered is 0."""
    n, _, h, w = x.shape
    reach_h, reach_w = int(h * ratio), int(w * ratio)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + torch.randint(
        -reach_h, reach_h + 1, (n, 1, 1), device=x.device
    )
    cols = torch.arange(w, device=x.device).view(1, 1, w) + torch.randint(
        -reach_w, reach_w + 1, (n, 1, 1), device=x.device
    )
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    moved = x[batch, :, rows.clamp(0, h - 1), cols.clamp(0, w - 1)]  # (n, h, w, c): advanced indices first
    return moved.permute(0, 3, 1, 2) * inside.unsqueeze(1).to(x.dtype)


def cut_out(x: Tensor, ratio: float) -> Tensor:
    """Set one square of ``ratio`` of the image side, centred anywhere on the image, to 0 (cropped at borders)."""
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio), int(w * ratio)
    top = torch.randint(0, h + (1 - size_h % 2), (n, 1, 1), device=x.device) - size_h // 2
    left = torch.randint(0, w + (1 - size_w % 2), (n, 1, 1), device=x.device) - size_w // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return x * (~hole).unsqueeze(1).to(x.dtype)


class DiffAugment:
    """The transformations of ``policy`` applied in order to a batch of images (N, C, H, W).

    Args:
        policy: any of ``color``, ``translation``, ``cutout`` (a list, or comma-separated as in the paper's code).
        translation_ratio: the largest shift, as a share of the image side (the paper: 1/8).
        cutout_ratio: the side of the cut-out square, as a share of the image side (the paper: 1/2).
    """

    POLICIES = ("color", "translation", "cutout")

    def __init__(
        self,
        policy: list[str] | str = "color,translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
    ) -> None:
        names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else [str(p) for p in policy]
        unknown = [p for p in names if p not in self.POLICIES]
        if unknown or not names:
            raise ConfigError(
                f"model.augment DiffAugment: unknown policy {unknown or names!r}; choose from {list(self.POLICIES)} "
                "(or leave model.augment unset for no augmentation)."
            )
        if not 0 < translation_ratio < 1 or not 0 < cutout_ratio < 1:
            raise ConfigError(
                f"model.augment DiffAugment: translation_ratio and cutout_ratio must be in (0, 1), got "
                f"{translation_ratio} and {cutout_ratio}."
            )
        self.policy, self.translation_ratio, self.cutout_ratio = names, translation_ratio, cutout_ratio
        self.value_range = (-1.0, 1.0)  # the paper's; the module sets the data's (brightness offsets scale with it)

    def steps(self) -> list[Callable[[Tensor], Tensor]]:
        width = self.value_range[1] - self.value_range[0]
        found: dict[str, list[Callable[[Tensor], Tensor]]] = {
            "color": [lambda x: brightness(x, width), saturation, contrast],
            "translation": [lambda x: translate(x, self.translation_ratio)],
            "cutout": [lambda x: cut_out(x, self.cutout_ratio)],
        }
        return [step for name in self.policy for step in found[name]]

    def __call__(self, x: Tensor) -> Tensor:
        for step in self.steps():
            x = step(x)
        return x

    def check_data(self, sample_shape: Sequence[int], value_range: Sequence[float] | None) -> None:
        """Before training: images (C, H, W) only; brightness offsets follow the data's value range."""
        if len(sample_shape) != 3:
            raise ConfigError(
                f"model.augment DiffAugment transforms images (C, H, W); this data's samples have shape "
                f"{tuple(sample_shape)}: leave model.augment unset for it."
            )
        if value_range is not None:
            self.value_range = (float(value_range[0]), float(value_range[1]))

    def __repr__(self) -> str:
        return f"DiffAugment(policy={','.join(self.policy)})"
