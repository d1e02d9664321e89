"""Every reviewer's own answer on a translation, kept in the store (``translation_reviews``), and the
agreement figures computed from them.

``bench annotate translations pull`` merges the reviews into the dataset folder (one resolved text per
item) and stores each submitted review here, upserted per (review set, language, item, annotator):
pulling again refreshes a review, a record the server no longer has keeps its stored rows.
``bench release`` exports the rows as the ``reviews`` config and states :func:`agreement_summary`
in the card. Agreement is computed on items with two or more reviews only.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Iterable, Sequence

from annotation import agreement

COLUMNS = ("review_set", "lang", "item_id", "annotator", "rating", "decision", "post_edit", "errors",
           "machine_translation", "source", "submitted_at")
_INSERT = ("INSERT OR REPLACE INTO translation_reviews (review_set, lang, item_id, annotator, rating, decision, "
           "post_edit, errors, machine_translation, source, submitted_at, pulled_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)")
_SELECT = ("SELECT review_set, lang, item_id, annotator, rating, decision, post_edit, errors, machine_translation, "
           "source, submitted_at FROM translation_reviews WHERE review_set = ? "
           "ORDER BY lang, TRY_CAST(item_id AS BIGINT) NULLS LAST, item_id, annotator")


def save(store: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert review rows (dicts with :data:`COLUMNS`; ``submitted_at`` aware or naive UTC)."""
    values = []
    for r in rows:
        when = r.get("submitted_at")
        if isinstance(when, datetime) and when.tzinfo is not None:
            when = when.replace(tzinfo=None)
        values.append([r["review_set"], r["lang"], str(r["item_id"]), r["annotator"], r.get("rating"),
                       r["decision"], r.get("post_edit"), list(r.get("errors") or []), r.get("machine_translation"),
                       r.get("source"), when])
    if values:
        with store.transaction() as con:
            con.executemany(_INSERT, values)
    return len(values)


def load(store: Any, review_set: str, languages: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Stored reviews of one review set (optionally some languages), by language, item and annotator."""
    rows = store.query_dicts(_SELECT, [review_set])
    if languages is not None:
        wanted = set(languages)
        rows = [r for r in rows if r["lang"] in wanted]
    return rows


def review_sets(store: Any) -> list[str]:
    return [r[0] for r in store.query("SELECT DISTINCT review_set FROM translation_reviews ORDER BY 1")]


def agreement_figures(items: Sequence[Sequence[dict[str, Any]]], labels: Iterable[str]) -> dict[str, Any]:
    """Agreement over ``items`` (each: the reviews of one item, dicts with rating, decision, errors);
    items with fewer than two reviews are left out. Undefined alphas come with their reason."""
    multi = [list(v) for v in items if len(v) >= 2]
    ratings = [[r["rating"] for r in v] for v in multi]
    decisions = [[r["decision"] for r in v] for v in multi]
    label_sets = [[list(r["errors"] or []) for r in v] for v in multi]
    decision_alpha = agreement.krippendorff_alpha(decisions, "nominal")
    rating_alpha = agreement.krippendorff_alpha(ratings, "ordinal")
    return {
        "items_with_2plus_reviews": len(multi),
        "reviewers_on_those_items": len({r["annotator"] for v in multi for r in v if r.get("annotator")}),
        "rating_alpha_ordinal": agreement.rounded(rating_alpha),
        "rating_alpha_interval": agreement.rounded(agreement.krippendorff_alpha(ratings, "interval")),
        "rating_alpha_note": agreement.undefined_reason(ratings) if rating_alpha is None else None,
        "decision_alpha_nominal": agreement.rounded(decision_alpha),
        "decision_alpha_note": agreement.undefined_reason(decisions) if decision_alpha is None else None,
        "decision_percent_agreement": agreement.rounded(agreement.percent_agreement(decisions)),
        "error_labels_mean_jaccard": agreement.rounded(agreement.mean_pairwise_jaccard(label_sets)),
        "error_labels_alpha": {k: agreement.rounded(v) for k, v in agreement.per_label_alpha(label_sets, labels).items()},
    }


def agreement_summary(rows: Sequence[dict[str, Any]], labels: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per language: reviews, reviewers, reviewed items and :func:`agreement_figures` of stored rows."""
    by_lang: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_lang[r["lang"]][str(r["item_id"])].append(r)
    labels = list(labels)
    out = {}
    for lang, items in sorted(by_lang.items()):
        reviews = [r for v in items.values() for r in v]
        out[lang] = {"reviews": len(reviews), "reviewers": len({r["annotator"] for r in reviews}),
                     "reviewed_items": len(items), **agreement_figures(list(items.values()), labels)}
    return out
