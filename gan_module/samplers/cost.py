"""What a sampler spent on the samples it gave: generator draws, seconds, and how many hit the cap."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SamplingCost:
    """Running totals since the last :meth:`reset` (an evaluation, a ``predict``)."""

    kept: int = 0  # samples handed out
    draws: int = 0  # generator samples drawn for them (proposals, chain steps)
    seconds: float = 0.0
    capped: int = 0  # samples handed out without the sampler's criterion met (the cap was reached)

    def add(self, kept: int, draws: int, seconds: float, capped: int = 0) -> None:
        self.kept, self.draws = self.kept + kept, self.draws + draws
        self.seconds, self.capped = self.seconds + seconds, self.capped + capped

    def reset(self) -> None:
        self.kept, self.draws, self.seconds, self.capped = 0, 0, 0.0, 0

    @property
    def draws_per_sample(self) -> float:
        return self.draws / self.kept if self.kept else float("nan")

    @property
    def seconds_per_1k(self) -> float:
        return 1000.0 * self.seconds / self.kept if self.kept else float("nan")

    @property
    def capped_share(self) -> float:
        return self.capped / self.kept if self.kept else float("nan")

    def summary(self) -> str:
        """``2500 samples: 3.1 generator draws each, 0.42 s per 1,000``."""
        return (
            f"{self.kept} samples: {self.draws_per_sample:.3g} generator draws each, "
            f"{self.seconds_per_1k:.3g} s per 1,000, {self.capped} at the cap"
        )
