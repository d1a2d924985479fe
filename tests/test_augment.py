"""Differentiable augmentation (gan_module/augment.py, ``model.augment``): the transforms, that real and fake inputs
of D get the same policy (independent draws of one distribution, as DiffAugment does), that G is trained
through it, packing, penalties, losses, conditional models, bad settings and the CLI."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from gan_module import GAN, ConfigError
from gan_module.augment import DiffAugment, brightness, cut_out, translate
from gan_module.losses import LossSensitiveLoss, NonSaturatingLoss, RelativisticAverageLoss, WassersteinLoss
from gan_module.model.packing import pack_samples
from gan_module.networks import MLPGenerator
from gan_module.regularizers import GradientPenalty, LipschitzPenalty, R1Penalty
from gan_module.samplers import DiscriminatorRejection, MetropolisHastings
from tests.conftest import FAST, IndexedDataModule, run_cli
from tests.test_cli import QUICKSTART, SMALL
from tests.test_module import sgd, trainer

SHAPE = (1, 8, 8)


def dot_images(n: int) -> torch.Tensor:
    """n black 8x8 images with one white pixel at (4, 4): a translation shows as where the pixel went."""
    x = torch.zeros(n, *SHAPE)
    x[:, 0, 4, 4] = 1.0
    return x


def shifts(x: torch.Tensor) -> torch.Tensor:
    """(row, col) offset of each image's white pixel from (4, 4); the pixel can only move, never vanish here."""
    flat = x.flatten(1).argmax(dim=1)
    return torch.stack([flat // 8 - 4, flat % 8 - 4], dim=1)


class RecordingD(nn.Module):
    """A linear D that keeps every input it judges in training mode (what D sees in the players' steps, after
    augmentation and packing; the set-up check's forward pass runs in eval mode)."""

    def __init__(self, width: int = 64, num_classes: int = 0) -> None:
        super().__init__()
        self.linear, self.seen = nn.Linear(width, 1), []
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            self.seen.append(x.detach().clone())
        return self.linear(x.flatten(1)).squeeze(1)


def gan(policy: str = "translation", pack: int = 1, **kwargs) -> GAN:
    torch.manual_seed(0)
    return GAN(
        MLPGenerator(image_shape=SHAPE, latent_dim=4, hidden_dims=[16]),
        RecordingD(64 * pack),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        **({"augment": DiffAugment(policy=policy), "pack": pack} | kwargs),
    )


def test_each_transform_is_differentiable_and_drawn_per_sample():
    x = torch.rand(64, 3, 16, 16, requires_grad=True)
    out = DiffAugment()(x)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.manual_seed(0)
    moved = shifts(translate(dot_images(256), 0.125))
    assert moved.abs().max() == 1 and len({tuple(s) for s in moved.tolist()}) == 9  # every shift in {-1, 0, 1}^2
    offsets = (brightness(torch.zeros(1000, 1, 2, 2), width=1.0)[:, 0, 0, 0]).tolist()
    assert min(offsets) >= -0.25 and max(offsets) <= 0.25 and max(offsets) - min(offsets) > 0.45  # U(-1/4, 1/4)
    holes = (cut_out(torch.ones(500, 1, 8, 8), 0.5) == 0).flatten(1).sum(dim=1)
    assert holes.max() == 16 and holes.min() >= 4  # a 4x4 square, cropped where it crosses the border


def test_real_and_fake_inputs_of_d_get_independent_draws_of_the_same_transformations():
    model = gan("translation")
    torch.manual_seed(1)
    n = 3600
    model._judged(dot_images(n), dot_images(n), None)  # what the D step judges: real, then fake
    real_seen, fake_seen = model.discriminator.seen
    real_shift, fake_shift = shifts(real_seen), shifts(fake_seen)
    cells = torch.tensor([[r, c] for r in (-1, 0, 1) for c in (-1, 0, 1)])
    for seen in (real_shift, fake_shift):  # identically distributed: each of the 9 shifts ~1/9 of the time
        share = (seen[:, None, :] == cells[None]).all(dim=2).float().mean(dim=0)
        assert torch.allclose(share, torch.full((9,), 1 / 9), atol=0.025)
    # drawn independently for each sample and for real and fake, as DiffAugment does (not one shared draw)
    same = (real_shift == fake_shift).all(dim=1).float().mean().item()
    assert same == pytest.approx(1 / 9, abs=0.025)


def test_packed_inputs_are_augmented_sample_by_sample_and_the_critique_keeps_clean_samples():
    model = gan("translation", pack=2)
    torch.manual_seed(2)
    real = dot_images(400)
    critique = model._judged(real, dot_images(400), None)
    assert torch.equal(critique.real, pack_samples(real, 2))  # penalties start from the un-augmented samples
    packed = model.discriminator.seen[0]  # (200, 2, 8, 8): two samples side by side per input
    first, second = shifts(packed[:, 0:1]), shifts(packed[:, 1:2])
    assert (first != second).any(dim=1).float().mean() > 0.8  # each half moved on its own


def test_penalties_differentiate_d_through_the_augmentation_at_clean_points():
    model = gan("cutout", regularizers=[GradientPenalty(), R1Penalty()])
    real, fake = torch.rand(32, *SHAPE) + 0.5, torch.rand(32, *SHAPE) + 0.5  # no exact zeros of their own
    critique = model._judged(real, fake, None)
    loss = model._discriminator_objective(critique, None)
    assert torch.isfinite(loss)
    judged_by_penalties = model.discriminator.seen[2:]
    assert len(judged_by_penalties) == 2  # the interpolates, then the real samples
    for seen in judged_by_penalties:
        assert ((seen == 0).flatten(1).sum(dim=1) > 0).all()  # each was cut out: judged through the augmentation


@pytest.mark.parametrize(
    ("loss", "regularizers", "conditional"),
    [
        (NonSaturatingLoss(), [], False),
        (WassersteinLoss(), [GradientPenalty()], False),
        (RelativisticAverageLoss(), [], False),  # G's loss reads D on real samples too
        (LossSensitiveLoss(), [LipschitzPenalty()], False),
        (NonSaturatingLoss(), [], True),
    ],
    ids=["ns", "wgan-gp", "rasgan", "ls-gan", "conditional"],
)
def test_both_players_steps_see_augmented_inputs_and_g_is_trained_through_them(loss, regularizers, conditional):
    torch.manual_seed(3)
    classes = 4 if conditional else 0
    generator = MLPGenerator(
        image_shape=SHAPE, num_classes=classes, conditional=conditional, latent_dim=4, hidden_dims=[16]
    )
    model = GAN(
        generator,
        RecordingD(num_classes=classes),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        loss=loss,
        regularizers=regularizers,
        augment=DiffAugment(policy="cutout"),
    )
    if conditional:
        model.discriminator.forward = _conditional_forward(model.discriminator)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    data = IndexedDataModule(num_items=32, shape=SHAPE, batch_size=8)
    if conditional:
        data.num_classes = classes
        data.load = _labelled(data.load, classes)
    trainer(max_steps=4, limit_val_batches=0).fit(model, datamodule=data)
    seen = model.discriminator.seen
    assert seen and all(((x == 0).flatten(1).sum(dim=1) >= 4).all() for x in seen)  # every input of D was cut
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())  # G learned


def _conditional_forward(d: RecordingD):
    plain = d.forward

    def forward(x, labels=None):
        assert labels is not None and labels.shape[0] == x.shape[0]  # labels pass through untouched
        return plain(x)

    return forward


def _labelled(load, classes: int):
    def labelled():
        arrays = load()
        arrays.labels = arrays.labels % classes
        arrays.test_labels = arrays.test_labels % classes
        return arrays

    return labelled


def test_a_guided_sampler_on_an_augmented_d_says_so_in_one_line_at_set_up(caplog, monkeypatch):
    """DRS and MH-GAN read D on clean images; an augmented D never saw one (measured: DRS then hurts FID).
    Global rank 0 says it; the other ranks of a distributed run set up the same model and stay quiet."""

    def lines(augment: bool, sampler) -> list[str]:
        model = gan(sampler=sampler) if augment else gan(sampler=sampler, augment=None)
        caplog.clear()
        with caplog.at_level("WARNING"):
            model.setup("fit")
        return [r.getMessage() for r in caplog.records if "reads D on clean images" in r.getMessage()]

    for sampler in (DiscriminatorRejection(), MetropolisHastings()):
        (line,) = lines(True, sampler)
        assert type(sampler).__name__ in line and "model.augment" in line and "\n" not in line
        assert lines(False, sampler) == []  # a D trained on clean images: nothing to say
    assert lines(True, None) == []  # the plain generator does not read D
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # what Lightning's strategy sets on the second process
    assert lines(True, DiscriminatorRejection()) == []


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: DiffAugment(policy="color,rotate"), "unknown policy ['rotate']"),
        (lambda: DiffAugment(policy=[]), "unknown policy []"),
        (lambda: DiffAugment(cutout_ratio=1.5), "must be in (0, 1)"),
        (lambda: DiffAugment().check_data((2,), None), "transforms images (C, H, W)"),
    ],
)
def test_bad_settings_are_clear_errors(make, words):
    with pytest.raises(ConfigError) as err:
        make()
    assert words in str(err.value)


def test_fit_with_diffaugment_from_the_cli_and_a_bad_policy_is_one_line(tmp_path, capsys):
    augment = ["--config", "configs/augment/diffaugment.yaml"]
    run_cli("fit", "--config", QUICKSTART, *SMALL, *FAST, *augment, f"--trainer.default_root_dir={tmp_path}")
    config = (tmp_path / "version_0" / "config.yaml").read_text()
    assert "gan_module.augment.DiffAugment" in config
    with open(tmp_path / "version_0" / "metrics.csv", newline="") as file:
        losses = [float(r["loss_d"]) for r in csv.DictReader(file) if r.get("loss_d")]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    with pytest.raises(SystemExit) as stop:
        run_cli(
            "fit",
            "--config",
            QUICKSTART,
            *augment,
            "--model.augment.init_args.policy=[color,rotate]",
            f"--trainer.default_root_dir={tmp_path / 'bad'}",
        )
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "unknown policy ['rotate']" in err[-1]
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").rglob("*.ckpt"))
