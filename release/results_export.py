"""The result configs of a release (responses, judgements, critical errors) and the leaderboard for its card.

Every model and judge name written here (parquet columns, the cards' lists, the manifest, the leaderboard)
is in its public form (:func:`bench.public_names.public_name`), whatever the store holds; the parquet
exports do this themselves, :func:`export_results` for the names it gathers.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError, InputError
from bench.public_names import public_name
from release.dataset_check import DatasetCheck

RESULT_CONFIGS = ("responses", "judgements", "critical_errors")
CONFIG_DESCRIPTIONS = {
    "responses": "model responses (just-eval layout: id, instruction, output, generator) with provenance",
    "judgements": "LLM-judge scores and reasons, one row per response and judge",
    "critical_errors": "critical-error labels and evidence, one row per checked response (latest check)",
}


@dataclass
class ResultsInfo:
    counts: dict[str, int] = field(default_factory=dict)  # config -> rows (non-empty configs only)
    models: list[dict[str, Any]] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)
    judge_settings: list[dict[str, Any]] = field(default_factory=list)  # per judge and distinct settings
    detector_versions: list[str] = field(default_factory=list)
    leaderboard_md: str = ""
    agreement_md: str = ""  # each released judge against the --agreement-reference judge


def check_results(ws: Any, data: DatasetCheck) -> None:
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


def export_critical_errors(store: Any, out_dir: Path) -> int:
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
        row["model"] = public_name(row["model"])
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


def export_results(ws: Any, staging: Path, judge: str | None, agreement_reference: str | None = None) -> ResultsInfo:
    """Write the non-empty result configs under ``staging`` and gather what the cards say about them."""
    import pyarrow.parquet as pq

    from baselines.leaderboard.export import export_judgements
    from baselines.leaderboard.queries import leaderboard_rows
    from baselines.leaderboard.render import render, settings_line
    from baselines.generation.run import export_responses
    from baselines.judging.provenance import judge_settings

    store = ws.store
    info = ResultsInfo()
    path, n = export_responses(ws, staging)
    info.counts["responses"] = n
    path = export_judgements(store, staging, judge=judge)
    info.counts["judgements"] = pq.read_metadata(path).num_rows
    info.counts["critical_errors"] = export_critical_errors(store, staging)
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
        info.models.append({**row, "model": public_name(row["model"]), "responses": int(row["responses"])})
    judge_sql = "SELECT DISTINCT judge FROM judgements" + (" WHERE judge = ?" if judge else "") + " ORDER BY judge"
    stored_judges = [r[0] for r in store.query(judge_sql, [judge] if judge else [])]
    info.judges = sorted({public_name(name) for name in stored_judges})
    info.judge_settings = judge_settings(store, stored_judges)  # public names, for the results card
    if "critical_errors" in info.counts:
        info.detector_versions = [r[0] for r in store.query(
            "SELECT DISTINCT detector_version FROM critical_error_checks ORDER BY detector_version")]
    if agreement_reference:
        info.agreement_md = agreement_section(store, [j for j in stored_judges if j != agreement_reference],
                                              agreement_reference)
    if "judgements" in info.counts:
        rows = leaderboard_rows(store, judge=judge)
        if rows:
            note = settings_line(judge, False, {}, "aspect", False, 0)
            info.leaderboard_md = render(rows, "markdown", "aspect", note)  # public names, escaped
    return info


def agreement_section(store: Any, judges: list[str], reference: str) -> str:
    """Markdown: each judge's agreement with ``reference`` (``bench results agreement``), public names only.

    The reference must be a judge (or human ratings) in the store; a judge sharing too few items with it
    is a one-line error, as in ``bench results agreement``."""
    from baselines.judging.agreement_report import agreement_markdown

    if not judges:
        raise BenchError(f"--agreement-reference {reference!r}: no other judge in the release to compare with it")
    return "\n".join(agreement_markdown(store, j, reference) for j in judges)
