"""The study file's ``tune:`` section: every candidate tuned with the same budget before it is compared.

Lucic et al. (2018, "Are GANs Created Equal?") showed that comparing losses each at its own defaults mostly
measures whose defaults were tuned; with the same tuning budget per loss none consistently beat the
non-saturating GAN. So a study may tune every candidate alike (gan_module/study/tuning.py, with Optuna)::

    tune:
      trials: 12                          # the same number of finished + pruned trials for every candidate
      seeds: [100, 101]                   # tuning seeds, disjoint from the reporting `seeds`; trial i uses
                                          #   seeds[i % len(seeds)]
      budget: {iterations: 1500}          # a trial's budget (default: the study's)
      args: {evaluation.real_split: val}  # settings of tuning trials only (score trials on held-out data)
      metric: eval/fid_classifier_2k_val  # what trials are scored by (default: the study's quality metric),
                                          #   in the study's quality direction
      sampler: {name: tpe, seed: 0}       # tpe (default) or random; seeded
      pruner: {name: asha, min_iterations: 500, reduction_factor: 3}   # asha (default), hyperband or none
      spaces: configs/studies/tune/spaces.yaml   # named search spaces (or the mapping itself)
      default_space: adam                 # a candidate without `space:` searches this one
      common:                             # parameters added to every space (this study's own settings)
        ema_decay: {keys: [model.ema.init_args.decay], choices: [0.99, 0.999]}
      enqueue:                            # points tried first, in order, by every candidate (Optuna's
        - {lr_g: 1.0e-3, lr_d: 1.0e-3}    #   enqueue_trial; unnamed parameters sampled): a shipped recipe's own
                                          #   settings, so the tuner picks them unless a trial beats them

An axis value names its space with ``space: <name>`` (the last axis value naming one wins). A space maps a
parameter name to where its value goes and what it may be::

    adam:
      lr_g: {keys: [model.generator_optimizer.init_args.lr], low: 1.0e-4, high: 3.0e-3, log: true}
      beta1: {keys: [model.generator_optimizer.init_args.betas, model.discriminator_optimizer.init_args.betas],
              choices: [0.0, 0.5], template: [$, 0.999]}
    wgan_gp:
      extends: adam                       # every parameter of adam, then these (replacing same-named ones)
      k: {keys: [model.k], choices: [1, 5]}

``low``/``high`` (``log: true`` for log-uniform; ``int: true`` for integers) or ``choices``; ``template`` is any
YAML value in which the string ``$`` stands for the sampled number (a list of betas, a regularizer list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_module.errors import ConfigError

SAMPLERS = ("tpe", "random")
PRUNERS = ("asha", "hyperband", "none")
_KEYS = {
    "trials",
    "seeds",
    "budget",
    "args",
    "metric",
    "sampler",
    "pruner",
    "spaces",
    "default_space",
    "common",
    "enqueue",
}
_PARAM_KEYS = {"keys", "low", "high", "log", "int", "choices", "template"}
#: the placeholder a parameter's ``template`` holds for the sampled value
PLACEHOLDER = "$"


@dataclass(frozen=True)
class Parameter:
    """One tuned setting: a range or a list of choices, written into one or more ``main.py`` keys."""

    name: str
    keys: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()
    template: Any = PLACEHOLDER

    def settings(self, value: Any) -> dict[str, Any]:
        """The ``main.py`` settings that this parameter at ``value`` stands for."""
        filled = _fill(self.template, value)
        return dict.fromkeys(self.keys, filled)

    def suggest(self, trial) -> Any:
        """The value an Optuna trial samples (choices that are lists or mappings travel as JSON text)."""
        if self.choices:
            encoded = [_encode(c) for c in self.choices]
            return _decode(trial.suggest_categorical(self.name, encoded))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def encode(self, value: Any) -> Any:
        """A value in the parameter's own type, as Optuna stores it (the inverse of :meth:`decode`)."""
        return _encode(value) if self.choices else value

    def decode(self, stored: Any) -> Any:
        """A value as Optuna stored it, back in the parameter's own type."""
        return _decode(stored) if self.choices else stored

    def admits(self, value: Any) -> bool:
        """Whether ``value`` is a point of this parameter's range or one of its choices."""
        if self.choices:
            return _encode(value) in [_encode(c) for c in self.choices]
        return isinstance(value, int | float) and not isinstance(value, bool) and self.low <= value <= self.high

    def example(self) -> Any:
        """A valid value (the first choice, or the low end): what the pre-flight check parses."""
        return self.choices[0] if self.choices else (int(self.low) if self.integer else self.low)


@dataclass
class Tune:
    """A parsed ``tune:`` section."""

    trials: int
    seeds: list[int]
    spaces: dict[str, tuple[Parameter, ...]]
    default_space: str | None = None
    common: tuple[Parameter, ...] = ()  # in every space, and all a candidate without a space tunes
    iterations: int | None = None
    wall_time: float | None = None
    args: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None  # trials' score (None: the study's quality metric)
    sampler: str = "tpe"
    sampler_seed: int = 0
    pruner: str = "asha"
    min_iterations: int = 100
    reduction_factor: int = 3
    enqueue: tuple[dict[str, Any], ...] = ()  # points every candidate tries first (name -> value)

    def space(self, name: str | None) -> tuple[Parameter, ...]:
        """The parameters of a candidate's space (``name`` None: the default space; no default: ``common`` only)."""
        name = name or self.default_space
        return self.spaces[name] if name else self.common

    def enqueued(self, name: str | None) -> list[dict[str, Any]]:
        """The ``enqueue`` points in the space ``name``, as Optuna stores them (for ``enqueue_trial``)."""
        space = {p.name: p for p in self.space(name)}
        return [{pname: space[pname].encode(value) for pname, value in point.items()} for point in self.enqueue]


def settings_of(space: tuple[Parameter, ...], params: dict[str, Any]) -> dict[str, Any]:
    """The ``main.py`` settings of one point of a space (``params``: name -> value in the parameter's type)."""
    found: dict[str, Any] = {}
    for parameter in space:
        if parameter.name in params:
            found |= parameter.settings(params[parameter.name])
    return found


def check_enqueued(tune: Tune, space_name: str | None, where: str) -> None:
    """Every ``enqueue`` point names parameters of the space and values they admit, or one :class:`ConfigError`."""
    space = {p.name: p for p in tune.space(space_name)}
    for i, point in enumerate(tune.enqueue):
        unknown = sorted(set(point) - set(space))
        if unknown:
            raise ConfigError(
                f"{where}: `tune.enqueue[{i}]` names {unknown}, which the space "
                f"{space_name or tune.default_space or 'common'!r} does not tune; its parameters are {sorted(space)}."
            )
        for name, value in point.items():
            if not space[name].admits(value):
                allowed = space[name].choices or f"[{space[name].low:g}, {space[name].high:g}]"
                raise ConfigError(f"{where}: `tune.enqueue[{i}].{name}` is {value!r}, outside {allowed}.")


def load_tune(raw: Any, where: str, reporting_seeds: list[int]) -> Tune:
    """Read and check a ``tune:`` section; any mistake is one :class:`ConfigError` naming the key to fix."""
    where = f"{where}: `tune`"
    if not isinstance(raw, dict) or set(raw) - _KEYS:
        raise ConfigError(f"{where} takes {sorted(_KEYS)}, got {raw!r}.")
    trials = raw.get("trials")
    if not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"{where}.trials must be an integer >= 1 (trials per candidate), got {trials!r}.")
    seeds = raw.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}.seeds must be a non-empty list of integers (tuning seeds), got {seeds!r}.")
    shared = sorted(set(seeds) & set(reporting_seeds))
    if shared:
        raise ConfigError(
            f"{where}.seeds and `seeds` share {shared}: tune on seeds you do not report, or the report measures "
            "the tuning's luck on them."
        )
    budget = raw.get("budget") or {}
    if not isinstance(budget, dict) or set(budget) - {"iterations", "wall_time"}:
        raise ConfigError(f"{where}.budget takes `iterations` and/or `wall_time` (seconds), got {budget!r}.")
    sampler = dict(raw.get("sampler") or {})
    if sampler.get("name", "tpe") not in SAMPLERS or set(sampler) - {"name", "seed"}:
        raise ConfigError(f"{where}.sampler is {{name: {'|'.join(SAMPLERS)}, seed: <int>}}, got {sampler!r}.")
    pruner = dict(raw.get("pruner") or {})
    if pruner.get("name", "asha") not in PRUNERS or set(pruner) - {"name", "min_iterations", "reduction_factor"}:
        raise ConfigError(
            f"{where}.pruner is {{name: {'|'.join(PRUNERS)}, min_iterations: <int>, reduction_factor: <int>}}, "
            f"got {pruner!r}."
        )
    if int(pruner.get("reduction_factor", 3)) < 2 or int(pruner.get("min_iterations", 100)) < 1:
        raise ConfigError(f"{where}.pruner needs reduction_factor >= 2 and min_iterations >= 1, got {pruner!r}.")
    spaces = _spaces(raw.get("spaces") or {}, where)
    common = dict(raw.get("common") or {})
    added = tuple(_parameter(str(n), spec, f"{where}.common.{n}") for n, spec in common.items())
    spaces = {name: (*(p for p in params if p.name not in common), *added) for name, params in spaces.items()}
    default = raw.get("default_space")
    if default is not None and default not in spaces:
        raise ConfigError(f"{where}.default_space {default!r} is not one of the spaces {sorted(spaces)}.")
    enqueue = raw.get("enqueue") or []
    if not isinstance(enqueue, list) or not all(isinstance(point, dict) and point for point in enqueue):
        raise ConfigError(f"{where}.enqueue is a list of points, each {{<parameter>: <value>, ...}}, got {enqueue!r}.")
    return Tune(
        trials=trials,
        seeds=seeds,
        spaces=spaces,
        default_space=default,
        common=added,
        iterations=budget.get("iterations"),
        wall_time=budget.get("wall_time"),
        args=dict(raw.get("args") or {}),
        metric=str(raw["metric"]) if raw.get("metric") else None,
        sampler=sampler.get("name", "tpe"),
        sampler_seed=int(sampler.get("seed", 0)),
        pruner=pruner.get("name", "asha"),
        min_iterations=int(pruner.get("min_iterations", 100)),
        reduction_factor=int(pruner.get("reduction_factor", 3)),
        enqueue=tuple({str(k): v for k, v in point.items()} for point in enqueue),
    )


def _spaces(raw: Any, where: str) -> dict[str, tuple[Parameter, ...]]:
    if isinstance(raw, str):  # a file of named spaces, shared by several studies
        path = Path(raw)
        if not path.is_file():
            raise ConfigError(f"{where}.spaces: no such file {raw} (paths are relative to where you run).")
        raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.spaces must map space names to parameters, got {raw!r}.")
    found: dict[str, tuple[Parameter, ...]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> tuple[Parameter, ...]:
        if name in found:
            return found[name]
        if name not in raw:
            raise ConfigError(f"{where}.spaces: {chain[-1]} extends {name!r}, which is not a space.")
        if name in chain:
            raise ConfigError(f"{where}.spaces: {' -> '.join((*chain, name))} extends itself.")
        body = dict(raw[name] or {})
        base = body.pop("extends", None)
        params = {p.name: p for p in resolve(base, (*chain, name))} if base else {}
        for pname, spec in body.items():
            params[str(pname)] = _parameter(str(pname), spec, f"{where}.spaces.{name}.{pname}")
        found[name] = tuple(params.values())
        return found[name]

    for name in raw:
        resolve(str(name), ())
    return found


def _parameter(name: str, spec: Any, where: str) -> Parameter:
    if not isinstance(spec, dict) or set(spec) - _PARAM_KEYS or not spec.get("keys"):
        raise ConfigError(f"{where} is {{keys: [<main.py key>, ...], low, high[, log, int] | choices[, template]}}.")
    keys = (spec["keys"],) if isinstance(spec["keys"], str) else tuple(str(k) for k in spec["keys"])
    choices = tuple(spec.get("choices") or ())
    if choices:
        if "low" in spec or "high" in spec:
            raise ConfigError(f"{where}: give `choices` or `low`/`high`, not both.")
    else:
        low, high = spec.get("low"), spec.get("high")
        if not (isinstance(low, int | float) and isinstance(high, int | float) and low < high):
            raise ConfigError(f"{where}: `low` < `high` (numbers) or `choices` are needed, got {low!r}, {high!r}.")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{where}: a log-uniform range needs low > 0, got {low}.")
    return Parameter(
        name=name,
        keys=keys,
        low=None if choices else float(spec["low"]),
        high=None if choices else float(spec["high"]),
        log=bool(spec.get("log", False)),
        integer=bool(spec.get("int", False)),
        choices=choices,
        template=spec.get("template", PLACEHOLDER),
    )


def _fill(template: Any, value: Any) -> Any:
    if template == PLACEHOLDER:
        return value
    if isinstance(template, list):
        return [_fill(t, value) for t in template]
    if isinstance(template, dict):
        return {k: _fill(v, value) for k, v in template.items()}
    return template


def _encode(choice: Any) -> Any:
    """Optuna's categorical values are None, bool, int, float or str: anything else as JSON text."""
    return choice if choice is None or isinstance(choice, bool | int | float | str) else json.dumps(choice)


def _decode(stored: Any) -> Any:
    if isinstance(stored, str) and stored[:1] in "[{":
        return json.loads(stored)
    return stored
