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
    spread: ci                                  # the leaderboard's spread: t 95% interval (default),
                                                #   std, or se (standard error)
    quality: {metric: eval/modes_2500_high_quality, mode: max}   # default: rank_by
    diversity: {metric: eval/modes_2500_captured_any, mode: max} # optional: the leaderboard's Pareto front
    application: {quality: 0.5, diversity: 0.4, cost: 0.1, max_seconds_per_iteration: 0.05}
                                                # optional: what the application needs; the report picks a GAN
    roles: {bn_g: ns}                           # optional: which axis value plays a claim's role (claims.py)
    margins: {eval/fid_classifier_2k_test: 30}  # optional: equivalence margins in each metric's units (or of
                                                #   `cost`, `instability`); defaults: the metric's own
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
    targets: [{metric: eval/modes_2500_captured_any, at_least: 24}]   # optional: levels each seed should reach;
                                                #   the leaderboard shows the share of seeds that do
    threshold: 0.5                              # optional: a quality level; reports say how many iterations and
                                                #   seconds each candidate took to reach it (learning.py)
    tune: {trials: 12, seeds: [100, 101], ...}  # optional: tune every candidate alike first (tune_spec.py);
                                                #   an axis value names its search space with `space: <name>`

An axis may also be the path of a YAML file holding its values (``gan: configs/studies/claims/candidates.yaml``),
so several studies share one list of candidates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_module.errors import ConfigError
from gan_module.study.tune_spec import Tune, check_enqueued, load_tune

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
    "quality",
    "diversity",
    "application",
    "roles",
    "margins",
    "tune",
    "threshold",
    "targets",
}
#: how the leaderboard states the spread over seeds: Student's t 95% interval of the mean, sample standard
#: deviation, or standard error of the mean
SPREADS = ("ci", "std", "se")
#: the criteria an application profile weighs (cost: measured training seconds per generator iteration)
CRITERIA = ("quality", "diversity", "cost")
#: hard limits an application profile may set, on the candidates' mean measured cost
LIMITS = ("max_seconds_per_iteration", "max_seconds_per_run")
#: the parts a claim of Motwani & Parmar (2020) is tested with (gan_module/study/claims.py); a candidate plays a
#: role when one of its axis values has the role's name, or the value ``roles`` maps the role to
ROLES = (
    "ns",  # the non-saturating GAN of Goodfellow et al. 2014: every claim's baseline
    "lsgan",
    "rsgan",
    "ralsgan",
    "wgan_gp",
    "sngan",
    "loss_sensitive",
    "gp",  # the baseline's loss with a gradient penalty
    "sn",  # the baseline's loss with spectral normalization in D
    "bn_g",  # batch norm in G only
    "no_bn",  # batch norm in neither network
    "bn_gd",  # batch norm in G and in D
    "fgan_js",
    "fgan_kl",
    "fgan_hellinger",
)


@dataclass(frozen=True)
class Objective:
    """A logged metric and which way is better."""

    metric: str
    mode: str = "max"


@dataclass(frozen=True)
class Target:
    """A level one seed's final value must reach (``at_least`` or ``at_most``), e.g. 24 of the grid's 25 modes."""

    metric: str
    value: float
    at_least: bool = True
    where: tuple[tuple[str, str], ...] = ()  # only the candidates with these axis values (the grid, say)

    @property
    def label(self) -> str:
        scope = "".join(f" ({value})" for _, value in self.where)
        return f"{self.metric.removeprefix('eval/')} {'>=' if self.at_least else '<='} {self.value:g}{scope}"

    def applies(self, candidate: Candidate) -> bool:
        return all(dict(candidate.values).get(axis) == value for axis, value in self.where)

    def reached(self, value: float) -> bool:
        return value >= self.value if self.at_least else value <= self.value


@dataclass(frozen=True)
class Choice:
    """One value of one axis: config files and settings added to the run, and its decision labels."""

    configs: tuple[str, ...] = ()
    args: tuple[tuple[str, Any], ...] = ()
    decision: tuple[tuple[str, str], ...] = ()
    space: str | None = None  # the search space its candidates are tuned in (tune_spec.py)


@dataclass(frozen=True)
class Candidate:
    """One combination of axis values: a GAN to train on every seed."""

    name: str
    values: tuple[tuple[str, str], ...]  # (axis, value name) in axis order
    configs: tuple[str, ...]
    args: tuple[tuple[str, Any], ...]
    decision: tuple[tuple[str, str], ...]
    space: str | None = None  # the search space it is tuned in (None: the study's default space)

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
    spread: str = "ci"
    quality: Objective | None = None  # None: rank_by
    diversity: Objective | None = None
    application: dict[str, float] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    margins: dict[str, float] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    iterations: int | None = None
    wall_time: float | None = None
    include: list[dict[str, str]] = field(default_factory=list)
    exclude: list[dict[str, str]] = field(default_factory=list)
    runs_root: Path = Path("runs/studies")
    tune: Tune | None = None  # tune every candidate alike before the reporting runs (tuning.py)
    threshold: float | None = None  # a quality level: iterations and seconds to reach it (learning.py)
    targets: list[Target] = field(default_factory=list)  # levels a seed must reach: share of seeds reaching each

    @property
    def objectives(self) -> dict[str, Objective]:
        """The quality objective (rank_by unless set) and, when set, the diversity objective."""
        found = {"quality": self.quality or Objective(self.rank_metric, self.rank_mode)}
        return found | ({"diversity": self.diversity} if self.diversity else {})

    def role_value(self, role: str) -> str:
        """The axis value that plays ``role`` in the claims report."""
        return self.roles.get(role, role)

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
                    space=next((c.space for c in reversed(choices) if c.space), None),
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
        if isinstance(values, str):  # an axis kept in a file of its own, shared by several studies
            values = yaml.safe_load(Path(_files(values, f"{where}: axes.{axis}")[0]).read_text())
        if not isinstance(values, dict) or not values:
            raise ConfigError(f"{where}: axis `{axis}` must map value names to {{config, args, decision}}.")
        axes[str(axis)] = {str(v): _choice(spec, f"{where}: axes.{axis}.{v}") for v, spec in values.items()}
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: `seeds` must be a non-empty list of integers, got {seeds!r}.")
    rank = _objective(raw["rank_by"], f"{where}: `rank_by`", default_mode="min")
    quality = _objective(raw["quality"], f"{where}: `quality`") if raw.get("quality") else None
    diversity = _objective(raw["diversity"], f"{where}: `diversity`") if raw.get("diversity") else None
    spread = raw.get("spread", "ci")
    if spread not in SPREADS:
        raise ConfigError(
            f"{where}: `spread` must be ci (t 95% interval), std (standard deviation) or se (standard "
            f"error), got {spread!r}."
        )
    application = _application(raw.get("application") or {}, diversity is not None, where)
    roles = {str(k): str(v) for k, v in (raw.get("roles") or {}).items()}
    values = {v for choices in axes.values() for v in choices}
    bad_roles = {r: v for r, v in roles.items() if r not in ROLES or v not in values}
    if bad_roles:
        raise ConfigError(
            f"{where}: `roles` maps a claim role to an axis value; {bad_roles} is not one (roles: {list(ROLES)})."
        )
    margins = raw.get("margins") or {}
    if not isinstance(margins, dict) or not all(isinstance(v, int | float) and v > 0 for v in margins.values()):
        raise ConfigError(f"{where}: `margins` maps a metric (or cost, instability) to a number > 0, got {margins!r}.")
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
        rank_metric=rank.metric,
        rank_mode=rank.mode,
        metrics=list(raw.get("metrics") or [rank.metric]),
        spread=spread,
        quality=quality,
        diversity=diversity,
        application=application,
        roles=roles,
        margins={str(k): float(v) for k, v in margins.items()},
        args=dict(raw.get("args") or {}),
        iterations=budget.get("iterations"),
        wall_time=budget.get("wall_time"),
        include=[{a: str(v) for a, v in r.items()} for r in raw.get("include") or []],
        exclude=[{a: str(v) for a, v in r.items()} for r in raw.get("exclude") or []],
        runs_root=Path(runs_root or raw.get("runs_root") or "runs/studies"),
        tune=load_tune(_tune_section(raw["tune"], where), where, seeds) if raw.get("tune") else None,
        threshold=_threshold(raw.get("threshold"), where),
        targets=_targets(raw.get("targets"), where),
    )
    if not study.candidates():
        raise ConfigError(f"{where}: `include`/`exclude` leave no candidate.")
    for target in study.targets:
        bad = {a: v for a, v in target.where if a not in axes or v not in axes[a]}
        if bad:
            raise ConfigError(f"{where}: `targets` names axis values that do not exist: {bad}.")
    if study.tune is not None:
        unknown_spaces = sorted({c.space for c in study.candidates() if c.space and c.space not in study.tune.spaces})
        if unknown_spaces:
            raise ConfigError(
                f"{where}: axis values name spaces {unknown_spaces}; `tune.spaces` has {sorted(study.tune.spaces)}."
            )
        for space in dict.fromkeys(c.space for c in study.candidates()):  # each space once, in candidate order
            check_enqueued(study.tune, space, where)
    for objective in reversed([rank, *study.objectives.values()]):
        if objective.metric not in study.metrics:
            study.metrics.insert(0, objective.metric)
    study.metrics += [t.metric for t in study.targets if t.metric not in study.metrics]  # checked before training
    return study


def _tune_section(raw: Any, where: str) -> Any:
    """``tune:`` as written, or read from the file it names (``tune: FILE``), or that file's section updated with
    this one's keys (``tune: {from: FILE, ...}``): several studies share one tuning protocol."""
    if isinstance(raw, str):
        raw = {"from": raw}
    if not isinstance(raw, dict) or "from" not in raw:
        return raw
    shared = _tune_section(yaml.safe_load(Path(_files(raw["from"], f"{where}: tune.from")[0]).read_text()) or {}, where)
    return {**shared, **{k: v for k, v in raw.items() if k != "from"}}


def _targets(raw: Any, where: str) -> list[Target]:
    """``targets: [{metric: <name>, at_least: 24, where: {data: grid}}, {metric: <name>, at_most: 0.04}]``."""
    found = []
    for item in raw or []:
        bound = (
            {k: v for k, v in (item or {}).items() if k in ("at_least", "at_most")} if isinstance(item, dict) else {}
        )
        if (
            not isinstance(item, dict)
            or set(item) - {"metric", "at_least", "at_most", "where"}
            or not isinstance(item.get("where") or {}, dict)
            or "metric" not in item
            or len(bound) != 1
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bound.values())
        ):
            raise ConfigError(
                f"{where}: `targets` is a list of {{metric: <name>, at_least: <number>}} (or at_most), got {item!r}."
            )
        ((kind, value),) = bound.items()
        where_ = tuple((str(a), str(v)) for a, v in (item.get("where") or {}).items())
        found.append(Target(str(item["metric"]), float(value), kind == "at_least", where_))
    return found


def _threshold(value: Any, where: str) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"{where}: `threshold` is a level of the quality metric (a number), got {value!r}.")
    return None if value is None else float(value)


def _objective(value: Any, where: str, default_mode: str = "max") -> Objective:
    if not isinstance(value, dict) or "metric" not in value or value.get("mode", default_mode) not in ("min", "max"):
        raise ConfigError(f"{where} must be {{metric: <logged name>, mode: min|max}}, got {value!r}.")
    return Objective(str(value["metric"]), value.get("mode", default_mode))


def _application(profile: Any, has_diversity: bool, where: str) -> dict[str, float]:
    """``{quality: w, diversity: w, cost: w}`` weights (>= 0, not all 0) and optional limits."""
    if not isinstance(profile, dict) or set(profile) - {*CRITERIA, *LIMITS}:
        raise ConfigError(f"{where}: `application` takes weights {list(CRITERIA)} and limits {list(LIMITS)}.")
    if not profile:
        return {}
    if not all(isinstance(v, int | float) and v >= 0 for v in profile.values()):
        raise ConfigError(f"{where}: `application` weights and limits must be numbers >= 0, got {profile}.")
    if not any(profile.get(c, 0) for c in CRITERIA):
        raise ConfigError(f"{where}: `application` needs a weight above 0 on one of {list(CRITERIA)}.")
    if profile.get("diversity") and not has_diversity:
        raise ConfigError(f"{where}: `application` weighs diversity; name its metric in `diversity: {{metric, mode}}`.")
    return {k: float(v) for k, v in profile.items()}


def _files(value: Any, where: str) -> list[str]:
    files = [value] if isinstance(value, str) else list(value or [])
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"{where}: no such config file {missing[0]} (paths are relative to where you run).")
    return files


def _choice(spec: Any, where: str) -> Choice:
    spec = spec or {}
    if not isinstance(spec, dict) or set(spec) - {"config", "args", "decision", "space"}:
        raise ConfigError(f"{where}: a value takes `config`, `args`, `decision` and `space`, got {spec!r}.")
    decision = spec.get("decision") or {}
    unknown = sorted(set(decision) - set(DECISIONS))
    if unknown:
        raise ConfigError(f"{where}: decision parameters are {list(DECISIONS)}, not {unknown}.")
    return Choice(
        configs=tuple(_files(spec.get("config"), where)),
        args=tuple((str(k), v) for k, v in (spec.get("args") or {}).items()),
        decision=tuple((k, str(v)) for k, v in decision.items()),
        space=str(spec["space"]) if spec.get("space") else None,
    )
