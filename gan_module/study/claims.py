"""The six claims of Motwani & Parmar (2020), each tested by comparisons between the candidates that play its roles.

A claim is a list of planned comparisons -- role ``a`` against role ``b`` on one criterion (measured.py) -- each
with the outcome the claim predicts. Candidates play roles by their axis values (spec.py ``ROLES``; a study's
``roles`` maps a role to another value name). All comparisons of one context (dataset) form one family for
Holm's correction (statistics.py). A comparison's outcome is *as claimed*, *against* (significant the other
way, or a significant difference where the claim says equal), or *undetermined* (no detectable difference
where the claim predicts one; equal within the seeds' noise but not provably within the margin). A claim is
**supported** when every comparison is as claimed, **refuted** when any is against, and otherwise **not
detectable at this budget**.

Claim 3 (generalisation across distributions) compares each candidate's worst scaled quality over the
study's contexts, so it needs a study with two datasets or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_module.study.answers import still_moving
from gan_module.study.measured import COST, INSTABILITY, by_candidate, by_seed, contexts, criteria, finite_mean
from gan_module.study.spec import Study
from gan_module.study.statistics import BETTER, NO_DIFFERENCE, WORSE, Comparison, compare, judge

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
#: claim 6's "equally realistic": both candidates' mean quality within this share of their average
EQUIVALENCE_MARGIN = 0.1
QUALITY, DIVERSITY, WORST_QUALITY = "quality", "diversity", "worst quality"
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
        "on the non-saturating loss: + gradient penalty against none (quality; the diagnostics' unstable and "
        "non-convergence flags), + spectral norm against + gradient penalty in measured seconds per iteration",
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
        f"no detectable difference in quality, and the (Holm) interval within ±{EQUIVALENCE_MARGIN:.0%} of the "
        "pair's mean",
    ),
)


@dataclass(frozen=True)
class Evidence:
    """One planned comparison, as measured."""

    test: Test
    a: str  # the candidates that played the roles
    b: str
    comparison: Comparison
    margin: float = math.nan  # claim 6's equivalence margin

    @property
    def outcome(self) -> str:
        verdict = self.comparison.verdict
        if self.test.expect == EQUAL:
            if verdict != NO_DIFFERENCE:
                return AGAINST
            inside = -self.margin <= self.comparison.low and self.comparison.high <= self.margin
            return AS_CLAIMED if inside else UNDETERMINED
        if self.test.expect == NOT_BETTER:
            return AGAINST if verdict == BETTER else AS_CLAIMED
        if verdict == self.test.expect:
            return AS_CLAIMED
        return UNDETERMINED if verdict == NO_DIFFERENCE else AGAINST


def claim_verdict(evidence: list[Evidence]) -> str:
    outcomes = [e.outcome for e in evidence]
    if AGAINST in outcomes:
        return REFUTED
    return SUPPORTED if outcomes and all(o == AS_CLAIMED for o in outcomes) else NOT_DETECTABLE


def _players(study: Study, runs: list[dict[str, Any]], role: str) -> tuple[str, list[dict[str, Any]]]:
    """The candidate playing ``role`` in these runs (one context), and its runs; ("", []) when none does."""
    value = study.role_value(role)
    playing = [r for r in runs if value in r["values"].values()]
    return (playing[0]["candidate"], playing) if playing else ("", [])


def _worst_quality(study: Study, results: list[dict[str, Any]], role: str) -> tuple[str, dict[int, float]]:
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


Inputs = tuple[str, dict[int, float], str, dict[int, float], bool]  # a, a's values by seed, b, b's, higher better


def _inputs(study: Study, results: list[dict[str, Any]], runs: list[dict[str, Any]], claim: Claim, test: Test):
    """(a, a by seed, b, b by seed, higher is better) of one test, or the list of what the study lacks for it."""
    if claim.across_contexts:
        (a, x), (b, y) = _worst_quality(study, results, test.a), _worst_quality(study, results, test.b)
        higher = True
    else:
        criterion = criteria(study).get(test.criterion)
        if criterion is None:
            return [f"a `{test.criterion}` metric"]
        (a, ra), (b, rb) = _players(study, runs, test.a), _players(study, runs, test.b)
        x, y, higher = by_seed(ra, criterion), by_seed(rb, criterion), criterion.higher_is_better
    lacking = [f"role `{role}`" for role, name in ((test.a, a), (test.b, b)) if not name]
    return lacking or (a, x, b, y, higher)


def evidence(
    study: Study, results: list[dict[str, Any]], runs: list[dict[str, Any]], claims: list[Claim]
) -> dict[int, list[Evidence] | list[str]]:
    """Each claim's evidence, all its comparisons in one family Holm-corrected together; a claim the study
    cannot test maps to what it lacks (roles without a candidate, a metric) instead."""
    lacking: dict[int, list[str]] = {}
    planned: list[tuple[int, Test, Inputs]] = []
    for claim in claims:
        for test in claim.tests:
            found = _inputs(study, results, runs, claim, test)
            if isinstance(found, list):
                lacking.setdefault(claim.number, []).extend(f for f in found if f not in lacking[claim.number])
            else:
                planned.append((claim.number, test, found))
    planned = [p for p in planned if p[0] not in lacking]
    family = [compare(x, y, (a, b), higher) for _, _, (a, x, b, y, higher) in planned]
    judged = judge(family, [p[2][1] for p in planned], [p[2][3] for p in planned])
    result: dict[int, list[Evidence] | list[str]] = dict(lacking)
    for (number, test, (a, x, b, y, _)), comparison in zip(planned, judged, strict=True):
        margin = EQUIVALENCE_MARGIN * abs(finite_mean(x.values()) + finite_mean(y.values())) / 2
        result.setdefault(number, []).append(Evidence(test, a, b, comparison, margin))
    return result


def verdicts(study: Study, results: list[dict[str, Any]]) -> dict[str, dict[int, tuple[str, list[str]]]]:
    """{section: {claim number: (verdict, evidence lines)}}: a section per context, and one across them."""
    within = [c for c in CLAIMS if not c.across_contexts]
    sections = [(title, runs, within) for title, runs in contexts(study, results)]
    if len(sections) > 1:
        sections.append((ACROSS, results, [c for c in CLAIMS if c.across_contexts]))
    found: dict[str, dict[int, tuple[str, list[str]]]] = {}
    for title, runs, claims in sections:
        table = found.setdefault(title, {})
        for number, items in evidence(study, results, runs, claims).items():
            if items and isinstance(items[0], str):
                table[number] = (NOT_TESTED, [f"the study lacks {', '.join(items)}"])
                continue
            lines = [
                f"{e.a} vs {e.b}, {e.test.criterion}: {e.outcome} -- {e.comparison}"
                + (f" (margin ±{e.margin:.2g})" if e.test.expect == EQUAL else "")
                for e in items
            ]
            table[number] = (claim_verdict(items), lines)
    return found


def report(study: Study, results: list[dict[str, Any]]) -> str:
    """claims.md: the verdicts at a glance, then per section each claim's comparisons and outcomes."""
    found = verdicts(study, results)
    if ACROSS not in found:
        found[ACROSS] = {c.number: (NOT_TESTED, ["needs a study of two datasets or more"]) for c in CLAIMS
                         if c.across_contexts}  # fmt: skip
    sections = list(found)
    lines = [
        f"# {study.name}: the claims of Motwani & Parmar (2020)",
        "",
        "Each comparison is candidate a against candidate b, paired over seeds: the mean difference a - b, its "
        "interval at the comparison's Holm level, and the Holm-corrected p-value over every comparison of its "
        "section. A claim is supported when every comparison comes out as claimed, refuted when one comes out "
        "against it, otherwise not detectable; a diverged run has no score and leaves its seed out of the pair. "
        "Quality: "
        f"{study.objectives['quality'].metric}; diversity: "
        f"{study.diversity.metric if study.diversity else 'none named'}.",
        "",
        "| claim | " + " | ".join(sections) + " |",
        "|---|" + "---|" * len(sections),
    ]
    for claim in CLAIMS:
        cells = [found[s].get(claim.number, ("", []))[0] or "--" for s in sections]
        lines.append(f"| {claim.number}. {claim.text} | " + " | ".join(cells) + " |")
    budgets = {title: still_moving(runs, criteria(study)[QUALITY]) for title, runs in contexts(study, results)}
    for section in sections:
        lines += ["", f"## {section}", ""]
        if section in budgets:  # a verdict read beside how settled the ranking was when it was taken
            lines += [f"Is the budget enough? {budgets[section]}", ""]
        for number, (verdict, evidence_lines) in sorted(found[section].items()):
            how = CLAIMS[number - 1].how
            lines.append(f"**Claim {number}: {verdict}.**" + (f" Tested: {how}." if how else ""))
            lines += [f"- {line}" for line in evidence_lines]
            lines.append("")
    return "\n".join(lines)


def write_claims(study: Study, results: list[dict[str, Any]]) -> Path:
    path = study.folder / "claims.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report(study, results))
    return path
