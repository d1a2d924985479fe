"""The Pareto front of quality, diversity and cost: the candidates no other candidate beats on every criterion.

A GAN that is slower but samples better is a fair choice for some applications and not for others; the front
lists every candidate that is the best trade-off for *some* weighting, and the application profile
(application.py) picks among them.
"""

from __future__ import annotations

import math


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """``a`` is at least as good as ``b`` on every criterion and better on one (values oriented higher = better)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_front(points: dict[str, tuple[float, ...]]) -> set[str]:
    """Names of the points no other point dominates; a point with a NaN criterion is never on the front."""
    finite = {name: p for name, p in points.items() if all(math.isfinite(v) for v in p)}
    return {name for name, p in finite.items() if not any(dominates(q, p) for q in finite.values())}
