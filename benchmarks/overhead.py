"""``python -m benchmarks.overhead``: where the LightningModule's time per iteration goes, beside the bare loop's.

:mod:`benchmarks.speed` says how much slower ``Trainer.fit`` of :class:`gan_module.GAN` is than a hand-written
loop; this says where the difference is. It wraps the module's methods and Lightning's calls into them with
``perf_counter`` timers (about a microsecond per call, against the tens of microseconds to milliseconds that
matter here; a profiler such as cProfile would inflate every Python-heavy call many times over), trains
``--iterations`` timed iterations after ``--warmup`` untimed ones, and prints the milliseconds per iteration
spent in each piece. The timers nest (``_step`` holds ``manual_backward`` holds ``backward``), so the rows do
not add up; differences between nested rows are the wrappers' own cost, printed as derived rows.

Only names the module still has are wrapped, so the script keeps working while the module changes.
"""

from __future__ import annotations

import argparse
import collections
import copy
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import lightning as L
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer

import gan_module.model.module as gan_module_module
import gan_module.model.stepping as gan_module_stepping
from benchmarks import speed
from benchmarks.quiet import quiet_lightning
from gan_module.schedules import ExponentialDecay

#: (owner, attribute, label): GAN's own steps and checks, then what Lightning puts around backward and step
TARGETS: list[tuple[object, str, str]] = [
    *(
        (gan_module_module.GAN, name, f"GAN.{name}")
        for name in (
            "training_step",
            "discriminator_step",
            "generator_step",
            "_step",
            "log",
            "log_dict",
            "loss_diagnostics",
            "_diagnostics_due",
            "_scheduler_for",
            "optimizers",
            "lr_schedulers",
            "toggle_optimizer",
            "untoggle_optimizer",
            "manual_backward",
            "backward",
            "sample_noise",
            "forward",
            "judge",
        )
    ),
    (gan_module_stepping, "gradient_norm", "gradient_norm()"),  # where the module's steps call it
    (LightningOptimizer, "step", "LightningOptimizer.step"),
    (torch.optim.SGD, "step", "SGD/Adam.step (inside it)"),
    (torch.optim.Adam, "step", "SGD/Adam.step (inside it)"),
    (torch.optim.Optimizer, "zero_grad", "optimizer.zero_grad"),
    (ExponentialDecay, "step", "scheduler.step"),
]

#: (label, outer, inner): the cost of a wrapper is the outer timer less the inner one
DERIVED = [
    ("  manual_backward less backward (Lightning)", "GAN.manual_backward", "GAN.backward"),
    ("  LightningOptimizer.step less the step (Lightning)", "LightningOptimizer.step", "SGD/Adam.step (inside it)"),
]


class Timers:
    """Seconds and calls per label, counted only while ``on``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self.on = False

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if not self.on:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        return timed


@contextmanager
def instrumented(timers: Timers) -> Iterator[None]:
    """Wrap every target that exists (its own or inherited); restore the owners as they were afterwards."""
    saved = []
    for owner, name, label in TARGETS:
        if hasattr(owner, name):
            saved.append((owner, name, vars(owner).get(name)))
            setattr(owner, name, timers.wrap(label, getattr(owner, name)))
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is None:
                delattr(owner, name)  # it was inherited: uncover the base class's again
            else:
                setattr(owner, name, original)


class Window(L.Callback):
    """Switches the timers on for the timed iterations and measures their wall time."""

    def __init__(self, timers: Timers, warmup: int, iterations: int) -> None:
        self.timers, self.warmup, self.last = timers, warmup, warmup + iterations
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.iterations == self.warmup and not self.timers.on:
            self.timers.on, self.start = True, time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.iterations == self.last and self.timers.on:
            self.timers.on, self.end = False, time.perf_counter()


def lightning_breakdown(setup: speed.Setup, iterations: int, warmup: int) -> tuple[float, Timers]:
    """Seconds per iteration of ``Trainer.fit`` (timers on) and the timers."""
    timers = Timers()
    window = Window(timers, warmup, iterations)
    with instrumented(timers):
        trainer = speed.bare_trainer(warmup + iterations, window, speed.Options())
        trainer.fit(speed.make_gan(setup, speed.Options()), speed.make_data(setup))
    return (window.end - window.start) / iterations, timers


def report(name: str, bare: float, lightning: float, timers: Timers, iterations: int) -> str:
    per_it = {label: seconds / iterations * 1e3 for label, seconds in timers.seconds.items()}
    lines = [
        f"{name}: bare loop {bare * 1e3:.2f} ms/it (span), LightningModule {lightning * 1e3:.2f} ms/it "
        f"(span, timers on): {1e3 * (lightning - bare):+.2f} ms/it",
        f"  {'piece':52s} {'ms/it':>7s}  calls/it",
    ]
    for label, ms in sorted(per_it.items(), key=lambda item: -item[1]):
        lines.append(f"  {label:52s} {ms:7.3f}  {timers.calls[label] / iterations:.1f}")
    for label, outer, inner in DERIVED:
        if outer in per_it and inner in per_it:
            lines.append(f"  {label:52s} {per_it[outer] - per_it[inner]:7.3f}")
    outside = lightning * 1e3 - per_it.get("GAN.training_step", 0.0)
    lines.append(f"  {'Lightning loop outside training_step (fetch included)':52s} {outside:7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0].strip("`"))
    parser.add_argument("--model", default="mlp2014", choices=list(speed.MODELS))
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args(argv)
    with quiet_lightning():
        setup = speed.build(args.model, args.batch_size)
        twin = copy.deepcopy(setup)
        torch.manual_seed(1)
        bare = speed.bare_loop(setup, args.iterations, args.warmup, speed.Options())
        torch.manual_seed(1)
        lightning, timers = lightning_breakdown(twin, args.iterations, args.warmup)
    text = report(args.model, 1.0 / bare.span_it_s, lightning, timers, args.iterations)
    print(text)
    return text


if __name__ == "__main__":
    main()
