"""``python -m benchmarks.ddp``: the cost of the ways to run Algorithm 1 data-parallel, through ``main.py``.

Trains the same config for the same number of batches per process with

- one process (the reference);
- ``GANDDPStrategy`` (configs/trainer/ddp.yaml): no DistributedDataParallel wrapper, one all-reduce of each
  player's gradients after its backward;
- Lightning's ``ddp_find_unused_parameters_true``: the DDP wrapper, which walks the autograd graph after every
  backward to find the player that got no gradient.

and prints the steady-state iterations per second of each (rank 0's view: every rank steps in lockstep) and
the images per second over all ranks. On a CPU the processes share the cores, so the figure that transfers to
GPUs is the ratio between the two DDP strategies, not the speed-up over one process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L

from gan_module.run.layout import RunLayout

STRATEGIES = {
    "1 process": [],
    "GANDDPStrategy x2": ["--config", "configs/trainer/ddp.yaml", "--trainer.devices=2"],
    "ddp_find_unused_parameters_true x2": ["--trainer.strategy=ddp_find_unused_parameters_true", "--trainer.devices=2"],
}


class SpeedRecorder(L.Callback):
    """Writes rank 0's iterations per second after ``warmup`` iterations to ``<run>/speed.json``."""

    def __init__(self, warmup: int = 20) -> None:
        self.warmup, self.start = warmup, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.iterations == self.warmup and self.start is None:
            self.start, self.first = time.perf_counter(), pl_module.iterations

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and self.start is not None:
            rate = (pl_module.iterations - self.first) / (time.perf_counter() - self.start)
            batch = trainer.datamodule.batch_size * trainer.world_size
            payload = {"iterations_per_second": rate, "images_per_second": rate * batch}
            (Path(trainer.default_root_dir) / "speed.json").write_text(json.dumps(payload))


def run(config: str, batches: int, extra: list[str], folder: Path) -> dict:
    cmd = [sys.executable, "main.py", "fit", "--config", config, *extra]
    cmd += [
        "--trainer.accelerator=cpu",
        "--trainer.max_epochs=1",
        f"--trainer.limit_train_batches={batches}",
        "--trainer.limit_val_batches=0",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={folder}",
        "--trainer.callbacks+=benchmarks.ddp.SpeedRecorder",
        "--sample_grid.every_n_epochs=0",
        "--interpolation.every_n_epochs=0",
        "--diagnostics.every_n_steps=0",
    ]
    env = {k: v for k, v in os.environ.items() if k != "GAN_RUN_DIR"}
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return json.loads((RunLayout.numbered(folder, 0).root / "speed.json").read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--batches", type=int, default=150, help="training batches per process")
    args = parser.parse_args(argv)
    print(f"{args.config}, {args.batches} batches per process, CPU (gloo)\n")
    print("| strategy | it/s (rank 0) | images/s (all ranks) |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(STRATEGIES.items()):
            speed = run(args.config, args.batches, extra, Path(tmp) / str(i))
            print(f"| {name} | {speed['iterations_per_second']:.1f} | {speed['images_per_second']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
