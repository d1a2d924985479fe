"""Lightning callbacks that watch and measure a GAN while it trains."""

from callbacks.budget import IterationBudget
from callbacks.diagnostics import TrainingDiagnostics
from callbacks.evaluation import Evaluation
from callbacks.interpolation import LatentInterpolation
from callbacks.last_checkpoint import LastCheckpoint
from callbacks.momentum import MomentumRamp
from callbacks.output_bias import OutputBiasFromMarginals
from callbacks.prediction_writer import PredictionWriter
from callbacks.preemption import Preemption
from callbacks.progress_bar import ProgressBar
from callbacks.sample_grid import SampleGrid
from callbacks.thread_tuner import ThreadTuner

__all__ = [
    "Evaluation",
    "IterationBudget",
    "LastCheckpoint",
    "LatentInterpolation",
    "MomentumRamp",
    "OutputBiasFromMarginals",
    "PredictionWriter",
    "Preemption",
    "ProgressBar",
    "SampleGrid",
    "ThreadTuner",
    "TrainingDiagnostics",
]
