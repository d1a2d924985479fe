"""``python -m benchmarks.user_path`` (``make bench``): ``main.py fit`` exactly as a user runs it, against a bare loop.

For each shipped recipe family, the fit side is ``python main.py fit --config <shipped config>`` in its own
process, with every default a user gets (progress bar, CSV log, diagnostics, sample grids, interpolations,
validation, checkpoints), plus only a run folder under a temporary directory and an iteration budget. The bare
side is a hand-written PyTorch loop, in this process, doing the same arithmetic: the same networks, loss,
noise prior, optimizers and schedulers (instantiated from the same config), the same batch size, one D step
and one G step per iteration (D's weights frozen during G's step), the data held in memory as a tensor and
cut into shuffled minibatches. Nothing else: no logging, no checks, no validation, no images.

How the fit's speed is read. The run logs ``progress/seconds`` (its own training clock) beside
``progress/iterations`` every ``log_every_n_steps``; the speed is the difference of two such rows, from the first
at or after ``warmup`` iterations to the last, so start-up (imports, config parsing, data loading, the first
iterations' warm-up) cancels and everything between the two rows counts: epoch ends, validation, grids,
checkpoints. As a cross-check independent of that clock, the fit also runs a second, shorter time (``warmup``
iterations) and the difference of the two processes' wall times over the difference of their iterations is
reported with ``--differenced`` (noisier: it carries the variation of two start-ups).

Each round alternates (bare, fit, bare[, short fit]) so that a slow spell of a shared machine hits both sides.
The table's ratio is fit / bare from the medians over rounds; the worst ratio is printed last. The defaults
(one round, windows of 5-10 s) keep ``make bench`` near 3 minutes on 2 CPU cores, where each process's
start-up alone is ~9 s; ``--rounds 3 --scale 2 --differenced`` is the careful measurement.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.quiet import quiet_lightning
from benchmarks.speed import bare_iteration, bare_parts_of
from gan_module.names import ITERATIONS, SECONDS
from gan_module.run.layout import RunLayout

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Recipe:
    """A shipped recipe as a user starts it, and how many iterations to warm up and to time."""

    name: str
    args: tuple[str, ...]
    warmup: int
    window: int


RECIPES = [
    Recipe("mixtures", ("--config", "configs/mixtures/base.yaml"), warmup=100, window=900),
    Recipe("quickstart", ("--config", "configs/quickstart.yaml"), warmup=30, window=300),
    Recipe(
        "dcgan28",
        ("--config", "configs/quickstart.yaml", "--config", "configs/networks/dcgan.yaml"),
        warmup=10,
        window=20,
    ),
    Recipe(
        # the 2014 maxout pair with its SGD, momentum ramp and decay schedules; on the offline digits
        "gan2014",
        ("--config", "configs/mnist/gan2014.yaml", "--data=datamodules.MlxtendMNISTDataModule", "--data.val_size=500"),
        warmup=30,
        window=200,
    ),
]
BY_NAME = {recipe.name: recipe for recipe in RECIPES}
#: the shipped config families the thread rows time idle and beside a busy process (docs/scaling.md, "Threads")
THREAD_RECIPES = [
    Recipe(
        "mixtures-best",
        tuple(arg for config in ("base", "grid", "best") for arg in ("--config", f"configs/mixtures/{config}.yaml")),
        warmup=100,
        window=900,
    ),
    BY_NAME["quickstart"],
    # 60 timed iterations, not 20: `auto` spends its first ~20 steps timing one thread and then N (ThreadTuner)
    dataclasses.replace(BY_NAME["dcgan28"], window=60),
]
#: how each thread row starts ``main.py fit``: extra arguments and environment. "auto" is what a user gets;
#: "before" is the behaviour before threads were chosen (torch's default count, libgomp's default spinning:
#: GOMP_SPINCOUNT=300000 is its documented default, set so that main.py leaves the wait policy alone)
THREAD_SETTINGS = {
    "auto": ((), {}),
    "1 thread": (("--threads=1",), {}),
    "2 threads": (("--threads=2",), {"OMP_WAIT_POLICY": "PASSIVE"}),
    "before": ((f"--threads={os.cpu_count()}",), {"GOMP_SPINCOUNT": "300000"}),
}
#: the other process of the "busy" rows: a user's second job, torch matmuls on torch's default threads
BUSY = "import torch, time\na = torch.randn(256, 256)\nwhile True:\n    a = torch.tanh(a @ a.T / 16)\n"


# --------------------------------------------------------------------------------------------- the fit
def run_fit(
    recipe: Recipe, iterations: int, folder: Path, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> dict:
    """``main.py fit`` of the recipe for ``iterations`` generator iterations: wall time and its logged rows."""
    command = [
        sys.executable,
        "main.py",
        "fit",
        *recipe.args,
        f"--budget.max_iterations={iterations}",
        f"--trainer.default_root_dir={folder}",
        *extra,
    ]
    start = time.perf_counter()
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment | (env or {}))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rows = [row for row in _rows(RunLayout.numbered(folder, 0).metrics) if row.get(SECONDS)]
    return {"wall": wall, "rows": [(int(float(r[ITERATIONS])), float(r[SECONDS])) for r in rows]}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def clock_rate(rows: list[tuple[int, float]], warmup: int) -> float:
    """Iterations per second between the first logged row at or after ``warmup`` iterations and the last."""
    timed = [row for row in rows if row[0] >= warmup]
    (i0, t0), (i1, t1) = timed[0], timed[-1]
    return (i1 - i0) / (t1 - t0)


# --------------------------------------------------------------------------------------------- the bare loop
def build(recipe: Recipe):
    """The recipe's model and data, instantiated by the project's own CLI parser (nothing is trained or written)."""
    from gan_module.cli import GANCLI

    with tempfile.TemporaryDirectory() as tmp, quiet_lightning():
        cli = GANCLI(args=[*recipe.args, "--trainer.logger=false", f"--trainer.default_root_dir={tmp}"], run=False)
    if cli.model.k != 1:
        raise ValueError(f"{recipe.name}: the bare loop does k = 1 only.")
    cli.datamodule.setup("fit")
    return cli.model, cli.datamodule


def bare_loop(recipe: Recipe, iterations: int, warmup: int, seed: int = 0) -> float:
    """A hand-written Algorithm 1 (k = 1) on the recipe's objects; iterations per second after ``warmup``.

    The iteration is benchmarks/speed.py's (one hand-written loop for both benchmarks); only the data path
    differs: a random order over the in-memory training images, as a careful person would write it."""
    torch.manual_seed(seed)
    model, dm = build(recipe)
    parts = bare_parts_of(model)
    images = dm.splits["train"].tensors[0]
    m = dm.batch_size
    per_epoch = len(images) // m
    order = torch.randperm(len(images))
    for i in range(warmup + iterations):
        if i == warmup:
            start = time.perf_counter()
        b = i % per_epoch
        if b == 0 and i > 0:
            order = torch.randperm(len(images))  # a new epoch
        bare_iteration(parts, dm.scale(images[order[b * m : (b + 1) * m]]))
    return iterations / (time.perf_counter() - start)


# --------------------------------------------------------------------------------------------- start-up
def startup_seconds(args: list[str], expect_code: int = 0) -> float:
    """Wall seconds of ``python main.py ARGS`` (a command that exits at once)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != expect_code:
        raise RuntimeError(f"main.py {' '.join(args)} exited {done.returncode}, expected {expect_code}")
    return seconds


def startup_rows(folder: Path) -> list[tuple[str, float]]:
    """How long a user waits before anything happens: help, a config error, a fit's first iteration."""
    first = folder / "first"
    fit = [
        "fit",
        "--config",
        "configs/quickstart.yaml",
        "--budget.max_iterations=1",
        f"--trainer.default_root_dir={first}",
    ]
    return [
        ("python main.py --help", startup_seconds(["--help"])),
        ("python main.py fit --help", startup_seconds(["fit", "--help"])),
        (
            "a config error (--model.k=0)",
            startup_seconds(["fit", "--config", "configs/quickstart.yaml", "--model.k=0"], 2),
        ),
        ("fit to its first iteration, and exit (quickstart)", startup_seconds(fit)),
    ]


# --------------------------------------------------------------------------------------------- the table
def measure(recipe: Recipe, rounds: int, folder: Path, differenced: bool = False) -> dict:
    long, short = recipe.warmup + recipe.window, recipe.warmup
    bare, fit, walls_long, walls_short = [], [], [], []
    for r in range(rounds):
        bare.append(bare_loop(recipe, recipe.window, recipe.warmup, seed=r))
        run = run_fit(recipe, long, folder / f"{recipe.name}-long{r}")
        fit.append(clock_rate(run["rows"], recipe.warmup))
        walls_long.append(run["wall"])
        bare.append(bare_loop(recipe, recipe.window, recipe.warmup, seed=r + rounds))
        if differenced:
            walls_short.append(run_fit(recipe, short, folder / f"{recipe.name}-short{r}")["wall"])
    bare_it_s, fit_it_s = statistics.median(bare), statistics.median(fit)
    wall_rate = (
        recipe.window / (statistics.median(walls_long) - statistics.median(walls_short)) if differenced else math.nan
    )
    return {
        "recipe": recipe.name,
        "config": " ".join(recipe.args),
        "window": f"{recipe.warmup}..{long}",
        "fit_it_s": fit_it_s,
        "fit_differenced_it_s": wall_rate,
        "bare_it_s": bare_it_s,
        "ratio": fit_it_s / bare_it_s,
        "ratio_differenced": wall_rate / bare_it_s,
        "fit_wall_s": statistics.median(walls_long),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| recipe | timed iterations | `main.py fit` it/s | bare loop it/s | ratio | ratio (differenced wall times) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['recipe']} | {r['window']} | {r['fit_it_s']:.1f} | {r['bare_it_s']:.1f} | {r['ratio']:.2f} | "
            f"{'-' if math.isnan(r['ratio_differenced']) else format(r['ratio_differenced'], '.2f')} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- threads
def thread_rows(
    recipes: list[Recipe], folder: Path, rounds: int = 1, conditions: tuple[str, ...] = ("idle", "busy")
) -> list[dict]:
    """Each recipe's fit speed under every :data:`THREAD_SETTINGS`, alone and beside one busy process; the
    median over ``rounds``, each round going through the settings in turn (a slow spell hits them all)."""
    rows = []
    for recipe in recipes:
        for condition in conditions:
            speeds: dict[str, list[float]] = {name: [] for name in THREAD_SETTINGS}
            for round_ in range(rounds):
                for name, (extra, env) in THREAD_SETTINGS.items():
                    run_folder = folder / f"{recipe.name}-{round_}-{condition}-{name}"
                    speeds[name].append(_timed_beside(recipe, run_folder, extra, env, busy=condition == "busy"))
            row = {"recipe": recipe.name, "condition": condition, "rounds": rounds}
            row |= {name: statistics.median(values) for name, values in speeds.items()}
            others = [row[name] for name in THREAD_SETTINGS if name != "auto"]
            row["auto_vs_best"] = max(others) / row["auto"]  # target under load: <= 1.2
            row["auto_vs_before"] = row["auto"] / row["before"]  # target idle: >= 0.95
            rows.append(row)
            print(f"{recipe.name} {condition}: done", file=sys.stderr, flush=True)
    return rows


def _timed_beside(recipe: Recipe, folder: Path, extra: tuple[str, ...], env: dict[str, str], busy: bool) -> float:
    """The fit's iterations per second, with the :data:`BUSY` process running beside it when ``busy``."""
    other = subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.DEVNULL) if busy else None
    try:
        run = run_fit(recipe, recipe.warmup + recipe.window, folder, extra, env)
    finally:
        if other is not None:
            other.kill()
            other.wait()
    return clock_rate(run["rows"], recipe.warmup)


def thread_table(rows: list[dict]) -> str:
    names = list(THREAD_SETTINGS)
    lines = [
        "| recipe | machine | " + " | ".join(f"{n} it/s" for n in names) + " | best / auto | auto / before |",
        "|---|---|" + "---:|" * (len(names) + 2),
    ]
    for r in rows:
        speeds = " | ".join(f"{r[n]:.1f}" for n in names)
        lines.append(
            f"| {r['recipe']} | {r['condition']} | {speeds} | {r['auto_vs_best']:.2f} | {r['auto_vs_before']:.2f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    import platform

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", default=",".join(BY_NAME), help="comma-separated: " + ", ".join(BY_NAME))
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (bare, fit, bare) per recipe")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every recipe's timed iterations")
    parser.add_argument(
        "--differenced", action="store_true", help="also time a short fit per round: the differenced wall-time ratio"
    )
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timings")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--threads",
        action="store_true",
        help="time the thread settings (auto, 1, 2, before) of the shipped families idle and beside a busy process",
    )
    parser.add_argument("--conditions", default="idle,busy", help="with --threads: idle, busy or both")
    args = parser.parse_args(argv)
    if args.threads:
        return _threads(args)
    unknown = set(args.recipes.split(",")) - set(BY_NAME)
    if unknown:
        parser.error(f"unknown recipes {sorted(unknown)}; choose from {', '.join(BY_NAME)}")
    began = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.recipes.split(","):
            recipe = BY_NAME[name]
            if args.scale != 1.0:
                recipe = Recipe(name, recipe.args, recipe.warmup, max(20, int(recipe.window * args.scale)))
            results.append(measure(recipe, args.rounds, Path(tmp), args.differenced))
            print(f"{name}: done ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
        startup = [] if args.no_startup else startup_rows(Path(tmp))
    print(f"Machine: {machine()}")
    print(table(results))
    worst = min(results, key=lambda r: r["ratio"])
    print(f"\nWorst ratio: {worst['ratio']:.2f} ({worst['recipe']})")
    for what, seconds in startup:
        print(f"Start-up: {what}: {seconds:.1f} s")
    print(f"Benchmark time: {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results, "startup": startup}, indent=1))
    return results


def _threads(args: argparse.Namespace) -> list[dict]:
    began = time.perf_counter()
    chosen = [r for r in THREAD_RECIPES if args.recipes == ",".join(BY_NAME) or r.name in args.recipes.split(",")]
    if args.scale != 1.0:
        chosen = [Recipe(r.name, r.args, r.warmup, max(20, int(r.window * args.scale))) for r in chosen]
    with tempfile.TemporaryDirectory() as tmp:
        rows = thread_rows(chosen, Path(tmp), args.rounds, tuple(args.conditions.split(",")))
    print(f"Machine: {machine()}")
    print(thread_table(rows))
    print("\nTargets: busy, best / auto <= 1.2; idle, auto / before >= 0.95")
    print(f"Benchmark time: {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "threads": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
