"""The application profile picks the GAN: weights on quality, diversity and cost, and hard limits.

A study file's ``application: {quality: 0.5, diversity: 0.4, cost: 0.1, max_seconds_per_iteration: 0.05}``
says what the application needs (Motwani & Parmar 2020 choose by the issues an application cannot live with;
this makes the trade-off explicit). Within one context (dataset), each criterion is scaled so the best
candidate's mean is 1 and the worst's 0 (cost on a log scale: twice as slow costs the same at any speed), and a
run's score is the weighted mean of its scaled criteria. The candidate with the highest mean score wins; the
runners-up are those whose score is not detectably lower than the winner's (paired over seeds, Holm-corrected;
statistics.py), so "use X" comes with the list of equally good choices at this number of seeds. A diverged run
scores the worst value observed on each criterion: it ranks last, as in every comparison of the study.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gan_module.study.criteria import COST, INSTABILITY, WEIGHED, Criterion, by_candidate, by_seed, criteria
from gan_module.study.result import RunResult
from gan_module.study.schema import DECISIONS
from gan_module.study.statistics import BETTER, Comparison, Interval, Pair, compare_family, mean_interval

if TYPE_CHECKING:  # only for type hints: spec.py reads the claims and criteria it checks against
    from gan_module.study.spec import Study


@dataclass(frozen=True)
class Pick:
    """The winner of one context, its runners-up (no detectable difference) and who the limits left out."""

    winner: str
    scores: dict[str, Interval]
    runners_up: list[Comparison]
    left_out: dict[str, str]


def _scale(criterion: Criterion, means: dict[str, float]) -> tuple[float, float]:
    """(worst, best) of the candidates' means, on the scale the score uses (log seconds for cost)."""
    values = [v for v in (_oriented(criterion, m) for m in means.values()) if math.isfinite(v)]
    return (min(values), max(values)) if values else (math.nan, math.nan)


def _oriented(criterion: Criterion, value: float) -> float:
    """Higher is better, and cost in log seconds."""
    if criterion.name == COST:
        value = math.log(value) if value > 0 else math.nan
    return value if criterion.higher_is_better else -value


def seed_scores(study: Study, runs: list[RunResult]) -> dict[str, dict[int, float]]:
    """Each candidate's weighted score per seed (1: best mean on every weighted criterion). A diverged run (no
    value) takes the worst value any run of the context has on that criterion: it ranks last, as in the
    comparisons (statistics.py)."""
    weights = {c: study.application.get(c, 0.0) for c in WEIGHED if study.application.get(c, 0.0) > 0}
    known = criteria(study)
    grouped = by_candidate(runs)
    scores: dict[str, dict[int, float]] = {name: {} for name in grouped}
    for role, weight in weights.items():
        criterion = known[role]
        per_seed = floor_diverged({name: by_seed(group, criterion) for name, group in grouped.items()}, criterion)
        means = {name: math.fsum(v.values()) / len(v) if v else math.nan for name, v in per_seed.items()}
        worst, best = _scale(criterion, means)
        for name, values in per_seed.items():
            for seed, value in values.items():
                scaled = (_oriented(criterion, value) - worst) / (best - worst) if best > worst else 1.0
                scaled = scaled if math.isfinite(scaled) else 0.0  # no run of the context has a value
                scores[name][seed] = scores[name].get(seed, 0.0) + weight * scaled
    total = math.fsum(weights.values())
    return {name: {seed: s / total for seed, s in values.items()} for name, values in scores.items()}


def floor_diverged(per_seed: dict[str, dict[int, float]], criterion: Criterion) -> dict[str, dict[int, float]]:
    """Every candidate's values by seed, a missing value (a diverged run) replaced by the worst value observed."""
    finite = [v for values in per_seed.values() for v in values.values() if math.isfinite(v)]
    if not finite:
        return per_seed
    worst = min(finite) if criterion.higher_is_better else max(finite)
    return {n: {s: v if math.isfinite(v) else worst for s, v in values.items()} for n, values in per_seed.items()}


def left_out(study: Study, runs: list[RunResult]) -> dict[str, str]:
    """Candidates whose mean measured cost breaks one of the profile's hard limits, with the reason."""
    found = {}
    cost = criteria(study)[COST]
    for name, group in by_candidate(runs).items():
        per_iteration = math.fsum(cost.of(r) for r in group) / len(group)
        per_run = math.fsum(r.run_seconds for r in group) / len(group)
        limit = study.application.get("max_seconds_per_iteration")
        if limit is not None and not per_iteration <= limit:
            found[name] = f"{per_iteration:.3g} s per iteration > {limit:g}"
        limit = study.application.get("max_seconds_per_run")
        if limit is not None and not per_run <= limit:
            found[name] = f"{per_run:.3g} s per run > {limit:g}"
    return found


def choose(study: Study, runs: list[RunResult]) -> Pick | None:
    """The GAN for the study's application in these runs (one context), or None when no candidate qualifies."""
    excluded = left_out(study, runs)
    scores = {name: s for name, s in seed_scores(study, runs).items() if name not in excluded}
    if not scores:
        return None
    intervals = {name: mean_interval(list(s.values())) for name, s in scores.items()}
    winner = max(intervals, key=lambda name: intervals[name].mean)
    others = [name for name in scores if name != winner]
    judged = compare_family([Pair(scores[winner], scores[name], (winner, name)) for name in others])
    # not detectably behind: no detectable difference, or too few seeds to tell
    runners_up = sorted((c for c in judged if c.verdict != BETTER), key=lambda c: c.difference or 0.0)
    return Pick(winner, intervals, runners_up, excluded)


def describe(study: Study, runs: list[RunResult]) -> list[str]:
    """Markdown lines: the GAN to use for this context, why, and the runners-up inside the interval."""
    profile = ", ".join(f"{k} {v:g}" for k, v in study.application.items())
    if not runs:
        return [f"- **The GAN for this application** ({profile}): no finished runs yet."]
    pick = choose(study, runs)
    if pick is None:
        return [f"- **The GAN for this application** ({profile}): no candidate meets the limits."]
    winner_runs = by_candidate(runs)[pick.winner]
    labels = winner_runs[0].decision
    decision = ", ".join(f"{d} {labels[d]}" for d in DECISIONS if labels.get(d))
    measured = []
    for role, criterion in criteria(study).items():
        interval = mean_interval([criterion.of(r) for r in winner_runs])
        unit = " s" if role == COST else ""
        measured.append(f"{role if role in (COST, INSTABILITY) else criterion.label} {interval}{unit}")
    diverged = sum(r.diverged for r in winner_runs)
    lines = [
        f"- **The GAN for this application** ({profile}): **{pick.winner}** -- {decision}. Score "
        f"{pick.scores[pick.winner]} of 1 (1: the best mean on every weighted criterion); "
        f"{'; '.join(measured)}; diverged on {diverged} of {len(winner_runs)} seeds.",
    ]
    if pick.runners_up:
        close = "; ".join(f"{c.b} ({pick.scores[c.b].mean:.3g}: {c})" for c in pick.runners_up)
        lines.append(f"  Runners-up inside the interval (score not detectably lower): {close}.")
    else:
        lines.append("  Every other candidate's score is detectably lower (paired over seeds, Holm-corrected).")
    if pick.left_out:
        lines.append("  Left out by the limits: " + "; ".join(f"{n} ({why})" for n, why in pick.left_out.items()) + ".")
    return lines
