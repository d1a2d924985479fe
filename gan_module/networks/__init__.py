"""Generator and discriminator networks.

The contract every network keeps, so the module and the callbacks can use any of them:

- a generator takes ``image_shape`` (C, H, W, linked from the data by main.py), exposes ``latent_dim`` and
  ``output_range`` (the interval its last activation maps to), and maps noise (N, latent_dim) to images
  (N, C, H, W);
- a discriminator takes ``image_shape`` and maps images (N, C, H, W) to raw outputs (N,): logits for the
  probability-based losses, critic values for the Wasserstein ones. No sigmoid at the end: the loss applies it.
"""

from gan_module.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_module.networks.mlp import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MaxoutDiscriminator",
]
