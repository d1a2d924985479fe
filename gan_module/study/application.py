"""The application profile picks the GAN: weights on quality, diversity and cost, and hard limits.

A study file's ``application: {quality: 0.5, diversity: 0.4, cost: 0.1, max_seconds_per_iteration: 0.05}``
says what the application needs (Motwani & Parmar 2020 choose by the issues an application cannot live with;
this makes the trade-off explicit; without one, quality alone). Each criterion is read on a scale no other
candidate moves (references.py): quality and diversity as the fraction of the way from the candidate's untrained
level (iteration 0) to the metric's ideal, floored at 0 -- a diverged run learned nothing and scores 0, the worst
there is; cost as -log2 of seconds per 1,000 generator iterations (timing.py's interleaved timing where the
study has one), so twice as fast is +1 whatever the speed and 1% of timing noise moves a score by 0.014 times the
cost weight. A run's score is the weighted mean of its scaled criteria. Adding or removing a candidate changes no
other candidate's score, so it cannot flip the pick between two others.

The candidate with the highest mean score is the pick; pick.py says how sure that is (its probability of being
best when seeds and tunings are drawn again), how often one of its runs fails, and over which weights it stays
best; the runners-up are the candidates whose score is not detectably lower (statistics.py, two-level where the
tuning is replicated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gan_module.study.criteria import COST, INSTABILITY, WEIGHED, by_candidate, by_seed, criteria, finite_mean
from gan_module.study.references import fixed_ends, pool_ends, scaled
from gan_module.study.result import RunResult
from gan_module.study.statistics import BETTER, Comparison, Interval, Pair, compare_family, mean_interval
from gan_module.study.timing import read_timing
from gan_module.study.tuning_noise import tuning_noise

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

Values = dict[str, dict[tuple[int, int], float]]  # candidate -> (tuning, seed) -> a scaled criterion


def profile(study: Study) -> dict[str, float]:
    """The application's weights (quality alone when the study names none), summing to 1."""
    weights = {c: float(study.application.get(c, 0.0)) for c in WEIGHED if study.application.get(c, 0.0) > 0}
    weights = weights or {"quality": 1.0}
    total = math.fsum(weights.values())
    return {c: w / total for c, w in weights.items()}


def available(study: Study) -> list[str]:
    """The criteria a pick can weigh in this study: quality, diversity when it names a metric, cost."""
    return [c for c in WEIGHED if c in criteria(study)]


def seconds_per_1000(study: Study, runs: list[RunResult]) -> dict[str, float]:
    """Each candidate's cost: the interleaved timing's mean where it was timed, else its runs' own clocks."""
    return {name: finite_mean(per_run.values()) for name, per_run in run_costs(study, runs).items()}


def run_costs(study: Study, runs: list[RunResult]) -> dict[str, dict[tuple[int, int], float]]:
    """Each run's seconds per 1,000 iterations: its own clock, or where the candidate was timed alone, the
    timing's rounds dealt out over its runs in (tuning, seed) order -- so a comparison of scores carries the
    timing's own noise, as it carries the seeds'."""
    timing, cost = read_timing(study) or {}, criteria(study)[COST]
    found = {}
    for name, group in by_candidate(runs).items():
        keys = sorted((r.tuning, r.seed) for r in group)
        rounds = timing.get(name)
        if rounds:
            found[name] = {key: rounds[i % len(rounds)] for i, key in enumerate(keys)}
        else:
            found[name] = {(r.tuning, r.seed): 1000 * cost.of(r) for r in group}
    return found


def scaled_values(study: Study, runs: list[RunResult], role: str) -> tuple[Values, str]:
    """Each candidate's runs on one criterion, on the score's scale, and how it was scaled (for the report)."""
    grouped = by_candidate(runs)
    if role == COST:
        values = {
            name: {key: -math.log2(s) if s > 0 else math.nan for key, s in costs.items()}
            for name, costs in run_costs(study, runs).items()
        }
        return values, "cost: -log2 of seconds per 1,000 iterations (each halving +1)"
    criterion = criteria(study)[role]
    raw = {name: by_seed(group, criterion) for name, group in grouped.items()}
    higher = criterion.higher_is_better
    ends = {name: fixed_ends(group, criterion.name, study.rank_metric, higher) for name, group in grouped.items()}
    if all(e is not None for e in ends.values()):
        how = f"{role}: from each candidate's untrained level (0) to the metric's ideal (1)"
    else:  # no untrained level stored, one no worse than ideal, or the metric has no ideal: the pool's range, said so
        means = {name: finite_mean(v.values()) for name, v in raw.items()}
        shared = pool_ends(means, criterion.higher_is_better) or (0.0, 1.0)
        ends = dict.fromkeys(raw, shared)
        how = f"{role}: within this pool (worst mean 0, best 1): no untrained level worse than an ideal to scale from"
    return {name: {k: _floored(scaled(v, ends[name])) for k, v in values.items()} for name, values in raw.items()}, how


def _floored(value: float) -> float:
    """No better than untrained reads 0, and so does a diverged run (no value): the worst a run can do."""
    return max(0.0, value) if math.isfinite(value) else 0.0


def criterion_table(study: Study, runs: list[RunResult]) -> tuple[dict[str, Values], list[str]]:
    """Every available criterion's scaled values (role -> candidate -> run), and how each was scaled."""
    table, notes = {}, []
    for role in available(study):
        table[role], how = scaled_values(study, runs, role)
        notes.append(how)
    return table, notes


def seed_scores(study: Study, runs: list[RunResult], weights: dict[str, float] | None = None) -> dict[str, dict]:
    """Each candidate's weighted score per (tuning, seed) under ``weights`` (default: the study's profile)."""
    weights = weights or profile(study)
    table, _ = criterion_table(study, runs)
    scores: dict[str, dict] = {}
    for role, weight in weights.items():
        for name, values in table[role].items():
            for key, value in values.items():
                scores.setdefault(name, {})[key] = scores.get(name, {}).get(key, 0.0) + weight * value
    return scores


def left_out(study: Study, runs: list[RunResult]) -> dict[str, str]:
    """Candidates whose mean measured cost breaks one of the profile's hard limits, with the reason."""
    found = {}
    costs = seconds_per_1000(study, runs)
    for name, group in by_candidate(runs).items():
        per_iteration = costs[name] / 1000
        per_run = math.fsum(r.run_seconds for r in group) / len(group)
        limit = study.application.get("max_seconds_per_iteration")
        if limit is not None and not per_iteration <= limit:
            found[name] = f"{per_iteration:.3g} s per iteration > {limit:g}"
        limit = study.application.get("max_seconds_per_run")
        if limit is not None and not per_run <= limit:
            found[name] = f"{per_run:.3g} s per run > {limit:g}"
    return found


@dataclass(frozen=True)
class Pick:
    """The winner of one context, its runners-up (no detectable difference) and who the limits left out."""

    winner: str
    scores: dict[str, Interval]
    runners_up: list[Comparison]
    left_out: dict[str, str]
    per_run: dict[str, dict]  # each qualifying candidate's score per (tuning, seed)


def choose(study: Study, runs: list[RunResult]) -> Pick | None:
    """The GAN for the study's application in these runs (one context), or None when no candidate qualifies."""
    excluded = left_out(study, runs)
    scores = {name: s for name, s in seed_scores(study, runs).items() if name not in excluded}
    if not scores:
        return None
    intervals = {name: mean_interval(list(s.values())) for name, s in scores.items()}
    winner = max(intervals, key=lambda name: intervals[name].mean)
    noise = tuning_noise(scores.values())
    others = [name for name in scores if name != winner]
    judged = compare_family([Pair(scores[winner], scores[name], (winner, name), True, None, noise) for name in others])
    # not detectably behind: no detectable difference, or too few seeds to tell
    runners_up = sorted((c for c in judged if c.verdict != BETTER), key=lambda c: c.difference or 0.0)
    return Pick(winner, intervals, runners_up, excluded, scores)


def measured(study: Study, runs: list[RunResult]) -> str:
    """A candidate's raw numbers on every criterion: mean and t interval over its runs."""
    parts = []
    for role, criterion in criteria(study).items():
        interval = mean_interval([criterion.of(r) for r in runs])
        unit = " s" if role == COST else ""
        parts.append(f"{role if role in (COST, INSTABILITY) else criterion.label} {interval}{unit}")
    return "; ".join(parts)
