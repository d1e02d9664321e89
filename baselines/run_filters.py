"""Filters on stored responses (``--runs model=X,lang=fr``), shared by generation export and judging."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from bench.errors import BenchError

FILTER_FIELDS = ("run_key", "model", "method", "lang", "category", "run_id", "item_id")


def parse_run_filters(runs: Mapping[str, Any] | Iterable[str] | str | None) -> dict[str, list[str]]:
    """``["model=X", "method=urial", "lang=fr"]`` or ``{"lang": ["fr", "es"]}`` -> ``{field: [values]}``.

    The same field given twice matches either value; different fields must all match.
    A bare value without ``=`` is taken as a ``run_key``."""
    out: dict[str, list[str]] = {}
    if runs is None:
        return out
    if isinstance(runs, str):
        runs = [runs]
    if isinstance(runs, Mapping):
        pairs = []
        for key, value in runs.items():
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            pairs += [(str(key), str(v)) for v in values]
    else:
        pairs = []
        for item in runs:
            text = str(item).strip()
            if not text:
                continue
            for part in (p.strip() for p in text.split(",")):
                if not part:
                    continue
                key, sep, value = part.partition("=")
                pairs.append((key.strip(), value.strip()) if sep else ("run_key", key.strip()))
    for key, value in pairs:
        if key not in FILTER_FIELDS:
            raise BenchError(f"unknown run filter '{key}={value}'; known fields: {', '.join(FILTER_FIELDS)}")
        if not value:
            raise BenchError(f"run filter '{key}=' has no value")
        out.setdefault(key, [])
        if value not in out[key]:
            out[key].append(value)
    return out
