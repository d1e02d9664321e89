"""``bench release``: assemble a versioned, verifiable, reproducible release folder.

A release folder is what gets pushed to the Hub as one commit::

    REL/README.md                          dataset card (cards/templates/release_card.md.j2)
    REL/RESULTS.md                         results card, when results are included
    REL/<lang>/test-00000-of-00001.parquet one config per language (en, fr, es, ...)
    REL/responses/test-00000-of-00001.parquet        \
    REL/judgements/test-00000-of-00001.parquet        > with --results, when non-empty
    REL/critical_errors/test-00000-of-00001.parquet  /
    REL/CHANGELOG.md                       this release's entry on top of the previous ones
    REL/MANIFEST.json                      SHA-256 + size of every other file, row counts, provenance

Everything is validated before anything is written (ids aligned across languages, no empty
instruction, one schema for every language config, review status known; unreviewed rows need
``allow_unreviewed``; responses must point at items and languages of the release). The folder is
written beside ``out`` and renamed into place, so a failed build leaves ``out`` as it was. The same
inputs give byte-identical files (with the same ``date``: ``--date`` or ``SOURCE_DATE_EPOCH``).

In a release, ``instruction`` is the reviewed text for ``post_edited``/``approved`` rows and the
machine translation for ``rejected`` rows (counted, and said in the card).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date as date_cls, datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from bench.public_names import public_name
from cards.provenance import JUST_EVAL_DATASET, hub_dataset_id
from bench.errors import BenchError, InputError
from bench.hashing import sha256_file
from bench.json_records import parse_json, read_json

MANIFEST_NAME = "MANIFEST.json"
CHANGELOG_NAME = "CHANGELOG.md"
CARD_NAME = "README.md"
RESULTS_CARD_NAME = "RESULTS.md"
MANIFEST_FORMAT = "bench-release/1"
PRETTY_NAME = "Multilingual Just-Eval-Instruct"
RESULT_CONFIGS = ("responses", "judgements", "critical_errors")
REVIEWED_TEXT = ("post_edited", "approved")  # rows whose `instruction` is the reviewer's text
VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CONFIG_DESCRIPTIONS = {
    "responses": "model responses (just-eval layout: id, instruction, output, generator) with provenance",
    "judgements": "LLM-judge scores and reasons, one row per response and judge",
    "critical_errors": "critical-error labels and evidence, one row per checked response (latest check)",
}


class ReleaseError(BenchError):
    """A release folder that fails verification."""


# --------------------------------------------------------------------------- small helpers


def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION_RE.match(version or "")
    if not match:
        raise BenchError(f"bad --version '{version}': expected X.Y.Z (semantic version, e.g. 1.0.0)")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def release_date(value: str | None = None) -> str:
    """``value`` (YYYY-MM-DD), else ``$SOURCE_DATE_EPOCH``, else today (UTC)."""
    if value:
        if not DATE_RE.match(value):
            raise BenchError(f"bad --date '{value}': expected YYYY-MM-DD")
        try:
            date_cls.fromisoformat(value)
        except ValueError as exc:
            raise BenchError(f"bad --date '{value}': {exc}") from exc
        return value
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date().isoformat()
        except (ValueError, OverflowError) as exc:
            raise BenchError(f"bad SOURCE_DATE_EPOCH '{epoch}': expected seconds since 1970") from exc
    return datetime.now(timezone.utc).date().isoformat()


def _id_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))


def _language_name(code: str) -> str:
    from bench.languages import LANGUAGES

    info = LANGUAGES.get(code)
    return info.name if info else code


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- dataset validation


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


def _dataset_languages(path: Path, build_info: dict[str, Any], languages: Sequence[str] | None) -> list[str]:
    from benchmark.dataset_dir import PARQUET_NAME

    present = sorted(p.parent.name for p in path.glob(f"*/{PARQUET_NAME}"))
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
    built = [lr.get("lang") for lr in build_info.get("languages", []) if isinstance(lr, dict)]
    order = ["en", *built]
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
        rows.sort(key=lambda r: _id_key(r["id"]))
        ids = [r["id"] for r in rows]
        if first_ids is None:
            first_ids = ids
        elif ids != first_ids:
            missing = sorted(set(first_ids) - set(ids), key=_id_key)
            extra = sorted(set(ids) - set(first_ids), key=_id_key)
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


# --------------------------------------------------------------------------- results from the store


@dataclass
class ResultsInfo:
    counts: dict[str, int] = field(default_factory=dict)  # config -> rows (non-empty configs only)
    models: list[dict[str, Any]] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)
    detector_versions: list[str] = field(default_factory=list)
    leaderboard_md: str = ""


def _check_results(ws: Any, data: DatasetCheck) -> None:
    """Responses must answer items and languages of this release."""
    store = ws.store
    bad_lang = store.query("SELECT lang, MIN(response_id) FROM responses GROUP BY lang ORDER BY lang")
    for lang, rid in bad_lang:
        if lang not in data.languages:
            raise InputError(str(store.path), f"response in language '{lang}', which is not a config of this release "
                                              f"({', '.join(data.languages)})", record=rid, field="lang")
    ids = {str(i) for i in data.ids}
    for rid, item in store.query("SELECT response_id, item_id FROM responses ORDER BY response_id"):
        if item not in ids:
            raise InputError(str(store.path), f"response for item id {item!r}, which is not in the dataset",
                             record=rid, field="item_id")


def _export_critical_errors(store: Any, out_dir: Path) -> int:
    """``out_dir/critical_errors/test-00000-of-00001.parquet``: latest check per response."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.atomic import atomic_path
    from benchmark.dataset_dir import PARQUET_NAME

    rows = store.query_dicts("""
        WITH latest AS (
            SELECT response_id, detector_version, labels, evidence FROM critical_error_checks
            QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY checked_at DESC, detector_version DESC) = 1
        )
        SELECT l.response_id, r.model, r.method, r.lang, r.item_id AS id, l.labels,
               CAST(l.evidence AS VARCHAR) AS evidence, l.detector_version
        FROM latest l JOIN responses r USING (response_id)
        ORDER BY r.model, r.method, r.lang, TRY_CAST(r.item_id AS BIGINT) NULLS LAST, r.item_id, l.response_id""")
    if not rows:
        return 0
    for row in rows:
        row["labels"] = sorted(row["labels"] or [])
        if row["evidence"] is not None:
            try:
                row["evidence"] = json.dumps(json.loads(row["evidence"]), sort_keys=True, ensure_ascii=False)
            except ValueError:
                pass
    id_type = pa.int64() if all(str(r["id"]).lstrip("-").isdigit() for r in rows) else pa.string()
    if id_type == pa.int64():
        for row in rows:
            row["id"] = int(row["id"])
    schema = pa.schema([("response_id", pa.string()), ("model", pa.string()), ("method", pa.string()),
                        ("lang", pa.string()), ("id", id_type), ("labels", pa.list_(pa.string())),
                        ("evidence", pa.string()), ("detector_version", pa.string())])
    target = out_dir / "critical_errors" / PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp, compression="zstd", write_statistics=True)
    return len(rows)


def _export_results(ws: Any, staging: Path, judge: str | None) -> ResultsInfo:
    import pyarrow.parquet as pq

    from baselines.leaderboard.queries import export_judgements, leaderboard_rows
    from baselines.leaderboard.cli import render_markdown, settings_line
    from baselines.generation.run import export_responses

    store = ws.store
    info = ResultsInfo()
    path, n = export_responses(ws, staging)
    info.counts["responses"] = n
    path = export_judgements(store, staging, judge=judge)
    info.counts["judgements"] = pq.read_metadata(path).num_rows
    info.counts["critical_errors"] = _export_critical_errors(store, staging)
    for name in RESULT_CONFIGS:
        if not info.counts[name]:
            shutil.rmtree(staging / name, ignore_errors=True)
            del info.counts[name]
    if not info.counts:
        return info
    for row in store.query_dicts("""
            SELECT model, model_revision AS revision, list_sort(list(DISTINCT method)) AS methods,
                   list_sort(list(DISTINCT lang)) AS languages, COUNT(*) AS responses
            FROM responses GROUP BY model, model_revision ORDER BY model, model_revision NULLS FIRST"""):
        info.models.append({**row, "responses": int(row["responses"])})
    judge_sql = "SELECT DISTINCT judge FROM judgements" + (" WHERE judge = ?" if judge else "") + " ORDER BY judge"
    info.judges = [r[0] for r in store.query(judge_sql, [judge] if judge else [])]
    if "critical_errors" in info.counts:
        info.detector_versions = [r[0] for r in store.query(
            "SELECT DISTINCT detector_version FROM critical_error_checks ORDER BY detector_version")]
    if "judgements" in info.counts:
        rows = leaderboard_rows(store, judge=judge)
        if rows:
            note = settings_line(judge, False, {}, "aspect", False, 0)
            info.leaderboard_md = render_markdown(rows, "aspect", note)
    return info


# --------------------------------------------------------------------------- review info


def load_review_info(path: str | Path | None) -> dict[str, Any]:
    """Reviewers and agreement for the card, from an optional JSON file: either the report of
    ``bench annotate translations pull --json`` (``languages``: annotators and agreement per
    language, ``rule``) or ``{"reviewers": [names], "agreement": text | {metric, value, items}}``."""
    empty = {"reviewers": [], "agreement": None, "rule": None}
    if path is None:
        return empty
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(str(path), "expected a JSON object (reviewers + agreement, or an annotate pull report)")
    if "languages" in data:
        return _pull_report_info(path, data)
    unknown = set(data) - {"reviewers", "agreement", "rule"}
    if unknown:
        raise InputError(str(path), "unknown key (expected reviewers, agreement, rule)", field=sorted(unknown)[0])
    reviewers = data.get("reviewers") or []
    if not isinstance(reviewers, list):
        raise InputError(str(path), f"expected a list of reviewer names, not {type(reviewers).__name__}",
                         field="reviewers")
    for n, name in enumerate(reviewers):
        if not isinstance(name, str) or not name.strip():
            raise InputError(str(path), f"expected a reviewer name, not {name!r}", field=f"reviewers[{n}]")
    agreement = data.get("agreement")
    if isinstance(agreement, dict):
        extra = set(agreement) - {"metric", "value", "items"}
        if extra:
            raise InputError(str(path), "unknown key (expected metric, value, items)",
                             field=f"agreement.{sorted(extra)[0]}")
        metric, value, items = agreement.get("metric"), agreement.get("value"), agreement.get("items")
        if not isinstance(metric, str) or not metric.strip():
            raise InputError(str(path), f"expected the metric's name, not {metric!r}", field="agreement.metric")
        if not _is_number(value):
            raise InputError(str(path), f"expected a number, not {value!r}", field="agreement.value")
        if items is not None and not _is_count(items):
            raise InputError(str(path), f"expected a count of items, not {items!r}", field="agreement.items")
        agreement = f"{metric} = {value:.3f}" + (f" on {items} items reviewed by two or more people" if items else "")
    elif agreement is not None and not isinstance(agreement, str):
        raise InputError(str(path), f"expected a text or {{metric, value, items}}, not {type(agreement).__name__}",
                         field="agreement")
    rule = data.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise InputError(str(path), f"expected a text, not {type(rule).__name__}", field="rule")
    return {"reviewers": sorted({r.strip() for r in reviewers}), "agreement": agreement, "rule": rule}


_AGREEMENT_KEYS = (("decision_alpha_nominal", "decision Krippendorff's alpha (nominal)"),
                   ("decision_percent_agreement", "decision percent agreement"),
                   ("rating_alpha_ordinal", "rating alpha (ordinal)"))


def _pull_report_info(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    languages = data["languages"]
    if not isinstance(languages, list):
        raise InputError(str(path), f"expected a list of per-language reports, not {type(languages).__name__}",
                         field="languages")
    reviewers: set[str] = set()
    parts = []
    for n, report in enumerate(languages):
        if not isinstance(report, dict) or not isinstance(report.get("lang"), str) or not report["lang"].strip():
            raise InputError(str(path), "expected a per-language report with a 'lang' text", record=f"languages[{n}]",
                             field="lang")
        lang = report["lang"]
        names = report.get("annotators") or []
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise InputError(str(path), "expected a list of annotator names", record=lang, field="annotators")
        reviewers.update(x.strip() for x in names if x.strip())
        agreement = report.get("agreement") or {}
        if not isinstance(agreement, dict):
            raise InputError(str(path), f"expected an object (as `bench annotate translations pull --json` writes), "
                                        f"not {type(agreement).__name__}", record=lang, field="agreement")
        for key in (*(k for k, _ in _AGREEMENT_KEYS), "items_with_2plus_reviews"):
            value = agreement.get(key)
            ok = _is_count(value) if key == "items_with_2plus_reviews" else _is_number(value)
            if value is not None and not ok:
                raise InputError(str(path), f"expected a number or null, not {value!r}", record=lang,
                                 field=f"agreement.{key}")
        values = [f"{label} {agreement[key]:.3f}" for key, label in _AGREEMENT_KEYS if agreement.get(key) is not None]
        items = agreement.get("items_with_2plus_reviews")
        if values:
            parts.append(f"{lang}: " + ", ".join(values) + (f" on {items} items reviewed by two or more "
                                                            "people" if items else ""))
        elif items == 0:
            parts.append(f"{lang}: no item reviewed by two or more people")
    rule = data.get("rule") if isinstance(data.get("rule"), str) else None
    return {"reviewers": sorted(reviewers), "agreement": "; ".join(parts) or None, "rule": rule}


# --------------------------------------------------------------------------- changelog


def _previous_release(previous: str | Path | None, version: tuple[int, int, int]) -> tuple[dict | None, str]:
    """(previous manifest, previous changelog body) of ``--previous``."""
    if previous is None:
        return None, ""
    prev = Path(previous)
    manifest_path = prev / MANIFEST_NAME
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise InputError(str(manifest_path), "--previous must be a release folder (no readable MANIFEST.json)") from exc
    manifest = check_manifest(manifest_path, parse_json(str(manifest_path), raw))
    prev_version = manifest["version"]
    if parse_version(prev_version) >= version:
        raise BenchError(f"--version {'.'.join(map(str, version))} must be greater than the previous release "
                         f"{prev_version} ({prev})")
    changelog = prev / CHANGELOG_NAME
    try:
        body = changelog.read_text(encoding="utf-8") if changelog.is_file() else ""
    except UnicodeDecodeError as exc:
        raise InputError(str(changelog), f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    return manifest, body


def _changelog(version: str, date: str, configs: dict[str, dict[str, Any]], data: DatasetCheck,
               manifest_base: dict[str, Any], previous: dict | None, previous_body: str, notes: str | None,
               allow_unreviewed: bool) -> str:
    lines = [f"## {version} — {date}", ""]
    lines.append("- Configs: " + ", ".join(f"`{name}` ({c['rows']} rows)" for name, c in configs.items()) + ".")
    source = manifest_base["source"]
    revision = f" at revision `{source['revision']}`" if source["revision"] else ""
    lines.append(f"- Source: `{source['name']}`{revision} (content hash `{source['key']}`); "
                 f"translation: `{manifest_base['translator']['system']}`.")
    coverage = [f"{s.lang} {_percent(s.reviewed, s.rows)} (post_edited {s.review_counts['post_edited']}, approved "
                f"{s.review_counts['approved']}, rejected {s.review_counts['rejected']}, unreviewed "
                f"{s.review_counts['machine']})" for s in data.stats.values() if not s.is_source]
    if coverage:
        lines.append("- Review coverage: " + "; ".join(coverage) + ".")
    if data.unreviewed:
        lines.append(f"- Released with --allow-unreviewed: {sum(data.unreviewed.values())} unreviewed rows "
                     f"({', '.join(f'{k} {v}' for k, v in data.unreviewed.items())}).")
    if previous is not None:
        old = previous.get("configs", {})
        changes = []
        for name, conf in configs.items():
            if name not in old:
                changes.append(f"`{name}` added")
            elif old[name].get("sha256") != conf["sha256"]:
                delta = conf["rows"] - int(old[name].get("rows", 0))
                changes.append(f"`{name}` changed" + (f" ({delta:+d} rows)" if delta else ""))
        changes += [f"`{name}` removed" for name in old if name not in configs]
        unchanged = [name for name in configs if name in old and old[name].get("sha256") == configs[name]["sha256"]]
        text = "; ".join(changes) if changes else "no data change"
        if unchanged and changes:
            text += f"; unchanged: {', '.join(f'`{n}`' for n in unchanged)}"
        lines.append(f"- Since {previous.get('version')}: {text}.")
    if notes:
        lines.append(f"- Notes: {' '.join(notes.split())}")
    entry = "\n".join(lines) + "\n"
    older = previous_body
    if older.startswith("# Changelog"):
        older = older.split("\n", 1)[1] if "\n" in older else ""
    # drop an older entry of the same version (a rebuilt release replaces it)
    sections = re.split(r"(?m)^(?=## )", older.strip("\n"))
    kept = [s.strip("\n") for s in sections if s.strip() and not s.startswith(f"## {version} ")]
    return "# Changelog\n\n" + entry + ("\n" + "\n\n".join(kept) + "\n" if kept else "")


# --------------------------------------------------------------------------- build


@dataclass
class ReleaseReport:
    out: str
    version: str
    date: str
    configs: dict[str, int]
    files: int
    bytes: int
    review_coverage: dict[str, float]
    unreviewed: dict[str, int]
    rejected: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _card_configs(names: Sequence[str], rows: dict[str, int], descriptions: dict[str, str]) -> list[dict[str, Any]]:
    from benchmark.dataset_dir import PARQUET_NAME

    pattern = PARQUET_NAME.replace("00000-of-00001", "*")
    return [{"name": n, "pattern": f"{n}/{pattern}", "rows": rows[n], "description": descriptions[n]} for n in names]


def build_release(dataset: str | Path, out: str | Path, version: str, *, ws: Any = None, results: bool = False,
                  judge: str | None = None, allow_unreviewed: bool = False, languages: Sequence[str] | None = None,
                  review_info: str | Path | None = None, previous: str | Path | None = None,
                  notes: str | None = None, date: str | None = None,
                  pretty_name: str = PRETTY_NAME, source_dataset: str | None = None) -> ReleaseReport:
    """Validate ``dataset`` (+ the store's results), then write the release folder ``out``.

    ``source_dataset``: the Hub dataset the instructions come from (default: the build's source
    when it is a Hub id, else none: see :mod:`cards.provenance`)."""
    from bench import __version__
    from bench.store import library_versions
    from cards.render import render
    from cards.validate import card_problems, card_metadata, size_category

    version_tuple = parse_version(version)
    day = release_date(date)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file())):
        raise BenchError(f"{out}: exists and is not a release folder; choose another --out")
    review = load_review_info(review_info)
    data = check_dataset(dataset, languages)
    if data.unreviewed and not allow_unreviewed:
        total = sum(data.unreviewed.values())
        raise InputError(str(data.path), f"{total} translated rows are unreviewed (review_status 'machine': "
                                         f"{', '.join(f'{k} {v}' for k, v in data.unreviewed.items())}); review them "
                                         "or pass --allow-unreviewed (the card then says so)", field="review_status")
    if results:
        if ws is None or not Path(ws.db_path).is_file():
            raise BenchError(f"--results: no store at {getattr(ws, 'db_path', '?')} (use --workspace)")
        _check_results(ws, data)
    prev_manifest, prev_body = _previous_release(previous, version_tuple)

    build = data.build_info
    if source_dataset is not None and not hub_dataset_id(source_dataset):
        raise BenchError(f"--source-dataset '{source_dataset}': expected a Hub dataset id ORG/NAME")
    source_dataset = source_dataset or hub_dataset_id(build.get("source"))
    source = {"dataset": source_dataset, "name": public_name(build.get("source")) or "unknown",
              "revision": build.get("source_revision"), "key": build.get("source_key")}
    systems = sorted({public_name(r["translation_system"]) for rows in data.rows.values() for r in rows
                      if r.get("translation_system")})
    translator = {"spec": public_name(build.get("translator")), "key": build.get("translator_key"),
                  "system": ", ".join(systems) or public_name(build.get("translator")) or "unknown"}

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        from benchmark.dataset_dir import PARQUET_NAME, QA_FLAG_NAMES, write_config

        for lang in data.languages:
            for row in data.rows[lang]:  # no local directories in published data
                if row.get("translation_system"):
                    row["translation_system"] = public_name(row["translation_system"])
            write_config(staging, lang, data.rows[lang], data.schema)
        info = _export_results(ws, staging, judge) if results else ResultsInfo()
        notes_out = [] if not results or info.counts else ["--results: the store has no responses; none included"]
        row_counts = {lang: data.stats[lang].rows for lang in data.languages} | info.counts
        names = [*data.languages, *info.counts]
        descriptions = {**{lang: f"instructions in {_language_name(lang)}" for lang in data.languages},
                        **CONFIG_DESCRIPTIONS}
        card_configs = _card_configs(names, row_counts, descriptions)
        review_table = [{"lang": s.lang, "rows": s.rows, "counts": s.review_counts,
                         "coverage": _percent(s.reviewed, s.rows)} for s in data.stats.values() if not s.is_source]
        qa_table = [{"lang": s.lang, "rows": s.rows, "flagged": s.flagged, "counts": s.qa_counts}
                    for s in data.stats.values()]
        reviewed_any = any(s.review_counts["post_edited"] or s.review_counts["approved"] for s in data.stats.values())
        creators = ["found", "machine-generated"] + (["expert-generated"] if reviewed_any else [])
        n_safety = sum(r.get("category") == "safety" for r in data.rows[data.languages[0]])
        context = {
            "pretty_name": pretty_name, "version": version, "date": day, "languages": data.languages,
            "language_names": [_language_name(lang) for lang in data.languages], "language_creators": creators,
            "size_category": size_category(sum(data.stats[lang].rows for lang in data.languages)),
            "source_dataset": source_dataset, "is_just_eval": source_dataset == JUST_EVAL_DATASET,
            "n_items": data.n_items, "n_safety": n_safety,
            "configs": card_configs, "source": source, "translator": translator,
            "reviewers": review["reviewers"], "agreement": review["agreement"], "review_rule": review["rule"],
            "review_table": review_table,
            "unreviewed_total": sum(data.unreviewed.values()), "rejected_total": sum(data.rejected.values()),
            "qa_flag_names": QA_FLAG_NAMES, "qa_table": qa_table,
            "results": ({"models": info.models, "judges": info.judges, "detector_versions": info.detector_versions,
                         "settings": sum(len(m["methods"]) for m in info.models),
                         "leaderboard_md": info.leaderboard_md} if info.counts else None),
        }
        cards = {CARD_NAME: render("release_card.md.j2", context)}
        if info.counts:
            result_configs = [c for c in card_configs if c["name"] in info.counts]
            cards[RESULTS_CARD_NAME] = render("results_card.md.j2", {
                **context, "configs": result_configs, "models": info.models, "judges": info.judges,
                "detector_versions": info.detector_versions, "leaderboard_md": info.leaderboard_md,
                "size_category": size_category(sum(info.counts.values()))})
        for name, text in cards.items():
            problems = card_problems(card_metadata(text), root=staging)
            if problems:  # a template bug, not a user error
                raise BenchError(f"rendered {name} has invalid metadata: {problems[0]}")
            (staging / name).write_text(text, encoding="utf-8")

        configs = {name: {"path": f"{name}/{PARQUET_NAME}", "rows": row_counts[name],
                          "sha256": sha256_file(staging / name / PARQUET_NAME)} for name in names}
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT, "name": pretty_name, "version": version, "date": day,
            "languages": data.languages, "allow_unreviewed": bool(allow_unreviewed and data.unreviewed),
            "source": source, "translator": translator,
            "review": {"reviewers": review["reviewers"], "agreement": review["agreement"], "rule": review["rule"],
                       "languages": {
                s.lang: {**s.review_counts, "coverage": round(s.coverage, 6)} for s in data.stats.values()}},
            "qa": {s.lang: {"flagged_rows": s.flagged, **s.qa_counts} for s in data.stats.values()},
            "results": {"judges": info.judges, "models": info.models, "detector_versions": info.detector_versions},
            "configs": configs,
            "versions": {"release": {**library_versions(), "bench": __version__},
                         "build": build.get("versions", {})},
        }
        (staging / CHANGELOG_NAME).write_text(
            _changelog(version, day, configs, data, manifest, prev_manifest, prev_body, notes,
                       allow_unreviewed), encoding="utf-8")
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        manifest["files"] = {p.relative_to(staging).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
                             for p in files}
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        for p in staging.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    total = sum(f["size"] for f in manifest["files"].values())
    return ReleaseReport(out=str(out), version=version, date=day, configs=row_counts, files=len(files) + 1,
                         bytes=total + (out / MANIFEST_NAME).stat().st_size,
                         review_coverage={s.lang: round(s.coverage, 6) for s in data.stats.values() if not s.is_source},
                         unreviewed=data.unreviewed, rejected=data.rejected, notes=notes_out)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an old release at ``out`` is replaced only once the new one is complete."""
    staging.chmod(0o755)
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- verify


SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _inside(name: str) -> bool:
    """A relative POSIX path that stays inside the release folder."""
    parts = name.split("/")
    return bool(name) and "\\" not in name and not name.startswith("/") and ":" not in parts[0] \
        and all(part not in ("", ".", "..") for part in parts)


def check_manifest(path: str | Path, manifest: Any) -> dict[str, Any]:
    """The parsed ``MANIFEST.json`` at ``path``, checked for everything verify and push rely on; the first
    problem is one InputError naming the file, the entry (record) and the field."""
    file = str(path)
    if not isinstance(manifest, dict):
        raise InputError(file, f"expected a JSON object (a release manifest), not {type(manifest).__name__}")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(file, f"unknown manifest format {manifest.get('format')!r} (expected {MANIFEST_FORMAT})",
                         field="format")
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise InputError(file, f"bad version {version!r}: expected X.Y.Z", field="version")
    languages = manifest.get("languages", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise InputError(file, "expected a list of language codes", field="languages")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(file, "no files listed (expected an object: path -> {sha256, size})", field="files")
    for name, entry in files.items():
        if not _inside(name) or name == MANIFEST_NAME:
            raise InputError(file, "not a relative path inside the release folder", record=repr(name), field="files")
        if not isinstance(entry, dict):
            raise InputError(file, f"expected an object {{sha256, size}}, not {type(entry).__name__}", record=name,
                             field="files")
        if not isinstance(entry.get("sha256"), str) or not SHA256_RE.match(entry["sha256"]):
            raise InputError(file, f"expected 64 lowercase hex digits, not {entry.get('sha256')!r}", record=name,
                             field="files.sha256")
        if not _is_count(entry.get("size")):
            raise InputError(file, f"expected a size in bytes, not {entry.get('size')!r}", record=name,
                             field="files.size")
    configs = manifest.get("configs")
    if not isinstance(configs, dict):
        raise InputError(file, f"expected an object: config name -> {{path, rows, sha256}}, not "
                               f"{type(configs).__name__}", field="configs")
    for name, entry in configs.items():
        if not isinstance(entry, dict):
            raise InputError(file, f"expected an object {{path, rows, sha256}}, not {type(entry).__name__}",
                             record=name, field="configs")
        if not isinstance(entry.get("path"), str) or not _inside(entry["path"]):
            raise InputError(file, f"not a relative path inside the release folder: {entry.get('path')!r}",
                             record=name, field="configs.path")
        if not _is_count(entry.get("rows")):
            raise InputError(file, f"expected a row count, not {entry.get('rows')!r}", record=name,
                             field="configs.rows")
        if not isinstance(entry.get("sha256"), str) or not SHA256_RE.match(entry["sha256"]):
            raise InputError(file, f"expected 64 lowercase hex digits, not {entry.get('sha256')!r}", record=name,
                             field="configs.sha256")
    return manifest


def read_manifest(rel: str | Path) -> dict[str, Any]:
    path = Path(rel) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReleaseError(f"{rel}: not a release folder (no {MANIFEST_NAME})") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return check_manifest(path, parse_json(str(path), raw))


def release_problems(rel: str | Path) -> list[str]:
    """Every problem of a release folder: files vs. manifest (SHA-256, size, missing, extra), row
    counts of the configs, and the card metadata. Empty list: the release checks out."""
    import pyarrow.parquet as pq

    from cards.validate import check_card

    rel = Path(rel)
    manifest = read_manifest(rel)
    problems: list[str] = []
    files = manifest["files"]
    on_disk = {p.relative_to(rel).as_posix() for p in rel.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    for name in sorted(set(files) - on_disk):
        problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
    for name in sorted(on_disk - set(files)):
        problems.append(f"{name}: not listed in {MANIFEST_NAME}")
    for name in sorted(set(files) & on_disk):
        entry = files[name]
        size = (rel / name).stat().st_size
        if size != entry.get("size"):
            problems.append(f"{name}: size {size} differs from {entry.get('size')} in {MANIFEST_NAME}")
        elif sha256_file(rel / name) != entry.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from {MANIFEST_NAME}")
    for config, entry in manifest["configs"].items():
        path = rel / entry["path"]
        if entry.get("path") not in files:
            problems.append(f"config {config}: {entry.get('path')} not listed in files")
        elif path.is_file() and files[entry["path"]].get("sha256") != entry.get("sha256"):
            problems.append(f"config {config}: SHA-256 differs between configs and files")
        elif path.is_file():
            try:
                rows = pq.read_metadata(path).num_rows
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{entry['path']}: unreadable parquet ({str(exc).splitlines()[0]})")
                continue
            if rows != entry.get("rows"):
                problems.append(f"config {config}: {rows} rows, {MANIFEST_NAME} says {entry.get('rows')}")
    for card in (CARD_NAME, RESULTS_CARD_NAME):
        if (rel / card).is_file():
            try:
                meta = check_card(rel / card, root=rel)
            except InputError as exc:
                problems.append(f"{card}: {exc.message}" + (f" (field {exc.field})" if exc.field else ""))
                continue
            if card == CARD_NAME:
                names = [c.get("config_name") for c in meta.get("configs", [])]
                listed = sorted((manifest.get("configs") or {}).keys())
                if sorted(names) != listed:
                    problems.append(f"{card}: configs {sorted(names)} differ from {MANIFEST_NAME} {listed}")
        elif card == CARD_NAME:
            problems.append(f"{card}: missing")
    return problems


def verify_release(rel: str | Path) -> dict[str, Any]:
    """Check a release folder; raises :class:`ReleaseError` naming the first problem."""
    problems = release_problems(rel)
    if problems:
        more = f" (+{len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ReleaseError(f"{rel}: {problems[0]}{more}")
    manifest = read_manifest(rel)
    files = manifest["files"]
    return {"release": str(rel), "version": manifest["version"], "files": len(files) + 1,
            "bytes": sum(f["size"] for f in files.values()) + (Path(rel) / MANIFEST_NAME).stat().st_size,
            "configs": {name: manifest["configs"][name]["rows"] for name in sorted(
                manifest["configs"], key=lambda n: (n not in manifest.get("languages", []),
                                                    manifest.get("languages", []).index(n)
                                                    if n in manifest.get("languages", []) else 0, n))}}
