"""YAML read strictly: a key written twice, a tab used as indentation or bytes that are not UTF-8 stop with one
line naming the file and the line, instead of the last duplicate silently winning.

Light on purpose (PyYAML only, no torch): main.py checks the ``--config`` files with it before Lightning is
imported, the study reads its files with it, and :func:`register_with_jsonargparse` makes jsonargparse -- which
loads the configs again, and the files they name by path (``model: ../model/fc_gan.yaml``) -- refuse duplicates
the same way.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import yaml

from gan_module.errors import ConfigError

#: the jsonargparse parser mode whose loader refuses duplicate keys (see register_with_jsonargparse)
STRICT_MODE = "yaml_strict"


class YamlFileError(yaml.YAMLError):
    """A YAML file jsonargparse could not load, told in one line naming it. A YAMLError, so jsonargparse treats
    it as its loader's failure (the CLI's parser finds it behind jsonargparse's own message)."""


class DuplicateKeyError(YamlFileError):
    """A mapping that names one key twice."""

    def __init__(self, key: Any, first_line: int, second_line: int, source: str | None = None) -> None:
        self.key, self.first_line, self.second_line, self.source = key, first_line, second_line, source
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"key `{self.key}` appears twice (lines {self.first_line} and {self.second_line}): keep one."

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}" if self.source else self.reason


def duplicate_key(text: str, source: str | None = None) -> DuplicateKeyError | None:
    """The first key that a mapping in ``text`` names twice (lines counted from 1), or None.

    Read from the composed node tree, before any value is built: PyYAML itself keeps the last value silently.
    A merge (``<<: *base``) may override keys it brings in; two keys written in one mapping may not.
    """
    pending, seen = list(yaml.compose_all(text, Loader=yaml.SafeLoader)), set()
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:  # an alias points at a node already walked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line, name = key.start_mark.line + 1, (key.tag, key.value)
                    if name in lines:
                        return DuplicateKeyError(key.value, lines[name], line, source)
                    lines[name] = line
                pending += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value
    return None


def load_yaml_strict(path: str | Path, label: str | None = None) -> Any:
    """The content of a YAML file, refusing what PyYAML would accept silently or report obscurely.

    Raises :class:`ConfigError` in one line, starting with ``label`` (default: the path): a key written twice
    (both lines), a syntax error such as a tab as indentation (its line), bytes that are not UTF-8.
    """
    label = label or str(path)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        byte = f"byte {err.object[err.start]:#x} at position {err.start}"
        raise ConfigError(f"{label} is not UTF-8 text ({byte}): save it as UTF-8.") from None
    try:
        duplicate = duplicate_key(text)
        if duplicate is not None:
            raise ConfigError(f"{label}: {duplicate.reason}")
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{label} is not valid YAML{syntax_problem(err)}") from None


def syntax_problem(err: yaml.YAMLError) -> str:
    """`` (line N): what is wrong`` for a PyYAML error, with the fix for a tab used as indentation."""
    where = getattr(err, "problem_mark", None)
    line = f" (line {where.line + 1})" if where is not None else ""
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    if "'\\t'" in problem:
        problem += " (a tab: indent with spaces)"
    return f"{line}: {problem}"


def strict_jsonargparse_loader(value: str, path: str | Path | None = None) -> Any:
    """jsonargparse's own YAML loader (its number and string rules) behind the duplicate-key check.

    The file is read from jsonargparse's stack of the files it is loading (not public API: without it, the
    ``path`` jsonargparse passes for a ``--config`` file, only its base name, or no file is named).
    """
    from jsonargparse import get_loader

    yaml_load = get_loader("yaml")  # the default mode's loader

    source = _file_being_loaded() or (str(path) if path else None)
    try:
        duplicate = duplicate_key(value, source) if isinstance(value, str) and _may_hold_mapping(value) else None
        if duplicate is not None:
            raise duplicate
        return yaml_load(value)
    except YamlFileError:
        raise
    except yaml.YAMLError as err:
        if source is None:  # a value on the command line: jsonargparse may take it as a plain string
            raise
        raise YamlFileError(f"{source} is not valid YAML{syntax_problem(err)}") from err


def _may_hold_mapping(value: str) -> bool:
    """A command-line value (``2``, ``adam``) needs no check; a file or an inline mapping does."""
    return ":" in value


def _file_being_loaded() -> str | None:
    with suppress(ImportError, AttributeError, IndexError, TypeError):
        from jsonargparse._util import config_load_stack

        return str(config_load_stack.get()[-1][0])
    return None


def register_with_jsonargparse() -> None:
    """Make :data:`STRICT_MODE` a jsonargparse parser mode (a parser made with ``parser_mode=STRICT_MODE``
    refuses duplicate keys in every file it loads: configs and the files they name)."""
    from jsonargparse import set_loader

    set_loader(STRICT_MODE, strict_jsonargparse_loader, (yaml.YAMLError,))
