"""GAN training with PyTorch Lightning: Algorithm 1 of Goodfellow et al. (2014) with swappable parts."""

from typing import Any

from gan_module.errors import ConfigError

__all__ = ["GAN", "ConfigError"]


def __getattr__(name: str) -> Any:
    # GAN imports torch and Lightning (seconds): imported on first use, so the light modules (gan_module.run's
    # YAML and fault helpers, which main.py uses before Lightning) do not pay for it
    if name == "GAN":
        from gan_module.model.module import GAN

        return GAN
    raise AttributeError(f"module 'gan_module' has no attribute {name!r}")
