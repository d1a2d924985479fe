"""One planned comparison of the claims report, built from a context's runs: what is compared, on which values.

A :class:`Test` names two roles, a criterion and the outcome a claim predicts; :func:`plan` finds the candidates
playing the roles (criteria.players) and returns the :class:`~gan_module.study.statistics.Pair` to compare --
or what the study lacks for it, or why the comparison cannot test the claim at all:

- quality follows the learning curves (learning.py): final values between settled candidates, areas under the
  curves when one still learns, nothing when one has not started;
- claim 3 (quality on each candidate's worst dataset) follows the same rule in every dataset, each value scaled
  between the candidate's untrained level and the metric's ideal (references.py), so a dataset's scale does not
  depend on who else was trained on it;
- cost is the dedicated interleaved timing (timing.py), paired by round, in seconds per 1,000 iterations, with a
  margin of 15% of the cost compared against (``margins: {cost: 0.15}``); the runs' own clocks only where the
  study was not timed, and the comparison says so;
- "does not stabilise" (claim 4) is testable only when the baseline shows instability: a flagged share below the
  margin leaves no stabilisation beyond the margin to see, and equivalence would be shown by construction;
- every pair carries its context's pooled tuning noise (tuning_noise.py) and the control's bound (control.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gan_module.study.claim_list import EQUAL, NOT_BETTER, WORST_QUALITY, Test
from gan_module.study.criteria import (
    COST,
    INSTABILITY,
    QUALITY,
    Criterion,
    by_candidate,
    by_seed,
    contexts,
    criteria,
    finite_mean,
    players,
)
from gan_module.study.learning import AREA, areas, basis
from gan_module.study.references import fixed_ends, floor, pool_ends, scaled
from gan_module.study.result import RunResult
from gan_module.study.statistics import Pair, mean_interval
from gan_module.study.timing import read_timing
from gan_module.study.tuning_noise import tuning_noise

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study


@dataclass(frozen=True)
class Planned:
    """A comparison to make (``pair``, compared by ``basis`` when not the final values), or what the study lacks
    for it, or why it cannot test its claim."""

    pair: Pair | None = None
    basis: str = ""
    lacking: tuple[str, ...] = ()
    untestable: str = ""
    names: tuple[str, str] = ("", "")  # the candidates that played the roles


def bound_key(criterion: str, kind: str = "") -> str:
    """The control bound a comparison on ``criterion`` reads (control.py): quality on final values or on areas."""
    return f"{criterion} ({kind})" if kind else criterion


def _late(why: str) -> Planned:
    """``why``: the candidates that have not started, joined by " and " (learning.basis)."""
    one = " and " not in why
    verb, curves = ("starts", "its quality curve stays") if one else ("start", "their quality curves stay")
    needs = f"a budget at which {why} {verb} learning ({curves} at the untrained level)"
    return Planned(lacking=(needs,))


def plan(
    study: Study,
    results: list[RunResult],
    runs: list[RunResult],
    test: Test,
    across: bool = False,
    bounds: Mapping[str, float] | None = None,
) -> Planned:
    """The comparison ``test`` plans in the context ``runs`` (claim 3: across every context of ``results``)."""
    bounds = bounds or {}
    if across:
        return _across(study, results, test, bounds)
    criterion = criteria(study).get(test.criterion)
    if criterion is None:
        return Planned(lacking=(f"a `{test.criterion}` metric",))
    (a, ra), (b, rb) = players(study, runs, test.a), players(study, runs, test.b)
    lacking = tuple(f"role `{role}`" for role, name in ((test.a, a), (test.b, b)) if not name)
    if lacking:
        return Planned(lacking=lacking)
    margin = criterion.margin if test.expect in (EQUAL, NOT_BETTER) or criterion.relative else None
    if test.expect in (EQUAL, NOT_BETTER) and margin is None:
        return Planned(lacking=(f"an equivalence margin for {criterion.label} (`margins` in the study file)",))
    if test.criterion == COST:
        return _cost(study, ra, rb, (a, b), criterion)
    note, kind = "", ""
    if test.criterion == INSTABILITY and test.expect == NOT_BETTER:
        note, testable = _flagged(ra, rb, (a, b), criterion)
        if not testable:
            return Planned(untestable=note, names=(a, b))
    read: Callable[[list[RunResult]], dict] = lambda group: by_seed(group, criterion)  # noqa: E731
    if test.criterion == QUALITY:
        found, note = basis(ra, rb, (a, b), criterion.higher_is_better, criterion.margin, criterion.ideal)
        if found is None:
            return _late(note)
        kind, read = found, (areas if found == AREA else read)
    higher = criterion.higher_is_better
    least = None if test.criterion == INSTABILITY else floor([ra, rb], criterion.name, study.rank_metric, higher)
    noise = tuning_noise([read(g) for g in by_candidate(runs).values()], higher, least)
    control = bounds.get(bound_key(test.criterion, kind))
    return Planned(Pair(read(ra), read(rb), (a, b), higher, margin, noise, control, least), note)


def _flagged(ra: list[RunResult], rb: list[RunResult], names: tuple[str, str], criterion: Criterion):
    """The flagged shares of both, and whether the baseline ``b`` shows instability a penalty could remove."""
    (a, b), margin = names, criterion.margin or 0.0
    shares = {name: mean_interval(list(by_seed(runs, criterion).values())) for name, runs in ((a, ra), (b, rb))}
    text = f"the share of steps flagged ({b} {shares[b]}, {a} {shares[a]})"
    if not shares[b].mean >= margin:
        return (
            f"{b} shows no instability to remove: {text}; the baseline's share is below the {margin:g} margin, so no "
            "stabilisation beyond the margin could be seen, and equal shares would be equivalent by construction"
        ), False
    return text, True


def _cost(study: Study, ra: list[RunResult], rb: list[RunResult], names: tuple[str, str], criterion: Criterion):
    """Seconds per 1,000 iterations: the interleaved timing paired by round, else the runs' own clocks."""
    timing = read_timing(study) or {}
    timed = all(name in timing for name in names)
    if timed:
        x, y = (dict(enumerate(timing[name])) for name in names)
        how = f"seconds per 1,000 iterations, timed alone and interleaved ({len(x)} rounds, paired by round)"
    else:
        x, y = ({k: 1000 * v for k, v in by_seed(runs, criterion).items()} for runs in (ra, rb))
        how = "seconds per 1,000 iterations of the runs' own clocks, shared with the study's other jobs (not timed)"
    margin = (criterion.margin or 0.0) * finite_mean(y.values())
    margin = margin if math.isfinite(margin) and margin > 0 else None
    return Planned(Pair(x, y, names, False, margin, unit="rounds" if timed else "seeds"), how)


def _across(study: Study, results: list[RunResult], test: Test, bounds: Mapping[str, float]) -> Planned:
    """Claim 3: per (tuning, seed), each candidate's quality on its worst dataset, read per dataset by the curve
    rule and scaled between the candidate's untrained level (0) and the metric's ideal (1)."""
    quality = criteria(study)[QUALITY]
    worst: tuple[dict, dict] = ({}, {})
    names: tuple[list[str], list[str]] = ([], [])
    notes, pooled = [], False
    for title, runs in contexts(study, results):
        (a, ra), (b, rb) = players(study, runs, test.a), players(study, runs, test.b)
        lacking = tuple(f"role `{role}`" for role, name in ((test.a, a), (test.b, b)) if not name)
        if lacking:
            return Planned(lacking=lacking)
        kind, why = basis(ra, rb, (a, b), quality.higher_is_better, quality.margin, quality.ideal)
        if kind is None:
            return _late(why)
        read = areas if kind == AREA else (lambda group: by_seed(group, quality))
        pool = None
        for side, (name, group) in enumerate(((a, ra), (b, rb))):
            ends = fixed_ends(group, quality.name, study.rank_metric, quality.higher_is_better)
            if ends is None:  # no untrained level stored (or none worse than ideal), no ideal: the context's range
                means = {n: finite_mean(read(g).values()) for n, g in by_candidate(runs).items()}
                ends = pool = pool_ends(means, quality.higher_is_better) or (0.0, 1.0)
            names[side].append(name)
            for key, value in read(group).items():
                now, before = scaled(value, ends), worst[side].get(key, math.inf)
                worst[side][key] = now if not math.isfinite(now) or now < before else before  # no score: none
        pooled = pooled or pool is not None
        scale = "scaled within the dataset's candidates" if pool else "scaled from untrained (0) to ideal (1)"
        notes.append(f"{title}: {why or 'final values'}, {scale}")
    least = None if pooled else 0.0  # a diverged run is no better than untrained: 0 on the fixed scale
    pair = Pair(*worst, tuple(" / ".join(n) for n in names), True, None, None, bounds.get(WORST_QUALITY), least)
    return Planned(pair, "; ".join(notes))
