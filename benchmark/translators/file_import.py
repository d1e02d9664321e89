"""``file:<path>``: import existing translations (human, post-edited, from another tool).

The file holds one record per (item, language) with the fields ``id``, ``lang`` (ISO 639-1) and
``translation``; other fields are ignored. Formats by extension:

* ``.jsonl`` - one JSON object per line (blank lines skipped); records are ``line N``;
* ``.json``  - a list of objects, or an object whose ``"data"`` / ``"rows"`` / ``"translations"`` is
  that list; records are ``index I`` (0-based, as in the other JSON readers);
* ``.csv``   - a header row naming the columns, UTF-8; records are ``line N`` (the header is line 1);
* ``.parquet`` - columns ``id``, ``lang``, ``translation``; records are ``index I`` (0-based rows).

The whole file is validated when the translator is built, so a bad file fails before any work,
with one ``InputError`` naming the file, the record and the field.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, Iterator, Sequence

from bench.errors import BenchError, InputError
from bench.json_records import parse_json, parse_jsonl
from bench.languages import LANGUAGES
from benchmark.translators.base import Translator

FIELDS = ("id", "lang", "translation")
FORMATS = (".jsonl", ".json", ".csv", ".parquet")


class FileTranslator(Translator):
    """Looks translations up by item id and target language; never calls a model."""

    unit = "item"
    batch_size = 256

    def __init__(self, spec: str, target: str, *, batch_size: int | None = None, cache_dir: str | None = None):
        super().__init__(spec)
        self.path = Path(target).expanduser()
        if batch_size:
            self.batch_size = int(batch_size)
        if not self.path.is_file():
            raise InputError(str(self.path), "file not found" if not self.path.exists() else "not a file")
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise InputError(str(self.path), f"unsupported format '{suffix or '(none)'}'; expected one of "
                             + ", ".join(FORMATS))
        data = self.path.read_bytes()
        self._sha256 = hashlib.sha256(data).hexdigest()
        self.translations: dict[tuple[str, str], str] = {}
        first_seen: dict[tuple[str, str], int | str] = {}
        for record, row in _read_records(self.path, suffix, data):
            key, text = self._validate(record, row)
            if key in self.translations:
                raise InputError(str(self.path), f"duplicate translation for id '{key[0]}' and language "
                                 f"'{key[1]}' (first at record {first_seen[key]})", record=record, field="id")
            self.translations[key] = text
            first_seen[key] = record
        if not self.translations:
            raise InputError(str(self.path), "no translations found (expected records with fields "
                             + ", ".join(FIELDS) + ")")
        self.languages = sorted({lang for _, lang in self.translations})
        self._records = first_seen

    def check_coverage(self, ids: Sequence[Any], languages: Sequence[str], *, complete: bool = True) -> None:
        """Fail before any work unless the file has a translation for every (id, language) asked for.

        ``complete``: ``ids`` is the whole source (no ``--limit``), so an id of the file that is not in
        it is an error too (a file of another dataset, shifted ids)."""
        file = str(self.path)
        wanted = [str(i).strip() for i in ids]
        for lang in languages:
            lang = lang.strip().lower()
            if lang not in self.languages:
                raise InputError(file, f"no '{lang}' translations (the file has languages: "
                                 f"{', '.join(self.languages)})", field="lang")
            missing = [i for i in wanted if (i, lang) not in self.translations]
            if missing:
                more = f" ({len(missing) - 1} more ids have none either)" if len(missing) > 1 else ""
                raise InputError(file, f"no '{lang}' translation for source id '{missing[0]}'{more}",
                                 record=f"id {missing[0]}", field="id")
        if complete:
            known = set(wanted)
            for (item_id, lang), record in self._records.items():
                if item_id not in known:
                    raise InputError(file, f"unknown id '{item_id}' (language '{lang}'): not in the source",
                                     record=record, field="id")

    def _validate(self, record: str, row: Any) -> tuple[tuple[str, str], str]:
        file = str(self.path)
        if not isinstance(row, dict):
            raise InputError(file, f"expected an object with fields {', '.join(FIELDS)}, got {type(row).__name__}",
                             record=record)
        values: dict[str, str] = {}
        for name in FIELDS:
            if name not in row or row[name] is None:
                raise InputError(file, "missing field", record=record, field=name)
            value = row[name]
            if name == "id" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise InputError(file, f"expected a string, got {type(value).__name__}", record=record, field=name)
            if not value.strip():
                raise InputError(file, "empty value", record=record, field=name)
            values[name] = value
        lang = values["lang"].strip().lower()
        if lang not in LANGUAGES:
            raise InputError(file, f"unknown language code '{values['lang']}'; known: {', '.join(sorted(LANGUAGES))}",
                             record=record, field="lang")
        return (values["id"].strip(), lang), values["translation"]

    @property
    def cache_key(self) -> str:
        return f"file:{self._sha256}"

    @property
    def system_name(self) -> str:
        return f"file:{self.path.name}"

    def translate_batch(self, texts: Sequence[str], source_lang: str, target_lang: str,
                        ids: Sequence[str] | None = None) -> list[str]:
        if ids is None or len(ids) != len(texts):
            raise BenchError(f"{self.spec}: the file translator needs one item id per text (unit 'item')")
        lang = target_lang.strip().lower()
        out: list[str] = []
        missing: list[str] = []
        for item_id in ids:
            text = self.translations.get((str(item_id).strip(), lang))
            if text is None:
                missing.append(str(item_id))
            else:
                out.append(text)
        if missing:
            more = f" ({len(missing) - 1} more ids in this batch are missing too)" if len(missing) > 1 else ""
            have = ", ".join(self.languages)
            raise InputError(str(self.path), f"no '{lang}' translation for id '{missing[0]}'{more}; "
                             f"the file has languages: {have}", record=missing[0], field="id")
        return out


def _read_records(path: Path, suffix: str, data: bytes) -> Iterator[tuple[str, Any]]:
    """(record, raw record) pairs, the record as ``line N`` or ``index I``; structural errors raise InputError."""
    file = str(path)
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(file, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if suffix == ".jsonl":
        for lineno, value in parse_jsonl(file, data.splitlines(keepends=True)):
            yield f"line {lineno}", value
    elif suffix == ".json":
        doc = parse_json(file, data)
        if isinstance(doc, dict):
            for name in ("data", "rows", "translations"):
                if isinstance(doc.get(name), list):
                    doc = doc[name]
                    break
        if not isinstance(doc, list):
            raise InputError(file, "expected a JSON list of objects (or an object with a 'data' list)")
        for i, value in enumerate(doc):
            yield f"index {i}", value
    elif suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        header = reader.fieldnames or []
        for name in FIELDS:
            if name not in header:
                raise InputError(file, f"missing column (header has: {', '.join(header) or 'nothing'})",
                                 record="line 1", field=name)
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    raise InputError(file, f"{len(header) + len(row[None])} cells for {len(header)} columns",
                                     record=f"line {reader.line_num}")
                yield f"line {reader.line_num}", row
        except csv.Error as exc:
            raise InputError(file, f"bad CSV: {exc}", record=f"line {reader.line_num}") from None
    else:  # .parquet
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - any reader error is a bad input file
            raise InputError(file, f"cannot read parquet: {type(exc).__name__}: {exc}") from None
        for name in FIELDS:
            if name not in table.column_names:
                raise InputError(file, f"missing column (file has: {', '.join(table.column_names)})", field=name)
        for i, value in enumerate(table.select(list(FIELDS)).to_pylist()):
            yield f"index {i}", value
