"""The sampler every user-facing sample goes through: the plain generator, unless a discriminator guides it.

:meth:`gan_module.model.sampling.Sampling.generate` hands its noise and labels to the module's sampler; sample
grids, evaluation, ``test``, ``predict`` and the study's scoring all call ``generate``. A sampler that uses D
(gan_module/samplers/rejection.py, metropolis.py) draws more generator samples than it returns, and its metrics
carry its :attr:`Sampler.label` in their names (gan_module/names.py ``eval_name``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from gan_module.errors import ConfigError
from gan_module.samplers.cost import SamplingCost

log = logging.getLogger(__name__)


class Sampler:
    """Plain G: the generator's samples as they are (the default ``model.sampler``).

    Subclasses set :attr:`label` (the name part of their metrics) and override :meth:`draw`; they may read
    the module's ``generate_plain``, ``judge``, ``sample_noise``, ``pack``, ``num_classes`` and the data's
    held-out ``val`` split (never the test split: the test split scores them).
    """

    #: the part of its metrics' names (``eval/modes_2500_drs_high_quality``); None: the plain generator's names
    label: ClassVar[str | None] = None
    #: it calibrates D on held-out real images (the data's ``val`` split must not be empty)
    needs_held_out: ClassVar[bool] = False

    def __init__(self) -> None:
        self.cost = SamplingCost()

    @property
    def guides(self) -> bool:
        """Whether it changes what G gives (and so is scored under a name of its own)."""
        return self.label is not None

    def draw(self, module: Any, z: Tensor, labels: Tensor | None) -> Tensor:
        """Samples for the noise ``z`` (and labels): here G's, from ``z`` itself."""
        return module.generate_plain(z, labels)

    def check_data(self, held_out: int) -> None:
        """Before training: a sampler that calibrates on held-out real images needs some."""
        if self.needs_held_out and held_out < 2:
            raise ConfigError(
                f"model.sampler {type(self).__name__} calibrates the discriminator on the data's val split, which "
                f"holds {held_out} samples: set data.init_args.val_size to a few thousand (the test split is kept "
                "for scoring)."
            )

    def check_augment(self, augment: Any) -> None:
        """Before training or testing: a guided sampler reads D on clean images, which a D trained under
        ``model.augment`` never saw (cutout hides part of every input it judges). Measured on 2,000 Fashion-MNIST
        images, DRS on such a D made FID worse on every seed (docs/results.md, "Limited data"): said in one line,
        by global rank 0 only (every rank of a distributed run sets up the same model)."""
        if self.guides and augment is not None and rank_zero_only.rank == 0:
            log.warning(
                "model.sampler %s reads D on clean images, but this D was trained on augmented ones "
                "(model.augment): on limited Fashion-MNIST, DRS on such a D made FID worse on every seed "
                "(docs/results.md, Limited data); to sample this model raw, leave out the sampler config.",
                type(self).__name__,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@contextlib.contextmanager
def judging(module: Any) -> Iterator[None]:
    """D in eval mode (no dropout, running batch-norm statistics) while a sampler reads it; restored after."""
    network = module.discriminator
    was_training = network.training
    network.eval()
    try:
        yield
    finally:
        network.train(was_training)
