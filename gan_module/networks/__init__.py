"""Generator and discriminator networks.

The contract every network keeps, so the module and the callbacks can use any of them (the shipped ones derive
from :class:`~gan_module.networks.base.Generator` and :class:`~gan_module.networks.base.Discriminator`, which
set the shared attributes):

- both take ``image_shape``, ``num_classes`` and ``conditional`` first. ``image_shape`` and ``num_classes`` are
  linked from the DataModule by main.py: ``image_shape`` is (C, H, W) for images or (2,) for 2-D point data;
  ``num_classes`` is 0 for unlabelled data. ``conditional: true`` builds a class-conditional network p(x|y) and
  needs labelled data (a :class:`~gan_module.errors.ConfigError` otherwise). Each exposes ``num_classes``, the
  number of classes it is conditioned on: the data's when ``conditional``, else 0;
- a generator exposes ``latent_dim`` and ``output_range`` (the interval its last activation maps to, ``None`` for
  a linear output) and maps noise (N, latent_dim) [and int64 labels (N,)] to samples (N, *image_shape);
- a discriminator maps samples (N, *image_shape) [and labels] to raw outputs (N,): logits for the
  probability-based losses, critic values for the Wasserstein ones. No sigmoid at the end: the loss applies it;
- ``forward(z_or_x, y=None)``: a conditional network called without labels raises ``ValueError``; an
  unconditional one ignores ``y``.

Conditioning (:mod:`gan_module.networks.conditioning`): MLP generators, and convolutional ones without batch
norm, concatenate a label embedding to z (Mirza & Osindero 2014; learned, of z's size unless ``embedding_dim``
says otherwise, 0 for one-hot labels); convolutional generators with batch norm use
class-conditional batch norm (Miyato & Koyama 2018); every discriminator adds the projection term
``<embed(y), h>`` on its last features (Miyato & Koyama 2018). Spectral norm is not part of any network: the
module adds it by a switch (:func:`~gan_module.networks.normalization.add_spectral_norm`).
"""

from gan_module.networks.base import Discriminator, Generator
from gan_module.networks.conditioning import ConditionalBatchNorm, LabelEmbedding, Projection
from gan_module.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_module.networks.mlp import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator
from gan_module.networks.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "ConditionalBatchNorm",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator",
    "Generator",
    "LabelEmbedding",
    "MLPDiscriminator",
    "MLPGenerator",
    "MaxoutDiscriminator",
    "Projection",
    "ResNetDiscriminator",
    "ResNetGenerator",
]
