"""The ``reviews`` config of a release: every human review of a translation, one row per item, language
and reviewer, from the workspace store (``translation_reviews``, written by
``bench annotate translations pull``), and the coverage and agreement figures the card states.

The review set is the Argilla dataset-name prefix the reviews were pulled from (``--name`` of
``bench annotate translations push/pull``; default ``<dataset folder>-translation``). Reviews must
belong to items and languages of the release, and every reviewed row of the release must have its
stored reviews: a mismatch (reviews pulled into another workspace, another folder) is one InputError.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import InputError
from release.dataset_check import DatasetCheck

CONFIG = "reviews"
DESCRIPTION = ("every human review of a translation: reviewer, quality rating, decision, error labels, "
               "post-edited text and time (one row per item, language and reviewer)")
REVIEWED = ("post_edited", "approved", "rejected")


@dataclass
class ReviewsInfo:
    review_set: str
    rows: int = 0
    reviewers: list[str] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # lang -> counts and agreement
    note: str | None = None


def _stored(store: Any, review_set: str, languages: list[str]) -> list[dict[str, Any]]:
    from annotation import reviews

    exists = store.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'translation_reviews'")
    return reviews.load(store, review_set, languages) if exists[0][0] else []


def export_reviews(store: Any, staging: Path, data: DatasetCheck, review_set: str) -> ReviewsInfo:
    """Write ``staging/reviews/<parquet>`` when the store holds reviews of ``review_set``; the counts and
    agreement per language for the card and the manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from annotation import reviews
    from annotation.translations import ERROR_LABELS
    from bench.atomic import atomic_path
    from benchmark.dataset_dir import PARQUET_NAME

    info = ReviewsInfo(review_set=review_set)
    targets = [lang for lang in data.languages if not data.stats[lang].is_source]
    reviewed = {(lang, str(r["id"])) for lang in targets for r in data.rows[lang] if r.get("review_status") in REVIEWED}
    rows = _stored(store, review_set, targets) if store is not None else []
    if not rows:
        if reviewed:
            info.note = (f"no per-reviewer reviews of review set {review_set!r} in the store: pull them with "
                         "`bench annotate translations pull` into this workspace to include the `reviews` config")
        return info
    where = str(getattr(store, "path", "store"))
    ids = {str(i): i for i in data.ids}
    for r in rows:
        if r["item_id"] not in ids:
            raise InputError(where, f"review of item id {r['item_id']!r}, which is not in the dataset "
                                    f"(review set {review_set!r})", record=f"{r['lang']}/{r['item_id']}/{r['annotator']}",
                             field="item_id")
    have = {(r["lang"], r["item_id"]) for r in rows}
    missing = sorted(reviewed - have)
    if missing:
        lang, item = missing[0]
        raise InputError(where, f"{len(missing)} reviewed row(s) of the dataset have no stored review in review set "
                                f"{review_set!r} (pull the reviews into this workspace with `bench annotate "
                                "translations pull`)", record=f"{lang}/{item}", field="translation_reviews")
    numeric = all(isinstance(i, int) for i in ids.values())
    order = {lang: n for n, lang in enumerate(targets)}
    out = [{"id": ids[r["item_id"]], "lang": r["lang"], "reviewer": r["annotator"], "rating": r["rating"],
            "decision": r["decision"], "error_labels": sorted(r["errors"] or []), "post_edit": r["post_edit"],
            "submitted_at": r["submitted_at"]} for r in rows]
    out.sort(key=lambda x: (order[x["lang"]], x["id"] if numeric else str(x["id"]), x["reviewer"]))
    schema = pa.schema([("id", pa.int64() if numeric else pa.string()), ("lang", pa.string()),
                        ("reviewer", pa.string()), ("rating", pa.int64()), ("decision", pa.string()),
                        ("error_labels", pa.list_(pa.string())), ("post_edit", pa.string()),
                        ("submitted_at", pa.timestamp("ms", tz="UTC"))])
    target = staging / CONFIG / PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(pa.Table.from_pylist(out, schema=schema), tmp, compression="zstd", write_statistics=True)
    info.rows = len(out)
    info.reviewers = sorted({r["annotator"] for r in rows})
    summary = reviews.agreement_summary(rows, ERROR_LABELS)
    for lang in targets:
        n = data.stats[lang].rows
        entry = summary.get(lang) or {"reviews": 0, "reviewers": 0, "reviewed_items": 0,
                                      **reviews.agreement_figures([], ERROR_LABELS)}
        entry["rows"] = n
        entry["coverage"] = round(entry["reviewed_items"] / n, 6) if n else None
        info.summary[lang] = entry
    return info
