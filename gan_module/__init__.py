"""GAN training with PyTorch Lightning: Algorithm 1 of Goodfellow et al. (2014) with swappable parts."""

from gan_module.errors import ConfigError
from gan_module.model.module import GAN

__all__ = ["GAN", "ConfigError"]
