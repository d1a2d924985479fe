"""Lightning callbacks that watch and measure a GAN while it trains."""

from callbacks.momentum import MomentumRamp
from callbacks.sample_grid import SampleGrid

__all__ = ["MomentumRamp", "SampleGrid"]
