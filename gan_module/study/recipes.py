"""``recipes.md``: every candidate's full recipe as its reporting runs trained it, so a reader sees what each
verdict is about: the config files in order, the study's and the candidate's settings, and the settings tuning
chose (tuning.py). Run ``python main.py fit`` with these (and ``--seed_everything=S``) to train one again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_module.study.layout import RECIPES
from gan_module.study.runner import read_best

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study


def write_recipes(study: Study) -> Path:
    lines = [
        f"# Recipes of {study.name}",
        "",
        "Each candidate's reporting runs: config files (in order), then settings (the study's, the candidate's, and"
        + (" the tuned ones, which win)." if study.tune is not None else ") -- the candidates were not tuned."),
        "",
    ]
    for candidate in study.candidates():
        settings: dict[str, Any] = {**study.args, **dict(candidate.args)}
        lines.append(f"## {candidate.name}")
        lines.append("")
        lines.append(f"- configs: {', '.join(f'`{c}`' for c in (*study.base, *candidate.configs))}")
        lines += [f"- `{key}`: `{_text(value)}`" for key, value in settings.items()]
        for replicate in range(study.tune.replicates if study.tune is not None else 0):
            tuned, which = read_best(study, candidate, replicate), f" (tuning {replicate})" * (replicate > 0)
            if tuned is None:
                lines.append(f"- tuned{which}: (tuning not finished)")
            elif tuned.kept_default:
                lines.append(f"- tuned{which}: nothing (its own recipe scored best)")
            elif not tuned.settings:
                lines.append(f"- tuned{which}: nothing (every trial was pruned or diverged: its own settings)")
            lines += (
                [f"- tuned{which} `{key}`: `{_text(value)}`" for key, value in tuned.settings.items()] if tuned else []
            )
        lines.append("")
    path = study.layout.report(RECIPES)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
