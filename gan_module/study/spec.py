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
    timing: {rounds: 5, iterations: 200}        # optional: once the runs are done, time each candidate's cost
                                                #   alone, one job, interleaved (timing.py: timing.json)
    tune: {trials: 12, seeds: [100, 101], ...}  # optional: tune every candidate alike first (tune_spec.py);
                                                #   an axis value names its search space with `space: <name>`

An axis may also be the path of a YAML file holding its values (``gan: configs/studies/claims/candidates.yaml``),
so several studies share one list of candidates. The file is read by jsonargparse against the dataclasses of
schema.py (each key's type); this module checks what types cannot say and builds the candidates.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_module.errors import ConfigError
from gan_module.run.yaml_files import load_yaml_strict
from gan_module.study.claim_list import ROLES
from gan_module.study.criteria import LIMITS, WEIGHED
from gan_module.study.layout import StudyLayout
from gan_module.study.schema import (
    AxisValue,
    Objective,
    StudyFile,
    TargetSpec,
    TimingSpec,
    check_name,
    check_seeds,
    typed,
    with_files_read,
)
from gan_module.study.tune_spec import Tune, check_enqueued, load_tune


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
    timing: TimingSpec | None = None  # time every candidate's cost alone once its runs are done (timing.py)

    @property
    def objectives(self) -> dict[str, Objective]:
        """The quality objective (rank_by unless set) and, when set, the diversity objective."""
        found = {"quality": self.quality or Objective(self.rank_metric, self.rank_mode)}
        return found | ({"diversity": self.diversity} if self.diversity else {})

    @property
    def trial_metric(self) -> str:
        """The metric tuning trials are scored and pruned by: ``tune.metric``, else the study's quality metric."""
        return (self.tune.metric if self.tune else None) or self.objectives["quality"].metric

    def replicate_of(self, seed: int) -> int:
        """The tuning replicate whose settings a reporting seed trains with: the seeds cut into equal, consecutive
        shares, one per replicate (runs nested in tunings; 0 when the study tunes once or not at all)."""
        replicates = self.tune.replicates if self.tune else 1
        return self.seeds.index(seed) // (len(self.seeds) // replicates)

    def role_value(self, role: str) -> str:
        """The axis value that plays ``role`` in the claims report."""
        return self.roles.get(role, role)

    @property
    def layout(self) -> StudyLayout:
        """Every path of the study: runs, tuning, reports, locks (layout.py)."""
        return StudyLayout(self.runs_root / self.name)

    @property
    def folder(self) -> Path:
        """Where the study's runs, leaderboard, plots and answers go."""
        return self.layout.root

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
    where = f"Study file {path}"
    if not path.is_file():
        raise ConfigError(f"No study file {path}.")
    raw = load_yaml_strict(path, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} holds no settings: it is a YAML mapping of name, base, seeds, rank_by, axes, ...")
    spec: StudyFile = typed(StudyFile, with_files_read(raw, where), where, "")
    axes = _axes(spec.axes.value, where)
    check_seeds(spec.seeds, where, "seeds")
    study = Study(
        name=check_name(spec.name, where, "name"),
        path=path,
        base=[str(f) for f in spec.base],
        axes=axes,
        seeds=list(spec.seeds),
        rank_metric=spec.rank_by.metric,
        rank_mode=spec.rank_by.mode,
        metrics=list(spec.metrics or [spec.rank_by.metric]),
        spread=spec.spread,
        quality=_plain(spec.quality),
        diversity=_plain(spec.diversity),
        application=_application(spec.application, spec.diversity is not None, where),
        roles=_roles(spec.roles, axes, where),
        margins={str(k): float(v) for k, v in spec.margins.items()},
        args=dict(spec.args.value),
        iterations=spec.budget.iterations,
        wall_time=spec.budget.wall_time,
        include=_rules(spec.include, axes, where, "include"),
        exclude=_rules(spec.exclude, axes, where, "exclude"),
        runs_root=Path(runs_root or spec.runs_root or "runs/studies"),
        tune=load_tune(spec.tune.value, where, spec.seeds) if spec.tune else None,
        threshold=spec.threshold,
        targets=[_target(t, axes, where) for t in spec.targets],
        timing=spec.timing,
    )
    if not study.candidates():
        raise ConfigError(f"{where}: `include`/`exclude` leave no candidate.")
    if study.tune is not None:
        _check_spaces(study, where)
    for objective in reversed([spec.rank_by, *study.objectives.values()]):
        if objective.metric not in study.metrics:
            study.metrics.insert(0, objective.metric)
    study.metrics += [t.metric for t in study.targets if t.metric not in study.metrics]  # checked before training
    return study


def _plain(objective: Objective | None) -> Objective | None:
    """An objective as the reports compare it (a RankBy is an Objective with another default mode)."""
    return None if objective is None else Objective(objective.metric, objective.mode)


def _axes(raw: dict[str, Any], where: str) -> dict[str, dict[str, Choice]]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: `axes` must map each axis name to its values (or to a file of them).")
    axes = {}
    for axis, values in raw.items():
        key = f"axes.{check_name(str(axis), where, 'axes')}"
        if not isinstance(values, dict) or not values:
            raise ConfigError(f"{where}: axis `{axis}` must map value names to {{config, args, decision, space}}.")
        axes[str(axis)] = {
            check_name(str(v), where, f"{key}.{v}"): _choice(typed(AxisValue, spec or {}, where, f"{key}.{v}"))
            for v, spec in values.items()
        }
    return axes


def _choice(value: AxisValue) -> Choice:
    return Choice(
        configs=tuple(str(f) for f in value.config),
        args=tuple(value.args.value.items()),
        decision=tuple((d, label) for d, label in dataclasses.asdict(value.decision).items() if label is not None),
        space=value.space,
    )


def _rules(rules: list[dict[str, str]], axes: dict[str, dict[str, Choice]], where: str, key: str) -> list:
    found = [{str(a): str(v) for a, v in rule.items()} for rule in rules]
    bad = [{a: v} for rule in found for a, v in rule.items() if a not in axes or v not in axes[a]]
    if bad:
        raise ConfigError(f"{where}: `{key}` names axis values that do not exist: {bad}.")
    return found


def _roles(roles: dict[str, str], axes: dict[str, dict[str, Choice]], where: str) -> dict[str, str]:
    values = {v for choices in axes.values() for v in choices}
    bad = {r: v for r, v in roles.items() if r not in ROLES or v not in values}
    if bad:
        raise ConfigError(
            f"{where}: `roles` maps a claim role to an axis value; {bad} is not one (roles: {list(ROLES)})."
        )
    return {str(k): str(v) for k, v in roles.items()}


def _application(profile: dict[str, float], has_diversity: bool, where: str) -> dict[str, float]:
    """``{quality: w, diversity: w, cost: w}`` weights (>= 0, not all 0) and optional limits (criteria.py)."""
    if set(profile) - {*WEIGHED, *LIMITS}:
        raise ConfigError(f"{where}: `application` takes weights {list(WEIGHED)} and limits {list(LIMITS)}.")
    if profile and not any(profile.get(c, 0) for c in WEIGHED):
        raise ConfigError(f"{where}: `application` needs a weight above 0 on one of {list(WEIGHED)}.")
    if profile.get("diversity") and not has_diversity:
        raise ConfigError(f"{where}: `application` weighs diversity; name its metric in `diversity: {{metric, mode}}`.")
    return {k: float(v) for k, v in profile.items()}


def _target(spec: TargetSpec, axes: dict[str, dict[str, Choice]], where: str) -> Target:
    """``{metric: <name>, at_least: 24, where: {data: grid}}`` or ``at_most``: exactly one bound."""
    bounds = [b for b in (spec.at_least, spec.at_most) if b is not None]
    if len(bounds) != 1:
        raise ConfigError(
            f"{where}: `targets` is a list of {{metric: <name>, at_least: <number>}} (or at_most), got {spec}."
        )
    _rules([spec.where], axes, where, "targets")
    return Target(spec.metric, float(bounds[0]), spec.at_least is not None, tuple(spec.where.items()))


def _check_spaces(study: Study, where: str) -> None:
    """Every space a candidate names exists, and every ``enqueue`` point fits each space it is tried in."""
    candidates, tune = study.candidates(), study.tune
    unknown = sorted({c.space for c in candidates if c.space and c.space not in tune.spaces})
    if unknown:
        raise ConfigError(f"{where}: axis values name spaces {unknown}; `tune.spaces` has {sorted(tune.spaces)}.")
    for space in dict.fromkeys(c.space for c in candidates):  # each space once, in candidate order
        check_enqueued(tune, space, where)
