"""The evaluation metrics behind one interface, found by name: ``evaluation.metrics: [fid, parzen, ...]``.

A metric is one small class beside its maths: its ``key`` (what YAML names), the ``outputs`` it logs after
its protocol name (gan_module/names.py builds that name), what data it applies to, and ``score``. The
``Evaluation`` callback only generates samples, hands them to every metric that applies, and logs. Adding a
metric is one class: decorate it with :func:`register` (the shipped ones), or name it in YAML by its import
path (``evaluation.metrics: [fid, my_package.metrics.Sharpness]``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from gan_module.errors import ConfigError
from gan_module.metrics.base import (  # noqa: F401  (EvaluationContext, EvaluationMetric: their old home)
    REGISTRY,
    EvaluationContext,
    EvaluationMetric,
    register,
)
from gan_module.names import EVAL, SAMPLER_COSTS, sampler_cost_key


def metric_class(name: str) -> type[EvaluationMetric]:
    """The class a name in ``evaluation.metrics`` stands for: a registered key, or an import path."""
    _load_shipped()
    if name in REGISTRY:
        return REGISTRY[name]
    module, _, attribute = name.rpartition(".")
    found = None
    if module:
        try:
            found = getattr(importlib.import_module(module), attribute, None)
        except ImportError:
            found = None
    if not (isinstance(found, type) and issubclass(found, EvaluationMetric)):
        raise ConfigError(
            f"evaluation.metrics: unknown {name!r}; choose from {sorted(REGISTRY)} or give the import path of an "
            "EvaluationMetric subclass (gan_module/metrics/registry.py)."
        )
    return found


def logged_names(
    metrics: Iterable[str], *, num_samples: int, feature: str, real_split: str, sampler: str | None = None
) -> list[str]:
    """Every name an evaluation of ``metrics`` under these settings can log (per-class shares aside): the plain
    generator's, and with a discriminator-guided ``sampler`` (its name part) also the sampler's and its cost."""
    metrics = list(metrics)
    settings = {"num_samples": num_samples, "feature": feature, "real_split": real_split}
    found = [name for m in metrics for name in metric_class(m).logged_names(**settings)]
    if sampler:
        found += [name for m in metrics for name in metric_class(m).logged_names(**settings, sampler=sampler)]
        found += [sampler_cost_key(sampler, what) for what in SAMPLER_COSTS]
    return list(dict.fromkeys(found))


def default_margin(logged: str) -> float | None:
    """The default equivalence margin of a logged metric name (``eval/modes_2500_high_quality``: 0.05), or None
    when its metric declares none."""
    return _declared(logged, "margins")


def ideal_value(logged: str) -> float | None:
    """What a perfect generator scores on a logged metric name (``eval/fid_classifier_2k_test``: 0), or None when
    its metric declares none (EvaluationMetric.ideals)."""
    return _declared(logged, "ideals")


def _declared(logged: str, table: str) -> float | None:
    """The value a metric class declares in ``table`` (``margins``, ``ideals``: logged-name suffix -> value) for a
    logged name: the longest suffix it ends with wins."""
    _load_shipped()
    for cls in REGISTRY.values():
        if logged.startswith(f"{EVAL}{cls.key}_"):
            declared = getattr(cls, table)
            suffixes = sorted((s for s in declared if logged.endswith(s)), key=len, reverse=True)
            if suffixes:
                return declared[suffixes[0]]
    return None


def _load_shipped() -> None:
    """The shipped metrics register themselves when their modules are imported."""
    import gan_module.metrics.coverage
    import gan_module.metrics.distribution
    import gan_module.metrics.parzen  # noqa: F401
