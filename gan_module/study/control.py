"""The control: one model tuned twice, and the floor it puts under every verdict of a study tuned once.

f-GAN with the Jensen-Shannon pair (``fgan_js``) trains the non-saturating GAN's arithmetic (losses/fgan.py: its
D and G losses equal the 2014 GAN's up to constants), so when a study tunes both, the gap between ``fgan_js`` and
``ns`` is the noise of the tuning and the seeds alone. Each context's report reads it with the equality test of
claim 6 (its own family, outside the claims' correction).

Until a study replicates its tuning (tuning_noise.py), that gap is the only measure of tuning luck it has: the
largest difference the control's 95% interval allows (:func:`control_bounds`, per criterion, and per basis for
quality: final values or areas) is attached to every comparison of the context, and a verdict whose effect is no
larger reads **within tuning noise** (statistics.py) -- in claims.md and answers.md alike. On the shipped
Fashion-MNIST study the control differed by +23.5 FID of curve area, [17, 30]: claim 2's "supported" on an effect
of 25.5 is inside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_module.study.claim_list import AGAINST, AS_CLAIMED, CONTROL, EQUAL, UNDETERMINED, WORST_QUALITY, Test
from gan_module.study.criteria import DIVERSITY, INSTABILITY, QUALITY, by_seed, contexts, criteria, players
from gan_module.study.learning import AREA, areas
from gan_module.study.plan import bound_key, plan
from gan_module.study.references import floor
from gan_module.study.result import RunResult
from gan_module.study.statistics import BETTER, EQUIVALENT, TOO_FEW, WORSE, Comparison, Pair, compare_family

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

DETECTABLE = "detectable"  # the fourth reading: a difference shown, its size not shown beyond the margin
CONTROL_READINGS = {
    AS_CLAIMED: "equivalent within the margin: tuning and seeds move one model less than the margin",
    AGAINST: "different beyond the margin: tuning and seeds alone moved one model this far, so a verdict "
    "of a smaller effect (or one involving either of them) measures tuning luck as much as the losses",
    UNDETERMINED: "neither shown equal nor different: at these seeds the noise of tuning is not bounded",
    DETECTABLE: "detectably different, though not shown beyond the margin: tuning and seeds alone moved one "
    "model by this much, so a verdict of an effect this small measures tuning luck as much as the losses",
}


def reading(comparison: Comparison) -> str:
    """Which of :data:`CONTROL_READINGS` a control comparison gives."""
    if comparison.verdict == EQUIVALENT:
        return AS_CLAIMED
    if comparison.verdict != TOO_FEW and comparison.beyond_margin:
        return AGAINST
    return DETECTABLE if comparison.verdict in (BETTER, WORSE) else UNDETERMINED


def _bound(comparison: Comparison) -> float | None:
    """The largest |gap| the control's 95% interval allows; None when it gives no interval or counts tuning
    luck itself (replicated tuning: every comparison then does)."""
    if comparison.low is None or comparison.high is None or comparison.replicated:
        return None
    return max(abs(comparison.low), abs(comparison.high))


def control_bounds(study: Study, runs: list[RunResult]) -> dict[str, float]:
    """Per criterion (and quality's basis), the largest gap tuning luck alone gave the control in this context."""
    (a, ra), (b, rb) = players(study, runs, CONTROL.a), players(study, runs, CONTROL.b)
    if not ra or not rb:
        return {}
    judged, found = criteria(study), {}
    reads = [(bound_key(QUALITY), judged[QUALITY], None), (bound_key(QUALITY, AREA), judged[QUALITY], areas)]
    reads += [(role, judged[role], None) for role in (DIVERSITY, INSTABILITY) if role in judged]
    for key, criterion, read in reads:
        x, y = (read(g) if read else by_seed(g, criterion) for g in (ra, rb))
        least = floor([ra, rb], criterion.name, study.rank_metric, criterion.higher_is_better)
        bound = _bound(compare_family([Pair(x, y, (a, b), criterion.higher_is_better, floor=least)])[0])
        if bound is not None:
            found[key] = bound
    return found


def across_bounds(study: Study, results: list[RunResult]) -> dict[str, float]:
    """Claim 3's bound: the control on each candidate's worst dataset, read as claim 3 reads it."""
    planned = plan(study, results, [], Test(CONTROL.a, CONTROL.b, WORST_QUALITY, EQUAL), across=True)
    if planned.pair is None:
        return {}
    bound = _bound(compare_family([planned.pair])[0])
    return {} if bound is None else {WORST_QUALITY: bound}


def control(study: Study, results: list[RunResult]) -> dict[str, str]:
    """Per context, the control's reading: f-GAN JS against the non-saturating GAN, the same model tuned twice."""
    readings = {}
    for title, runs in contexts(study, results):
        planned = plan(study, results, runs, CONTROL)
        if planned.pair is None:
            readings[title] = f"not measured: the study lacks {', '.join(planned.lacking)}"
            continue
        (comparison,) = compare_family([planned.pair])
        on = f" by {planned.basis}" if planned.basis else ""
        names = " vs ".join(planned.pair.names)
        readings[title] = f"{names}{on}: {CONTROL_READINGS[reading(comparison)]} -- {comparison}"
    return readings
