"""What one finished study run measured: the typed record every report reads (leaderboard, answers, claims,
application profile, plots), stored as the run's ``result.json`` (gan_module/study/runner.py writes it)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

DONE, DIVERGED = "done", "diverged"


@dataclass
class RunResult:
    """One (candidate, seed): its final metrics (from ``main.py test``), the diagnostics' flag shares, the
    learning curve of the ranking metric, and its measured cost."""

    candidate: str
    seed: int
    status: str = DONE  # DONE, or DIVERGED: the loss turned non-finite; the run was not tested
    tuning: int = 0  # the tuning replicate whose settings it trained with (its seeds nested in it; tuning_noise.py)
    values: dict[str, str] = field(default_factory=dict)  # axis -> value name
    decision: dict[str, str] = field(default_factory=dict)  # decision parameter -> label
    metrics: dict[str, float] = field(default_factory=dict)  # logged name -> final value
    stability: dict[str, float] = field(default_factory=dict)  # issue -> share of logged steps flagged
    curve: list[tuple[int, float]] = field(default_factory=list)  # (iteration, ranking metric)
    untrained: dict[str, float] = field(default_factory=dict)  # each metric at iteration 0: the pick's fixed reference
    iterations: int = 0
    d_steps: int = 0  # D steps taken (k per iteration): the cost of a k > 1 recipe shows per D step too
    training_seconds: float = math.nan  # the fit's own clock, over every attempt, start-up excluded
    iterations_per_second: float = math.nan
    seconds_per_iteration: float = math.nan
    parameters: dict[str, int] = field(default_factory=dict)  # network -> trained weights
    samples: str | None = None  # the last sample grid's path
    run_seconds: float = math.nan  # wall clock of every attempt, start-up and test included
    settings: dict[str, Any] = field(default_factory=dict)  # the settings tuning chose (none: the candidate's own)

    @property
    def diverged(self) -> bool:
        return self.status == DIVERGED

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunResult:
        """From ``result.json``'s object; keys it lacks take their defaults, unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown result fields {unknown}")
        found = cls(**raw)
        found.curve = [(int(i), float(v)) for i, v in found.curve]
        return found

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
