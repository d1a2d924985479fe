"""A pick a user can act on: the GAN, how likely it is the best, how often one of its runs fails, and over which
application weights it stays the best.

- **P(best)**: the share of bootstrap draws in which the candidate has the highest mean score, each draw
  resampling every candidate's tunings (independently: each candidate was tuned on its own) and, within a
  tuning, its seeds (the same seeds for every candidate, which share them: pairing is kept). Two candidates
  equal within the noise split it near evenly, so a tie reads as a tie, not as a confident pick.
- **P(a run fails)**: the share of the candidate's runs that diverged or missed a target the study declares
  (``targets``), with its exact (Clopper-Pearson) 95% interval.
- **Weights**: the share of all weightings of the criteria (uniform on the simplex) on which it has the highest
  mean score, and, moving one criterion's weight at a time with the others kept in the profile's proportions,
  the range over which the pick stays the pick.

Scores are on fixed scales (application.py), so none of these depends on an unrelated candidate's scale.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from gan_module.study.application import Pick, available, choose, criterion_table, measured, profile
from gan_module.study.criteria import by_candidate
from gan_module.study.result import RunResult
from gan_module.study.schema import DECISIONS
from gan_module.study.statistics import Rate, rate_interval
from gan_module.study.tuning_noise import unit

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

DRAWS = 2000  # bootstrap draws for P(best): its Monte-Carlo error is at most 0.011
WEIGHTINGS = 4000  # weightings drawn for the share of weights won
_SEED = 0  # a fixed generator: the same report every time


def p_best(scores: dict[str, dict], draws: int = DRAWS, seed: int = _SEED) -> dict[str, float]:
    """Each candidate's probability of the highest mean score, resampling tunings per candidate and seeds within
    a tuning (shared between candidates); ties split evenly."""
    rng = np.random.default_rng(seed)
    names = list(scores)
    values = {name: {unit(k): v for k, v in s.items()} for name, s in scores.items()}
    tunings = sorted({t for v in values.values() for t, _ in v})
    means = np.full((len(names), len(tunings), draws), np.nan)
    for j, tuning in enumerate(tunings):
        seeds = sorted({s for v in values.values() for t, s in v if t == tuning})
        table = np.array([[values[n].get((tuning, s), np.nan) for s in seeds] for n in names], float)
        drawn = rng.integers(0, len(seeds), size=(draws, len(seeds)))
        sample = table[:, drawn]  # candidates x draws x seeds
        with warnings.catch_warnings():  # a candidate without this tuning, or without the seeds drawn: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            found = np.nanmean(sample, axis=2)
            own = np.nanmean(table, axis=1, keepdims=True)  # a draw of seeds it lacks: its tuning's own mean
        means[:, j, :] = np.where(np.isnan(found), own, found)
    totals = np.empty((len(names), draws))
    for i in range(len(names)):
        mine = np.flatnonzero(~np.isnan(means[i, :, 0]))
        drawn = rng.choice(mine, size=(draws, mine.size)) if mine.size else np.zeros((draws, 0), int)
        totals[i] = means[i][drawn, np.arange(draws)[:, None]].mean(axis=1) if mine.size else -np.inf
    return dict(zip(names, _wins(totals.T), strict=True))


def _wins(table: np.ndarray) -> np.ndarray:
    """Each column's share of rows in which it is the highest (rows x columns), ties split evenly."""
    best = table == table.max(axis=1, keepdims=True)
    return (best / best.sum(axis=1, keepdims=True)).mean(axis=0)


def failures(study: Study, runs: list[RunResult]) -> dict[str, Rate]:
    """Each candidate's runs that failed -- diverged, or missed a target that applies to it -- with the exact
    interval of the rate."""
    found = {}
    for name, group in by_candidate(runs).items():
        failed = sum(r.diverged or not all(_reached(t, r) for t in study.targets) for r in group)
        found[name] = rate_interval(failed, len(group))
    return found


def _reached(target, run: RunResult) -> bool:
    applies = all(run.values.get(axis) == value for axis, value in target.where)
    return not applies or target.reached(run.metrics.get(target.metric, math.nan))


def criterion_means(study: Study, runs: list[RunResult], names: list[str]) -> np.ndarray:
    """candidates x available criteria: each candidate's mean scaled value (application.py's scales)."""
    table, _ = criterion_table(study, runs)
    return np.array([[np.mean(list(table[role][name].values())) for role in available(study)] for name in names])


def weight_share(study: Study, runs: list[RunResult], names: list[str]) -> dict[str, float]:
    """Each candidate's share of weightings (uniform on the simplex of the available criteria) it wins."""
    means = criterion_means(study, runs, names)
    weights = np.random.default_rng(_SEED).dirichlet(np.ones(means.shape[1]), size=WEIGHTINGS)
    return dict(zip(names, _wins(weights @ means.T), strict=True))


def weight_ranges(study: Study, runs: list[RunResult], names: list[str], pick: str) -> dict[str, tuple[float, float]]:
    """Per criterion, the range of its weight (the others in the profile's proportions) over which ``pick`` keeps
    the highest mean score, around the profile's own weight; nothing where it never does."""
    roles, means, base = available(study), criterion_means(study, runs, names), profile(study)
    grid = np.linspace(0.0, 1.0, 101)
    found = {}
    for k, role in enumerate(roles):
        rest = np.array([base.get(r, 0.0) if j != k else 0.0 for j, r in enumerate(roles)])
        if rest.sum() == 0:  # the profile weighs nothing else: the others share the rest equally
            rest = np.where(np.arange(len(roles)) == k, 0.0, 1.0)
        rest = rest / max(rest.sum(), 1e-12)
        weights = (1 - grid)[:, None] * rest[None, :]
        weights[:, k] = grid
        stays = (weights @ means.T).argmax(axis=1) == names.index(pick)
        at = round(base.get(role, 0.0) * 100)
        if not stays[at]:
            continue
        low, high = at, at
        while low > 0 and stays[low - 1]:
            low -= 1
        while high < grid.size - 1 and stays[high + 1]:
            high += 1
        found[role] = (float(grid[low]), float(grid[high]))
    return found


def headline(study: Study, runs: list[RunResult], title: str) -> str:
    """answers.md's opening sentence for one context: the pick, its P(best), its failure risk, where it stays."""
    pick = choose(study, runs)
    if pick is None:
        return f"**{title}**: no candidate meets the application's limits."
    names = list(pick.per_run)
    chance = p_best(pick.per_run)[pick.winner]
    risk = failures(study, runs)[pick.winner]
    ranges = weight_ranges(study, runs, names, pick.winner)
    share = weight_share(study, runs, names)[pick.winner]
    where = ", ".join(f"{role} weight {low:.2f}-{high:.2f}" for role, (low, high) in ranges.items())
    return (
        f"**{title}: use {pick.winner}** -- P(best) {chance:.2f} (seeds and tunings resampled); a run fails "
        f"{risk} (diverged or missed a target; exact 95% interval); it stays best for {where or 'no other weights'}"
        f" (one weight moved, the others in proportion) and on {share:.0%} of all weightings."
    )


def describe(study: Study, runs: list[RunResult]) -> list[str]:
    """Markdown lines: the GAN to use for this context, why, and the runners-up inside the interval."""
    weights = ", ".join(f"{k} {v:g}" for k, v in profile(study).items())
    if not runs:
        return [f"- **The GAN for this application** ({weights}): no finished runs yet."]
    pick: Pick | None = choose(study, runs)
    if pick is None:
        return [f"- **The GAN for this application** ({weights}): no candidate meets the limits."]
    winner_runs = by_candidate(runs)[pick.winner]
    labels = winner_runs[0].decision
    decision = ", ".join(f"{d} {labels[d]}" for d in DECISIONS if labels.get(d))
    chances = p_best(pick.per_run)
    _, scales = criterion_table(study, runs)
    lines = [
        f"- **The GAN for this application** ({weights}): **{pick.winner}** -- {decision}. Score "
        f"{pick.scores[pick.winner]} ({'; '.join(scales)}); P(best) {chances[pick.winner]:.2f}; "
        f"{measured(study, winner_runs)}; diverged on {sum(r.diverged for r in winner_runs)} of "
        f"{len(winner_runs)} runs.",
    ]
    if pick.runners_up:
        close = "; ".join(
            f"{c.b} ({pick.scores[c.b].mean:.3g}, P(best) {chances[c.b]:.2f}: {c})" for c in pick.runners_up
        )
        lines.append(f"  Runners-up inside the interval (score not detectably lower): {close}.")
    else:
        lines.append("  Every other candidate's score is detectably lower (Holm-corrected).")
    if pick.left_out:
        lines.append("  Left out by the limits: " + "; ".join(f"{n} ({why})" for n, why in pick.left_out.items()) + ".")
    return lines
