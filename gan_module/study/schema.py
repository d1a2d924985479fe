"""The study file's schema: typed dataclasses that jsonargparse reads, as it reads run configs.

jsonargparse checks every value against its field's type (``PositiveInt`` refuses ``true`` and ``-5``, a
``Literal`` names its choices, an unknown key is refused) and builds tuners' samplers and pruners from
``class_path`` + ``init_args`` like every other variant of the project. spec.py and tune_spec.py only check what
types cannot say (a value that must name an axis, seeds that must differ, ranges whose ends must be ordered).
Any problem is one :class:`ConfigError` naming the study file and the key.

Three things jsonargparse does not do are done first (:func:`with_files_read`): an axis given as the path of a
YAML file of values, ``tune: FILE`` and ``tune: {from: FILE, ...}`` (a shared protocol with keys overridden).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonargparse import ArgumentParser
from jsonargparse.typing import NonNegativeFloat, Path_fr, PositiveFloat, PositiveInt, register_type

from gan_module.errors import ConfigError
from gan_module.run.yaml_files import load_yaml_strict


class Verbatim:
    """A YAML value passed through as written: ``main.py`` settings and templates hold ``class_path`` mappings that
    are settings of the runs, which jsonargparse would otherwise build into objects of the study."""

    def __init__(self, value: Any) -> None:
        self.value = value


class VerbatimMap(Verbatim):
    """A mapping with text keys whose values pass through as written: ``main.py`` settings
    (``{model.k: 5, model.loss: {class_path: ...}}``), a point of a search space."""

    def __init__(self, value: Any = None) -> None:
        value = {} if value is None else value
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ValueError(f"expected a mapping of names to values, got {value!r}")
        super().__init__(value)


register_type(Verbatim, serializer=lambda v: v.value, deserializer=Verbatim)
register_type(VerbatimMap, serializer=lambda v: v.value, deserializer=VerbatimMap)

#: a study, axis or value name: it becomes a folder name inside the runs root, so no separators, no ``..``
SAFE_NAME = re.compile(r"^[A-Za-z0-9_+=@,-][A-Za-z0-9_.+=@,-]*$")


@dataclass(frozen=True)
class Objective:
    """A logged metric and which way is better."""

    metric: str
    mode: Literal["min", "max"] = "max"


@dataclass(frozen=True)
class RankBy(Objective):
    """The leaderboard's order: lower is better unless said (FID-like metrics are the common case)."""

    mode: Literal["min", "max"] = "min"


@dataclass(frozen=True)
class Budget:
    """A run's budget: generator iterations and/or seconds of fitting."""

    iterations: PositiveInt | None = None
    wall_time: PositiveFloat | None = None


@dataclass(frozen=True)
class TimingSpec:
    """Cost timed alone after the runs (timing.py): each candidate ``warmup + iterations`` generator iterations in
    turn, one job, ``rounds`` times in alternating order."""

    rounds: PositiveInt = 5
    iterations: PositiveInt = 200
    warmup: PositiveInt = 20


@dataclass(frozen=True)
class Decision:
    """Motwani & Parmar (2020)'s four decision parameters: the labels an axis value may carry."""

    architecture: str | None = None
    loss: str | None = None
    regularization: str | None = None
    divergence: str | None = None


DECISIONS = tuple(f.name for f in dataclasses.fields(Decision))


@dataclass(frozen=True)
class AxisValue:
    """One value of an axis: config files and settings added to its runs, its decision labels, its search space."""

    config: list[Path_fr] = field(default_factory=list)
    args: VerbatimMap = field(default_factory=VerbatimMap)
    decision: Decision = field(default_factory=Decision)
    space: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A level each seed's final value should reach: ``at_least`` or ``at_most``, optionally where axes have values."""

    metric: str
    at_least: float | None = None
    at_most: float | None = None
    where: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyFile:
    """The study file as written (axes and tune are read on their own, so their errors name the inner key)."""

    name: str
    base: list[Path_fr]
    seeds: list[int]
    rank_by: RankBy
    axes: Verbatim
    args: VerbatimMap = field(default_factory=VerbatimMap)
    budget: Budget = field(default_factory=Budget)
    metrics: list[str] = field(default_factory=list)
    spread: Literal["ci", "std", "se"] = "ci"
    quality: Objective | None = None
    diversity: Objective | None = None
    application: dict[str, NonNegativeFloat] = field(default_factory=dict)  # criteria.py: WEIGHED, LIMITS
    roles: dict[str, str] = field(default_factory=dict)
    margins: dict[str, PositiveFloat] = field(default_factory=dict)
    include: list[dict[str, str]] = field(default_factory=list)
    exclude: list[dict[str, str]] = field(default_factory=list)
    runs_root: str | None = None
    tune: Verbatim | None = None
    threshold: float | None = None
    targets: list[TargetSpec] = field(default_factory=list)
    timing: TimingSpec | None = None


@dataclass(frozen=True)
class ParameterSpec:
    """One tuned setting as written: ``keys`` it goes to, a range (``low``/``high``) or ``choices``, a template."""

    keys: list[str] | str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[Verbatim] | None = None
    template: Verbatim = field(default_factory=lambda: Verbatim("$"))


@dataclass(frozen=True)
class TuneFile:
    """The ``tune:`` section as written (spaces are read on their own: see tune_spec.py)."""

    seeds: list[int]
    trials: PositiveInt | None = None  # trials per tuning, every space alike ...
    trials_per_parameter: PositiveInt | None = None  # ... or in proportion to each space's parameters
    replicates: PositiveInt = 1  # independent tunings of each candidate (tuning seeds and reporting seeds split)
    default_first: bool = True  # trial 0 trains the candidate's own recipe (no tuned setting)
    budget: Budget = field(default_factory=Budget)
    args: VerbatimMap = field(default_factory=VerbatimMap)
    metric: str | None = None
    sampler: Verbatim | None = None  # class_path + init_args of an optuna sampler (tune_spec.py checks it)
    pruner: Verbatim | None = None  # class_path + init_args of an optuna pruner
    spaces: Verbatim = field(default_factory=lambda: Verbatim({}))  # read by tune_spec.py, parameter by parameter
    default_space: str | None = None
    common: dict[str, Verbatim] = field(default_factory=dict)
    enqueue: list[VerbatimMap] = field(default_factory=list)


def typed(kind: Any, value: Any, where: str, key: str) -> Any:
    """``value`` read as ``kind`` by jsonargparse (types checked, defaults filled, dataclasses and class_path
    objects built); a mistake is one :class:`ConfigError`: ``<where>: `<key>...`: <jsonargparse's reason>``."""
    parser = _parser(kind)
    try:
        with warnings.catch_warnings():  # an experimental optuna class warns when built; the study says what it uses
            warnings.simplefilter("ignore")
            return parser.instantiate(parser.parse_object({"value": value})).value
    except Exception as err:  # jsonargparse raises its ArgumentError, or a class's own error while building it
        inner, reason = _innermost(str(err))
        raise ConfigError(f"{where}: `{(key + inner).lstrip('.')}`{reason}") from None


def class_object(base: type, value: Any, where: str, key: str) -> Any:
    """A ``{class_path, init_args}`` mapping built as a subclass of ``base``, or one :class:`ConfigError` showing
    the form (an old ``{name: ...}`` form included)."""
    if not isinstance(value, dict) or "class_path" not in value:
        example = f"{{class_path: {base.__module__.split('._')[0]}.<{base.__name__.removeprefix('Base')} class>, ...}}"
        raise ConfigError(f"{where}: `{key}` is {example} (any subclass of {base.__name__}), got {value!r}.")
    return typed(base, value, where, key)


def check_seeds(seeds: list[int], where: str, key: str) -> None:
    """Seeds must be distinct: a repeated seed is the same run counted twice by the statistics."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if not seeds or repeated:
        problem = f"repeats {repeated} (a run would be counted twice)" if repeated else "is empty"
        raise ConfigError(f"{where}: `{key}` {problem}: give distinct integers.")


def with_files_read(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """The study file with its file references read in: an axis that is a file of values, ``tune: FILE`` and
    ``tune: {from: FILE, <keys that override the file's>}`` (shared protocols, shared candidate lists)."""
    found = _one_file_listed(raw, "base")
    axes = found.get("axes")
    if isinstance(axes, dict):
        found["axes"] = {}
        for axis, values in axes.items():
            values = read_yaml(values, f"{where}: axes.{axis}") if isinstance(values, str) else values
            is_map = isinstance(values, dict)
            found["axes"][axis] = {v: _one_file_listed(c, "config") for v, c in values.items()} if is_map else values
    if "tune" in found:
        found["tune"] = _tune_section(found["tune"], where)
    return found


def _one_file_listed(mapping: Any, key: str) -> Any:
    """A mapping whose ``key`` names one config file alone, with it as a list (the schema's type); else as it is."""
    if isinstance(mapping, dict) and isinstance(mapping.get(key), str):
        return {**mapping, key: [mapping[key]]}
    return dict(mapping) if isinstance(mapping, dict) else mapping


def _tune_section(raw: Any, where: str) -> Any:
    if isinstance(raw, str):
        raw = {"from": raw}
    if not isinstance(raw, dict) or "from" not in raw:
        return raw
    shared = _tune_section(read_yaml(raw["from"], f"{where}: tune.from") or {}, where)
    own = {k: v for k, v in raw.items() if k != "from"}
    counts = ("trials", "trials_per_parameter")  # either says how many trials: the file's own replaces the other
    if any(k in own for k in counts):
        shared = {k: v for k, v in shared.items() if k not in counts}
    return {**shared, **own}


def read_yaml(path: Any, where: str) -> Any:
    """A YAML file a study file names (relative to where the command runs), read strictly (a key written twice,
    a tab, bytes that are not UTF-8: the file and the line), or one ConfigError."""
    if not isinstance(path, str) or not Path(path).is_file():
        raise ConfigError(f"{where}: no such file {path} (paths are relative to where you run).")
    return load_yaml_strict(path, f"{where}: {path}")


def check_name(value: str, where: str, key: str) -> str:
    """A name that becomes a folder inside the runs root: letters, digits and ``_ - . + = @ ,``, no leading dot."""
    if not SAFE_NAME.match(value) or ".." in value:
        raise ConfigError(
            f"{where}: `{key}` is {value!r}: names become folders inside the runs root, so use letters, digits and "
            "_ - . + = @ , (no '/', '\\', '..', leading dot or empty name)."
        )
    return value


@cache
def _parser(kind: Any) -> ArgumentParser:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--value", type=kind)
    return parser


_SKIPPED = re.compile(r"^(- )?(Does not validate|Subtypes:|Errors:|Given value|Expected a <class 'NoneType'>)")


def _innermost(message: str) -> tuple[str, str]:
    """(the key path below the checked value, the reason) of jsonargparse's nested, indented error message: the
    deepest line that says what is wrong, and the ``Parser key`` lines above it."""
    keys: list[tuple[int, str]] = []
    best: tuple[int, str, str] | None = None
    given = re.search(r"Given value: (.*)", message)  # the value a union's alternatives all refused
    for line in message.splitlines():
        indent, text = len(line) - len(line.lstrip()), line.strip()
        found = re.match(r'^(- )?Parser key "([^"]+)":$', text)
        if found:
            keys = [(i, k) for i, k in keys if i < indent] + [(indent, found.group(2))]
        elif text and not _SKIPPED.match(text) and not text.startswith(("- Problem with given", "Problem with given")):
            path = "".join(f".{k}" for i, k in keys if i < indent).replace(".value", "", 1).removeprefix(".value")
            if best is None or indent > best[0]:
                best = (indent, path, text.removeprefix("- "))
    if best is None:
        return "", ": " + " ".join(message.split())
    _, path, reason = best
    option = re.match(r"^(?:Group '[^']*' does not accept option|Option) '([^']+)'", reason)
    if option:  # an unknown key: name it in the path
        return f"{path}.{option.group(1)}", " is not a key here (misspelt, or at the wrong level?)"
    required = re.match(r"^the following arguments are required: value\.(\S+)", reason)
    if required:
        return f"{path}.{required.group(1)}", " is missing"
    return path, _plain_reason(reason, given.group(1) if given else "?")


#: jsonargparse's type complaints, said the way a study file's reader thinks of the value
_REASONS = (
    (r"^Not of type PositiveInt: (?:(.+?) )?(?:does not conform.*|not a number)$", "must be an integer >= 1"),
    (r"^Not of type PositiveFloat: (?:(.+?) )?(?:does not conform.*|not a number)$", "must be a number > 0"),
    (r"^Not of type NonNegativeFloat: (?:(.+?) )?(?:does not conform.*|not a number)$", "must be a number >= 0"),
    (r"^Expected a <class 'int'>\. Got value: (.*)$", "must be an integer"),
    (r"^Expected a <class 'float'>(?:\. Got value: (.*))?$", "must be a number"),
    (r"^Expected a <class 'str'>(?:\. Got value: (.*))?$", "must be text"),
    (r"^Expected a <class 'bool'>(?:\. Got value: (.*))?$", "must be true or false"),
)


def _relative(path: str) -> str:
    absolute = Path(path)
    return str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else path


def _plain_reason(reason: str, given: str) -> str:
    """`` must be ...`` for a value of the wrong type (with the value), else ``: <jsonargparse's reason>``."""
    for pattern, said in _REASONS:
        found = re.match(pattern, reason)
        if found:
            return f" {said}, got {found.group(1) or given}"
    missing = re.match(r"^Not of type Path_fr: File does not exist: '(.*)'$", reason)
    if missing:
        return f" names {_relative(missing.group(1))}, which does not exist (paths are relative to where you run)"
    choices = re.match(r"^Expected a typing\.Literal\[(.*)\]\. Got value: (.*)$", reason)
    if choices:
        return f" must be one of {choices.group(1)}, got {choices.group(2)}"
    return f": {reason}"
