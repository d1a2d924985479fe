"""Adversarial losses as small callable objects, chosen in YAML by ``class_path: gan_module.losses.<Name>``.

Every loss works on *raw* discriminator outputs, never on probabilities: where a probability is implied, the
softplus / log-sigmoid forms stay finite for any output, where ``log(sigmoid(l))`` underflows to ``-inf`` at
``l = -100``.

The module hands a loss one :class:`Critique` per step: the discriminator's outputs on real and generated
samples, plus the samples themselves. Most losses read only the outputs; a loss whose generator term needs
the outputs on real data sets ``generator_needs_real = True`` and the module computes them in the G step (the
samples are always in the critique: the loss-sensitive GAN reads them); ``probabilistic`` says whether D's
output is a logit of P(real).

=================================  ================================  =========================================
loss                               class                             paper
=================================  ================================  =========================================
saturating minimax                 ``MinimaxLoss``                   Goodfellow et al. 2014, eq. 1
non-saturating                     ``NonSaturatingLoss``             Goodfellow et al. 2014, sec. 3
least squares (LSGAN)              ``LeastSquaresLoss``              Mao et al. 2017, eq. 2
hinge                              ``HingeLoss``                     Lim & Ye 2017; Miyato et al. 2018
Wasserstein (WGAN)                 ``WassersteinLoss``               Arjovsky et al. 2017
relativistic standard (RSGAN)      ``RelativisticLoss``              Jolicoeur-Martineau 2018
relativistic average (RaSGAN)      ``RelativisticAverageLoss``       Jolicoeur-Martineau 2018
relativistic average LS (RaLSGAN)  ``RelativisticAverageLSLoss``     Jolicoeur-Martineau 2018
relativistic average hinge         ``RelativisticAverageHingeLoss``  Jolicoeur-Martineau 2018
f-divergences (f-GAN)              ``FGANLoss``                      Nowozin, Cseke & Tomioka 2016, Tables 1-2
loss-sensitive (LS-GAN)            ``LossSensitiveLoss``             Qi 2017
=================================  ================================  =========================================
"""

from gan_module.losses.base import Critique, GANLoss
from gan_module.losses.fgan import FGANLoss
from gan_module.losses.loss_sensitive import LossSensitiveLoss
from gan_module.losses.relativistic import (
    RelativisticAverageHingeLoss,
    RelativisticAverageLoss,
    RelativisticAverageLSLoss,
    RelativisticLoss,
)
from gan_module.losses.standard import HingeLoss, LeastSquaresLoss, MinimaxLoss, NonSaturatingLoss
from gan_module.losses.wasserstein import WassersteinLoss

__all__ = [
    "Critique",
    "FGANLoss",
    "GANLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "LossSensitiveLoss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "RelativisticAverageHingeLoss",
    "RelativisticAverageLSLoss",
    "RelativisticAverageLoss",
    "RelativisticLoss",
    "WassersteinLoss",
]
