"""The selection paper's four questions, answered from a study's measurements.

Motwani & Parmar (2020) choose a GAN by four decision parameters: which architecture, which loss, whether (and
which) regularization, which divergence. Each candidate's ``decision`` labels say where it stands on them; the
runs are grouped by label and the groups compared on the quality metric: per seed, the mean of the group's
runs, so groups compare paired by seed (statistics.py). The best group is compared with every other group, and
candidates that differ in this decision only ("like for like") with each other, all in one Holm-corrected
family per question. Axes without decision labels (the dataset, say) are the context: each of their values is
answered on its own. The page opens with the pick (pick.py): per context, the GAN to use, its probability of
being the best, its risk of a failed run and the weights over which it stays best.

A study tuned once cannot tell a small effect from tuning luck: a verdict whose effect is no larger than the gap
the control (the same model tuned twice, control.py) showed reads "within tuning noise".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gan_module.study.control import control_bounds
from gan_module.study.criteria import QUALITY, Criterion, by_candidate, by_seed, contexts, criteria
from gan_module.study.layout import ANSWERS
from gan_module.study.learning import AREA, FEW, MIN_POINTS, NOT_STARTED, SHORT, STILL_LEARNING, basis, curve_state
from gan_module.study.learning import areas as curve_areas
from gan_module.study.pick import describe, headline
from gan_module.study.plan import bound_key
from gan_module.study.references import floor
from gan_module.study.result import RunResult
from gan_module.study.schema import DECISIONS
from gan_module.study.statistics import (
    BETTER,
    MIN_SEEDS,
    Pair,
    compare_family,
    compare_rates,
    holm,
    mean_interval,
    rate_interval,
)
from gan_module.study.tuning_noise import tuning_noise

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

QUESTIONS = {
    "architecture": "Which architecture?",
    "loss": "Which loss?",
    "regularization": "Does regularization help, and which?",
    "divergence": "Which divergence?",
}


def answer(study: Study, results: list[RunResult]) -> str:
    """Markdown: the pick per context, then per context each decision parameter's groups and what the
    measurements say."""
    quality = criteria(study)[QUALITY]
    better = "higher" if quality.higher_is_better else "lower"
    found = [(title, runs) for title, runs in contexts(study, results) if runs]
    lines = [f"# {study.name}: the four questions (quality: {quality.label}, {better} is better)", ""]
    lines += [headline(study, runs, title) for title, runs in found] + [""] if found else []
    lines += [
        "Groups: mean of each seed's runs, t 95% interval over seeds. Comparisons: paired over seeds (on the "
        "tunings' means where the tuning is replicated), mean difference with its t interval at the comparison's "
        "Holm level, Holm-corrected within each question; a diverged run counts as the worst value of its "
        "comparison (ranked last); within tuning noise: one tuning per candidate, and an effect no larger than "
        "the control's (the same model tuned twice).",
        "",
    ]
    for title, runs in contexts(study, results):
        bounds = control_bounds(study, runs)
        lines += [f"## {title}", ""]
        lines += [
            f"- **{QUESTIONS[d]}** " + _answer_one(runs, d, quality, bounds, study.rank_metric) for d in DECISIONS
        ]
        lines.append(f"- **Is the budget enough?** {still_moving(runs, quality)}")
        lines += divergence(runs)
        lines += describe(study, runs)
        lines.append("")
    return "\n".join(lines)


def _answer_one(
    runs: list[RunResult], decision: str, quality: Criterion, bounds: dict[str, float], curve_metric: str
) -> str:
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        if label := run.decision.get(decision):
            groups.setdefault(label, []).append(run)
    if len(groups) < 2:
        return f"not varied in this study{f' (every candidate: {next(iter(groups))})' if groups else ''}."
    values = {label: by_seed(group, quality) for label, group in groups.items()}
    intervals = {label: mean_interval(list(v.values())) for label, v in values.items()}
    scored = [label for label in intervals if intervals[label].n]
    if not scored:
        return "no group has a finite score (every run diverged)."
    ordered = sorted(scored, key=lambda label: intervals[label].mean, reverse=quality.higher_is_better)
    unscored = sorted(set(intervals) - set(scored))
    ordered += unscored  # every run diverged: compared at the worst value observed, i.e. ranked last
    best = ordered[0]
    control = bounds.get(bound_key(QUALITY))
    pairs = [
        Pair(
            values[best], values[label], (best, label), quality.higher_is_better, None, None, control,
            floor([groups[best], groups[label]], quality.name, curve_metric, quality.higher_is_better),
        )
        for label in ordered[1:]
    ]  # fmt: skip
    like, bases, skipped = _like_for_like(runs, decision, quality, bounds, curve_metric)
    family = compare_family(pairs + like)
    text = f"**{best}** ({'; '.join(f'{label} {intervals[label]}' for label in ordered)})."
    text += " " + "; ".join(f"{c.a} vs {c.b}: {c}" for c in family[: len(pairs)]) + "."
    if decision == "regularization" and "none" in scored:
        helped = [c.a for c in family[: len(pairs)] if c.b == "none" and c.verdict == BETTER]
        text += f" Regularization helped: {helped[0]} beats none." if helped else ""
        text += " No regularizer detectably beat training without one." if best == "none" else ""
    text += f" Diverged or unscored: {', '.join(unscored)}." if unscored else ""
    if family[len(pairs) :]:
        text += " Like for like (candidates differing in this decision only): "
        text += "; ".join(f"{c.a} vs {c.b}{basis}: {c}" for c, basis in zip(family[len(pairs) :], bases, strict=True))
        text += "."
    text += f" Not compared, a candidate has not started learning: {'; '.join(skipped)}." if skipped else ""
    return text


def divergence(runs: list[RunResult]) -> list[str]:
    """A line on divergence, when any run diverged: each candidate's rate with its exact 95% interval, and
    Fisher's exact test of each against the candidate that diverged least (Holm-corrected together)."""
    counts = {name: (sum(r.diverged for r in g), len(g)) for name, g in by_candidate(runs).items()}
    if not any(k for k, _ in counts.values()):
        return []
    steadiest = min(counts, key=lambda name: counts[name][0] / counts[name][1])
    others = [name for name in counts if name != steadiest and counts[name][0]]
    if not others:  # one candidate diverged, and no other to test it against
        rate = rate_interval(*counts[steadiest])
        return [f"- **Divergence** (runs that diverged, exact 95% interval): {steadiest} {rate}."]
    adjusted = holm([compare_rates(counts[name], counts[steadiest]) for name in others])
    tests = [f"{name} vs {steadiest}: p {p:.2g} Holm" for name, p in zip(others, adjusted, strict=True)]
    rates = ", ".join(f"{name} {rate_interval(*counts[name])}" for name in others)
    return [
        f"- **Divergence** (runs that diverged, exact 95% interval; Fisher's exact test against the steadiest "
        f"candidate, {steadiest} {rate_interval(*counts[steadiest])}): {rates}. {'; '.join(tests)}."
    ]


def still_moving(runs: list[RunResult], quality: Criterion) -> str:
    """Each candidate's learning-curve state (learning.py): a ranking taken while some still learn ranks how fast
    they learn, not where they end, and says nothing of a candidate that has not started."""
    states: dict[str, list[str]] = {}
    for name, group in by_candidate(runs).items():
        states.setdefault(curve_state(group, quality.higher_is_better, quality.margin, quality.ideal), []).append(name)
    if set(states) <= {SHORT, FEW}:
        return (
            f"no learning curves to read (each run needs {MIN_POINTS} evaluations and each candidate "
            f"{MIN_SEEDS} seeds: set evaluation.every_n_epochs)."
        )
    parts = [f"{state}: {', '.join(names)}" for state, names in states.items()]
    text = "quality learning curves -- " + "; ".join(parts) + "."
    if STILL_LEARNING in states or NOT_STARTED in states:
        text += (
            " Final values are compared only between settled candidates; the others by the area under their "
            "curves, and a candidate that has not started gets no verdict: a longer budget may change the ranking."
        )
    return text


def _like_for_like(
    runs: list[RunResult], decision: str, quality: Criterion, bounds: dict[str, float], curve_metric: str
) -> tuple[list[Pair], list[str], list[str]]:
    """Pairs of candidates whose *other* decision labels are all equal: their difference is this decision's;
    with what each compares when not the final values (learning.py: curves still rising), and the pairs left
    out because a candidate has not started learning.

    The groups above mix everything else a label comes with (the "none" regularization group holds every
    unregularized loss); candidates differing in this decision only isolate its effect.
    """
    sets: dict[tuple[str, ...], dict[str, list[RunResult]]] = {}
    pairs, bases, skipped = [], [], []
    context = by_candidate(runs).values()
    final = {"": lambda group: by_seed(group, quality), AREA: curve_areas}
    higher = quality.higher_is_better
    least = floor(list(context), quality.name, curve_metric, higher)
    noise = {kind: tuning_noise([read(g) for g in context], higher, least) for kind, read in final.items()}
    for run in runs:
        if run.decision.get(decision):
            others = tuple(run.decision.get(d, "") for d in DECISIONS if d != decision)
            sets.setdefault(others, {}).setdefault(run.candidate, []).append(run)
    for candidates in sets.values():
        names = list(candidates)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if candidates[a][0].decision[decision] != candidates[b][0].decision[decision]:
                    kind, why = basis(
                        candidates[a], candidates[b], (a, b), quality.higher_is_better, quality.margin, quality.ideal
                    )
                    if kind is None:
                        skipped.append(f"{a} vs {b} ({why} not started)")
                        continue
                    x, y = (final[kind](candidates[name]) for name in (a, b))
                    control = bounds.get(bound_key(QUALITY, kind))
                    least = floor([candidates[a], candidates[b]], quality.name, curve_metric, higher)
                    pairs.append(Pair(x, y, (a, b), higher, None, noise[kind], control, least))
                    bases.append(f" by {why}" if why else "")
    return pairs, bases, skipped


def write_answers(study: Study, results: list[RunResult]) -> Path:
    path = study.layout.report(ANSWERS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(answer(study, results))
    return path
