"""Samplers: how the samples a user sees are drawn from a trained GAN (``model.sampler`` in YAML).

==========================  ========================  ==============================================
sampler                     class                     paper
==========================  ========================  ==============================================
plain G (the default)       ``Sampler``               Goodfellow et al. 2014
discriminator rejection     ``DiscriminatorRejection``  Azadi et al. 2019 (DRS)
Metropolis-Hastings         ``MetropolisHastings``    Turner et al. 2019 (MH-GAN)
==========================  ========================  ==============================================

The guided ones calibrate D's logit on the data's held-out ``val`` split (calibration.py) and name their
metrics with their :attr:`Sampler.label` (``eval/modes_2500_drs_high_quality``); the plain generator's numbers
are logged beside them under the usual names.
"""

from __future__ import annotations

import importlib

from gan_module.samplers.base import Sampler
from gan_module.samplers.cost import SamplingCost
from gan_module.samplers.metropolis import MetropolisHastings
from gan_module.samplers.rejection import DiscriminatorRejection

__all__ = ["DiscriminatorRejection", "MetropolisHastings", "Sampler", "SamplingCost", "label_of"]


def label_of(class_path: str | None) -> str | None:
    """The metric-name part of the sampler a config's ``model.sampler.class_path`` names (None: plain G)."""
    if not class_path:
        return None
    module, _, name = class_path.rpartition(".")
    found = getattr(importlib.import_module(module), name, None)
    return getattr(found, "label", None)
