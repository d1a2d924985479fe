"""The 2014 release's G output bias from the data's pixel marginals (callbacks.OutputBiasFromMarginals)."""

from __future__ import annotations

import pytest
import torch

from callbacks import OutputBiasFromMarginals
from gan_module import GAN, ConfigError
from gan_module.ema import ExponentialMovingAverage
from gan_module.networks import MaxoutDiscriminator, MLPGenerator
from gan_module.networks.layers import sigmoid_bias_from_marginals
from tests.conftest import IndexedDataModule
from tests.test_module import sgd, trainer


def gan(generator, ema: ExponentialMovingAverage | None = None) -> GAN:
    torch.manual_seed(0)
    return GAN(
        generator=generator,
        discriminator=MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=[8], pieces=2),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        ema=ema,
    )


@pytest.mark.parametrize("ema", [None, ExponentialMovingAverage(decay=0.9)])
def test_an_untrained_generator_draws_the_mean_training_image(ema):
    model = gan(MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8], output="sigmoid"), ema)
    last = model.generator.output_layer
    with torch.no_grad():  # no weight into the output: its pixels are sigmoid(bias) alone
        last.weight.zero_()
    data = IndexedDataModule()
    trainer(max_steps=0, limit_val_batches=0, callbacks=[OutputBiasFromMarginals()]).fit(model, data)
    mean = data.split_images("train").mean(0)  # uint8 pixels scaled to [0, 1]: the train split only
    assert not torch.allclose(mean, data.split_images("test").mean(0), atol=1e-3)
    samples = model.generate(torch.randn(5, 3))
    assert torch.allclose(samples, mean.expand_as(samples), atol=1e-5)
    assert (model.sampling_generator is model.generator) == (ema is None)


def test_a_generator_without_a_linear_sigmoid_output_is_a_clear_error():
    model = gan(MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8], output="tanh"))
    with pytest.raises(ConfigError, match="linear sigmoid output layer"):
        trainer(max_steps=1, callbacks=[OutputBiasFromMarginals()]).fit(model, IndexedDataModule())


def test_a_resumed_fit_keeps_the_checkpoints_bias(tmp_path):
    def fresh() -> GAN:
        return gan(MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8], output="sigmoid"))

    first = trainer(max_steps=4, limit_val_batches=0, default_root_dir=tmp_path, callbacks=[OutputBiasFromMarginals()])
    trained = fresh()
    first.fit(trained, IndexedDataModule())
    with torch.no_grad():  # far from the marginals' bias, so the test can tell which one a resume keeps
        trained.generator.output_layer.bias.add_(1.0)
    saved = trained.generator.output_layer.bias.detach().clone()
    ckpt = tmp_path / "trained.ckpt"
    first.save_checkpoint(ckpt)
    mean = IndexedDataModule().split_images("train").flatten(1).mean(0)
    assert not torch.allclose(saved, sigmoid_bias_from_marginals(mean), atol=0.5)
    model = fresh()
    resumed = trainer(max_steps=4, limit_val_batches=0, callbacks=[OutputBiasFromMarginals()])
    resumed.fit(model, IndexedDataModule(), ckpt_path=ckpt)  # budget already spent: nothing trains
    assert torch.equal(model.generator.output_layer.bias, saved)
