"""Every name that more than one room reads: the logged keys, the four training issues, how evaluation metrics
are named (each metric declares the protocol parts and outputs of its names: gan_module/metrics/registry.py).

The module and the callbacks write them, loggers, the study and the benchmarks read them; a name typed in two
places drifts apart silently (a renamed metric leaves a study ranking on a key that no longer exists).
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------------ training
LOSS_D, LOSS_G = "loss_d", "loss_g"
#: progress in the units GAN papers use (generator iterations, thousands of real images) and wall-clock seconds
ITERATIONS, KIMG, SECONDS = "progress/iterations", "progress/kimg", "progress/seconds"
#: diagnostics of the D and G steps (gan_module/model/module.py writes them, callbacks/diagnostics.py reads them)
D_REAL, D_FAKE, D_ACCURACY, SPREAD_RATIO = "diag/d_real", "diag/d_fake", "diag/d_accuracy", "diag/spread_ratio"
GRAD_NORM_D, GRAD_NORM_G = "diag/grad_norm_d", "diag/grad_norm_g"

#: the training issues of Motwani & Parmar (2020), flagged by callbacks/diagnostics.py and ranked by the study
MODE_COLLAPSE, VANISHING_GRADIENT = "mode_collapse", "vanishing_gradient"
UNSTABLE_TRAINING, NON_CONVERGENCE = "unstable_training", "non_convergence"
ISSUES = (MODE_COLLAPSE, VANISHING_GRADIENT, UNSTABLE_TRAINING, NON_CONVERGENCE)
#: the issues that say training did not settle (the study's instability criterion)
UNSETTLED = (UNSTABLE_TRAINING, NON_CONVERGENCE)
#: the progress bar's count of issues flagged at this step
ISSUES_NOW = "issues"
#: D's accuracy on a held-out split (``val/d_accuracy``; the training diagnostic is :data:`D_ACCURACY`)
HELD_OUT_D_ACCURACY = "d_accuracy"


def issue_key(issue: str) -> str:
    """The logged 0/1 flag of one of :data:`ISSUES`."""
    return f"issue/{issue}"


def regularizer_key(name: str) -> str:
    """A regularizer's penalty term as logged on logging steps (``reg/GradientPenalty``)."""
    return f"reg/{name}"


def split_key(split: str, name: str) -> str:
    """A number measured on a held-out split (``val/loss_d``, ``test/d_accuracy``)."""
    return f"{split}/{name}"


# ---------------------------------------------------------------------------------------------- evaluation
EVAL = "eval/"
CLASSIFIER_ACCURACY = EVAL + "classifier_test_accuracy"


def count(n: int) -> str:
    """10000 -> ``10k``, 2500 -> ``2500``: sample counts as metric names carry them."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def eval_name(
    metric: str,
    num_samples: int,
    feature: str | None = None,
    real_split: str | None = None,
    sampler: str | None = None,
) -> str:
    """A metric's logged name with its protocol in it, so numbers of different protocols never share a name:
    ``eval/<metric>[_<feature network>]_<samples>[_<real split>][_<sampler>]`` (``eval/fid_classifier_10k_test``;
    ``eval/modes_2500_drs`` + ``_high_quality`` for samples refined by discriminator rejection sampling). The
    plain generator's samples carry no sampler part, so its names are those every study already ranks by."""
    parts = [metric, feature, count(num_samples), real_split, sampler]
    return EVAL + "_".join(part for part in parts if part)


#: what a discriminator-guided sampler cost in an evaluation (gan_module/samplers/): generator samples drawn per
#: sample kept, seconds per 1,000 samples kept, and the share of samples handed out at its cap (DRS: G's plain
#: sample after max_draws_per_sample; MH-GAN: a chain run again from G)
SAMPLER_DRAWS, SAMPLER_SECONDS, SAMPLER_CAPPED = "draws_per_sample", "seconds_per_1k", "capped_share"
SAMPLER_COSTS = (SAMPLER_DRAWS, SAMPLER_SECONDS, SAMPLER_CAPPED)


def sampler_cost_key(sampler: str, what: str) -> str:
    """``eval/sampler_drs_draws_per_sample``: one of :data:`SAMPLER_COSTS` of a sampler."""
    return f"{EVAL}sampler_{sampler}_{what}"
