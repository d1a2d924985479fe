"""The selection paper's four questions, answered from a study's measurements.

Motwani & Parmar (2020) choose a GAN by four decision parameters: which architecture, which loss, whether (and
which) regularization, which divergence. Each candidate's ``decision`` labels say where it stands on them; the
runs are grouped by label and the groups compared on the ranking metric (mean over every run of the group).
Axes without decision labels (the dataset, say) are the context: each of their values is answered on its own.
A difference smaller than the larger group's seed spread is reported as such, not as a winner.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from gan_module.study.leaderboard import mean_std
from gan_module.study.spec import DECISIONS, Study

QUESTIONS = {
    "architecture": "Which architecture?",
    "loss": "Which loss?",
    "regularization": "Does regularization help, and which?",
    "divergence": "Which divergence?",
}


def context_axes(study: Study) -> list[str]:
    """Axes none of whose values carries a decision label: answers are given per value of these."""
    return [axis for axis, choices in study.axes.items() if not any(c.decision for c in choices.values())]


def answer(study: Study, results: list[dict[str, Any]]) -> str:
    """Markdown: per context, each decision parameter's groups and what the measurements say."""
    contexts = context_axes(study)
    combos = list(itertools.product(*(study.axes[a] for a in contexts))) or [()]
    better = max if study.rank_mode == "max" else min
    lines = [f"# {study.name}: the four questions (ranked by {study.rank_metric}, {study.rank_mode} is better)", ""]
    for combo in combos:
        where = dict(zip(contexts, combo, strict=True))
        runs = [r for r in results if all(r["values"].get(a) == v for a, v in where.items())]
        title = ", ".join(f"{a} = {v}" for a, v in where.items()) or "all runs"
        lines += [f"## {title}", ""]
        for decision in DECISIONS:
            lines.append(f"- **{QUESTIONS[decision]}** " + _answer_one(study, runs, decision, better))
        lines.append("")
    return "\n".join(lines)


def _answer_one(study: Study, runs: list[dict[str, Any]], decision: str, better) -> str:
    groups: dict[str, list[float]] = {}
    for run in runs:
        label = run["decision"].get(decision)
        if label:
            groups.setdefault(label, []).append(run["metrics"].get(study.rank_metric, math.nan))
    if len(groups) < 2:
        only = f" (every candidate: {next(iter(groups))})" if groups else ""
        return f"not varied in this study{only}."
    stats = {label: mean_std(values) for label, values in groups.items()}
    scored = {label: s for label, s in stats.items() if math.isfinite(s[0])}
    if not scored:
        return "no group has a finite score (every run diverged)."
    best = better(scored, key=lambda label: scored[label][0])
    ordered = sorted(scored, key=lambda label: scored[label][0], reverse=better is max)
    listing = "; ".join(f"{label} {scored[label][0]:.3g} ± {scored[label][1]:.2g}" for label in ordered)
    text = f"**{best}** ({listing})."
    if len(ordered) > 1:
        runner_up = ordered[1]
        gap = abs(scored[best][0] - scored[runner_up][0])
        if gap <= max(scored[best][1], scored[runner_up][1]):
            text += f" The lead over {runner_up} is within the seed spread: not a clear winner."
    if decision == "regularization" and "none" in scored and best != "none":
        text += f" Regularization helped: {best} beats none."
    elif decision == "regularization" and best == "none":
        text += " No regularizer beat training without one here."
    unscored = sorted(set(stats) - set(scored))
    if unscored:
        text += f" Diverged or unscored: {', '.join(unscored)}."
    return text + _like_for_like(study, runs, decision, better)


def _like_for_like(study: Study, runs: list[dict[str, Any]], decision: str, better) -> str:
    """Comparisons between candidates whose *other* decision labels are all equal.

    The groups above mix everything else a label comes with (the "none" regularization group holds every
    unregularized loss); a set of candidates differing in this decision only isolates its effect.
    """
    sets: dict[tuple[str, ...], dict[str, list[float]]] = {}
    for run in runs:
        label = run["decision"].get(decision)
        if label:
            others = tuple(run["decision"].get(d, "") for d in DECISIONS if d != decision)
            score = run["metrics"].get(study.rank_metric, math.nan)
            sets.setdefault(others, {}).setdefault(label, []).append(score)
    parts = []
    for others, groups in sets.items():
        scored = {label: mean_std(v) for label, v in groups.items() if math.isfinite(mean_std(v)[0])}
        if len(scored) < 2:
            continue
        ordered = sorted(scored, key=lambda label: scored[label][0], reverse=better is max)
        first, second = scored[ordered[0]], scored[ordered[1]]
        close = abs(first[0] - second[0]) <= max(first[1], second[1])
        listing = " > ".join(f"{label} {scored[label][0]:.3g}" for label in ordered)
        where = " / ".join(o for o in others if o)
        parts.append(f"{where}: {listing}" + (" (within the seed spread)" if close else ""))
    if not parts:
        return ""
    return f" Like for like (the other decision labels equal): {'; '.join(parts)}."


def write_answers(study: Study, results: list[dict[str, Any]]) -> Path:
    path = study.folder / "answers.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(answer(study, results))
    return path
