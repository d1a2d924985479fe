"""``python -m benchmarks.speed`` (``make bench-module``): the GAN LightningModule against a hand-written PyTorch loop.

What is compared. Both sides train the same networks (deep copies of one seeded initialisation) with the
same loss, noise prior, optimizers, learning-rate schedulers, batch size and DataLoader (the project's
``ImageDataModule`` over an in-memory uint8 tensor), one D step and one G step per iteration (Algorithm 1 of
Goodfellow et al. 2014, k = 1):

- the bare loop is what a careful person writes by hand: scale the uint8 batch, D step on it and on fresh
  fakes drawn under ``no_grad``, G step on fresh noise with D's weights frozen (as Lightning's
  ``toggled_optimizer`` does in the module), ``zero_grad``/``backward``/``step`` and the scheduler step for
  each player; under mixed precision the same autocast (and, for fp16, the same GradScaler use) as Lightning.
  Nothing else: no logging, no diagnostics, no gradient-norm or non-finite checks;
- the Lightning side is ``Trainer.fit`` of :class:`gan_module.GAN` as a user runs it with loggers, progress
  bar, checkpoints and model summary switched off. Its extra time is the cost of the module (gradient
  norms, the non-finite check, ``self.log``, scheduler lookup, optimizer toggling) and of Lightning's loop
  and hooks, which is exactly what the ratio is meant to expose.

Why the measurement is fair. ``tests/test_benchmarks.py`` shows that from the same seed both loops end with
bit-identical weights, so they do the same arithmetic on the same data and draw the same random numbers in
the same order. Start-up (``Trainer`` construction, ``setup``, the first iterations' allocator and compile
warm-up) is excluded: each round times ``--iterations`` iterations after ``--warmup`` untimed ones. Both
sides stamp the same instants: the start of every timed iteration (its batch already fetched, as Lightning's
``on_train_batch_start`` sees it) and the end of the last, so an interval holds one whole iteration including
the next batch's fetch and whatever Lightning does between batches. On a GPU the stamps are CUDA events, read
after the round: no per-iteration synchronisation stops the CPU from running ahead, as it does in training.

The machine may be shared and noisy: another process taking the cores for a second would dominate a mean.
So a round's speed is 1 / the median interval, the rounds alternate (bare, Lightning, bare, Lightning, ...),
and the table reports the median over rounds of each side and of the per-round ratios. The median leaves out
rare costs (an epoch boundary every 500 iterations with MNIST's 50,000 training images, the module's
diagnostics every 50 steps); the ratio of the whole spans (total time, rare costs and interference included)
is reported beside it.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass

import lightning as L
import torch
from torch import Tensor, nn

from benchmarks.quiet import quiet_lightning
from datamodules.base import ImageArrays, ImageDataModule
from gan_module import GAN
from gan_module.losses import Critique, GANLoss, NonSaturatingLoss
from gan_module.networks import DCGANDiscriminator, DCGANGenerator, MaxoutDiscriminator, MLPGenerator
from gan_module.noise import Gaussian, Noise, Uniform
from gan_module.schedules import ExponentialDecay

PRECISIONS = {"32": "32-true", "32-true": "32-true", "bf16-mixed": "bf16-mixed", "16-mixed": "16-mixed"}
_AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


# --------------------------------------------------------------------------------------------- the models
@dataclass
class Setup:
    """Everything both loops share. The networks are built from a fixed seed; each loop gets a deep copy."""

    generator: nn.Module
    discriminator: nn.Module
    loss: GANLoss
    noise: Noise
    optimizer_d: Callable[..., torch.optim.Optimizer]
    optimizer_g: Callable[..., torch.optim.Optimizer]
    scheduler_d: Callable[[torch.optim.Optimizer], object] | None
    scheduler_g: Callable[[torch.optim.Optimizer], object] | None
    batch_size: int
    value_range: tuple[float, float]
    image_shape: tuple[int, ...] = (1, 28, 28)


def mlp2014(batch_size: int = 100) -> Setup:
    """Goodfellow et al. (2014) on MNIST, exactly as configs/mnist/gan2014.yaml (without its MomentumRamp
    callback, which changes momentum once per epoch and costs nothing per iteration)."""
    return Setup(
        generator=MLPGenerator(
            image_shape=(1, 28, 28), latent_dim=100, hidden_dims=[1200, 1200], output="sigmoid", init_range=0.05
        ),
        discriminator=MaxoutDiscriminator(
            image_shape=(1, 28, 28),
            hidden_units=[240, 240],
            pieces=5,
            input_dropout=0.2,
            hidden_dropout=0.5,
            init_range=0.005,
        ),
        loss=NonSaturatingLoss(),
        noise=Uniform(),
        optimizer_d=lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.5),
        optimizer_g=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.5),
        scheduler_d=lambda opt: ExponentialDecay(opt, decay_factor=1.000004, min_lr=5e-7),
        scheduler_g=lambda opt: ExponentialDecay(opt, decay_factor=1.000004, min_lr=1e-6),
        batch_size=batch_size,
        value_range=(0.0, 1.0),
    )


def dcgan(batch_size: int = 64) -> Setup:
    """DCGAN (Radford et al. 2016) at 28x28 as configs/networks/dcgan.yaml, with its Adam(2e-4, (0.5, 0.999))."""
    return Setup(
        generator=DCGANGenerator(image_shape=(1, 28, 28), latent_dim=100, base_channels=64, batch_norm=True),
        discriminator=DCGANDiscriminator(image_shape=(1, 28, 28), base_channels=64, batch_norm=True),
        loss=NonSaturatingLoss(),
        noise=Gaussian(),
        optimizer_d=lambda params: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999)),
        optimizer_g=lambda params: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999)),
        scheduler_d=None,
        scheduler_g=None,
        batch_size=batch_size,
        value_range=(-1.0, 1.0),
    )


MODELS: dict[str, Callable[..., Setup]] = {"mlp2014": mlp2014, "dcgan": dcgan}


def build(name: str, batch_size: int | None = None, seed: int = 0) -> Setup:
    """The named setup with its networks initialised from ``seed`` (its default batch size unless given)."""
    torch.manual_seed(seed)
    return MODELS[name]() if batch_size is None else MODELS[name](batch_size=batch_size)


@dataclass(frozen=True)
class Options:
    """How both loops run: device, Lightning precision name, memory layout, ``torch.compile``."""

    device: str = "cpu"
    precision: str = "32-true"
    channels_last: bool = False
    compile: bool = False


@dataclass
class Timing:
    """One round of one side: the seconds of each timed iteration."""

    intervals: list[float]

    @property
    def it_s(self) -> float:
        """Steady-state speed: robust to a burst of interference on a shared machine."""
        return 1.0 / statistics.median(self.intervals)

    @property
    def span_it_s(self) -> float:
        """Iterations over the total time: rare costs and interference included."""
        return len(self.intervals) / sum(self.intervals)


class Stamps:
    """Time stamps at iteration boundaries: ``perf_counter`` on a CPU; on a GPU CUDA events, which the GPU
    records when it gets there, so stamping needs no synchronisation."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.stamps: list = []

    def stamp(self) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.stamps.append(event)
        else:
            self.stamps.append(time.perf_counter())

    def timing(self) -> Timing:
        if self.cuda:
            torch.cuda.synchronize()
            gaps = [a.elapsed_time(b) / 1e3 for a, b in itertools.pairwise(self.stamps)]
        else:
            gaps = [b - a for a, b in itertools.pairwise(self.stamps)]
        return Timing(gaps)


# --------------------------------------------------------------------------------------------- the data
class RandomImages(ImageDataModule):
    """Random uint8 images (28x28 grey by default) held in memory, 60,000 by default with the paper's 10,000 for
    validation.

    Pixel values do not change how long an iteration takes (no data-dependent control flow), and in-memory
    data keeps the benchmark about training rather than file reading, with no dataset to download.
    """

    image_shape, num_classes = (1, 28, 28), 10

    def __init__(self, num_images: int = 60_000, image_shape: tuple[int, ...] = (1, 28, 28), **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_images, self.image_shape = num_images, tuple(image_shape)

    def load(self) -> ImageArrays:
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (self.num_images, *self.image_shape), dtype=torch.uint8, generator=g)
        return ImageArrays(images, torch.randint(0, 10, (self.num_images,), generator=g))


def make_data(setup: Setup, num_images: int = 60_000) -> RandomImages:
    val_size = min(10_000, num_images // 6)
    dm = RandomImages(
        num_images, setup.image_shape, batch_size=setup.batch_size, val_size=val_size, value_range=setup.value_range
    )
    dm.setup("fit")
    return dm


def endless_batches(dm: ImageDataModule) -> Iterator[tuple[Tensor, Tensor]]:
    """Epoch after epoch of the training loader, with the sampler's epoch set as Lightning sets it."""
    loader = dm.train_dataloader()
    for epoch in itertools.count():
        loader.sampler.set_epoch(epoch)
        yield from loader


# --------------------------------------------------------------------------------------------- the bare loop
@dataclass
class BareParts:
    """The bare loop's state: the networks on the device, one optimizer and scheduler per player."""

    loss: GANLoss
    noise: Noise
    generator: nn.Module
    discriminator: nn.Module
    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer
    sched_d: object | None
    sched_g: object | None
    autocast: Callable[[], AbstractContextManager]
    scaler: torch.amp.GradScaler | None
    device: torch.device
    channels_last: bool


def bare_parts(setup: Setup, options: Options) -> BareParts:
    """Move, lay out and compile the networks as :class:`gan_module.GAN` does, then make the optimizers."""
    device = torch.device(options.device)
    gen, disc = setup.generator.to(device).train(), setup.discriminator.to(device).train()
    if options.channels_last:  # GAN.setup: only 4-D (convolution) weights change layout
        gen.to(memory_format=torch.channels_last)
        disc.to(memory_format=torch.channels_last)
    if options.compile:  # GAN.__init__ compiles in place, the same way
        gen.compile()
        disc.compile()
    opt_d, opt_g = setup.optimizer_d(disc.parameters()), setup.optimizer_g(gen.parameters())
    dtype = _AUTOCAST_DTYPES.get(options.precision)
    # Lightning's MixedPrecision wraps the whole training_step (backward and step included) in autocast, and
    # for fp16 scales every loss and steps through a GradScaler, updated after each optimizer step. Its
    # autocast keeps no cache of low-precision weights: a copy cached while G makes the D step's fakes under
    # no_grad would have no autograd history, and G's own step would then give G no gradient.
    autocast = (
        (lambda: torch.autocast(device.type, dtype=dtype, cache_enabled=False)) if dtype is not None else nullcontext
    )
    scaler = torch.amp.GradScaler(device.type) if options.precision == "16-mixed" else None
    return BareParts(
        loss=setup.loss,
        noise=setup.noise,
        generator=gen,
        discriminator=disc,
        opt_d=opt_d,
        opt_g=opt_g,
        sched_d=setup.scheduler_d(opt_d) if setup.scheduler_d else None,
        sched_g=setup.scheduler_g(opt_g) if setup.scheduler_g else None,
        autocast=autocast,
        scaler=scaler,
        device=device,
        channels_last=options.channels_last,
    )


def bare_parts_of(model: GAN) -> BareParts:
    """The bare loop's state from a GAN the project's CLI built (CPU, fp32): its own networks, loss, noise,
    optimizers and schedulers, so the loop trains exactly what ``main.py fit`` would."""
    (opt_d, opt_g), schedulers = model.configure_optimizers()
    scheduler_of = {id(s.optimizer): s for s in schedulers}
    return BareParts(
        loss=model.loss,
        noise=model.noise,
        generator=model.generator.train(),
        discriminator=model.discriminator.train(),
        opt_d=opt_d,
        opt_g=opt_g,
        sched_d=scheduler_of.get(id(opt_d)),
        sched_g=scheduler_of.get(id(opt_g)),
        autocast=nullcontext,
        scaler=None,
        device=torch.device("cpu"),
        channels_last=False,
    )


def _update(optimizer: torch.optim.Optimizer, loss: Tensor, scheduler, scaler: torch.amp.GradScaler | None) -> None:
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    if scheduler is not None:
        scheduler.step()


def bare_iteration(parts: BareParts, real: Tensor) -> None:
    """One iteration of Algorithm 1 (k = 1) on a scaled batch: the module's math and random draws, in its order."""
    gen, disc, loss, noise = parts.generator, parts.discriminator, parts.loss, parts.noise
    if parts.channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    n, latent_dim = real.shape[0], gen.latent_dim
    with parts.autocast():
        # D step: this minibatch and as many fresh fakes; G's graph is not built
        with torch.no_grad():
            fake = gen(noise.sample(n, latent_dim, parts.device))
        critique = Critique(real_logits=disc(real), fake_logits=disc(fake), real=real, fake=fake)
        _update(parts.opt_d, loss.discriminator_loss(critique), parts.sched_d, parts.scaler)
        # G step on fresh noise. D's weights need no gradient here (the module's toggled_optimizer does the
        # same), which saves D's weight-gradient kernels in the backward.
        disc.requires_grad_(False)
        fake = gen(noise.sample(n, latent_dim, parts.device))
        critique = Critique(fake_logits=disc(fake), fake=fake)
        if loss.generator_needs_real:
            critique.real, critique.real_logits = real, disc(real)
        _update(parts.opt_g, loss.generator_loss(critique), parts.sched_g, parts.scaler)
        disc.requires_grad_(True)


def bare_loop(setup: Setup, iterations: int, warmup: int, options: Options, num_images: int = 60_000) -> Timing:
    """The hand-written loop's timed iterations (after ``warmup`` untimed ones)."""
    parts = bare_parts(setup, options)
    dm = make_data(setup, num_images)
    stamps = Stamps(parts.device)
    for i, (images, _labels) in enumerate(itertools.islice(endless_batches(dm), warmup + iterations)):
        if i >= warmup:  # after batch i is fetched, as Lightning's on_train_batch_start sees it
            stamps.stamp()
        # uint8 -> float on the device, as the DataModule's on_after_batch_transfer does under Lightning
        bare_iteration(parts, dm.scale(images.to(parts.device, non_blocking=True)))
    stamps.stamp()  # the end of the last iteration
    return stamps.timing()


# --------------------------------------------------------------------------------------------- Lightning
class IterationStamps(L.Callback):
    """Stamps the start of iterations ``warmup`` to ``warmup + iterations - 1`` (their batch already fetched)
    and the end of the last: the instants the bare loop stamps."""

    def __init__(self, warmup: int, iterations: int, device: torch.device) -> None:
        self.warmup, self.last = warmup, warmup + iterations
        self.stamps = Stamps(device)
        self.done = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.warmup <= pl_module.iterations < self.last:
            self.stamps.stamp()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.done and pl_module.iterations == self.last:
            self.stamps.stamp()
            self.done = True


def make_gan(setup: Setup, options: Options) -> GAN:
    """:class:`gan_module.GAN` built in Python from the setup's networks and factories."""
    return GAN(
        generator=setup.generator,
        discriminator=setup.discriminator,
        generator_optimizer=setup.optimizer_g,
        discriminator_optimizer=setup.optimizer_d,
        generator_scheduler=setup.scheduler_g,
        discriminator_scheduler=setup.scheduler_d,
        loss=setup.loss,
        noise=setup.noise,
        k=1,
        channels_last=options.channels_last,
        compile=options.compile,
    )


def bare_trainer(iterations: int, callback: L.Callback, options: Options, k: int = 1) -> L.Trainer:
    """A Trainer for ``iterations`` generator iterations with nothing but ``callback``: no logger, checkpoints,
    progress bar, summary or validation."""
    return L.Trainer(
        accelerator=torch.device(options.device).type,
        devices=1,
        precision=options.precision,
        max_steps=(k + 1) * iterations,  # global_step counts optimizer steps: k + 1 per iteration
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[callback],
    )


def lightning_loop(setup: Setup, iterations: int, warmup: int, options: Options, num_images: int = 60_000) -> Timing:
    """The timed iterations of ``Trainer.fit`` on :class:`gan_module.GAN` with the same parts."""
    model = make_gan(setup, options)
    clock = IterationStamps(warmup, iterations, torch.device(options.device))
    trainer = bare_trainer(warmup + iterations, clock, options)
    trainer.fit(model, make_data(setup, num_images))
    if not clock.done:
        raise RuntimeError(f"Lightning stopped after {model.iterations} iterations, before the timed span ended.")
    return clock.stamps.timing()


# --------------------------------------------------------------------------------------------- measuring
def measure(
    name: str,
    iterations: int,
    warmup: int,
    repeats: int,
    options: Options,
    batch_size: int | None = None,
    num_images: int = 60_000,
) -> dict:
    """Median iterations/s of both loops over ``repeats`` alternating rounds, and the median per-round ratio."""
    bare: list[Timing] = []
    lightning: list[Timing] = []
    for round_ in range(repeats):
        setup = build(name, batch_size)
        twin = copy.deepcopy(setup)  # the same initial weights for both sides
        torch.manual_seed(1 + round_)  # and the same noise and dropout draws
        bare.append(bare_loop(setup, iterations, warmup, options, num_images))
        torch.manual_seed(1 + round_)
        lightning.append(lightning_loop(twin, iterations, warmup, options, num_images))
    rounds = list(zip(bare, lightning, strict=True))
    return {
        "model": name,
        **asdict(options),
        "batch_size": setup.batch_size,
        "iterations": iterations,
        "warmup": warmup,
        "repeats": repeats,
        "bare_it_s": statistics.median(b.it_s for b in bare),
        "lightning_it_s": statistics.median(lt.it_s for lt in lightning),
        "ratio": statistics.median(lt.it_s / b.it_s for b, lt in rounds),
        "span_ratio": statistics.median(lt.span_it_s / b.span_it_s for b, lt in rounds),
        "rounds": [
            {
                "bare_it_s": b.it_s,
                "lightning_it_s": lt.it_s,
                "bare_span_it_s": b.span_it_s,
                "lightning_span_it_s": lt.span_it_s,
            }
            for b, lt in rounds
        ],
    }


def machine_info(device: str = "cpu") -> dict:
    """Versions, CPU model, threads and GPU: the figures mean nothing without them."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    use_gpu = torch.device(device).type == "cuda" and torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if use_gpu else None,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| model | device | precision | bare loop it/s | LightningModule it/s | ratio | ratio of whole spans |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        flags = [flag for flag in ("channels_last", "compile") if r[flag]]
        precision = " ".join([r["precision"], *flags])
        lines.append(
            f"| {r['model']} (batch {r['batch_size']}) | {r['device']} | {precision} | {r['bare_it_s']:.1f} | "
            f"{r['lightning_it_s']:.1f} | {r['ratio']:.3f} | {r['span_ratio']:.3f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0].strip("`"))
    parser.add_argument("--models", default="mlp2014,dcgan", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--iterations", type=int, default=200, help="timed iterations per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations at the start of every round")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds (bare, Lightning) per model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="32", choices=list(PRECISIONS))
    parser.add_argument("--channels-last", action="store_true", help="NHWC images and conv weights on both sides")
    parser.add_argument("--compile", action="store_true", help="torch.compile G and D on both sides")
    parser.add_argument("--batch-size", type=int, help="override every model's batch size")
    parser.add_argument("--json", help="also write the machine and the results to this file")
    args = parser.parse_args(argv)
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")
    if args.iterations < 1 or args.warmup < 0 or args.repeats < 1:
        parser.error("--iterations and --repeats must be >= 1, --warmup >= 0")
    if args.precision == "16-mixed" and args.device == "cpu":
        parser.error("16-mixed needs --device cuda (Lightning has no fp16 AMP on CPU); use bf16-mixed there")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but no GPU is visible")
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    options = Options(args.device, PRECISIONS[args.precision], args.channels_last, args.compile)
    with quiet_lightning():
        results = [
            measure(name, args.iterations, args.warmup, args.repeats, options, args.batch_size)
            for name in args.models.split(",")
        ]
    info = machine_info(args.device)
    gpu = f", GPU {info['gpu']}" if info["gpu"] else ""
    print(
        f"\ntorch {info['torch']}, lightning {info['lightning']}, Python {info['python']}\n"
        f"CPU: {info['cpu']} ({info['cpu_count']} logical CPUs), torch threads {info['torch_threads']}{gpu}\n"
        f"{args.iterations} timed iterations after {args.warmup} warm-up per round; it/s = 1 / median iteration "
        f"time, median of {args.repeats} alternating rounds; ratio = median of the per-round ratios\n"
    )
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
