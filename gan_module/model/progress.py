"""Where training stands, in the units GAN papers use, and how long it has taken: two plain objects the GAN
module owns (gan_module/model/module.py counts, gan_module/model/run_state.py saves and restores them).

Lightning's ``global_step`` counts optimizer steps -- k + 1 per iteration of Algorithm 1 -- so it is no measure
of training length here: :class:`Progress` counts D steps, generator iterations and real images shown to D
(StyleGAN's kimg); :class:`Clock` the wall-clock seconds of fitting over every attempt of a run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass


@dataclass
class Progress:
    """D steps, generator steps (iterations) and real images shown to D, over every attempt of a run."""

    d_steps: int = 0
    iterations: int = 0
    images_seen: int = 0

    def discriminator_stepped(self, batch_size: int) -> None:
        self.d_steps += 1
        self.images_seen += batch_size

    def generator_due(self, k: int) -> bool:
        """Algorithm 1: after every k-th D step, one G step."""
        return self.d_steps % k == 0

    def generator_stepped(self) -> None:
        self.iterations += 1

    def state_dict(self) -> dict[str, int]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.d_steps = state.get("d_steps", 0)
        self.iterations = state.get("iterations", 0)
        self.images_seen = state.get("images_seen", 0)


class Clock:
    """Wall-clock seconds spent fitting, over every attempt of a run (StyleGAN's ``total_sec``)."""

    def __init__(self) -> None:
        self.before = 0.0  # earlier attempts (from the checkpoint)
        self._started: float | None = None  # when this attempt's fitting started

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.before, self._started = self.seconds(), None

    def seconds(self) -> float:
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self.before + running
