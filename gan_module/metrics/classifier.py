"""A small classifier of a dataset's own classes: the judge of conditional samples and of class coverage.

Inception features mean little on 28x28 digits and need a download; a small CNN trained on the dataset's own
labelled training images is the usual substitute (e.g. for MNIST in Lucic et al. 2018, "Are GANs Created
Equal?"). Its penultimate layer doubles as a feature network for FID/KID (it exposes ``num_features``, which is
what torchmetrics asks of a custom feature extractor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DatasetClassifier(nn.Module):
    """Two conv blocks (32, 64 channels, each conv-BN-ReLU-maxpool) and a 128-d feature layer.

    ``forward`` returns class logits; :meth:`features` the 128-d penultimate activations.
    """

    def __init__(self, image_shape: Sequence[int], num_classes: int, num_features: int = 128) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.image_shape, self.num_classes, self.num_features = tuple(image_shape), num_classes, num_features

        def block(c_in: int, c_out: int) -> nn.Sequential:
            conv = nn.Conv2d(c_in, c_out, 3, padding=1)
            return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(channels, 32), block(32, 64), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(64 * (height // 4) * (width // 4), num_features), nn.ReLU())
        self.head = nn.Linear(num_features, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.body(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 500) -> Tensor:
        """Predicted classes of ``x`` (N, C, H, W), in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.cat([self(b).argmax(1) for b in x.split(batch_size)])
        finally:
            self.train(was_training)

    @torch.no_grad()
    def accuracy(self, x: Tensor, labels: Tensor) -> float:
        return (self.predict(x) == labels.to(x.device)).float().mean().item()


def train_classifier(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    scale: Callable[[Tensor], Tensor] | None = None,
) -> DatasetClassifier:
    """Fit a :class:`DatasetClassifier` on ``images`` (N, C, H, W) with Adam; deterministic given ``seed``.

    ``scale`` turns each minibatch into the classifier's input (a DataModule's uint8 -> value range): the images
    can stay uint8, a quarter of the memory of floats; the minibatches are the same numbers either way."""
    scale = scale or (lambda batch: batch)
    # Lightning evaluates under inference_mode, where no graph can be built: step out of it (and out of any
    # no_grad) for training, with copies of the images made outside it.
    with torch.inference_mode(False), torch.enable_grad():
        images, labels = images.clone(), labels.clone()
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):  # leave the caller's random stream where it was
            torch.manual_seed(seed)
            model = DatasetClassifier(images.shape[1:], num_classes).to(images.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(images), generator=g).split(batch_size):
                loss = F.cross_entropy(model(scale(images[idx])), labels[idx].to(images.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return model.eval()
