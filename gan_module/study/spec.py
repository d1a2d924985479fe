"""The study file: which candidates to train, on which seeds, under which budget, ranked by what.

Motwani & Parmar (2020) narrow the choice of a GAN to four decision parameters -- architecture, loss,
regularization and divergence -- and compare the remaining combinations on the same footing. A study file
writes that down::

    name: mixtures
    base: [configs/mixtures/base.yaml]          # every run starts from these configs
    args: {trainer.limit_train_batches: 100}    # and these settings (any main.py key)
    seeds: [0, 1, 2]
    budget: {iterations: 1000}                  # generator iterations and/or wall_time (seconds) per run
    rank_by: {metric: eval/modes_2500_high_quality, mode: max}
    metrics: [eval/modes_2500_captured_any, eval/modes_2500_high_quality]
    spread: se                                  # the leaderboard's ± : std (default) or standard error
    axes:                                       # the candidates are the product of the axes' values
      data:
        ring: {decision: {}}
        grid: {config: configs/mixtures/grid.yaml}
      loss:
        ns: {decision: {loss: non-saturating, divergence: Jensen-Shannon, regularization: none}}
        wgan_gp:
          config: configs/losses/wgan_gp.yaml
          args: {model.k: 5}
          decision: {loss: Wasserstein, divergence: Wasserstein-1, regularization: gradient penalty}
    exclude: [{data: grid, loss: wgan_gp}]      # optional: leave combinations out (or `include` only some)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_module.errors import ConfigError

DECISIONS = ("architecture", "loss", "regularization", "divergence")
_KEYS = {
    "name",
    "base",
    "args",
    "seeds",
    "budget",
    "rank_by",
    "metrics",
    "spread",
    "axes",
    "include",
    "exclude",
    "runs_root",
}
#: how the leaderboard states the spread over seeds: sample standard deviation, or standard error of the mean
SPREADS = ("std", "se")


@dataclass(frozen=True)
class Choice:
    """One value of one axis: config files and settings added to the run, and its decision labels."""

    configs: tuple[str, ...] = ()
    args: tuple[tuple[str, Any], ...] = ()
    decision: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One combination of axis values: a GAN to train on every seed."""

    name: str
    values: tuple[tuple[str, str], ...]  # (axis, value name) in axis order
    configs: tuple[str, ...]
    args: tuple[tuple[str, Any], ...]
    decision: tuple[tuple[str, str], ...]

    def value(self, axis: str) -> str:
        return dict(self.values)[axis]


@dataclass
class Study:
    """A parsed, validated study file."""

    name: str
    path: Path
    base: list[str]
    axes: dict[str, dict[str, Choice]]
    seeds: list[int]
    rank_metric: str
    rank_mode: str
    metrics: list[str]
    spread: str = "std"
    args: dict[str, Any] = field(default_factory=dict)
    iterations: int | None = None
    wall_time: float | None = None
    include: list[dict[str, str]] = field(default_factory=list)
    exclude: list[dict[str, str]] = field(default_factory=list)
    runs_root: Path = Path("runs/studies")

    @property
    def folder(self) -> Path:
        """Where the study's runs, leaderboard, plots and answers go."""
        return self.runs_root / self.name

    def candidates(self) -> list[Candidate]:
        """The product of the axes, filtered by ``include`` and ``exclude``, in file order."""
        names = list(self.axes)
        found = []
        for combo in itertools.product(*(self.axes[a].items() for a in names)):
            values = dict(zip(names, (value for value, _ in combo), strict=True))
            if self.include and not any(_matches(values, rule) for rule in self.include):
                continue
            if any(_matches(values, rule) for rule in self.exclude):
                continue
            choices = [choice for _, choice in combo]
            decision: dict[str, str] = {}
            for choice in choices:  # a later axis refines an earlier one's labels
                decision.update(choice.decision)
            found.append(
                Candidate(
                    name="-".join(values.values()),
                    values=tuple(values.items()),
                    configs=tuple(c for choice in choices for c in choice.configs),
                    args=tuple(kv for choice in choices for kv in choice.args),
                    decision=tuple(decision.items()),
                )
            )
        return found

    def runs(self) -> list[tuple[Candidate, int]]:
        """Every (candidate, seed), candidates first: run i of ``--index i``."""
        return [(c, s) for c in self.candidates() for s in self.seeds]

    def candidate(self, name: str) -> Candidate:
        for c in self.candidates():
            if c.name == name:
                return c
        raise ConfigError(f"Study {self.name} has no candidate {name!r}; `--list` shows them.")


def _matches(values: dict[str, str], rule: dict[str, str]) -> bool:
    return all(values.get(axis) == value for axis, value in rule.items())


def load_study(path: str | Path, runs_root: str | Path | None = None) -> Study:
    """Read and check a study file; any mistake is one :class:`ConfigError` naming the key to fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No study file {path}.")
    raw = yaml.safe_load(path.read_text()) or {}
    where = f"Study file {path}"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; the keys are {sorted(_KEYS)}.")
    for key in ("name", "base", "axes", "seeds", "rank_by"):
        if key not in raw:
            raise ConfigError(f"{where}: `{key}` is missing (see gan_module/study/spec.py for the format).")
    base = _files(raw["base"], f"{where}: base")
    axes = {}
    if not isinstance(raw["axes"], dict) or not raw["axes"]:
        raise ConfigError(f"{where}: `axes` must map each axis name to its values.")
    for axis, values in raw["axes"].items():
        if not isinstance(values, dict) or not values:
            raise ConfigError(f"{where}: axis `{axis}` must map value names to {{config, args, decision}}.")
        axes[str(axis)] = {str(v): _choice(spec, f"{where}: axes.{axis}.{v}") for v, spec in values.items()}
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: `seeds` must be a non-empty list of integers, got {seeds!r}.")
    rank = raw["rank_by"]
    if not isinstance(rank, dict) or "metric" not in rank or rank.get("mode", "min") not in ("min", "max"):
        raise ConfigError(f"{where}: `rank_by` must be {{metric: <logged name>, mode: min|max}}, got {rank!r}.")
    spread = raw.get("spread", "std")
    if spread not in SPREADS:
        raise ConfigError(f"{where}: `spread` must be std (standard deviation) or se (standard error), got {spread!r}.")
    budget = raw.get("budget") or {}
    if set(budget) - {"iterations", "wall_time"}:
        raise ConfigError(f"{where}: `budget` takes `iterations` and/or `wall_time` (seconds), got {sorted(budget)}.")
    for rules in ("include", "exclude"):
        for rule in raw.get(rules) or []:
            bad = {a: v for a, v in rule.items() if a not in axes or str(v) not in axes[a]}
            if bad:
                raise ConfigError(f"{where}: `{rules}` names axis values that do not exist: {bad}.")
    study = Study(
        name=str(raw["name"]),
        path=path,
        base=base,
        axes=axes,
        seeds=seeds,
        rank_metric=rank["metric"],
        rank_mode=rank.get("mode", "min"),
        metrics=list(raw.get("metrics") or [rank["metric"]]),
        spread=spread,
        args=dict(raw.get("args") or {}),
        iterations=budget.get("iterations"),
        wall_time=budget.get("wall_time"),
        include=[{a: str(v) for a, v in r.items()} for r in raw.get("include") or []],
        exclude=[{a: str(v) for a, v in r.items()} for r in raw.get("exclude") or []],
        runs_root=Path(runs_root or raw.get("runs_root") or "runs/studies"),
    )
    if not study.candidates():
        raise ConfigError(f"{where}: `include`/`exclude` leave no candidate.")
    if study.rank_metric not in study.metrics:
        study.metrics.insert(0, study.rank_metric)
    return study


def _files(value: Any, where: str) -> list[str]:
    files = [value] if isinstance(value, str) else list(value or [])
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"{where}: no such config file {missing[0]} (paths are relative to where you run).")
    return files


def _choice(spec: Any, where: str) -> Choice:
    spec = spec or {}
    if not isinstance(spec, dict) or set(spec) - {"config", "args", "decision"}:
        raise ConfigError(f"{where}: a value takes `config`, `args` and `decision`, got {spec!r}.")
    decision = spec.get("decision") or {}
    unknown = sorted(set(decision) - set(DECISIONS))
    if unknown:
        raise ConfigError(f"{where}: decision parameters are {list(DECISIONS)}, not {unknown}.")
    return Choice(
        configs=tuple(_files(spec.get("config"), where)),
        args=tuple((str(k), v) for k, v in (spec.get("args") or {}).items()),
        decision=tuple((k, str(v)) for k, v in decision.items()),
    )
