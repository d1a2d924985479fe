"""The study file's ``tune:`` section: every candidate tuned with the same budget before it is compared.

Lucic et al. (2018, "Are GANs Created Equal?") showed that comparing losses each at its own defaults mostly
measures whose defaults were tuned; with the same tuning budget per loss none consistently beat the
non-saturating GAN. So a study may tune every candidate alike (gan_module/study/tuning.py, with Optuna)::

    tune:
      trials: 12                          # the same number of finished + pruned trials for every candidate
                                          #   (or trials_per_parameter: N, N per parameter of its space)
      seeds: [100, 101]                   # tuning seeds, disjoint from the reporting `seeds`; trial i uses
                                          #   seeds[i % len(seeds)]
      budget: {iterations: 1500}          # a trial's budget (default: the study's)
      args: {evaluation.real_split: val}  # settings of tuning trials only (score trials on held-out data)
      metric: eval/fid_classifier_2k_val  # what trials are scored by (default: the study's quality metric),
                                          #   in the study's quality direction
      sampler:                            # any optuna sampler (default: TPE, a third of the trials random first);
        class_path: optuna.samplers.TPESampler   #   its seed is mixed with the candidate and the trial number
        init_args: {seed: 0, n_startup_trials: 4}
      pruner:                             # any optuna pruner, stepping in generator iterations (default: none)
        class_path: optuna.pruners.SuccessiveHalvingPruner
        init_args: {min_resource: 500, reduction_factor: 3}
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

``low``/``high`` (``log: true`` for log-uniform; ``integer: true`` for integers) or ``choices``; ``template`` is any
YAML value in which the string ``$`` stands for the sampled number (a list of betas, a regularizer list).
"""

from __future__ import annotations

import inspect
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import optuna

from gan_module.errors import ConfigError
from gan_module.study.schema import ParameterSpec, TuneFile, check_seeds, class_object, read_yaml, typed

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

    trials: int | None  # per tuning, every space alike (None: trials_per_parameter)
    seeds: list[int]
    spaces: dict[str, tuple[Parameter, ...]]
    trials_per_parameter: int | None = None  # a space of d parameters gets d x this many trials
    replicates: int = 1  # independent tunings of every candidate, each on its share of the tuning seeds
    default_first: bool = True  # trial 0 of every tuning is the candidate's own recipe
    default_space: str | None = None
    common: tuple[Parameter, ...] = ()  # in every space, and all a candidate without a space tunes
    iterations: int | None = None
    wall_time: float | None = None
    args: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None  # trials' score (None: the study's quality metric)
    sampler: tuple[type, dict[str, Any]] = (optuna.samplers.TPESampler, {})  # the class and its arguments
    pruner: optuna.pruners.BasePruner = field(default_factory=optuna.pruners.NopPruner)
    pruner_args: dict[str, Any] = field(default_factory=dict)  # as given, for the report
    enqueue: tuple[dict[str, Any], ...] = ()  # points every candidate tries first (name -> value)

    def seeds_of(self, replicate: int) -> list[int]:
        """The tuning seeds of one replicate: ``seeds`` cut into ``replicates`` equal, consecutive shares."""
        share = len(self.seeds) // self.replicates
        return self.seeds[replicate * share : (replicate + 1) * share]

    def trials_for(self, name: str | None) -> int:
        """The trials of one tuning in the space ``name``: ``trials``, or ``trials_per_parameter`` per parameter."""
        return trial_count(self.trials, self.trials_per_parameter, len(self.space(name)))

    @property
    def trials_said(self) -> str:
        """How many trials a tuning has, as a report says it."""
        if self.trials is not None:
            return f"{self.trials} trials"
        return f"{self.trials_per_parameter} trial{'s' * (self.trials_per_parameter > 1)} a parameter"

    def space(self, name: str | None) -> tuple[Parameter, ...]:
        """The parameters of a candidate's space (``name`` None: the default space; no default: ``common`` only)."""
        name = name or self.default_space
        return self.spaces[name] if name else self.common

    def enqueued(self, name: str | None) -> list[dict[str, Any]]:
        """The ``enqueue`` points in the space ``name``, as Optuna stores them (for ``enqueue_trial``)."""
        space = {p.name: p for p in self.space(name)}
        return [{pname: space[pname].encode(value) for pname, value in point.items()} for point in self.enqueue]

    def new_sampler(self, candidate: str, asked: int) -> optuna.samplers.BaseSampler:
        """The sampler for the next trial, its seed mixed with the candidate and the trials asked so far: one worker
        repeats itself exactly, and parallel workers do not propose the same settings."""
        kind, arguments = self.sampler
        seed = zlib.crc32(f"{arguments.get('seed') or 0}/{candidate}/{asked}".encode())
        return kind(**{**arguments, "seed": seed}) if "seed" in _parameters(kind) else kind(**arguments)

    @property
    def described(self) -> str:
        """The sampler and pruner as a report names them."""
        kind, arguments = self.sampler

        def call(name: str, args: dict[str, Any]) -> str:
            return f"{name}({', '.join(f'{k}={v}' for k, v in args.items())})"

        return f"{call(kind.__name__, arguments)}, {call(type(self.pruner).__name__, self.pruner_args)}"


def trial_count(trials: int | None, per_parameter: int | None, parameters: int) -> int:
    """A tuning's trials: ``trials`` for every space alike, else ``per_parameter`` per parameter of its space."""
    return trials if trials is not None else per_parameter * max(1, parameters)


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
    spec: TuneFile = typed(TuneFile, raw, where, "tune")
    check_seeds(spec.seeds, where, "tune.seeds")
    for key, seeds in (("tune.seeds", spec.seeds), ("seeds", reporting_seeds)):
        if len(seeds) % spec.replicates:
            raise ConfigError(
                f"{where}: `{key}` has {len(seeds)} seeds, which {spec.replicates} tuning replicates cannot share "
                "equally: give a multiple of `tune.replicates`."
            )
    shared = sorted(set(spec.seeds) & set(reporting_seeds))
    if shared:
        raise ConfigError(
            f"{where}: `tune.seeds` and `seeds` share {shared}: tune on seeds you do not report, or the report "
            "measures the tuning's luck on them."
        )
    spaces = _spaces(spec.spaces.value, where)
    common = tuple(_parameter(n, p.value, where, f"tune.common.{n}") for n, p in spec.common.items())
    spaces = {name: (*(p for p in params if p.name not in spec.common), *common) for name, params in spaces.items()}
    if spec.default_space is not None and spec.default_space not in spaces:
        raise ConfigError(
            f"{where}: `tune.default_space` {spec.default_space!r} is not one of the spaces {sorted(spaces)}."
        )
    if (spec.trials is None) == (spec.trials_per_parameter is None):
        raise ConfigError(
            f"{where}: give `tune.trials` (every space alike) or `tune.trials_per_parameter` (in proportion to "
            "each space's parameters), one of them."
        )
    smallest = min([len(p) for p in spaces.values()] or [len(common)])
    fewest = trial_count(spec.trials, spec.trials_per_parameter, smallest)
    default_sampler = {
        "class_path": "optuna.samplers.TPESampler",
        "init_args": {"n_startup_trials": max(2, fewest // 3), "constant_liar": True},  # random before TPE
    }
    sampler = spec.sampler.value if spec.sampler else default_sampler  # checked here, built per trial (new_sampler)
    sampler_class = type(class_object(optuna.samplers.BaseSampler, sampler, where, "tune.sampler"))
    pruner = spec.pruner.value if spec.pruner else {"class_path": "optuna.pruners.NopPruner"}
    return Tune(
        trials=spec.trials,
        trials_per_parameter=spec.trials_per_parameter,
        seeds=list(spec.seeds),
        replicates=spec.replicates,
        default_first=spec.default_first,
        spaces=spaces,
        default_space=spec.default_space,
        common=common,
        iterations=spec.budget.iterations,
        wall_time=spec.budget.wall_time,
        args=dict(spec.args.value),
        metric=spec.metric,
        sampler=(sampler_class, dict(sampler.get("init_args") or {})),
        pruner=class_object(optuna.pruners.BasePruner, pruner, where, "tune.pruner"),
        pruner_args=dict(pruner.get("init_args") or {}),
        enqueue=tuple(point.value for point in spec.enqueue),
    )


def _spaces(raw: dict[str, dict[str, Any]] | str, where: str) -> dict[str, tuple[Parameter, ...]]:
    """Named spaces (or the file holding them), each optionally ``extends: <another space>``."""
    if isinstance(raw, str):  # a file of named spaces, shared by several studies
        raw = read_yaml(raw, f"{where}: tune.spaces") or {}
    found: dict[str, tuple[Parameter, ...]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> tuple[Parameter, ...]:
        if name in found:
            return found[name]
        if name not in raw:
            raise ConfigError(f"{where}: `tune.spaces`: {chain[-1]} extends {name!r}, which is not a space.")
        if name in chain:
            raise ConfigError(f"{where}: `tune.spaces`: {' -> '.join((*chain, name))} extends itself.")
        body = dict(raw[name] or {})
        base = body.pop("extends", None)
        params = {p.name: p for p in resolve(base, (*chain, name))} if base else {}
        for pname, spec in body.items():
            params[str(pname)] = _parameter(str(pname), spec, where, f"tune.spaces.{name}.{pname}")
        found[name] = tuple(params.values())
        return found[name]

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: `tune.spaces` maps space names to parameters, got {raw!r}.")
    for name in raw:
        resolve(str(name), ())
    return found


def _parameter(name: str, raw: Any, where: str, key: str) -> Parameter:
    spec: ParameterSpec = typed(ParameterSpec, raw, where, key)
    if spec.choices:
        if spec.low is not None or spec.high is not None:
            raise ConfigError(f"{where}: `{key}`: give `choices` or `low`/`high`, not both.")
    elif spec.low is None or spec.high is None or not spec.low < spec.high:
        raise ConfigError(
            f"{where}: `{key}`: `low` < `high` (numbers) or `choices` are needed, got {spec.low}, {spec.high}."
        )
    elif spec.log and spec.low <= 0:
        raise ConfigError(f"{where}: `{key}`: a log-uniform range needs low > 0, got {spec.low}.")
    return Parameter(
        name=name,
        keys=(spec.keys,) if isinstance(spec.keys, str) else tuple(spec.keys),
        low=None if spec.choices else spec.low,
        high=None if spec.choices else spec.high,
        log=spec.log,
        integer=spec.integer,
        choices=tuple(c.value for c in spec.choices or ()),
        template=spec.template.value,
    )


def _parameters(kind: type) -> set[str]:
    return set(inspect.signature(kind).parameters)


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
