"""Every name that more than one room reads: the logged keys, the four training issues, the evaluation metrics'
names. The module and the callbacks write them, loggers, the study and the benchmarks read them; a name typed
in two places drifts apart silently (a renamed metric leaves a study ranking on a key that no longer exists).
"""

from __future__ import annotations

from collections.abc import Iterable

from gan_module.metrics.coverage import CAPTURE_RULES

# ------------------------------------------------------------------------------------------------ training
LOSS_D, LOSS_G = "loss_d", "loss_g"
#: progress in the units GAN papers use (generator iterations, thousands of real images) and wall-clock seconds
ITERATIONS, KIMG, SECONDS = "progress/iterations", "progress/kimg", "progress/seconds"
#: diagnostics of the D and G steps (gan_module/module.py writes them, callbacks/diagnostics.py reads them)
D_REAL, D_FAKE, D_ACCURACY, DIVERSITY = "diag/d_real", "diag/d_fake", "diag/d_accuracy", "diag/diversity"
GRAD_NORM_D, GRAD_NORM_G = "diag/grad_norm_d", "diag/grad_norm_g"

#: the training issues of Motwani & Parmar (2020), flagged by callbacks/diagnostics.py and ranked by the study
ISSUES = ("mode_collapse", "vanishing_gradient", "unstable_training", "non_convergence")


def issue_key(issue: str) -> str:
    """The logged 0/1 flag of one of :data:`ISSUES`."""
    return f"issue/{issue}"


def split_key(split: str, name: str) -> str:
    """A number measured on a held-out split (``val/loss_d``, ``test/d_accuracy``)."""
    return f"{split}/{name}"


# ---------------------------------------------------------------------------------------------- evaluation
EVAL = "eval/"
#: what each evaluation metric logs after its protocol name (``classes`` also logs ``_share/<label>``)
EVAL_OUTPUTS: dict[str, tuple[str, ...]] = {
    "fid": ("",),
    "kid": ("", "_std"),
    "is": ("", "_std"),
    "parzen": ("", "_stderr", "_sigma"),
    "classes": ("_covered", "_kl"),
    "modes": (*(f"_captured_{rule}" for rule in CAPTURE_RULES), "_high_quality", "_reverse_kl"),
}
CLASSIFIER_ACCURACY = EVAL + "classifier_test_accuracy"


def count(n: int) -> str:
    """10000 -> ``10k``, 2500 -> ``2500``: sample counts as metric names carry them."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def eval_name(metric: str, feature: str, num_samples: int, real_split: str) -> str:
    """A metric's logged name with its protocol in it: numbers of different protocols never share a name."""
    n = count(num_samples)
    if metric in ("fid", "kid"):
        return f"{EVAL}{metric}_{feature}_{n}_{real_split}"
    if metric == "is":
        return f"{EVAL}is_{feature}_{n}"
    if metric == "parzen":
        return f"{EVAL}parzen_{n}_{real_split}"
    return f"{EVAL}{metric}_{n}"


def eval_names(metrics: Iterable[str], feature: str, num_samples: int, real_split: str) -> list[str]:
    """Every name the evaluation of ``metrics`` under these settings can log (per-class shares aside)."""
    names = [
        eval_name(metric, feature, num_samples, real_split) + suffix
        for metric in metrics
        for suffix in EVAL_OUTPUTS[metric]
    ]
    return names + ([CLASSIFIER_ACCURACY] if "classes" in metrics else [])
