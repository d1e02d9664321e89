"""Load and validate the English source: a Hub dataset id or a local .jsonl/.json/.parquet.

Validation runs over every record before any work starts; the first problem is
reported as one line naming the file, the record and the field.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError, InputError
from bench.json_records import iter_jsonl, read_json

DEFAULT_SOURCE = "re-align/just-eval-instruct"
DEFAULT_SPLIT = "test"
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")
# Fields of Just-Eval-Instruct that every row of the built dataset carries (None when absent).
KNOWN_FIELDS = ("source_id", "dataset", "category", "task", "topic", "difficulty")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1  # integer ids are an int64 column of the dataset


@dataclass
class Source:
    """Validated source records plus what identifies them."""

    name: str  # path or Hub id as given
    revision: str | None  # Hub revision, or None for local files
    records: list[dict[str, Any]]
    key: str = field(default="")  # content hash of the records (stable across runs)

    def __post_init__(self) -> None:
        if not self.key:
            canonical = json.dumps(self.records, sort_keys=True, ensure_ascii=False, default=str)
            self.key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    return list(iter_jsonl(path))


def _read_json(path: Path) -> list[tuple[int, Any]]:
    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON array of records (or an object with a 'data' array)")
    return list(enumerate(data))


def _read_parquet(path: Path) -> list[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise InputError(path, f"cannot read parquet ({str(exc).splitlines()[0]})") from None
    return list(enumerate(table.to_pylist()))


def _read_hub(name: str, split: str, revision: str | None) -> list[tuple[int, Any]]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split, revision=revision)
    except Exception as exc:  # noqa: BLE001 - offline, missing repo, bad split...
        raise BenchError(f"{name}: cannot load Hub dataset split '{split}' ({str(exc).splitlines()[0]})") from None
    return list(enumerate(ds.to_list()))


def validate_records(rows: list[tuple[int, Any]], where: str, record_label: str) -> list[dict[str, Any]]:
    """Check ids (present, scalar, unique, one type) and instructions (non-empty strings)."""
    if not rows:
        raise InputError(where, "no records (empty source)")
    seen: dict[Any, Any] = {}
    id_types: set[type] = set()
    records: list[dict[str, Any]] = []
    for pos, obj in rows:
        rec = f"{record_label} {pos}"
        if not isinstance(obj, dict):
            raise InputError(where, f"expected a JSON object, got {type(obj).__name__}", record=rec)
        if "id" not in obj or obj["id"] is None:
            raise InputError(where, "missing", record=rec, field="id")
        item_id = obj["id"]
        if isinstance(item_id, bool) or not isinstance(item_id, (int, str)) or (isinstance(item_id, str) and not item_id.strip()):
            raise InputError(where, f"must be an integer or a non-empty string, got {item_id!r}", record=rec, field="id")
        if isinstance(item_id, int) and not INT64_MIN <= item_id <= INT64_MAX:
            raise InputError(where, f"integer id {item_id} does not fit a 64-bit integer (use a string id)",
                             record=rec, field="id")
        id_types.add(type(item_id))
        if len(id_types) > 1:
            raise InputError(where, "ids mix integers and strings", record=rec, field="id")
        if item_id in seen:
            raise InputError(where, f"duplicate id {item_id!r} (first at {seen[item_id]})", record=rec, field="id")
        seen[item_id] = rec
        instruction = obj.get("instruction")
        if instruction is None:
            raise InputError(where, "missing", record=rec, field="instruction")
        if not isinstance(instruction, str):
            raise InputError(where, f"must be a string, got {type(instruction).__name__}", record=rec, field="instruction")
        if not instruction.strip():
            raise InputError(where, "empty", record=rec, field="instruction")
        for name in ("task", "topic"):
            value = obj.get(name)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise InputError(where, "must be a list of strings or null", record=rec, field=name)
        for name in ("source_id", "dataset", "category", "difficulty"):
            value = obj.get(name)
            if value is not None and not isinstance(value, str):
                raise InputError(where, f"must be a string or null, got {type(value).__name__}", record=rec, field=name)
        record = {k: obj.get(k) for k in ("id", "instruction", *KNOWN_FIELDS)}
        record.update({k: v for k, v in obj.items() if k not in record})
        records.append(record)
    _check_extra_fields(rows, records, where, record_label)
    return records


def _check_extra_fields(rows: list[tuple[int, Any]], records: list[dict[str, Any]], where: str,
                        record_label: str) -> None:
    """Fields beyond Just-Eval's are kept as dataset columns: each needs one Arrow type over all records,
    or the first record that breaks it is named (before any translation starts)."""
    from benchmark.dataset_dir import BASE_SCHEMA  # the columns the build writes itself

    fixed = {"id", "instruction", *KNOWN_FIELDS}
    written = {name for name, _ in BASE_SCHEMA} - fixed
    names = [k for k in dict.fromkeys(k for r in records for k in r) if k not in fixed]
    for name in names:
        if name in written:
            pos = next(p for (p, _), r in zip(rows, records) if name in r)
            raise InputError(where, "a column the build writes itself (rename the field)",
                             record=f"{record_label} {pos}", field=name)
        values = [r.get(name) for r in records]
        if _arrow_problem(values) is None:
            continue
        lo, hi = 0, len(values)  # the shortest failing prefix ends at the record that breaks the column
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _arrow_problem(values[:mid]) is None:
                lo = mid
            else:
                hi = mid
        problem = _arrow_problem(values[:hi]) or "no single column type"
        value = values[hi - 1]
        first = next((v for v in values[:hi - 1] if v is not None), None)
        hint = f" (earlier records have {type(first).__name__})" if first is not None else ""
        raise InputError(where, f"{type(value).__name__} value does not fit the column{hint}: {problem}",
                         record=f"{record_label} {rows[hi - 1][0]}", field=name)


def _arrow_problem(values: list[Any]) -> str | None:
    """Why ``values`` cannot be one Arrow column (None: they can)."""
    import pyarrow as pa

    try:
        pa.array(values)
    except (pa.ArrowException, OverflowError, TypeError, ValueError, RecursionError) as exc:
        return (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:200]
    return None


def load_source(source: str = DEFAULT_SOURCE, *, split: str = DEFAULT_SPLIT, revision: str | None = None,
                limit: int | None = None) -> Source:
    """Read and validate all records of ``source``; ``limit`` keeps the first N after validation."""
    path = Path(source).expanduser()
    if path.suffix.lower() in LOCAL_SUFFIXES or path.exists():
        if not path.is_file():
            raise InputError(path, "no such file")
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            rows, label = _read_jsonl(path), "line"
        elif suffix == ".json":
            rows, label = _read_json(path), "index"
        elif suffix == ".parquet":
            rows, label = _read_parquet(path), "row"
        else:
            raise InputError(path, f"unsupported file type '{suffix}' (use {', '.join(LOCAL_SUFFIXES)})")
        records = validate_records(rows, str(path), label)
        name, rev = str(path), None
    else:
        rows = _read_hub(source, split, revision)
        records = validate_records(rows, f"{source}[{split}]", "row")
        name, rev = source, revision
    if limit is not None:
        if limit < 1:
            raise BenchError(f"--limit must be ≥ 1, got {limit}")
        records = records[:limit]
    return Source(name=name, revision=rev, records=records)
