"""Read a YAML configuration file into a pydantic model; every problem is one :class:`ConfigError` line.

:func:`load_yaml_model` reads the file, parses the YAML (naming the line and column of a syntax
error), checks that the document is a mapping and validates it with the given model. A
:class:`~pydantic.ValidationError` becomes a ConfigError naming the file and the field path
(``models[1].path``); callers with their own wording pass ``describe`` and :class:`YamlWording`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

from bench.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)
# (field path or None, message) of a validation error, for the one-line ConfigError
Describe = Callable[[ValidationError], tuple[str | None, str]]


@dataclass(frozen=True)
class YamlWording:
    """How one kind of configuration file words its read, parse and shape errors.

    Templates are ``str.format`` strings: ``unreadable`` gets ``error`` (the OSError) and ``reason``
    (its strerror); ``invalid`` gets ``problem`` and ``where`` (``at``, filled with ``line`` and
    ``column``, or ``""`` when YAML gives no position); ``not_mapping`` gets ``type``."""

    missing: str | None = "no such file"         # None: a missing file gets the ``unreadable`` message
    unreadable: str = "cannot read ({error})"
    invalid: str = "invalid YAML{where}: {problem}"
    at: str = " at line {line} column {column}"
    not_mapping: str = "expected a mapping, got {type}"
    empty_is_mapping: bool = True                # an empty file is ``{}`` (all defaults) rather than an error


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a YAML path: ``models[1].methods[0]`` (``(top level)`` when empty)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_first_error(exc: ValidationError) -> tuple[str | None, str]:
    """The first error of ``exc`` as (field path, message without pydantic's ``Value error, `` prefix)."""
    err = exc.errors()[0]
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return field_path(tuple(err.get("loc", ()))), message


def read_yaml_mapping(path: str | os.PathLike, wording: YamlWording = YamlWording()) -> dict[str, Any]:
    """The YAML mapping in ``path``; a one-line :class:`ConfigError` naming the file (and line) otherwise."""
    import yaml

    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if wording.missing is not None:
            raise ConfigError(file, wording.missing) from None
        raise ConfigError(file, wording.unreadable.format(error=exc, reason=exc.strerror or exc)) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(file, f"not valid UTF-8 ({exc.reason} at line {line}, byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(file, wording.unreadable.format(error=exc, reason=exc.strerror or exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = wording.at.format(line=mark.line + 1, column=mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(file, wording.invalid.format(where=where, problem=problem)) from None
    if data is None and wording.empty_is_mapping:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, wording.not_mapping.format(type=type(data).__name__))
    return data


def load_yaml_model(path: str | os.PathLike, model: type[ModelT], *, describe: Describe = describe_first_error,
                    wording: YamlWording = YamlWording()) -> ModelT:
    """``model`` validated from the YAML mapping in ``path``; every problem is one :class:`ConfigError` line
    naming the file and, for validation errors, the field ``describe`` picks."""
    data = read_yaml_mapping(path, wording)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = describe(exc)
        raise ConfigError(str(Path(path)), message, field=field) from None
