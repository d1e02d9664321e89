"""Write the built dataset as a Hub-ready folder: one parquet config per language + card.

Layout: ``DIR/<lang>/test-00000-of-00001.parquet`` for each language, ``DIR/README.md`` (card
with YAML ``configs``), ``DIR/build_info.json``. Every file is written atomically, and the
same rows always give the same parquet bytes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from bench.atomic import atomic_path, write_text_atomic
from bench.languages import get_language
from bench.vocabulary import QA_FLAGS as QA_FLAG_NAMES, REVIEW_STATUSES
from benchmark.source import KNOWN_FIELDS

PARQUET_NAME = "test-00000-of-00001.parquet"

BASE_SCHEMA = [
    ("instruction", pa.string()),
    ("source_instruction", pa.string()),
    ("machine_translation", pa.string()),
    ("source_id", pa.string()),
    ("dataset", pa.string()),
    ("category", pa.string()),
    ("task", pa.list_(pa.string())),
    ("topic", pa.list_(pa.string())),
    ("difficulty", pa.string()),
    ("lang", pa.string()),
    ("translation_system", pa.string()),
    ("qa_flags", pa.list_(pa.string())),
    ("qa_evidence", pa.string()),
    ("review_status", pa.string()),
    ("reviewers", pa.int32()),                      # human reviewers merged by `bench annotate translations pull`
    ("reviewed_at", pa.timestamp("ms", tz="UTC")),  # latest merged review (null until reviewed)
]
REVIEW_COLUMNS = ("reviewers", "reviewed_at")


def dataset_schema(records: Sequence[dict[str, Any]]) -> pa.Schema:
    """The schema shared by every language config (id type follows the source)."""
    id_type = pa.int64() if records and isinstance(records[0]["id"], int) else pa.string()
    fields = [pa.field("id", id_type), *[pa.field(n, t) for n, t in BASE_SCHEMA]]
    extra = [k for k in records[0] if k not in {"id", "instruction", *KNOWN_FIELDS}] if records else []
    if extra:  # source fields beyond Just-Eval's: kept, type inferred once for all configs
        inferred = pa.Table.from_pylist([{k: r.get(k) for k in extra} for r in records]).schema
        fields.extend(inferred.field(k) for k in extra)
    return pa.schema(fields)


def source_row(record: dict[str, Any]) -> dict[str, Any]:
    """The English row for a source record."""
    return {**record, "source_instruction": record["instruction"], "machine_translation": None, "lang": "en",
            "translation_system": None, "qa_flags": [], "qa_evidence": "{}", "review_status": "source",
            "reviewers": 0, "reviewed_at": None}


def translated_row(record: dict[str, Any], lang: str, translation: str, system: str,
                   qa_flags: list[str], qa_evidence: dict[str, str]) -> dict[str, Any]:
    """A machine-translated row (review_status ``machine``)."""
    return {**record, "instruction": translation, "source_instruction": record["instruction"],
            "machine_translation": translation, "lang": lang, "translation_system": system,
            "qa_flags": list(qa_flags), "qa_evidence": json.dumps(qa_evidence, sort_keys=True, ensure_ascii=False),
            "review_status": "machine", "reviewers": 0, "reviewed_at": None}


def write_config(out_dir: Path, lang: str, rows: list[dict[str, Any]], schema: pa.Schema) -> Path:
    """Write one language config (rows sorted by id) atomically; returns the parquet path."""
    rows = sorted(rows, key=lambda r: r["id"])
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
    target = out_dir / lang / PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    return target


def read_config(out_dir: Path, lang: str) -> list[dict[str, Any]]:
    """Rows of one config of a dataset folder; an unreadable parquet is one InputError naming it."""
    from bench.errors import InputError

    path = Path(out_dir) / lang / PARQUET_NAME
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds (ArrowInvalid, OSError...)
        raise InputError(str(path), f"cannot read parquet ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    return table.to_pylist()


def carry_reviews(out_dir: Path, lang: str, rows: list[dict[str, Any]]) -> int:
    """Keep human reviews already merged into ``out_dir`` when rebuilding it.

    A reviewed row (post_edited / approved / rejected) keeps its reviewed text and review
    columns as long as its machine translation is unchanged; returns how many were kept."""
    path = Path(out_dir) / lang / PARQUET_NAME
    if not path.exists():
        return 0
    reviewed = {r["id"]: r for r in pq.read_table(path).to_pylist()
                if r.get("review_status") in ("post_edited", "approved", "rejected")}
    kept = 0
    for row in rows:
        old = reviewed.get(row["id"])
        if old is not None and old.get("machine_translation") == row["machine_translation"]:
            row.update({"instruction": old["instruction"], "review_status": old["review_status"],
                        **{col: old.get(col) for col in REVIEW_COLUMNS}})
            kept += 1
    return kept


def write_card(out_dir: Path, *, languages: list[str], source_name: str, source_revision: str | None,
               source_key: str, translation_system: str, rows_by_lang: dict[str, list[dict[str, Any]]]) -> Path:
    """Render the first dataset card (README.md) with Hub ``configs`` metadata."""
    from bench.public_names import public_name
    from cards.provenance import hub_dataset_id
    from cards.render import render
    from cards.validate import size_category

    qa_table = []
    for lang in languages:
        rows = rows_by_lang[lang]
        counts = {flag: sum(flag in r["qa_flags"] for r in rows) for flag in QA_FLAG_NAMES}
        qa_table.append({"lang": lang, "rows": len(rows), "flagged": sum(bool(r["qa_flags"]) for r in rows),
                         "counts": counts})
    targets = [lang for lang in languages if lang != "en"]
    n_items = len(rows_by_lang[languages[0]])
    card = render("dataset_card.md.j2", {
        "pretty_name": "Multilingual Just-Eval-Instruct",
        "languages": languages, "targets": targets,
        "target_names": [get_language(t).name for t in targets],
        "size_category": size_category(n_items * len(languages)),
        "source_dataset": hub_dataset_id(source_name),
        "n_items": n_items, "source_name": public_name(source_name), "source_revision": source_revision,
        "source_key": source_key, "translation_system": public_name(translation_system),
        "qa_flag_names": QA_FLAG_NAMES, "qa_table": qa_table,
    })
    path = Path(out_dir) / "README.md"
    write_text_atomic(path, card)
    return path
