"""``python -m benchmarks.gpu_check`` (``make gpu-check``): what only a GPU can show, as one table in under 8 minutes.

Every row trains the project's own LightningModule, built by its CLI parser from shipped YAML
(``configs/cifar10/base.yaml``: DCGAN at 32x32, Adam 2e-4, batch 64; a loss or network fragment on top) on
synthetic 32x32 uint8 images held in memory (``benchmarks.speed.RandomImages``: CIFAR-10 is not offline, and
pixel values change neither the arithmetic nor its cost). The rows:

1. **DDP**: ``main.py fit`` with ``configs/trainer/ddp.yaml`` (``GANDDPStrategy``) on every visible GPU (NCCL),
   or on 2 CPU processes (gloo) without one. Passes when every rank ends with bit-identical weights and buffers:
   the strategy's one promise (each player's gradients averaged after its backward, rank 0's buffers copied).
   Reports the images/s of all ranks together.
2. **Mixed precision with each GAN loss** (non-saturating, WGAN-GP with its gradient penalty and k = 5, hinge,
   LSGAN): ``bf16-mixed`` and ``16-mixed`` (GradScaler) against ``32-true``, 200 generator iterations from the
   same initial weights, data order and noise seed. Every loss must be finite, and each player's loss curve
   must stay close to the fp32 curve: ``delta`` = mean |difference| of the two curves' trends (the means of 10
   equal windows, so step-to-step noise averages out), in units of the fp32 curve's RMS. GAN training is
   chaotic: two fp32 runs that differ only in the noise seed drift apart too, so that drift (``seed``, the
   larger of two other seeds) is measured alongside, and a row passes when ``delta <= max(0.10, 2 x seed)``:
   lower precision moves the curve by no more than a tenth of its scale, or than twice what another seed
   does. A GradScaler that skipped most steps, a penalty that underflowed or a loss evaluated in 16 bits moves
   the trend further. (On a 2-core CPU, 200 iterations of 16-channel DCGANs, 100 of WGAN-GP, gave bf16 deltas
   of 0.1-1.2 x that drift.) Without a GPU only bf16 runs: Lightning has no fp16 autocast on a CPU.
3. **torch.compile** of G and D (``model.compile: true``), fp32, non-saturating: the fit's wall time (mostly
   compiling), steady iterations/s against eager, and the same curve tolerance against the eager fp32 run.
4. **Images/s, DCGAN and ResNet 32x32** (``configs/networks/resnet.yaml``): the LightningModule against the
   hand-written loop of ``benchmarks/speed.py`` (its ``bare_loop`` and ``lightning_loop``, the same timing:
   1 / the median iteration, CUDA events on a GPU), fp32 and bf16. A measurement, no tolerance.
5. **Inception FID** (torchmetrics, torch-fidelity's Inception-v3) on the GPU, only if the weights are on disk
   (``--inception-weights``, default ``$TORCH_HOME/hub/checkpoints/``): nothing is downloaded. Passes when FID
   between two halves of one image set is finite and below FID against a darkened copy.
6. **Peak memory**: ``torch.cuda.max_memory_allocated`` of the largest in-process run on a GPU; on a CPU the
   peak RSS of this process (and of the largest DDP rank) from ``resource.getrusage``.

The last row is the wall time (at most 8 minutes on a GPU). Without CUDA the same code runs with tiny sizes
(``--tiny``: 8-channel networks, batch 8, 4 iterations; about a minute on 2 cores, most of it compiling), says
"no GPU" and measures nothing that transfers; CI runs it. fp32 on a GPU means PyTorch's defaults (TF32
convolutions). Exit status 1 when any row fails.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from benchmarks import speed
from benchmarks.quiet import quiet_lightning
from gan_module import GAN, names

ROOT = Path(__file__).resolve().parent.parent
GPU = torch.cuda.is_available()
DEVICE = torch.device("cuda" if GPU else "cpu")
LOSSES = {
    "non-saturating": [],
    "WGAN-GP": ["--config", "configs/losses/wgan_gp.yaml"],
    "hinge": ["--config", "configs/losses/geometric.yaml"],
    "LSGAN": ["--config", "configs/losses/lsgan.yaml"],
}
NETWORKS = {"DCGAN": [], "ResNet": ["--config", "configs/networks/resnet.yaml"]}
WIDTH = {"DCGAN": "base_channels", "ResNet": "channels"}  # the width argument of each pair (--tiny shrinks it)
TOLERANCE, SEED_FACTOR = 0.10, 2.0  # a curve passes when delta <= max(TOLERANCE, SEED_FACTOR x the seed drift)
INCEPTION = Path(torch.hub.get_dir()) / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
GiB = 2**30
PEAKS: dict[str, int] = {}  # the CUDA memory peak of each in-process run (row 6)


@dataclass(frozen=True)
class Sizes:
    iterations: int  # generator iterations of every precision and compile run
    batch: int
    width: int | None  # the networks' channels; None: the shipped ones
    speed_iterations: int
    speed_warmup: int
    ddp_iterations: int
    fid_images: int


FULL = Sizes(
    iterations=200, batch=64, width=None, speed_iterations=200, speed_warmup=20, ddp_iterations=200, fid_images=2000
)
QUICK = Sizes(
    iterations=50, batch=64, width=None, speed_iterations=50, speed_warmup=10, ddp_iterations=50, fid_images=500
)
TINY = Sizes(iterations=4, batch=8, width=8, speed_iterations=4, speed_warmup=2, ddp_iterations=2, fid_images=16)


@dataclass
class Row:
    check: str
    measured: str
    tolerance: str = "-"
    result: str = "info"  # pass, FAIL, skipped, info


# --------------------------------------------------------------------------------------------- building and fitting
def config(sizes: Sizes, network: str = "DCGAN", *extra: str, images: int | None = None) -> list[str]:
    """CLI arguments: the CIFAR-10 recipe, a network and other fragments, on synthetic 32x32 images."""
    batches = max(sizes.iterations * 6, sizes.speed_warmup + sizes.speed_iterations) + 2  # k = 5: 6 batches each
    images = images or min(batches * sizes.batch, 20_000) + 4 * sizes.batch
    args = ["--config", "configs/cifar10/base.yaml", *NETWORKS[network], *extra]
    args += ["--data=benchmarks.speed.RandomImages", "--data.image_shape=[3,32,32]", "--data.num_workers=0"]
    args += [f"--data.num_images={images}", f"--data.val_size={2 * sizes.batch}", f"--data.batch_size={sizes.batch}"]
    if sizes.width:
        args += [f"--model.{net}.init_args.{WIDTH[network]}={sizes.width}" for net in ("generator", "discriminator")]
    return args


def build(args: list[str]) -> tuple[GAN, speed.RandomImages]:
    """The model and data as ``main.py fit`` would make them (seed 0: the same initial weights every time)."""
    from gan_module.cli import GANCLI

    with tempfile.TemporaryDirectory() as tmp, quiet_lightning():
        cli = GANCLI(args=[*args, "--trainer.logger=false", f"--trainer.default_root_dir={tmp}"], run=False)
    return cli.model, cli.datamodule


class Curves(L.Callback):
    """The loss of every D step and every G step (kept on the device: no sync), and a time stamp per batch."""

    def __init__(self) -> None:
        self.d: list[Tensor] = []
        self.g: list[Tensor] = []
        self.stamps = speed.Stamps(DEVICE)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.d.append(pl_module.step_log.bar[names.LOSS_D])
        if pl_module.iterations > len(self.g):
            self.g.append(pl_module.step_log.bar[names.LOSS_G])
        self.stamps.stamp()

    def losses(self) -> dict[str, list[float]]:
        return {p: torch.stack([x.float() for x in xs]).tolist() for p, xs in (("D", self.d), ("G", self.g))}


@dataclass
class Run:
    losses: dict[str, list[float]]
    it_s: float  # batches per second: 1 / the median interval
    seconds: float  # the whole fit


def record_peak(name: str | None) -> int:
    """The CUDA memory peak since the last call, kept under ``name`` (None: only start afresh; 0 on a CPU)."""
    if not GPU:
        return 0
    peak = torch.cuda.max_memory_allocated()
    if name is not None:
        PEAKS[name] = peak
    torch.cuda.reset_peak_memory_stats()
    return peak


def fit(args: list[str], iterations: int, precision: str, seed: int, name: str) -> Run:
    """``iterations`` generator iterations of ``Trainer.fit`` with nothing but :class:`Curves`."""
    model, dm = build(args)
    curves = Curves()
    with quiet_lightning():  # Lightning's banners
        trainer = speed.bare_trainer(iterations, curves, speed.Options(DEVICE.type, precision), k=model.k)
        torch.manual_seed(seed)
        start = time.perf_counter()
        trainer.fit(model, dm)
        seconds = time.perf_counter() - start
    record_peak(f"{name}, {precision}, seed {seed}")
    return Run(curves.losses(), curves.stamps.timing().it_s, seconds)


def trend(curve: list[float], windows: int = 10) -> Tensor:
    x = torch.tensor(curve, dtype=torch.float64)
    return torch.stack([w.mean() for w in x.tensor_split(min(windows, len(x)))])


def delta(curve: list[float], reference: list[float]) -> float:
    """Mean |difference| of the two curves' trends, in units of the reference curve's RMS."""
    rms = torch.tensor(reference, dtype=torch.float64).square().mean().sqrt().clamp_min(1e-12)
    return float((trend(curve) - trend(reference)).abs().mean() / rms)


def finite(run: Run) -> bool:
    return all(math.isfinite(v) for curve in run.losses.values() for v in curve)


def curve_row(check: str, run: Run, reference: Run, seed_drift: dict[str, float]) -> Row:
    """Finite losses and both players' curves within the tolerance of the reference (module docstring)."""
    d = {p: delta(run.losses[p], reference.losses[p]) for p in "DG"}
    ok = finite(run) and all(d[p] <= max(TOLERANCE, SEED_FACTOR * seed_drift[p]) for p in "DG")
    measured = ", ".join(f"{p} delta {d[p]:.3f} (seed {seed_drift[p]:.3f})" for p in "DG")
    measured += "; losses finite" if finite(run) else "; NON-FINITE losses"
    return Row(check, measured, f"finite, delta <= max({TOLERANCE}, {SEED_FACTOR:g} x seed)", "pass" if ok else "FAIL")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else ""


def failed(check: str, err: Exception) -> Row:
    return Row(check, f"error: {type(err).__name__}: {last_line(str(err))}", "-", "FAIL")


# --------------------------------------------------------------------------------------------- the rows
def precision_rows(sizes: Sizes, precisions: list[str]) -> tuple[list[Row], Run | None, dict[str, float]]:
    """Row 2. Returns the rows, the eager fp32 non-saturating run and its seed drift (row 3 compares with them)."""
    rows, eager, eager_drift = [], None, {}
    for loss, extra in LOSSES.items():
        args = config(sizes, "DCGAN", *extra)
        try:  # fp32 with the seed of the lower-precision runs, and with two others
            fp32, *others = [fit(args, sizes.iterations, "32-true", seed, loss) for seed in (1, 2, 3)]
        except Exception as err:  # a DivergenceError (a non-finite loss): no reference for this loss
            rows.append(failed(f"fp32 references, {loss}, {sizes.iterations} it", err))
            continue
        drift = {p: max(delta(other.losses[p], fp32.losses[p]) for other in others) for p in "DG"}
        if loss == "non-saturating":
            eager, eager_drift = fp32, drift
        for precision in precisions:
            check = f"{precision} vs fp32, {loss}, {sizes.iterations} it"
            try:
                rows.append(curve_row(check, fit(args, sizes.iterations, precision, 1, loss), fp32, drift))
            except Exception as err:  # a DivergenceError, an unsupported op: the row fails, the table goes on
                rows.append(failed(check, err))
        print(f"precision, {loss}: done", file=sys.stderr, flush=True)
    if not GPU:
        rows.append(
            Row(
                "16-mixed (fp16) vs fp32, every loss",
                "skipped: no GPU (Lightning has no fp16 autocast on a CPU)",
                "-",
                "skipped",
            )
        )
    return rows, eager, eager_drift


def compile_row(sizes: Sizes, eager: Run | None, drift: dict[str, float]) -> Row:
    """Row 3: ``model.compile: true`` (G and D), fp32, non-saturating, against the eager run of row 2."""
    check = f"torch.compile G and D, fp32, non-saturating, {sizes.iterations} it"
    if eager is None:
        return Row(check, "not run: the eager fp32 run it is compared with failed", "-", "FAIL")
    try:
        run = fit(config(sizes, "DCGAN", "--model.compile=true"), sizes.iterations, "32-true", 1, "compiled")
    except Exception as err:
        return failed(check, err)
    row = curve_row(check, run, eager, drift)
    row.measured = (
        f"fit {run.seconds:.1f} s (eager {eager.seconds:.1f} s); {run.it_s:.1f} vs eager {eager.it_s:.1f} it/s; "
        + row.measured
    )
    return row


def speed_rows(sizes: Sizes, precisions: list[str]) -> list[Row]:
    """Row 4: benchmarks/speed.py's bare loop and its Lightning loop on the same parts, built from the YAML."""
    rows = []
    for network in NETWORKS:
        for precision in precisions:
            check = f"{network} 32x32 images/s, {precision}, batch {sizes.batch}"
            try:
                model, dm = build(config(sizes, network))
                setup = speed.Setup(  # the factories are (D's, G's), the order Setup takes them in
                    model.generator,
                    model.discriminator,
                    model.loss,
                    model.noise,
                    *model._optimizer_factories,
                    *model._scheduler_factories,
                    dm.batch_size,
                    tuple(dm.value_range),
                    tuple(dm.image_shape),
                )
                twin, options = copy.deepcopy(setup), speed.Options(DEVICE.type, precision)
                images = dm.num_images
                record_peak(None)
                with quiet_lightning():
                    torch.manual_seed(1)
                    bare = speed.bare_loop(setup, sizes.speed_iterations, sizes.speed_warmup, options, images)
                    torch.manual_seed(1)
                    module = speed.lightning_loop(twin, sizes.speed_iterations, sizes.speed_warmup, options, images)
            except Exception as err:
                rows.append(failed(check, err))
                continue
            peak = record_peak(f"{network} 32x32 images/s, {precision}")
            memory = f"; peak {peak / GiB:.2f} GiB" if GPU else ""
            rows.append(
                Row(
                    check,
                    f"module {module.it_s * sizes.batch:.0f}, bare loop {bare.it_s * sizes.batch:.0f}, "
                    f"ratio {module.it_s / bare.it_s:.2f}{memory}",
                )
            )
    print("images/s: done", file=sys.stderr, flush=True)
    return rows


class RankDigest(L.Callback):
    """Each rank writes a digest of its weights and buffers when fitting ends (row 1 compares them)."""

    def on_train_end(self, trainer, pl_module) -> None:
        digest = hashlib.sha256()
        for tensor in pl_module.state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        (Path(trainer.default_root_dir) / f"digest{trainer.global_rank}.txt").write_text(digest.hexdigest())


def ddp_row(sizes: Sizes) -> Row:
    """Row 1: ``main.py fit`` with GANDDPStrategy on every GPU (or 2 CPU processes, gloo)."""
    devices = torch.cuda.device_count() if GPU else 2
    where = f"{devices} GPU{'s' if devices > 1 else ''} (NCCL)" if GPU else "2 CPU processes (gloo)"
    check = f"DDP, GANDDPStrategy, {where}, DCGAN 32x32, {sizes.ddp_iterations} it"
    images = (sizes.ddp_iterations * devices + 2) * sizes.batch + 2 * sizes.batch
    warmup = min(20, sizes.ddp_iterations // 2)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "main.py", "fit", *config(sizes, "DCGAN", images=images)]
        cmd += ["--config", "configs/trainer/ddp.yaml", f"--trainer.devices={devices}"]
        cmd += [f"--trainer.accelerator={DEVICE.type}", "--trainer.max_epochs=1", "--trainer.limit_val_batches=0"]
        cmd += [f"--trainer.limit_train_batches={sizes.ddp_iterations}", "--trainer.enable_progress_bar=false"]
        cmd += ["--sample_grid.every_n_epochs=0", "--interpolation.every_n_epochs=0", "--diagnostics.every_n_steps=0"]
        cmd += ["--trainer.callbacks+=benchmarks.gpu_check.RankDigest", f"--trainer.default_root_dir={tmp}"]
        clock = {"class_path": "benchmarks.ddp.SpeedRecorder", "init_args": {"warmup": warmup}}
        cmd += [f"--trainer.callbacks+={json.dumps(clock)}"]
        env = {k: v for k, v in os.environ.items() if k != "GAN_RUN_DIR"}
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired as err:
            return failed(check, err)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            return Row(check, f"main.py exited {done.returncode}: {last_line(done.stderr)}", "-", "FAIL")
        digests = {p.read_text() for p in Path(tmp).rglob("digest*.txt")}
        count = len(list(Path(tmp).rglob("digest*.txt")))
        speed_file = next(Path(tmp).rglob("speed.json"), None)
        rate = json.loads(speed_file.read_text())["images_per_second"] if speed_file else None
    ok = count == devices and len(digests) == 1
    same = "identical" if len(digests) == 1 else f"{len(digests)} different"
    note = "; 1 GPU: nothing to all-reduce" if devices == 1 else ""
    rate = f"{rate:.0f} images/s (all ranks), " if rate else ""
    measured = f"{count} ranks, weights {same}; {rate}{seconds:.0f} s with start-up{note}"
    return Row(check, measured, "every rank's weights bit-identical", "pass" if ok else "FAIL")


def fid_row(sizes: Sizes, weights: Path) -> Row:
    """Row 5: Inception FID on the GPU, from weights already on disk."""
    check = "Inception FID (torchmetrics)"
    if not weights.is_file():
        return Row(check, f"skipped: no Inception weights offline ({weights})", "-", "skipped")
    if not GPU:
        return Row(check, "skipped: no GPU (Inception-v3 at 299x299 is ~0.2 s an image on a CPU)", "-", "skipped")
    from torchmetrics.image import FrechetInceptionDistance

    n = sizes.fid_images
    images = torch.randint(0, 256, (2 * n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    record_peak(None)
    try:
        fid = FrechetInceptionDistance(feature_extractor_weights_path=str(weights), reset_real_features=False)
        fid = fid.to(DEVICE)
        for batch in images[:n].split(250):
            fid.update(batch.to(DEVICE), real=True)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for batch in images[n:].split(250):
            fid.update(batch.to(DEVICE), real=False)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start  # the Inception forward passes of n images
        same = float(fid.compute())
        fid.reset()  # the real features stay
        for batch in (images[n:] // 2).split(250):
            fid.update(batch.to(DEVICE), real=False)
        darker = float(fid.compute())
    except Exception as err:
        return failed(check, err)
    record_peak("Inception FID")
    ok = math.isfinite(same) and math.isfinite(darker) and same < darker
    measured = f"{n} vs {n} images: same set {same:.4g}, darkened {darker:.4g}; {n / seconds:.0f} images/s"
    return Row(check, measured, "finite, same < darkened", "pass" if ok else "FAIL")


def memory_row() -> Row:
    """Row 6: the largest CUDA peak of the in-process runs, or this process's peak RSS on a CPU."""
    if GPU and PEAKS:
        name = max(PEAKS, key=PEAKS.get)
        total = torch.cuda.get_device_properties(0).total_memory
        measured = f"{PEAKS[name] / GiB:.2f} GiB of {total / GiB:.0f} GiB ({name})"
        return Row("peak memory (max_memory_allocated)", measured)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    ranks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return Row("peak memory (peak RSS)", f"this process {own / GiB:.2f} GiB, largest DDP rank {ranks / GiB:.2f} GiB")


# --------------------------------------------------------------------------------------------- the table
def table(rows: list[Row]) -> str:
    lines = ["| # | check | measured | tolerance | result |", "|---:|---|---|---|---|"]
    lines += [f"| {i} | {r.check} | {r.measured} | {r.tolerance} | {r.result} |" for i, r in enumerate(rows, 1)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0].strip("`"))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (forced without a GPU)")
    parser.add_argument("--quick", action="store_true", help="50 iterations a run, bf16 speed rows only")
    parser.add_argument("--iterations", type=int, help="override the iterations of the precision and compile runs")
    parser.add_argument("--inception-weights", type=Path, default=INCEPTION, help="torch-fidelity's Inception-v3")
    args = parser.parse_args(argv)
    tiny = args.tiny or not GPU
    if not GPU:
        # The CPU path checks code, not speed; on a shared 2-core machine OpenMP's spin-waiting made 2 threads
        # up to 100x slower than 1 (another process holding a core).
        torch.set_num_threads(1)
    sizes = TINY if tiny else QUICK if args.quick else FULL
    if args.iterations:
        sizes = Sizes(**{**sizes.__dict__, "iterations": args.iterations})
    began = time.perf_counter()
    if GPU:
        where = f"GPU: {torch.cuda.get_device_name()} x{torch.cuda.device_count()}"
    else:
        where = "no GPU: CPU path, tiny sizes (--tiny), 1 thread; its numbers check the code path, not GPU speed"
    precisions = ["bf16-mixed", "16-mixed"] if GPU else ["bf16-mixed"]
    speed_precisions = ["32-true"] if not GPU else ["bf16-mixed"] if args.quick else ["32-true", "bf16-mixed"]

    rows = [ddp_row(sizes)]
    print("DDP: done", file=sys.stderr, flush=True)
    precision, eager, drift = precision_rows(sizes, precisions)
    rows += precision
    rows.append(compile_row(sizes, eager, drift))
    print("compile: done", file=sys.stderr, flush=True)
    rows += speed_rows(sizes, speed_precisions)
    rows.append(fid_row(sizes, args.inception_weights))
    rows.append(memory_row())
    seconds = time.perf_counter() - began
    limit = 480 if GPU and not tiny else None
    rows.append(
        Row(
            "wall time",
            f"{seconds:.0f} s",
            f"<= {limit} s" if limit else "-",
            ("pass" if seconds <= limit else "FAIL") if limit else "info",
        )
    )
    print(
        f"\n{where}\ntorch {torch.__version__}, lightning {L.__version__}, {os.cpu_count()} CPUs, "
        f"{sizes.iterations} iterations per precision/compile run, batch {sizes.batch}\n"
    )
    print(table(rows))
    failures = [r.check for r in rows if r.result == "FAIL"]
    print(
        f"\n{len(failures)} failed, {sum(r.result == 'pass' for r in rows)} passed, "
        f"{sum(r.result == 'skipped' for r in rows)} skipped; {seconds:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
