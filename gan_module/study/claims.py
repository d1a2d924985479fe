"""The six claims of Motwani & Parmar (2020), each tested by comparisons between the candidates that play its roles.

A claim is a list of planned comparisons -- role ``a`` against role ``b`` on one criterion (criteria.py) -- each
with the outcome the claim predicts (plan.py builds each comparison). Candidates play roles by their axis values
(claim_list.py ``ROLES``; a study's ``roles`` maps a role to another value name). Every comparison of one report (all
its datasets) is one family for Holm's correction (statistics.py), so the chance of any false verdict anywhere in
the report's table is 5%. A comparison's outcome is *as claimed*, *against*, *undetermined*, *within tuning
noise* or *not testable*:

- "a beats b": as claimed when a is detectably better, against when detectably worse; on cost, with its margin
  (15% by default), as claimed only when a is shown cheaper by more than the margin, against when shown costlier
  beyond it or equal within it;
- "a and b are equal" (claim 6): as claimed only when two one-sided tests show the difference inside the
  criterion's margin (TOST), against when the whole interval lies beyond it; no detectable difference is not
  equality;
- "a is not better than b" (claim 4: a gradient penalty does not stabilise): as claimed when shown equivalent
  within the margin or detectably worse, against when detectably better and beyond the margin; **not testable**
  when the baseline shows no instability (its flagged share below the margin), the shares printed beside;
- any of these on a study tuned once, whose effect is no larger than the gap tuning luck alone gave the control
  (control.py): **within tuning noise**, neither for nor against.

A claim is **supported** when every comparison is as claimed, **refuted** when any is against, and otherwise
**not detectable at this budget**. Claim 3 (generalisation across distributions) compares each candidate's worst
scaled quality over the study's contexts, so it needs a study with two datasets or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gan_module.study.answers import still_moving
from gan_module.study.claim_list import (
    AGAINST,
    AS_CLAIMED,
    CLAIMS,
    EQUAL,
    NOT_BETTER,
    UNDETERMINED,
    Claim,
    Test,
)
from gan_module.study.control import across_bounds, control, control_bounds
from gan_module.study.criteria import QUALITY, contexts, criteria
from gan_module.study.layout import CLAIMS as CLAIMS_MD
from gan_module.study.plan import Planned, plan
from gan_module.study.result import RunResult
from gan_module.study.statistics import ALPHA, BETTER, EQUIVALENT, TOO_FEW, WORSE, Comparison, compare_family

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study

NOT_TESTABLE, WITHIN = "not testable", "within tuning noise"
# every verdict holds for the study's budget and recipes: a claim about final quality can come out refuted by a
# budget too short for a slow-starting GAN, which the answers' "Is the budget enough?" line shows
SUPPORTED, REFUTED, NOT_DETECTABLE = (
    "supported at this budget",
    "refuted at this budget",
    "not detectable at this budget",
)
NOT_TESTED = "not tested"
ACROSS = "across the datasets"
__all__ = ["AGAINST", "AS_CLAIMED", "CLAIMS", "EQUAL", "NOT_BETTER", "UNDETERMINED", "Test", "report", "verdicts"]


@dataclass(frozen=True)
class Evidence:
    """One planned comparison, as measured (``comparison`` None: it cannot test the claim, ``untestable`` says
    why)."""

    test: Test
    a: str  # the candidates that played the roles
    b: str
    comparison: Comparison | None
    basis: str = ""  # what was compared when not the final values (learning curves still rising; cost's clock)
    untestable: str = ""

    @property
    def outcome(self) -> str:
        c = self.comparison
        if c is None:
            return NOT_TESTABLE
        if c.verdict == TOO_FEW:
            return UNDETERMINED
        found = self._outcome(c)
        return WITHIN if found != UNDETERMINED and c.within_tuning_noise else found

    def _outcome(self, c: Comparison) -> str:
        if self.test.expect == EQUAL:
            return AS_CLAIMED if c.verdict == EQUIVALENT else AGAINST if c.beyond_margin else UNDETERMINED
        if self.test.expect == NOT_BETTER:
            if c.verdict in (EQUIVALENT, WORSE):
                return AS_CLAIMED
            return AGAINST if c.verdict == BETTER and c.beyond_margin else UNDETERMINED
        if c.margin is not None:  # "beats by more than the margin" (cost): equal within it is not a saving
            if c.verdict == self.test.expect and c.beyond_margin:
                return AS_CLAIMED
            against = c.verdict == EQUIVALENT or (c.verdict in (BETTER, WORSE) and c.beyond_margin)
            return AGAINST if against else UNDETERMINED
        if c.verdict == self.test.expect:
            return AS_CLAIMED
        return AGAINST if c.verdict in (BETTER, WORSE) else UNDETERMINED

    def __str__(self) -> str:
        on = f" by {self.basis}" if self.basis else ""
        if self.comparison is None:
            return f"{self.a} vs {self.b}, {self.test.criterion}: {NOT_TESTABLE} -- {self.untestable}"
        if self.outcome == WITHIN:  # the comparison says so itself
            return f"{self.a} vs {self.b}, {self.test.criterion}{on}: {self.comparison}"
        return f"{self.a} vs {self.b}, {self.test.criterion}{on}: {self.outcome} -- {self.comparison}"


def claim_verdict(evidence: list[Evidence]) -> str:
    outcomes = [e.outcome for e in evidence]
    if AGAINST in outcomes:
        return REFUTED
    return SUPPORTED if outcomes and all(o == AS_CLAIMED for o in outcomes) else NOT_DETECTABLE


def verdicts(study: Study, results: list[RunResult]) -> dict[str, dict[int, tuple[str, list[str]]]]:
    """{section: {claim number: (verdict, evidence lines)}}: a section per context, and one across them. Every
    comparison of every section is one Holm family."""
    within = [c for c in CLAIMS if not c.across_contexts]
    sections = [(title, runs, within, control_bounds(study, runs)) for title, runs in contexts(study, results)]
    if len(sections) > 1:
        claims = [c for c in CLAIMS if c.across_contexts]
        sections.append((ACROSS, results, claims, across_bounds(study, results)))
    lacking: dict[tuple[str, int], list[str]] = {}
    planned: list[tuple[str, Claim, Test, Planned]] = []
    for title, runs, claims, bounds in sections:
        for claim in claims:
            for test in claim.tests:
                found = plan(study, results, runs, test, claim.across_contexts, bounds)
                if found.lacking:
                    missing = lacking.setdefault((title, claim.number), [])
                    missing.extend(f for f in found.lacking if f not in missing)
                else:
                    planned.append((title, claim, test, found))
    planned = [p for p in planned if (p[0], p[1].number) not in lacking]
    tested = [p for p in planned if p[3].pair is not None]
    judged = dict(zip(map(id, tested), compare_family([p[3].pair for p in tested]), strict=True))
    evidence: dict[tuple[str, int], list[Evidence]] = {}
    for item in planned:
        title, claim, test, found = item
        names = found.pair.names if found.pair is not None else found.names
        evidence.setdefault((title, claim.number), []).append(
            Evidence(test, *names, judged.get(id(item)), found.basis, found.untestable)
        )
    results_by: dict[str, dict[int, tuple[str, list[str]]]] = {title: {} for title, *_ in sections}
    for (title, number), missing in lacking.items():
        results_by[title][number] = (NOT_TESTED, [f"the study lacks {', '.join(missing)}"])
    for (title, number), items in evidence.items():
        results_by[title][number] = (claim_verdict(items), [str(e) for e in items])
    return results_by


def _margins(study: Study) -> str:
    shown = []
    for c in criteria(study).values():
        if c.margin is not None:
            shown.append(f"{c.label} ±{c.margin:.0%}" if c.relative else f"{c.label} ±{c.margin:g}")
    return ", ".join(shown)


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
        "Each comparison is candidate a against candidate b: with one tuning per candidate, paired over seeds; "
        "with replicated tunings, on the tunings' means (tuning luck inside the interval). The mean difference "
        "a - b, its t interval at the comparison's Holm level, and Holm-corrected p-values. Every comparison of "
        "this report, all its datasets together, is one Holm family (a comparison's difference and equivalence "
        f"tests counted once), so the chance of any false verdict in the table is at most {ALPHA:.0%}. "
        '"Equal" and "not better" are shown only by two one-sided tests (TOST) against the margin; fewer than 3 '
        "shared seeds give no verdict. A claim is supported when every comparison comes out as claimed, refuted "
        "when one comes out against it, otherwise not detectable. A diverged run counts as the worst value of its "
        f"comparison (ranked last). {WITHIN.capitalize()}: one tuning per candidate, and an effect no larger than "
        "the control's (the same model tuned twice) -- neither for nor against. Quality: "
        f"{study.objectives['quality'].metric}; diversity: "
        f"{study.diversity.metric if study.diversity else 'none named'}. Margins: {_margins(study)}.",
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
