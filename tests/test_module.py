"""Algorithm 1 as the module runs it: k D steps, each on its own minibatch, then one G step."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from gan_module import GAN, ConfigError
from gan_module.losses import MinimaxLoss
from gan_module.networks import MaxoutDiscriminator, MLPGenerator
from tests.conftest import IndexedDataModule


def sgd(params):
    return torch.optim.SGD(params, lr=0.01)


def tiny_gan(k: int = 1, image_shape=(1, 4, 4), **kwargs) -> GAN:
    return GAN(
        generator=MLPGenerator(image_shape=image_shape, latent_dim=3, hidden_dims=[8]),
        discriminator=MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=[8], pieces=2),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        k=k,
        **kwargs,
    )


def trainer(**kwargs) -> L.Trainer:
    kwargs.setdefault("max_epochs", 1)
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


class StepRecorder(L.Callback):
    """Records every optimizer step as ("D" or "G", the ids of the minibatch being processed)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, tuple[int, ...]]] = []
        self.batch: tuple[int, ...] = ()

    def on_train_start(self, trainer, pl_module) -> None:
        opt_d, opt_g = trainer.optimizers
        opt_d.register_step_post_hook(lambda *_: self.steps.append(("D", self.batch)))
        opt_g.register_step_post_hook(lambda *_: self.steps.append(("G", self.batch)))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batch = tuple(batch[1].tolist())  # IndexedDataModule's labels are the items' indices


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_per_generator_step_each_on_a_different_minibatch(k):
    recorder = StepRecorder()
    model = tiny_gan(k=k)
    trainer(callbacks=[recorder]).fit(model, IndexedDataModule(num_items=48, batch_size=4))  # 12 batches
    kinds = [kind for kind, _ in recorder.steps]
    assert kinds == (["D"] * k + ["G"]) * (12 // k)
    d_batches = [batch for kind, batch in recorder.steps if kind == "D"]
    assert len(set(d_batches)) == 12  # every D step saw its own minibatch
    assert all(len(b) == 4 for b in d_batches)
    assert model.iterations == 12 // k and model.d_steps == 12 and model.images_seen == 48


class ParameterWatcher(L.Callback):
    """For every optimizer step, records which player's parameters it changed."""

    def __init__(self) -> None:
        self.changed: list[tuple[str, bool, bool]] = []

    def on_train_start(self, trainer, pl_module) -> None:
        def snapshot(*_):
            self.before = [p.detach().clone() for p in pl_module.parameters()]

        def compare(name):
            def hook(*_):
                after = list(pl_module.parameters())
                n_d = len(list(pl_module.discriminator.parameters()))
                # module parameter order: generator first, then discriminator
                moved = [not torch.equal(a, b) for a, b in zip(self.before, after, strict=True)]
                g_moved, d_moved = any(moved[: len(moved) - n_d]), any(moved[len(moved) - n_d :])
                self.changed.append((name, g_moved, d_moved))

            return hook

        for opt, name in zip(trainer.optimizers, ("D", "G"), strict=True):
            opt.register_step_pre_hook(snapshot)
            opt.register_step_post_hook(compare(name))


def test_each_step_moves_only_its_own_player():
    watcher = ParameterWatcher()
    trainer(callbacks=[watcher], max_steps=8).fit(tiny_gan(k=1), IndexedDataModule())
    assert [c[0] for c in watcher.changed] == ["D", "G"] * 4
    assert all(c == ("D", False, True) for c in watcher.changed[::2])  # D step: only D moved
    assert all(c == ("G", True, False) for c in watcher.changed[1::2])  # G step: only G moved


@pytest.mark.parametrize("k", [0, -2])
def test_k_below_one_is_rejected(k):
    with pytest.raises(ConfigError, match="k"):
        tiny_gan(k=k)


def test_generator_shape_mismatch_stops_before_training():
    model = tiny_gan(image_shape=(1, 8, 8))
    with pytest.raises(ConfigError, match=r"\(1, 8, 8\).*\(1, 4, 4\)"):
        trainer().fit(model, IndexedDataModule())
    assert model.iterations == 0


def test_generator_range_must_match_data_range():
    with pytest.raises(ConfigError, match="value_range"):
        trainer().fit(tiny_gan(), IndexedDataModule(value_range=(-1.0, 1.0)))


def test_loss_is_swappable_and_default_is_non_saturating():
    assert type(tiny_gan().loss).__name__ == "NonSaturatingLoss"
    assert isinstance(tiny_gan(loss=MinimaxLoss()).loss, MinimaxLoss)


def test_generate_samples_in_eval_mode_and_restores_train_mode():
    model = tiny_gan()
    seen = []
    model.generator.register_forward_pre_hook(lambda m, _: seen.append(m.training))
    model.train()
    out = model.generate(torch.zeros(5, 3))
    assert out.shape == (5, 1, 4, 4) and seen == [False] and model.generator.training
