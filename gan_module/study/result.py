"""The study's typed records, stored as JSON beside the runs: what one finished run measured (``result.json``, read
by every report: leaderboard, answers, claims, application profile, plots) and what tuning chose for a candidate
(``best.json``). gan_module/study/layout.py says where each lives."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gan_module.checkpoint_io import write_text_atomically

DONE, DIVERGED = "done", "diverged"
R = TypeVar("R", bound="Record")


class Record:
    """A dataclass stored as one JSON object: keys it lacks take their defaults, unknown keys are an error."""

    @classmethod
    def from_dict(cls: type[R], raw: dict[str, Any]) -> R:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def read(cls: type[R], path: Path) -> R | None:
        """The record stored at ``path``; None when there is none. A damaged file raises ValueError (JSON, fields)."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            return cls.from_dict(json.loads(text))
        except TypeError as err:  # a field of the wrong kind, or a JSON value that is not an object
            raise ValueError(str(err)) from err

    def write(self, path: Path) -> None:
        """Atomically: a reader sees the old record or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps(self.to_dict(), indent=1))


@dataclass
class RunResult(Record):
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
        found = super().from_dict(raw)
        found.curve = [(int(i), float(v)) for i, v in found.curve]
        return found


@dataclass
class TunedSettings(Record):
    """What tuning chose for one candidate (``best.json``, written once its trials are done)."""

    trial: int | None = None  # the chosen trial's number; None when every trial was pruned or diverged
    value: float | None = None  # its tuning score
    params: dict[str, Any] = field(default_factory=dict)  # parameter name -> value, in the parameter's type
    settings: dict[str, Any] = field(default_factory=dict)  # the main.py settings they stand for
    kept_default: bool = False  # the candidate's own recipe (trial 0) scored best: tuning found nothing better
    default_value: float | None = None  # the own recipe's tuning score (None: not tried, pruned or diverged)
