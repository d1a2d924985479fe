"""Several studies read as one, each its own dataset: the claims report across them (claim 3 needs two datasets).

The image claims studies (``claims_mnist.yaml``, ``claims_fashion.yaml``) train the same candidates on one
dataset each. Read together, each study becomes a value of a ``dataset`` axis that carries no decision label, so
every within-dataset comparison stays inside its study and claim 3 (generalisation across distributions)
compares each candidate's worst scaled quality over the studies (claims.py). No run is trained again: the
studies' finished runs are read where they are.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from gan_module.checkpoint_io import write_text_atomically
from gan_module.errors import ConfigError
from gan_module.study import finished_results
from gan_module.study.claims import report
from gan_module.study.layout import CLAIMS as CLAIMS_MD
from gan_module.study.result import RunResult
from gan_module.study.spec import Choice, Study
from gan_module.study.timing import read_timing

DATASET = "dataset"


def combine(studies: list[Study]) -> tuple[Study, list[RunResult]]:
    """One study with a ``dataset`` axis (a value per study) and the finished runs of all of them."""
    first = studies[0]
    if len(studies) < 2:
        raise ConfigError("--across needs at least one other study file to read beside the first.")
    for other in studies[1:]:
        if other.objectives["quality"] != first.objectives["quality"]:
            raise ConfigError(
                f"Studies {first.name} and {other.name} measure quality differently "
                f"({first.objectives['quality']} / {other.objectives['quality']}); claims across datasets "
                "compare one quality metric."
            )
        if [c.values for c in other.candidates()] != [c.values for c in first.candidates()]:
            raise ConfigError(
                f"Studies {first.name} and {other.name} have different candidates; claims across datasets "
                "compare the same candidates (give both the same axes, e.g. configs/studies/claims/candidates.yaml)."
            )
    combined = dataclasses.replace(
        first,
        name="+".join(s.name for s in studies),
        axes={DATASET: {s.name: Choice() for s in studies}, **first.axes},
        roles={k: v for s in studies for k, v in s.roles.items()},
    )
    results = []
    for study in studies:
        for run in finished_results(study):
            values = {DATASET: study.name, **run.values}
            results.append(dataclasses.replace(run, values=values, candidate=f"{study.name}-{run.candidate}"))
    return combined, results


def write_across(studies: list[Study]) -> Path:
    """claims.md of the studies read together, in ``<runs root>/<study>+<study>/`` (with their timings, each
    candidate named as in the combined study, so cost is read from them)."""
    combined, results = combine(studies)
    path = combined.layout.report(CLAIMS_MD)
    path.parent.mkdir(parents=True, exist_ok=True)
    timed = {f"{s.name}-{name}": seconds for s in studies for name, seconds in (read_timing(s) or {}).items()}
    if timed:
        write_text_atomically(combined.layout.timing, json.dumps({"seconds_per_1000": timed}, indent=1))
    path.write_text(report(combined, results))
    return path
