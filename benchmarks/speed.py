"""``python -m benchmarks.speed`` (``make bench``): the GAN LightningModule against a hand-written PyTorch loop.

Both sides train the same networks (deep copies of one seeded initialisation) with the same loss, optimizers,
schedulers, noise prior, batch size and DataLoader, one D step and one G step per iteration (Algorithm 1, k=1).
The bare loop is what a careful person writes by hand: sample, forward, backward, step, nothing else. The
Lightning side is ``Trainer.fit`` of :class:`gan_module.GAN` as a user runs it without loggers, progress bar or
checkpoints, so the figure is the cost of the module and of Lightning's loop itself: toggling the players,
the non-finite check, gradient norms, the scheduler lookup, hooks.

The machine may be shared and noisy: rounds alternate (bare, Lightning, bare, ...), the first ``--warmup``
iterations of every round are not timed, and the table reports medians. Printed figures belong in the README
with the command and the machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from datamodules.base import ImageArrays, ImageDataModule
from gan_module import GAN
from gan_module.losses import Critique, GANLoss, NonSaturatingLoss
from gan_module.networks import DCGANDiscriminator, DCGANGenerator, MaxoutDiscriminator, MLPGenerator
from gan_module.noise import Gaussian, Noise, Uniform
from gan_module.schedules import ExponentialDecay


@dataclass
class Setup:
    """Everything both loops share; ``build`` is called once per round from a fixed seed."""

    generator: nn.Module
    discriminator: nn.Module
    loss: GANLoss
    noise: Noise
    optimizer_d: Callable
    optimizer_g: Callable
    scheduler: Callable | None
    batch_size: int
    value_range: tuple[float, float]


def mlp2014() -> Setup:
    """Goodfellow et al. (2014) on MNIST, as configs/mnist/gan2014.yaml."""
    return Setup(
        generator=MLPGenerator(image_shape=(1, 28, 28), latent_dim=100, hidden_dims=[1200, 1200], init_range=0.05),
        discriminator=MaxoutDiscriminator(
            image_shape=(1, 28, 28), hidden_units=[240, 240], pieces=5, input_dropout=0.2, hidden_dropout=0.5
        ),
        loss=NonSaturatingLoss(),
        noise=Uniform(),
        optimizer_d=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5),
        optimizer_g=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5),
        scheduler=lambda opt: ExponentialDecay(opt, decay_factor=1.000004, min_lr=1e-6),
        batch_size=100,
        value_range=(0.0, 1.0),
    )


def dcgan() -> Setup:
    """DCGAN (Radford et al. 2016) at 28x28, as configs/networks/dcgan.yaml."""
    return Setup(
        generator=DCGANGenerator(image_shape=(1, 28, 28), latent_dim=100, base_channels=64),
        discriminator=DCGANDiscriminator(image_shape=(1, 28, 28), base_channels=64),
        loss=NonSaturatingLoss(),
        noise=Gaussian(),
        optimizer_d=lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999)),
        optimizer_g=lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999)),
        scheduler=None,
        batch_size=64,
        value_range=(-1.0, 1.0),
    )


MODELS = {"mlp2014": mlp2014, "dcgan": dcgan}


class RandomDigits(ImageDataModule):
    """Random uint8 28x28 images in memory: the benchmark measures training, not reading files."""

    image_shape, num_classes = (1, 28, 28), 10

    def load(self) -> ImageArrays:
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (6000, 1, 28, 28), dtype=torch.uint8, generator=g)
        return ImageArrays(images, torch.randint(0, 10, (6000,), generator=g))


def data(setup: Setup) -> RandomDigits:
    dm = RandomDigits(batch_size=setup.batch_size, val_size=0, value_range=setup.value_range)
    dm.setup("fit")
    return dm


# --------------------------------------------------------------------------------------------- the two loops
def bare_loop(setup: Setup, iterations: int, warmup: int, device: torch.device, precision: str = "32-true") -> float:
    """Iterations per second of a minimal hand-written loop doing the module's math (bf16 autocast for
    ``bf16-mixed``, as Lightning does)."""
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    gen, disc = setup.generator.to(device), setup.discriminator.to(device)
    opt_d, opt_g = setup.optimizer_d(disc.parameters()), setup.optimizer_g(gen.parameters())
    schedulers = [setup.scheduler(o) for o in (opt_d, opt_g)] if setup.scheduler else []
    dm = data(setup)
    done, start = 0, None
    while done < warmup + iterations:
        for images, _ in dm.train_dataloader():
            if done == warmup:
                start = _sync(device)
            real = dm.scale(images.to(device, non_blocking=True))
            # D step on this minibatch and as many fresh fakes
            with torch.no_grad(), autocast:
                fake = gen(setup.noise.sample(real.shape[0], gen.latent_dim, device))
            with autocast:
                critique = Critique(real_logits=disc(real), fake_logits=disc(fake), real=real, fake=fake)
                loss_d = setup.loss.discriminator_loss(critique)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # G step on fresh noise
            with autocast:
                fake = gen(setup.noise.sample(real.shape[0], gen.latent_dim, device))
                loss_g = setup.loss.generator_loss(Critique(fake_logits=disc(fake), fake=fake))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            for scheduler in schedulers:
                scheduler.step()
            done += 1
            if done == warmup + iterations:
                break
    return iterations / (_sync(device) - start)


class _Clock(L.Callback):
    """Times the steady state: from the start of iteration ``warmup`` to the end of the last one."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.iterations == self.warmup and self.start is None:
            self.start = _sync(pl_module.device)

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = _sync(pl_module.device)


def lightning_loop(setup: Setup, iterations: int, warmup: int, device: torch.device, precision: str) -> float:
    """Iterations per second of ``Trainer.fit`` on :class:`gan_module.GAN` with the same parts."""
    scheduler = (lambda opt: setup.scheduler(opt)) if setup.scheduler else None
    model = GAN(
        generator=setup.generator,
        discriminator=setup.discriminator,
        generator_optimizer=setup.optimizer_g,
        discriminator_optimizer=setup.optimizer_d,
        generator_scheduler=scheduler,
        discriminator_scheduler=scheduler,
        loss=setup.loss,
        noise=setup.noise,
    )
    clock = _Clock(warmup)
    trainer = L.Trainer(
        accelerator=device.type,
        devices=1,
        precision=precision,
        max_steps=2 * (warmup + iterations),  # global_step counts optimizer steps: D and G each iteration
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[clock],
    )
    trainer.fit(model, data(setup))
    return iterations / (clock.end - clock.start)


def _sync(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


# --------------------------------------------------------------------------------------------- the table
def measure(name: str, iterations: int, warmup: int, repeats: int, device: torch.device, precision: str) -> dict:
    """Median iterations/s of both loops over ``repeats`` alternating rounds, and their ratio."""
    bare, lightning = [], []
    for _ in range(repeats):
        torch.manual_seed(0)
        setup = MODELS[name]()
        twin = copy.deepcopy(setup)  # the same initial weights for both sides
        bare.append(bare_loop(setup, iterations, warmup, device, precision))
        lightning.append(lightning_loop(twin, iterations, warmup, device, precision))
    ratios = [lt / b for lt, b in zip(lightning, bare, strict=True)]
    return {
        "model": name,
        "device": device.type,
        "precision": precision,
        "bare_it_s": statistics.median(bare),
        "lightning_it_s": statistics.median(lightning),
        "ratio": statistics.median(ratios),
        "rounds": repeats,
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}, lightning {L.__version__}"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp2014,dcgan", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations at the start of each round")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds per model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    L.seed_everything(0, verbose=False)
    device = torch.device(args.device)
    results = [
        measure(name, args.iterations, args.warmup, args.repeats, device, args.precision)
        for name in args.models.split(",")
    ]
    print(f"\nMachine: {machine()}")
    print(f"{args.iterations} timed iterations after {args.warmup} warm-up, median of {args.repeats} rounds\n")
    print("| model | device | precision | bare loop it/s | LightningModule it/s | ratio |")
    print("|---|---|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['model']} | {r['device']} | {r['precision']} | {r['bare_it_s']:.1f} | "
            f"{r['lightning_it_s']:.1f} | {r['ratio']:.3f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
