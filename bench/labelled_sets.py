"""Labelled evaluation records whose text is read in place from the shared reference data.

The project may not copy ``../shared`` into its repository, so an evaluation record made from a
shared answer or instruction holds a reference instead of the text:

* ``"ref": {"model": M, "item": N}`` - instruction and answer of item N in ``outputs/M.jsonl``;
* ``"instruction_ref": N`` - the English instruction N of ``just_eval_instruct.jsonl``;
* ``"source_id": N`` - the same, as the English source of a translation record;
* ``"translation_from_source": true`` - a translation left entirely in the source language (an
  ``untranslated`` item): its text is the source's.

:func:`resolve_record` fills ``instruction`` / ``output`` / ``source`` from them; a record that needs
the shared data where it is absent, or points at a missing item, fails in one line naming the file,
the record and the field. The folder is ``--shared``, else ``$BENCH_SHARED``, else ``../shared``
beside the repository.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.errors import InputError

SHARED_ENV = "BENCH_SHARED"
REPO = Path(__file__).resolve().parents[1]
_JUST_EVAL = Path("data") / "just-eval-instruct"


def shared_dir(explicit: str | Path | None = None) -> Path:
    """The shared reference folder: ``explicit``, else ``$BENCH_SHARED``, else ``../shared``."""
    return Path(explicit or os.environ.get(SHARED_ENV) or REPO.parent / "shared").resolve()


@lru_cache(maxsize=32)
def _by_id(path: Path) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                rows[int(row["id"])] = row
    return rows


def _item(file: str, where: str, field: str, path: Path, item: Any) -> dict[str, Any]:
    if not isinstance(item, int) or isinstance(item, bool):
        raise InputError(file, f"must be an integer item id, got {type(item).__name__}", record=where, field=field)
    if not path.is_file():
        raise InputError(file, f"needs the shared reference data ({path} not found; give --shared or "
                               f"${SHARED_ENV})", record=where, field=field)
    row = _by_id(path).get(item)
    if row is None:
        raise InputError(file, f"no item {item} in {path.name}", record=where, field=field)
    return row


def resolve_record(file: str, where: str, row: dict[str, Any], shared: Path) -> dict[str, Any]:
    """``row`` with the text its references point at filled in (a new dict; inline text wins)."""
    out = dict(row)
    ref = row.get("ref")
    if ref is not None:
        if not isinstance(ref, dict) or not isinstance(ref.get("model"), str):
            raise InputError(file, 'must be {"model": NAME, "item": ID}', record=where, field="ref")
        model = ref["model"]
        if "/" in model or model.startswith("."):
            raise InputError(file, f"not a model file name: {model!r}", record=where, field="ref.model")
        answer = _item(file, where, "ref.item", shared / _JUST_EVAL / "outputs" / f"{model}.jsonl", ref.get("item"))
        out.setdefault("instruction", answer["instruction"])
        out.setdefault("output", answer["output"])
    instructions = shared / _JUST_EVAL / "just_eval_instruct.jsonl"
    if "instruction_ref" in row and "instruction" not in out:
        out["instruction"] = _item(file, where, "instruction_ref", instructions, row["instruction_ref"])["instruction"]
    if "source_id" in row and "source" not in out:
        out["source"] = _item(file, where, "source_id", instructions, row["source_id"])["instruction"]
    if row.get("translation_from_source") is True and "translation" not in out and "source" in out:
        out["translation"] = out["source"]
    return out
