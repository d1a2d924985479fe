"""The six claims of Motwani & Parmar (2020), each tested by comparisons between the candidates that play its roles.

A claim is a list of planned comparisons -- role ``a`` against role ``b`` on one criterion (criteria.py) -- each
with the outcome the claim predicts. Candidates play roles by their axis values (spec.py ``ROLES``; a study's
``roles`` maps a role to another value name). Every comparison of one report (all its datasets) is one family
for Holm's correction (statistics.py), so the chance of any false verdict anywhere in the report's table is 5%.
A comparison's outcome is *as claimed*, *against*, or *undetermined*:

- "a beats b": as claimed when a is detectably better, against when detectably worse;
- "a and b are equal" (claim 6): as claimed only when two one-sided tests show the difference inside the
  criterion's margin (TOST), against when the whole interval lies beyond it; no detectable difference is not
  equality;
- "a is not better than b" (claim 4: a gradient penalty does not stabilise): as claimed when shown equivalent
  within the margin or detectably worse, against when detectably better and beyond the margin.

A claim is **supported** when every comparison is as claimed, **refuted** when any is against, and otherwise
**not detectable at this budget**. Claim 3 (generalisation across distributions) compares each candidate's worst
scaled quality over the study's contexts, so it needs a study with two datasets or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gan_module.study.answers import still_moving
from gan_module.study.criteria import (
    COST,
    DIVERSITY,
    INSTABILITY,
    QUALITY,
    by_candidate,
    by_seed,
    contexts,
    criteria,
    finite_mean,
)
from gan_module.study.layout import CLAIMS as CLAIMS_MD
from gan_module.study.learning import NOT_STARTED, curve_pair, curve_state
from gan_module.study.result import RunResult
from gan_module.study.statistics import ALPHA, BETTER, EQUIVALENT, TOO_FEW, WORSE, Comparison, Pair, compare_family

NOT_BETTER = "not better"
EQUAL = "equal"
AS_CLAIMED, AGAINST, UNDETERMINED = "as claimed", "against", "undetermined"
# every verdict holds for the study's budget and recipes: a claim about final quality can come out refuted by a
# budget too short for a slow-starting GAN, which the answers' "Is the budget enough?" line shows
SUPPORTED, REFUTED, NOT_DETECTABLE = (
    "supported at this budget",
    "refuted at this budget",
    "not detectable at this budget",
)
WORST_QUALITY = "worst quality"
NOT_TESTED = "not tested"
ACROSS = "across the datasets"


@dataclass(frozen=True)
class Test:
    """Role ``a`` against role ``b`` on ``criterion``, and the outcome the claim predicts for ``a``."""

    a: str
    b: str
    criterion: str  # quality, diversity, cost, instability, or worst quality (claim 3)
    expect: str  # BETTER, WORSE, NOT_BETTER or EQUAL


@dataclass(frozen=True)
class Claim:
    number: int
    text: str
    tests: tuple[Test, ...]
    how: str = ""  # how the tests read the claim, where that is not plain from them
    across_contexts: bool = False  # claim 3: tested on the worst context of each seed


CLAIMS = (
    Claim(
        1,
        "WGAN-GP, LSGAN, RSGAN and SNGAN suit applications that need both diversity and quality",
        tuple(Test(r, "ns", c, BETTER) for r in ("wgan_gp", "lsgan", "rsgan", "sngan") for c in (QUALITY, DIVERSITY)),
        "each beats the non-saturating GAN on quality and on diversity",
    ),
    Claim(
        2,
        "Least squares with relativism (RaLSGAN) gives higher quality than LSGAN or RSGAN alone",
        (Test("ralsgan", "lsgan", QUALITY, BETTER), Test("ralsgan", "rsgan", QUALITY, BETTER)),
    ),
    Claim(
        3,
        "Loss-Sensitive GAN and SNGAN generalise better across distributions",
        (Test("loss_sensitive", "ns", WORST_QUALITY, BETTER), Test("sngan", "ns", WORST_QUALITY, BETTER)),
        "each beats the non-saturating GAN on its worst dataset, quality scaled per dataset so its candidates' "
        "means span 0 to 1",
        across_contexts=True,
    ),
    Claim(
        4,
        "A gradient penalty raises quality but does not stabilise training; spectral normalization is "
        "computationally cheaper than a gradient penalty",
        (Test("gp", "ns", QUALITY, BETTER), Test("gp", "ns", INSTABILITY, NOT_BETTER), Test("sn", "gp", COST, BETTER)),
        "on the non-saturating loss: + gradient penalty against none (quality; and not more stable: the share of "
        "steps the diagnostics flag unstable or non-converging shown equivalent within its margin, or higher), + "
        "spectral norm against + gradient penalty in measured seconds per iteration",
    ),
    Claim(
        5,
        "Batch normalization in G improves quality; in D it hurts",
        (Test("bn_g", "no_bn", QUALITY, BETTER), Test("bn_gd", "bn_g", QUALITY, WORSE)),
    ),
    Claim(
        6,
        "f-GAN with the GAN (Jensen-Shannon), KL and squared-Hellinger divergences gives equally realistic samples",
        (
            Test("fgan_js", "fgan_kl", QUALITY, EQUAL),
            Test("fgan_js", "fgan_hellinger", QUALITY, EQUAL),
            Test("fgan_kl", "fgan_hellinger", QUALITY, EQUAL),
        ),
        "every pair shown equivalent in quality by two one-sided tests (TOST) against the quality metric's margin",
    ),
)

if TYPE_CHECKING:  # only for type hints: spec.py reads the claims and criteria it checks against
    from gan_module.study.spec import Study


# The control: f-GAN with the Jensen-Shannon pair trains the non-saturating GAN's arithmetic (losses/fgan.py: its D
# and G losses equal the 2014 GAN's up to constants), so when a study tunes both, the gap between them is the
# noise of the tuning and the seeds alone -- the floor under every verdict of that study. Not a claim: its own
# family, outside the claims' Holm correction.
CONTROL = Test("fgan_js", "ns", QUALITY, EQUAL)
#: the parts the claims are tested with: a candidate plays a role when one of its axis values has the role's name,
#: or the value a study's ``roles`` maps the role to (spec.py checks ``roles`` against these)
ROLES = tuple(
    dict.fromkeys(role for test in (*(t for c in CLAIMS for t in c.tests), CONTROL) for role in (test.a, test.b))
)
DETECTABLE = "detectable"  # the control's fourth reading: a difference shown, its size not shown beyond the margin
_CONTROL_CLAIM = Claim(0, "one model tuned twice", (CONTROL,))
CONTROL_READINGS = {
    AS_CLAIMED: "equivalent within the margin: tuning and seeds move one model less than the margin",
    AGAINST: "different beyond the margin: tuning and seeds alone moved one model this far, so a verdict "
    "of a smaller effect (or one involving either of them) measures tuning luck as much as the losses",
    UNDETERMINED: "neither shown equal nor different: at these seeds the noise of tuning is not bounded",
    DETECTABLE: "detectably different, though not shown beyond the margin: tuning and seeds alone moved one "
    "model by this much, so a verdict of an effect this small measures tuning luck as much as the losses",
}


@dataclass(frozen=True)
class Evidence:
    """One planned comparison, as measured."""

    test: Test
    a: str  # the candidates that played the roles
    b: str
    comparison: Comparison
    basis: str = ""  # what was compared when not the final values (learning curves still rising)

    @property
    def outcome(self) -> str:
        c = self.comparison
        if c.verdict == TOO_FEW:
            return UNDETERMINED
        if self.test.expect == EQUAL:
            return AS_CLAIMED if c.verdict == EQUIVALENT else AGAINST if c.beyond_margin else UNDETERMINED
        if self.test.expect == NOT_BETTER:
            if c.verdict in (EQUIVALENT, WORSE):
                return AS_CLAIMED
            return AGAINST if c.verdict == BETTER and c.beyond_margin else UNDETERMINED
        if c.verdict == self.test.expect:
            return AS_CLAIMED
        return AGAINST if c.verdict in (BETTER, WORSE) else UNDETERMINED


def claim_verdict(evidence: list[Evidence]) -> str:
    outcomes = [e.outcome for e in evidence]
    if AGAINST in outcomes:
        return REFUTED
    return SUPPORTED if outcomes and all(o == AS_CLAIMED for o in outcomes) else NOT_DETECTABLE


def _players(study: Study, runs: list[RunResult], role: str) -> tuple[str, list[RunResult]]:
    """The candidate playing ``role`` in these runs (one context), and its runs; ("", []) when none does."""
    value = study.role_value(role)
    playing = [r for r in runs if value in r.values.values()]
    return (playing[0].candidate, playing) if playing else ("", [])


def _worst_quality(study: Study, results: list[RunResult], role: str) -> tuple[str, dict[int, float]]:
    """Per seed, the role's quality in its worst context, each context scaled so its candidates' means span 0-1."""
    quality = criteria(study)[QUALITY]
    worst: dict[int, float] = {}
    names = []
    for _, runs in contexts(study, results):
        name, playing = _players(study, runs, role)
        if not playing:
            return "", {}
        names.append(name)
        means = [finite_mean(by_seed(group, quality).values()) for group in by_candidate(runs).values()]
        finite = [m for m in means if math.isfinite(m)] or [math.nan]  # every run diverged: no scale, no score
        low, high = min(finite), max(finite)
        for seed, value in by_seed(playing, quality).items():
            # one candidate, or all equal: each is the best; a run without a score stays without one
            best = 1.0 if math.isfinite(value) else math.nan
            scaled = (value - low) / (high - low) if high > low else best
            scaled = scaled if quality.higher_is_better else 1.0 - scaled
            before = worst.get(seed, math.inf)
            worst[seed] = scaled if not math.isfinite(scaled) or scaled < before else before  # no score: none
    return " / ".join(names), worst


def _not_started(study: Study, results: list[RunResult], roles: tuple[str, ...]) -> list[str]:
    """The candidates playing ``roles`` in any context whose quality curve has not left its first level."""
    quality = criteria(study)[QUALITY]
    late = []
    for _, runs in contexts(study, results):
        for role in roles:
            name, playing = _players(study, runs, role)
            if playing and curve_state(playing, quality.higher_is_better, quality.margin) == NOT_STARTED:
                late.append(name)
    return late


def _pair(study: Study, results: list[RunResult], runs: list[RunResult], claim: Claim, test: Test):
    """The comparison one test plans (a margin where the claim says "equal" or "not better"), or the list of
    what the study lacks for it."""
    if claim.across_contexts:
        (a, x), (b, y) = _worst_quality(study, results, test.a), _worst_quality(study, results, test.b)
        higher, margin = True, None
        late = _not_started(study, results, (test.a, test.b))
        if late:  # its worst dataset would measure how late it starts, not how it generalises
            return [
                f"a budget at which {name} starts learning (its quality curve stays at its first level)"
                for name in late
            ]
    else:
        criterion = criteria(study).get(test.criterion)
        if criterion is None:
            return [f"a `{test.criterion}` metric"]
        (a, ra), (b, rb) = _players(study, runs, test.a), _players(study, runs, test.b)
        x, y, higher = by_seed(ra, criterion), by_seed(rb, criterion), criterion.higher_is_better
        margin = criterion.margin if test.expect in (EQUAL, NOT_BETTER) else None
        if test.expect in (EQUAL, NOT_BETTER) and margin is None:
            return [f"an equivalence margin for {criterion.label} (`margins` in the study file)"]
        if test.criterion == QUALITY and ra and rb:
            pair, basis = curve_pair(ra, rb, (x, y), (a, b), higher, margin, criterion.margin)
            if pair is None:
                return [f"a budget at which {basis} starts learning (its quality curve stays at its first level)"]
            return pair, basis
    lacking = [f"role `{role}`" for role, name in ((test.a, a), (test.b, b)) if not name]
    return lacking or (Pair(x, y, (a, b), higher, margin), "")


def verdicts(study: Study, results: list[RunResult]) -> dict[str, dict[int, tuple[str, list[str]]]]:
    """{section: {claim number: (verdict, evidence lines)}}: a section per context, and one across them. Every
    comparison of every section is one Holm family."""
    within = [c for c in CLAIMS if not c.across_contexts]
    sections = [(title, runs, within) for title, runs in contexts(study, results)]
    if len(sections) > 1:
        sections.append((ACROSS, results, [c for c in CLAIMS if c.across_contexts]))
    lacking: dict[tuple[str, int], list[str]] = {}
    planned: list[tuple[str, Claim, Test, Pair, str]] = []
    for title, runs, claims in sections:
        for claim in claims:
            for test in claim.tests:
                found = _pair(study, results, runs, claim, test)
                if isinstance(found, list):
                    missing = lacking.setdefault((title, claim.number), [])
                    missing.extend(f for f in found if f not in missing)
                else:
                    planned.append((title, claim, test, *found))
    planned = [p for p in planned if (p[0], p[1].number) not in lacking]
    judged = compare_family([pair for *_, pair, _ in planned])
    evidence: dict[tuple[str, int], list[Evidence]] = {}
    for (title, claim, test, pair, basis), comparison in zip(planned, judged, strict=True):
        evidence.setdefault((title, claim.number), []).append(Evidence(test, *pair.names, comparison, basis))
    found: dict[str, dict[int, tuple[str, list[str]]]] = {title: {} for title, _, _ in sections}
    for (title, number), missing in lacking.items():
        found[title][number] = (NOT_TESTED, [f"the study lacks {', '.join(missing)}"])
    for (title, number), items in evidence.items():
        lines = [
            f"{e.a} vs {e.b}, {e.test.criterion}{f' by {e.basis}' if e.basis else ''}: {e.outcome} -- {e.comparison}"
            for e in items
        ]
        found[title][number] = (claim_verdict(items), lines)
    return found


def control(study: Study, results: list[RunResult]) -> dict[str, str]:
    """Per context, the control's reading: f-GAN JS against the non-saturating GAN, the same model tuned twice."""
    readings = {}
    for title, runs in contexts(study, results):
        found = _pair(study, results, runs, _CONTROL_CLAIM, CONTROL)
        if isinstance(found, list):
            readings[title] = f"not measured: the study lacks {', '.join(found)}"
            continue
        pair, basis = found
        (comparison,) = compare_family([pair])
        evidence = Evidence(CONTROL, *pair.names, comparison, basis)
        reading = evidence.outcome
        if reading == UNDETERMINED and comparison.verdict in (BETTER, WORSE):
            reading = DETECTABLE
        on = f" by {basis}" if basis else ""
        readings[title] = f"{evidence.a} vs {evidence.b}{on}: {CONTROL_READINGS[reading]} -- {comparison}"
    return readings


def report(study: Study, results: list[RunResult]) -> str:
    """claims.md: the verdicts at a glance, then per section each claim's comparisons and outcomes."""
    found = verdicts(study, results)
    if ACROSS not in found:
        found[ACROSS] = {c.number: (NOT_TESTED, ["needs a study of two datasets or more"]) for c in CLAIMS
                         if c.across_contexts}  # fmt: skip
    sections = list(found)
    lines = [
        f"# {study.name}: the claims of Motwani & Parmar (2020)",
        "",
        "Each comparison is candidate a against candidate b, paired over seeds: the mean difference a - b, its t "
        "interval at the comparison's Holm level, and Holm-corrected p-values. Every comparison of this report, "
        "all its datasets together, is one Holm family (a comparison with an equivalence margin tests two "
        f'hypotheses), so the chance of any false verdict in the table is at most {ALPHA:.0%}. "Equal" and "not '
        'better" are shown only by two one-sided tests (TOST) against the margin; fewer than 3 shared seeds give '
        "no verdict. A claim is supported when every comparison comes out as claimed, refuted when one comes out "
        "against it, otherwise not detectable. A diverged run counts as the worst value of its comparison (ranked "
        "last). Quality: "
        f"{study.objectives['quality'].metric}; diversity: "
        f"{study.diversity.metric if study.diversity else 'none named'}. Margins: "
        + ", ".join(f"{c.label} ±{c.margin:g}" for c in criteria(study).values() if c.margin is not None)
        + ".",
        "",
        "| claim | " + " | ".join(sections) + " |",
        "|---|" + "---|" * len(sections),
    ]
    for claim in CLAIMS:
        cells = [found[s].get(claim.number, ("", []))[0] or "--" for s in sections]
        lines.append(f"| {claim.number}. {claim.text} | " + " | ".join(cells) + " |")
    budgets = {title: still_moving(runs, criteria(study)[QUALITY]) for title, runs in contexts(study, results)}
    noise = control(study, results)
    for section in sections:
        lines += ["", f"## {section}", ""]
        if section in budgets:  # a verdict read beside how settled the ranking was when it was taken
            lines += [f"Is the budget enough? {budgets[section]}", ""]
            lines += [f"The control (f-GAN JS trains the non-saturating GAN's arithmetic): {noise[section]}", ""]
        for number, (verdict, evidence_lines) in sorted(found[section].items()):
            how = CLAIMS[number - 1].how
            lines.append(f"**Claim {number}: {verdict}.**" + (f" Tested: {how}." if how else ""))
            lines += [f"- {line}" for line in evidence_lines]
            lines.append("")
    return "\n".join(lines)


def write_claims(study: Study, results: list[RunResult]) -> Path:
    path = study.layout.report(CLAIMS_MD)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report(study, results))
    return path
