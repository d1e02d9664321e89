"""Click options shared by the CLI modules, and options generated from a pydantic settings class.

``--json``, ``--device``, ``--dtype``, ``--batch-size`` and ``--languages`` are declared here once;
each command passes what differs (help text, default). :func:`settings_options` turns the fields of
a settings model into options (default None, so that only what the user typed overrides a YAML file)
and :func:`settings_option_labels` gives the option each field is set with, for error messages.
"""
from __future__ import annotations

import types
import typing
from typing import Any, Callable, Literal, Mapping, TypeVar

import click
from pydantic import BaseModel

from bench.models import DTYPES

F = TypeVar("F", bound=Callable[..., Any])


def json_option(help: str = "Print one JSON object on stdout.") -> Callable[[F], F]:
    """``--json`` (parameter ``as_json``): machine-readable output instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def shared_option() -> Callable[[F], F]:
    """``--shared DIR``: the shared reference data that labelled records point into."""
    return click.option("--shared", default=None, metavar="DIR",
                        help="Shared reference data for records that point into it (default: $BENCH_SHARED or "
                             "../shared beside the repository).")


def device_option(used_by: str) -> Callable[[F], F]:
    """``--device`` for local models (auto | cpu | cuda); ``used_by`` says which, e.g. ``local judges``."""
    return click.option("--device", default="auto", show_default=True, help=f"auto | cpu | cuda ({used_by}).")


def dtype_option(used_by: str, note: str) -> Callable[[F], F]:
    """``--dtype`` (bench.models.DTYPES) for local models; ``note`` adds what the precision changes there."""
    return click.option("--dtype", type=click.Choice(DTYPES), default="auto", show_default=True,
                        help=f"Weights' precision ({used_by}): auto = float32 on CPU, bfloat16/float16 on GPU. {note}")


def batch_size_option(help: str, *, default: int | None = None, minimum: int | None = None) -> Callable[[F], F]:
    """``--batch-size``; ``default`` (shown in --help when set) and ``minimum`` (checked by click) per command."""
    kind = int if minimum is None else click.IntRange(minimum)
    return click.option("--batch-size", type=kind, default=default, show_default=default is not None, help=help)


def languages_option(help: str, *, default: str | None = None, metavar: str | None = None) -> Callable[[F], F]:
    """``--languages`` as one comma-separated string (the command parses it); the default is shown when set."""
    return click.option("--languages", default=default, show_default=default is not None, metavar=metavar,
                        help=help)


# --------------------------------------------------------------------------- options from a settings class


def _option_names(name: str, annotation: Any, declared: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    if name in declared:
        return declared[name]
    flag = "--" + name.replace("_", "-")
    return (f"{flag}/--no-{flag[2:]}",) if _is_bool(annotation) else (flag,)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The non-None members of ``X | Y | None`` (``(X,)`` for a plain annotation)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


def _is_bool(annotation: Any) -> bool:
    return _members(annotation) == (bool,)


def _click_type(annotation: Any) -> Any:
    """click type of a settings field: Literal -> Choice, int/float/str as such, anything else a string."""
    members = _members(annotation)
    if len(members) == 1:
        member = members[0]
        if typing.get_origin(member) is Literal:
            return click.Choice([str(v) for v in typing.get_args(member)])
        if member in (int, float, str):
            return member
    return str


def settings_options(model: type[BaseModel], *, names: Mapping[str, tuple[str, ...]] | None = None,
                     metavars: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """One option per field of ``model``, in field order: ``--field-name`` (``--x/--no-x`` for booleans)
    unless ``names`` declares the field's option names; default None (unset: the settings file or the
    model's default applies); help = the field's description. Each option's parameter is the field name."""
    declared = dict(names or {})
    metavars = dict(metavars or {})

    def decorate(func: F) -> F:
        for name, info in reversed(list(model.model_fields.items())):
            option: dict[str, Any] = {"default": None, "help": info.description}
            if not _is_bool(info.annotation):
                option["type"] = _click_type(info.annotation)
            if name in metavars:
                option["metavar"] = metavars[name]
            func = click.option(*_option_names(name, info.annotation, declared), name, **option)(func)
        return func

    return decorate


def settings_option_labels(model: type[BaseModel], *,
                           names: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Field -> the option that sets it, as error messages name it (``--batch-size``, ``--bf16/--no-bf16``)."""
    declared = dict(names or {})
    return {name: _option_names(name, info.annotation, declared)[0] for name, info in model.model_fields.items()}
