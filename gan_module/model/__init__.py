"""The GAN: the LightningModule that runs Algorithm 1 (module.py) and the parts mixed into it, each owning the
state and the Lightning hooks it touches (stepping, sampling, diagnostics, logging, held-out data, preparation,
run state), with the plain objects it holds (progress, packing, the set-up checks and the diagnostics' maths)."""

from gan_module.model.module import GAN

__all__ = ["GAN"]
