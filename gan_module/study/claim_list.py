"""The six claims of Motwani & Parmar (2020) as data: each a list of planned comparisons between the roles
candidates play, with the outcome the claim predicts; and the control (one model tuned twice, control.py).

Declared once here: plan.py turns a :class:`Test` into a comparison, claims.py and control.py read the outcomes,
and spec.py checks a study's ``roles`` against :data:`ROLES`. A candidate plays a role when one of its axis values
has the role's name, or the value a study's ``roles`` maps the role to.
"""

from __future__ import annotations

from dataclasses import dataclass

from gan_module.study.criteria import COST, DIVERSITY, INSTABILITY, QUALITY
from gan_module.study.statistics import BETTER, WORSE

NOT_BETTER, EQUAL = "not better", "equal"
AS_CLAIMED, AGAINST, UNDETERMINED = "as claimed", "against", "undetermined"  # a comparison's outcome (claims.py)
WORST_QUALITY = "worst quality"


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
        "each beats the non-saturating GAN on its worst dataset: in each dataset quality read by the curve rule "
        "(final values, or areas while one still learns) and scaled from the candidate's untrained level (0) to the "
        "metric's ideal (1)",
        across_contexts=True,
    ),
    Claim(
        4,
        "A gradient penalty raises quality but does not stabilise training; spectral normalization is "
        "computationally cheaper than a gradient penalty",
        (Test("gp", "ns", QUALITY, BETTER), Test("gp", "ns", INSTABILITY, NOT_BETTER), Test("sn", "gp", COST, BETTER)),
        "on the non-saturating loss: + gradient penalty against none (quality; and not more stable: the share of "
        "steps the diagnostics flag unstable or non-converging shown equivalent within its margin, or higher; "
        "testable only when the baseline is unstable), + spectral norm against + gradient penalty in seconds per "
        "1,000 iterations timed alone, cheaper by more than the cost margin",
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

#: f-GAN with the Jensen-Shannon pair trains the non-saturating GAN's arithmetic: the two, each tuned on its own,
#: differ by the noise of tuning and seeds alone (control.py)
CONTROL = Test("fgan_js", "ns", QUALITY, EQUAL)
#: every role a claim or the control names: the values a study's ``roles`` may map
ROLES = tuple(
    dict.fromkeys(role for test in (*(t for c in CLAIMS for t in c.tests), CONTROL) for role in (test.a, test.b))
)
