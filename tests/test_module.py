"""Algorithm 1 as the module runs it: k D steps, each on its own minibatch, then one G step."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn

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


class FirstBatch(L.Callback):
    """Keeps the first training batch and the noise the module drew for it."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.real = batch[0].clone()
        draw = pl_module.sample_noise

        def recorded(n):
            self.noise = draw(n)
            return self.noise

        pl_module.sample_noise = recorded


def test_a_simultaneous_update_takes_both_gradients_at_the_same_weights_from_one_judgement():
    """The 2014 release's update (AdversaryCost2): D's and G's gradients from one D pass over one batch of fakes,
    both at the pre-step weights; Algorithm 1 instead takes G's gradient after D's step."""
    import copy

    from gan_module.losses import Critique

    model = GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8]),
        discriminator=MaxoutDiscriminator(
            image_shape=(1, 4, 4), hidden_units=[8], pieces=2, input_dropout=0.0, hidden_dropout=0.0
        ),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        simultaneous=True,
    )
    before = copy.deepcopy(model)
    first, watcher = FirstBatch(), ParameterWatcher()
    trainer(callbacks=[first, watcher], limit_train_batches=1).fit(model, IndexedDataModule())
    assert [c[0] for c in watcher.changed] == ["D", "G"]
    assert model.iterations == 1 and model.d_steps == 1 and model.images_seen == 4

    fake = before(first.noise)
    critique = Critique(
        real_logits=before.judge(first.real), fake_logits=before.judge(fake), real=first.real, fake=fake
    )
    d_params, g_params = list(before.discriminator.parameters()), list(before.generator.parameters())
    grad_d = torch.autograd.grad(before.loss.discriminator_loss(critique), d_params, retain_graph=True)
    grad_g = torch.autograd.grad(before.loss.generator_loss(critique), g_params)
    for trained, start, grad in zip(model.discriminator.parameters(), d_params, grad_d, strict=True):
        torch.testing.assert_close(trained, start - 0.01 * grad)
    for trained, start, grad in zip(model.generator.parameters(), g_params, grad_g, strict=True):
        torch.testing.assert_close(trained, start - 0.01 * grad)

    # G's gradient at D's updated weights (what alternating would use) is a different update: the test can tell
    with torch.no_grad():
        for p, q in zip(before.discriminator.parameters(), model.discriminator.parameters(), strict=True):
            p.copy_(q)
    fake = before(first.noise)
    after_d = torch.autograd.grad(before.loss.generator_loss(Critique(fake_logits=before.judge(fake))), g_params)
    assert not all(torch.allclose(a, b) for a, b in zip(after_d, grad_g, strict=True))


def test_a_simultaneous_update_needs_k_one():
    with pytest.raises(ConfigError, match=r"model\.simultaneous: true .* needs model\.k: 1"):
        tiny_gan(k=2, simultaneous=True)


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


# ---------------------------------------------------------------------------------------- conditional models
class LabelledData(IndexedDataModule):
    """IndexedDataModule with labels index mod 4: a 4-class dataset."""

    num_classes = 4

    def load(self):
        arrays = super().load()
        arrays.labels, arrays.test_labels = arrays.labels % 4, arrays.test_labels % 4
        return arrays


class LabelSpy(torch.nn.Module):
    """Wraps a network and records the labels of every call."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network, self.calls = network, []
        self.num_classes = network.num_classes
        for name in ("latent_dim", "output_range"):
            if hasattr(network, name):
                setattr(self, name, getattr(network, name))

    def forward(self, x, y=None):
        self.calls.append(None if y is None else y.clone())
        return self.network(x, y)


def conditional_gan(g_conditional: bool = True, d_conditional: bool = True) -> GAN:
    return GAN(
        generator=LabelSpy(
            MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[8], num_classes=4, conditional=g_conditional)
        ),
        discriminator=LabelSpy(
            MaxoutDiscriminator(
                image_shape=(1, 4, 4), hidden_units=[8], pieces=2, num_classes=4, conditional=d_conditional
            )
        ),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
    )


def test_a_conditional_model_gives_each_step_the_labels_of_its_real_minibatch():
    model = conditional_gan()
    recorder = StepRecorder()
    trainer(callbacks=[recorder], limit_train_batches=3, limit_val_batches=0).fit(model, LabelledData(batch_size=4))
    g_calls = [y for y in model.generator.calls if y is not None and len(y) == 4]
    d_calls = [y for y in model.discriminator.calls if y is not None and len(y) == 4]
    assert model.num_classes == 4 and len(g_calls) >= 6  # a D step and a G step per batch
    batch_labels = [torch.tensor(batch) % 4 for kind, batch in recorder.steps if kind == "D"]
    # in every D step: G's fakes and D's two calls (real, fake) all use that minibatch's labels
    g_in_d_steps, g_in_g_steps = g_calls[0::2], g_calls[1::2]
    for labels, g_d, g_g in zip(batch_labels, g_in_d_steps, g_in_g_steps, strict=True):
        assert torch.equal(g_d, labels) and torch.equal(g_g, labels)
    assert all(any(torch.equal(y, labels) for y in d_calls) for labels in batch_labels)


def test_generator_and_discriminator_must_agree_on_conditioning():
    with pytest.raises(ConfigError, match="conditional: true"):
        conditional_gan(g_conditional=True, d_conditional=False)


def test_a_conditional_model_refuses_labels_outside_its_classes():
    model = conditional_gan()
    with pytest.raises(ValueError, match=r"labels in \[0, 4\)"):
        model._condition(torch.tensor([0, 7]))
    with pytest.raises(ValueError, match="int64"):
        model._condition(None)


def test_generate_draws_labels_for_a_conditional_model_when_none_are_given():
    model = conditional_gan()
    z = model.sample_noise(8, torch.Generator().manual_seed(0))
    assert model.generate(z).shape == (8, 1, 4, 4)
    assert torch.equal(model.generate(z), model.generate(z))  # the drawn labels are seeded


def test_diagnostics_are_computed_when_read_and_critic_accuracy_ranks_pairs():
    from callbacks.diagnostics import TrainingDiagnostics
    from gan_module.losses import Critique, WassersteinLoss

    model = tiny_gan()
    unread = trainer(limit_train_batches=2, limit_val_batches=0)  # no logger, no diagnostics callback
    unread.fit(model, IndexedDataModule(num_items=16))
    assert set(model.diagnostics) == {"diag/grad_norm_d", "diag/grad_norm_g"}  # the NaN check needs these anyway
    model = tiny_gan()
    read = trainer(limit_train_batches=2, limit_val_batches=0, callbacks=[TrainingDiagnostics(every_n_steps=1)])
    read.fit(model, IndexedDataModule(num_items=16))
    assert set(model.diagnostics) == {
        "diag/grad_norm_d",
        "diag/grad_norm_g",
        "diag/d_accuracy",
        "diag/spread_ratio",
    } | {
        "diag/d_real",
        "diag/d_fake",
    }
    critic = GAN(
        generator=model.generator,
        discriminator=model.discriminator,
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        loss=WassersteinLoss(),
    )
    real, fake = torch.rand(4, 1, 4, 4), torch.rand(4, 1, 4, 4)
    critique = Critique(
        real_logits=torch.tensor([5.0, 6.0, -1.0, 2.0]),
        fake_logits=torch.tensor([4.0, 7.0, -3.0, -2.0]),
        real=real,
        fake=fake,
    )
    assert critic.loss_diagnostics(critique)["diag/d_accuracy"] == 0.75  # pairs 0, 2, 3 ranked right; no threshold
    assert torch.isclose(critic.loss_diagnostics(critique)["diag/spread_ratio"], torch.tensor(1.0), atol=0.5)


def test_a_checkpoint_of_other_networks_is_a_clear_error(tmp_path):
    model = tiny_gan()
    trained = trainer(limit_train_batches=1, limit_val_batches=0)
    trained.fit(model, IndexedDataModule(num_items=16))
    path = tmp_path / "small.ckpt"
    trained.save_checkpoint(path)
    other = GAN(
        generator=MLPGenerator(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=[16]),  # wider hidden layer
        discriminator=MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=[8], pieces=2),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
    )
    expected = r"does not fit these networks: weights 3 with other shapes .e.g. generator.net.0.bias"
    with pytest.raises(ConfigError, match=expected):
        trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0).fit(
            other, IndexedDataModule(num_items=16), ckpt_path=path
        )


# ---------------------------------------------------------------- speed options: precision, layout, compile
def conv_gan(**kwargs) -> GAN:
    from gan_module.networks import DCGANDiscriminator, DCGANGenerator

    return GAN(
        generator=DCGANGenerator(image_shape=(1, 28, 28), latent_dim=8, base_channels=4),
        discriminator=DCGANDiscriminator(image_shape=(1, 28, 28), base_channels=4),
        generator_optimizer=sgd,
        discriminator_optimizer=sgd,
        **kwargs,
    )


def test_gradient_penalties_run_in_float32_under_autocast():
    from gan_module.regularizers import GradientPenalty

    model = conv_gan(regularizers=[GradientPenalty()])
    x = torch.rand(3, 1, 28, 28)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.judge(x).dtype == torch.bfloat16  # what a penalty would differentiate without the guard
        guarded = model._penalty_judge(x)
    assert guarded.dtype == torch.float32
    assert torch.equal(guarded, model.judge(x))  # exactly the float32 result


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed-scaled"])
def test_mixed_precision_trains_with_a_gradient_penalty(precision):
    from lightning.pytorch.plugins.precision import MixedPrecision

    from gan_module.losses import WassersteinLoss
    from gan_module.regularizers import GradientPenalty

    if precision == "16-mixed-scaled":  # float16 with a GradScaler, as on a GPU (Lightning's CPU default is bf16)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
        options = {"plugins": [MixedPrecision("16-mixed", "cpu", scaler=scaler)]}
    else:
        options = {"precision": precision}
    model = tiny_gan(loss=WassersteinLoss(), regularizers=[GradientPenalty()])
    reference = tiny_gan(loss=WassersteinLoss(), regularizers=[GradientPenalty()])
    reference.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    trainer(limit_train_batches=4, limit_val_batches=0, **options).fit(model, IndexedDataModule(num_items=64))
    torch.manual_seed(0)
    trainer(limit_train_batches=4, limit_val_batches=0).fit(reference, IndexedDataModule(num_items=64))
    for name, value in model.state_dict().items():
        assert torch.isfinite(value).all(), name
        # the same 4 updates in lower precision land close to the float32 ones
        assert torch.allclose(value, reference.state_dict()[name], atol=0.02), name
    # gradient norms are reported unscaled: comparable to the float32 run's, not 4096 times larger
    ratio = model.diagnostics["diag/grad_norm_d"] / reference.diagnostics["diag/grad_norm_d"]
    assert 0.8 < float(ratio) < 1.25


def test_channels_last_changes_the_layout_not_the_result():
    results = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = conv_gan(channels_last=channels_last)
        data = IndexedDataModule(num_items=16, shape=(1, 28, 28), value_range=(-1, 1))
        trainer(limit_train_batches=2, limit_val_batches=0).fit(model, data)
        results.append(model)
    conv = [m for m in results[1].discriminator.modules() if isinstance(m, nn.Conv2d)][-1].weight  # C_in > 1
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for name, value in results[0].state_dict().items():
        assert torch.allclose(value, results[1].state_dict()[name], atol=1e-5), name


def test_compiling_a_discriminator_with_a_gradient_penalty_is_refused():
    from gan_module.regularizers import GradientPenalty

    with pytest.raises(ConfigError, match=r"model\.compile: generator"):
        tiny_gan(regularizers=[GradientPenalty()], compile=True)
    with pytest.raises(ConfigError, match=r"model\.compile must be"):
        tiny_gan(compile="both")


@pytest.mark.slow
def test_a_compiled_generator_trains_like_the_eager_one():
    from gan_module.regularizers import GradientPenalty

    results = []
    for compile in (False, "generator"):
        torch.manual_seed(0)
        model = tiny_gan(regularizers=[GradientPenalty()], compile=compile)
        trainer(limit_train_batches=3, limit_val_batches=0).fit(model, IndexedDataModule(num_items=24))
        results.append(model.state_dict())
    assert results[0].keys() == results[1].keys()  # compiled in place: checkpoints keep the eager names
    for name, value in results[0].items():
        assert torch.allclose(value, results[1][name], atol=1e-5), name
