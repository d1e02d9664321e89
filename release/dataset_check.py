"""Read and validate a dataset folder for a release (ids aligned, one schema, review status known).

In a release, ``instruction`` is the reviewed text for ``post_edited``/``approved`` rows and the
machine translation for ``rejected`` rows (:func:`release_text`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.errors import InputError
from bench.json_records import read_json

REVIEWED_TEXT = ("post_edited", "approved")  # rows whose `instruction` is the reviewer's text


def id_key(value: Any) -> tuple:
    """Sort key of item ids: integers in numeric order, then texts."""
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))


@dataclass
class LanguageStats:
    lang: str
    rows: int
    review_counts: dict[str, int]
    reviewed: int  # post_edited + approved + rejected
    coverage: float  # reviewed / rows (translated configs); 1.0 for the source config
    flagged: int
    qa_counts: dict[str, int]
    is_source: bool


@dataclass
class DatasetCheck:
    """A validated dataset folder: rows per language (release text applied) and statistics."""

    path: Path
    languages: list[str]
    schema: Any  # pyarrow.Schema shared by every language config
    rows: dict[str, list[dict[str, Any]]]
    stats: dict[str, LanguageStats]
    build_info: dict[str, Any]

    @property
    def n_items(self) -> int:
        return len(self.rows[self.languages[0]])

    @property
    def ids(self) -> list[Any]:
        return [r["id"] for r in self.rows[self.languages[0]]]

    @property
    def unreviewed(self) -> dict[str, int]:
        return {lang: s.review_counts["machine"] for lang, s in self.stats.items() if s.review_counts["machine"]}

    @property
    def rejected(self) -> dict[str, int]:
        return {lang: s.review_counts["rejected"] for lang, s in self.stats.items() if s.review_counts["rejected"]}


def declared_languages(path: Path, build_info: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The configs a dataset folder declares: ``lang -> (file, field)`` from the card's ``configs``
    (``README.md``) and the translated languages of ``build_info.json``."""
    from cards.validate import card_metadata

    declared: dict[str, tuple[str, str]] = {}
    card = path / "README.md"
    if card.is_file():
        try:
            meta = card_metadata(card.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - yaml and huggingface_hub raise several kinds
            raise InputError(str(card), f"cannot parse the card ({str(exc).splitlines()[0] if str(exc) else exc})",
                             field="configs") from None
        configs = meta.get("configs") or []
        if not isinstance(configs, list):
            raise InputError(str(card), f"expected a list, not {type(configs).__name__}", field="configs")
        for n, config in enumerate(configs):
            name = config.get("config_name") if isinstance(config, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise InputError(str(card), "expected a config_name text", field=f"configs[{n}].config_name")
            declared.setdefault(name.strip(), (str(card), f"configs[{n}]"))
    for n, report in enumerate(build_info.get("languages", [])):
        declared.setdefault(report["lang"], (str(path / "build_info.json"), f"languages[{n}]"))
    return declared


def _dataset_languages(path: Path, build_info: dict[str, Any], languages: Sequence[str] | None) -> list[str]:
    from benchmark.dataset_dir import PARQUET_NAME

    present = sorted(p.parent.name for p in path.glob(f"*/{PARQUET_NAME}"))
    declared = declared_languages(path, build_info)
    if languages:
        langs = list(dict.fromkeys(lang.strip().lower() for lang in languages if lang.strip()))
        for lang in langs:
            if lang not in present:
                raise InputError(str(path), f"no '{lang}' config ({lang}/{PARQUET_NAME}) in the dataset folder"
                                            + (f"; it has: {', '.join(present)}" if present else ""))
        return langs
    if not present:
        raise InputError(str(path), f"not a dataset folder: no <lang>/{PARQUET_NAME} "
                                    "(build it with bench build-dataset)")
    missing = [lang for lang in declared if lang not in present]
    if missing:  # a release covers every config the dataset declares: a lost folder stops it
        file, field = declared[missing[0]]
        more = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise InputError(file, f"declares the '{missing[0]}' config but {missing[0]}/{PARQUET_NAME} is not in the "
                               f"dataset folder{more}; restore it, or pass --languages to release only "
                               f"{', '.join(present)}", field=field)
    order = ["en", *declared]
    return [lang for lang in dict.fromkeys(order) if lang in present] + [p for p in present if p not in order]


_BUILD_INFO_TEXT = ("source", "source_revision", "source_key", "translator", "translator_key")


def _read_build_info(path: Path) -> dict[str, Any]:
    """A dataset folder's ``build_info.json`` (written by build-dataset), checked for what a release uses."""
    info = read_json(path)
    if not isinstance(info, dict):
        raise InputError(str(path), f"expected a JSON object, not {type(info).__name__}")
    for key in _BUILD_INFO_TEXT:
        if info.get(key) is not None and not isinstance(info[key], str):
            raise InputError(str(path), f"expected a text or null, not {type(info[key]).__name__}", field=key)
    languages = info.get("languages", [])
    if not isinstance(languages, list):
        raise InputError(str(path), f"expected a list, not {type(languages).__name__}", field="languages")
    for n, report in enumerate(languages):
        if not isinstance(report, dict) or not isinstance(report.get("lang"), str):
            raise InputError(str(path), "expected an object with a 'lang' text", field=f"languages[{n}]")
    if not isinstance(info.get("versions", {}), dict):
        raise InputError(str(path), f"expected an object, not {type(info['versions']).__name__}", field="versions")
    return info


def release_text(row: dict[str, Any]) -> str | None:
    """The ``instruction`` of a row in a release: reviewed text, or the MT for rejected rows."""
    if row.get("review_status") == "rejected":
        return row.get("machine_translation")
    return row.get("instruction")


def check_dataset(path: str | Path, languages: Sequence[str] | None = None) -> DatasetCheck:
    """Read and validate a dataset folder; raises :class:`InputError` on the first problem."""
    import pyarrow.parquet as pq

    from benchmark.dataset_dir import PARQUET_NAME, QA_FLAG_NAMES, REVIEW_STATUSES

    path = Path(path)
    if not path.is_dir():
        raise InputError(str(path), "dataset folder not found")
    info_path = path / "build_info.json"
    build_info = _read_build_info(info_path) if info_path.is_file() else {}
    langs = _dataset_languages(path, build_info, languages)

    schema = None
    first_lang = langs[0]
    first_ids: list[Any] | None = None
    rows_by_lang: dict[str, list[dict[str, Any]]] = {}
    stats: dict[str, LanguageStats] = {}
    for lang in langs:
        file = path / lang / PARQUET_NAME
        try:
            file_schema = pq.read_schema(file).remove_metadata()
            table = pq.read_table(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
            raise InputError(str(file), f"cannot read parquet ({str(exc).splitlines()[0]})") from exc
        if schema is None:
            schema = file_schema
            for required in ("id", "instruction", "machine_translation", "lang", "qa_flags", "review_status"):
                if required not in schema.names:
                    raise InputError(str(file), "column missing from the dataset schema", field=required)
        elif not file_schema.equals(schema):
            raise InputError(str(file), _schema_difference(schema, file_schema, first_lang),
                             field=_schema_field(schema, file_schema))
        rows = table.to_pylist()
        seen: set[Any] = set()
        for n, row in enumerate(rows):
            rid = row["id"]
            if rid is None or (isinstance(rid, str) and not rid.strip()):
                raise InputError(str(file), "missing id", record=f"row {n}", field="id")
            if rid in seen:
                raise InputError(str(file), "duplicate id", record=rid, field="id")
            seen.add(rid)
        rows.sort(key=lambda r: id_key(r["id"]))
        ids = [r["id"] for r in rows]
        if first_ids is None:
            first_ids = ids
        elif ids != first_ids:
            missing = sorted(set(first_ids) - set(ids), key=id_key)
            extra = sorted(set(ids) - set(first_ids), key=id_key)
            if missing:
                raise InputError(str(file), f"id missing from the '{lang}' config (present in '{first_lang}'): "
                                            "ids must be aligned across languages", record=missing[0], field="id")
            raise InputError(str(file), f"id not in the '{first_lang}' config: ids must be aligned across languages",
                             record=extra[0], field="id")
        counts = {status: 0 for status in REVIEW_STATUSES}
        qa_counts = {flag: 0 for flag in QA_FLAG_NAMES}
        flagged = 0
        is_source = bool(rows) and rows[0].get("review_status") == "source"
        out_rows = []
        for row in rows:
            rid = row["id"]
            status = row.get("review_status")
            if status not in REVIEW_STATUSES:
                raise InputError(str(file), f"unknown review_status {status!r} (expected one of "
                                            f"{', '.join(REVIEW_STATUSES)})", record=rid, field="review_status")
            if (status == "source") != is_source:
                what = "the source config has a translated row" if is_source else "a translated config has a source row"
                raise InputError(str(file), f"{what} (review_status {status!r})", record=rid, field="review_status")
            if row.get("lang") != lang:
                raise InputError(str(file), f"lang is {row.get('lang')!r} in the '{lang}' config", record=rid,
                                 field="lang")
            if not isinstance(row.get("instruction"), str) or not row["instruction"].strip():
                raise InputError(str(file), "empty instruction", record=rid, field="instruction")
            text = release_text(row)
            if not isinstance(text, str) or not text.strip():
                raise InputError(str(file), "rejected row without a machine translation to release",
                                 record=rid, field="machine_translation")
            counts[status] += 1
            flags = row.get("qa_flags") or []
            flagged += bool(flags)
            for flag in flags:
                qa_counts[flag] = qa_counts.get(flag, 0) + 1
            out_rows.append({**row, "instruction": text})
        reviewed = counts["post_edited"] + counts["approved"] + counts["rejected"]
        stats[lang] = LanguageStats(lang=lang, rows=len(rows), review_counts=counts, reviewed=reviewed,
                                    coverage=1.0 if is_source else (reviewed / len(rows) if rows else 0.0),
                                    flagged=flagged, qa_counts=qa_counts, is_source=is_source)
        rows_by_lang[lang] = out_rows
    if not first_ids:
        raise InputError(str(path / first_lang / PARQUET_NAME), "the config has no rows")
    return DatasetCheck(path=path, languages=langs, schema=schema, rows=rows_by_lang, stats=stats,
                        build_info=build_info)


def _schema_field(expected, actual) -> str | None:
    for name in dict.fromkeys([*expected.names, *actual.names]):
        if name not in expected.names or name not in actual.names:
            return name
        if not expected.field(name).type.equals(actual.field(name).type):
            return name
    return None


def _schema_difference(expected, actual, first_lang: str) -> str:
    name = _schema_field(expected, actual)
    if name is None:
        return f"schema differs from the '{first_lang}' config (column order)"
    if name not in actual.names:
        return f"column missing (the '{first_lang}' config has it): schemas must be identical across languages"
    if name not in expected.names:
        return f"extra column (not in the '{first_lang}' config): schemas must be identical across languages"
    return (f"type {actual.field(name).type} differs from {expected.field(name).type} in the '{first_lang}' config: "
            "schemas must be identical across languages")
