"""Packing (PacGAN): D judges m samples side by side; real and fake are packed alike; m=1 is the plain GAN."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from gan_module import GAN, ConfigError
from gan_module.model.packing import pack_samples, packed_shape
from gan_module.networks import MLPDiscriminator, MLPGenerator
from gan_module.regularizers import GradientPenalty
from tests.conftest import CONFIGS, IndexedDataModule
from tests.test_cli import built, expect_error
from tests.test_module import conditional_gan, sgd, trainer


def packed_gan(pack: int, **kwargs) -> GAN:
    return GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8]),
        discriminator=MLPDiscriminator(image_shape=packed_shape((1, 4, 4), pack), hidden_dims=[8]),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        pack=pack,
        **kwargs,
    )


class DiscriminatorSpy(L.Callback):
    """Records the real minibatch of every training step and every input and output of D."""

    def __init__(self) -> None:
        self.batches, self.calls = [], []

    def on_train_start(self, trainer, pl_module) -> None:
        pl_module.discriminator.register_forward_hook(lambda m, i, o: self.calls.append((i[0].detach(), o.detach())))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch[0].clone())


def test_consecutive_samples_sit_side_by_side_in_one_input():
    points = torch.arange(12.0).reshape(6, 2)
    assert pack_samples(points, 3).tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    packed = pack_samples(images, 2)
    assert packed.shape == (2, 2, 2, 2) and packed[1, 0].eq(2).all() and packed[1, 1].eq(3).all()
    assert packed_shape((3, 32, 32), 4) == (12, 32, 32) and packed_shape((2,), 2) == (4,)


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_d_judges_real_and_fake_minibatches_packed_alike(pack):
    spy = DiscriminatorSpy()
    model = packed_gan(pack)
    trainer(callbacks=[spy], max_steps=4, limit_val_batches=0).fit(model, IndexedDataModule(batch_size=8))
    real_batch = spy.batches[0]
    (real_in, real_out), (fake_in, fake_out) = spy.calls[:2]  # the first D step judges the reals, then the fakes
    assert real_in.shape == fake_in.shape == (8 // pack, pack, 4, 4)
    assert real_out.shape == fake_out.shape == (8 // pack,)
    assert torch.equal(real_in, pack_samples(real_batch, pack))  # m = 1: D sees the minibatch itself
    if pack == 1:
        assert pack_samples(real_batch, 1) is real_batch


def test_a_gradient_penalty_differentiates_the_packed_inputs():
    """Interpolates are drawn between packed reals and packed fakes; the norm is per packed input of D."""
    model = packed_gan(2, regularizers=[GradientPenalty(weight=10.0)])
    trainer(max_steps=4, limit_val_batches=0).fit(model, IndexedDataModule(batch_size=8))
    assert model.d_steps == 2 and all(torch.isfinite(p).all() for p in model.parameters())


def test_a_batch_that_is_not_a_multiple_of_the_pack_stops_before_training():
    with pytest.raises(ConfigError, match="multiple"):
        trainer(max_steps=2).fit(packed_gan(3), IndexedDataModule(batch_size=8))


def test_a_discriminator_not_built_for_packed_inputs_is_a_clear_error():
    model = packed_gan(1)
    model.pack = 2  # D still takes one sample per input
    with pytest.raises(ConfigError, match="packed inputs of shape"):
        model.check_networks((1, 4, 4), None)


def test_packing_a_conditional_model_is_refused():
    model = conditional_gan()
    with pytest.raises(ConfigError, match="conditional"):
        GAN(model.generator, model.discriminator, sgd, sgd, pack=2)


def test_main_builds_d_for_packed_inputs_of_the_data(tmp_path):
    cli = built(tmp_path, "mixtures/base.yaml", args=("--model.pack=4",))
    assert cli.model.discriminator.net[0].in_features == 4 * 2 and cli.model.pack == 4
    assert cli.model.generator.image_shape == (2,)  # G still makes single points


def test_a_batch_size_not_a_multiple_of_the_pack_is_one_line_before_anything_is_written(capsys, tmp_path):
    err = expect_error(
        capsys,
        "fit",
        "--config",
        str(CONFIGS / "mixtures" / "base.yaml"),
        "--model.pack=3",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
    )
    assert "data.batch_size (256)" in err and "multiple" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists()
