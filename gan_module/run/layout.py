"""The layout of one run folder, written down once: every path the CLI, the callbacks, the study and the
benchmarks read or write inside a run.

::

    <trainer.default_root_dir>/version_N/    RunLayout.root (claimed by gan_module/cli.py)
      config.yaml                            the full resolved config (LightningCLI's SaveConfigCallback)
      metrics.csv                            the CSV logger's rows (gan_module/loggers.py)
      images/<key>/iter_00000000.png         sample grids, interpolations (callbacks/images.py)
      checkpoints/last.ckpt, *.ckpt          what --ckpt_path last resumes; the periodic ones
      test/, validate/, predict/             main.py test|validate|predict of the run's checkpoint, each a
                                             folder of the same layout (test/metrics.csv, predict/samples.pt)
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

VERSION_PREFIX = "version_"
CONFIG = "config.yaml"
METRICS = "metrics.csv"  # Lightning's CSV logger's file name (tests/test_run_layout.py checks they agree)
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
IMAGES = "images"
_IMAGE_PREFIX = "iter_"
_VERSION = re.compile(rf"^{VERSION_PREFIX}(\d+)$")


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder."""

    root: Path

    @classmethod
    def numbered(cls, parent: Path, number: int) -> RunLayout:
        """``parent/version_<number>``."""
        return cls(Path(parent) / f"{VERSION_PREFIX}{number}")

    @property
    def number(self) -> int | None:
        """N of a ``version_N`` folder; None for any other name."""
        found = _VERSION.match(self.root.name)
        return int(found.group(1)) if found else None

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST_CHECKPOINT

    def images(self, key: str) -> Path:
        """The folder of one image series (``samples``, ``interpolation_linear``)."""
        return self.root / IMAGES / key

    def image(self, key: str, iteration: int) -> Path:
        return self.images(key) / f"{_IMAGE_PREFIX}{iteration:08d}.png"

    def latest_image(self, key: str) -> Path | None:
        """The series' image of the highest iteration, or None when it has none yet."""
        found = sorted(self.images(key).glob(f"{_IMAGE_PREFIX}*.png"))
        return found[-1] if found else None

    def evaluation(self, subcommand: str) -> RunLayout:
        """Where ``validate``/``test``/``predict`` of this run's checkpoint write: beside its training logs."""
        return RunLayout(self.root / subcommand)


def versions(parent: Path) -> list[RunLayout]:
    """The ``version_N`` run folders of ``parent``, oldest (lowest N) first."""
    if not Path(parent).is_dir():
        return []
    found = [RunLayout(p) for p in Path(parent).iterdir() if p.is_dir()]
    return sorted((run for run in found if run.number is not None), key=lambda run: run.number)


def latest_last_checkpoint(parent: Path) -> Path | None:
    """The newest run's ``last.ckpt`` under ``parent`` (what ``--ckpt_path last`` resumes), or None."""
    for run in reversed(versions(parent)):
        if run.last_checkpoint.is_file():
            return run.last_checkpoint
    return None


def next_run(parent: Path) -> RunLayout:
    """The run folder a new run under ``parent`` would take (one above the highest ``version_N``)."""
    found = versions(parent)
    return RunLayout.numbered(parent, found[-1].number + 1 if found else 0)


def claim_run(parent: Path) -> RunLayout:
    """Create the next free ``parent/version_N`` and return it. The creation is the claim: two runs started at
    the same moment cannot both create one folder, so the later one takes the next number."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    number = next_run(parent).number
    while True:
        run = RunLayout.numbered(parent, number)
        try:
            run.root.mkdir()
            return run
        except FileExistsError:
            number += 1


def remove_if_untrained(root: Path) -> None:
    """Delete a new run folder whose command failed before training logged or saved anything."""
    if root.is_dir() and not any(root.rglob("*.ckpt")) and not any(root.rglob(METRICS)):
        shutil.rmtree(root, ignore_errors=True)
