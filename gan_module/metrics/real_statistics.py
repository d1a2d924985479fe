"""The real split's side of FID and KID, cached on disk: computed once per dataset, split and feature network.

Every evaluation compares its samples with the same real split, and on a CPU the Inception features of the
10,000 MNIST test digits take as long as the samples' own (about 12 minutes on 2 threads). StyleGAN2-ADA caches
its dataset statistics the same way (``metric_utils.compute_feature_stats_for_dataset``, keyed by the dataset
and the detector). The key names everything the statistics depend on:

- the metric (FID keeps a feature sum and covariance sum, KID every real feature row);
- the feature network, by a digest of its weights (a retrained dataset classifier gets new statistics);
- the dataset and split by their content, never their place: :func:`~gan_module.metrics.features.dataset_key`
  names them by the data module's ``content_digest`` (a folder's held-out files by their bytes), so a folder moved,
  renamed or copied reuses its statistics and one changed image computes them anew.

A file is written whole or not at all (:func:`~gan_module.checkpoint_io.write_atomically`), so runs sharing the
cache never read half of one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from gan_module.checkpoint_io import write_atomically
from gan_module.metrics.features import dataset_key
from gan_module.metrics.inception import tensors_digest

DEFAULT_STATISTICS_CACHE = Path("~/.cache/gan-selection/real-statistics")
#: the prefix torchmetrics gives the states of the real side (FID's sums, KID's feature rows)
REAL_STATE_PREFIX = "real_"


def statistics_file(cache_dir: str | Path, metric_key: str, network: nn.Module, datamodule, split: str) -> Path:
    """Where ``metric_key``'s real statistics of ``split`` under ``network``'s features are cached."""
    network_digest = tensors_digest(network.state_dict())[:12]
    rule = getattr(network, "quantization", None)  # how the network turns floats into its input
    name = f"{metric_key}-{network_digest}{'-' + rule if rule else ''}-{dataset_key(datamodule, split)}.pt"
    return Path(cache_dir).expanduser() / name


def real_states(metric) -> dict[str, Any]:
    """A torchmetrics metric's real-side states (tensors, or lists of tensors)."""
    return {name: value for name, value in metric.metric_state.items() if name.startswith(REAL_STATE_PREFIX)}


def load_or_compute(metric, path: Path | None, feed_real: Callable[[], None], device: torch.device) -> None:
    """Give ``metric`` its real statistics: from ``path`` if cached there, else by ``feed_real()`` (and saved
    there). ``path`` None: always computed, nothing written."""
    if path is not None and path.is_file():
        saved = torch.load(path, map_location=device, weights_only=True)
        for name, value in saved.items():
            setattr(metric, name, value)
        rank_zero_info(f"evaluation: real statistics read from the cache: {path}")
        return
    feed_real()
    if path is not None:
        states = {
            name: [t.cpu() for t in value] if isinstance(value, list) else value.cpu()
            for name, value in real_states(metric).items()
        }
        write_atomically(path, lambda file: torch.save(states, file))
        rank_zero_info(f"evaluation: real statistics computed and cached: {path}")
