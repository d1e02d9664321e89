"""Human translation reviews pulled from Argilla, turned into evaluation records of the translation QA checker.

``bench annotate translations pull --to-eval FILE --split dev`` appends, for every machine translation that
reviewers submitted, one record in the format of ``evaluation/translation_qa/`` (English source, the machine
translation the reviewers saw, target language, reference flags) with its provenance: ``made: "argilla"``, the
reviewers, the review set, the error labels they chose. Records already in the file (same id) are kept as they
are; the id holds a hash of the reviewed text, so a translation pushed again after it changed is a new record.

The review form asks for an MQM-like error taxonomy, not for the checker's flags, so each record says which
flags its reviewers could speak to (``judged_flags``); ``bench qa evaluate`` counts only those for it:

* ``untranslated`` -> ``untranslated``, ``wrong_language`` -> ``wrong_language``, ``addition`` ->
  ``hallucinated_addition``, ``omission`` -> ``truncated`` (the checker's omission flag);
* ``code_format`` (code, markup, numbers or layout altered) is either ``code_altered`` or ``number_mismatch``:
  when the reviewers chose it, neither flag is judged on that record; when they did not, both are judged absent;
* ``repetition`` has no review label and is never judged; ``accuracy``, ``fluency`` and ``terminology`` are
  not checker flags and are kept only in ``review_labels``.

A label is the reference when at least half of an item's reviewers chose it (as for critical errors).
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from annotation import reviews as review_store

REVIEW_TO_FLAG = {"untranslated": "untranslated", "wrong_language": "wrong_language",
                  "addition": "hallucinated_addition", "omission": "truncated"}
AMBIGUOUS = {"code_format": ("code_altered", "number_mismatch")}
JUDGED_FLAGS = ("untranslated", "wrong_language", "truncated", "code_altered", "number_mismatch",
                "hallucinated_addition")  # QA_FLAGS order, without repetition
MAPPING_NOTE = ("reference = review labels chosen by at least half of the reviewers, mapped to QA flags: untranslated, "
                "wrong_language, addition -> hallucinated_addition, omission -> truncated; code_format -> "
                "code_altered or number_mismatch (neither judged when chosen); repetition not judged")


def reference_flags(review_labels: Iterable[str]) -> tuple[list[str], list[str]]:
    """(flags, judged flags) of one item from its reference review labels."""
    chosen = set(review_labels)
    flags = {REVIEW_TO_FLAG[label] for label in chosen if label in REVIEW_TO_FLAG}
    unjudged = {flag for label in chosen if label in AMBIGUOUS for flag in AMBIGUOUS[label]}
    judged = [f for f in JUDGED_FLAGS if f not in unjudged]
    return [f for f in judged if f in flags], judged


def reviewed_records(store: Any, review_set: str, sources: dict[str, dict[str, str]], split: str,
                     languages: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One evaluation record per reviewed machine translation of ``review_set``.

    ``sources``: per language, item id -> English source (the dataset folder's ``source_instruction``); items
    it lacks are left out (their source is unknown)."""
    from annotation.errors import reference_labels

    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in review_store.load(store, review_set, languages):
        if row.get("machine_translation") is not None:
            grouped[(row["lang"], str(row["item_id"]), row["machine_translation"])].append(row)
    out = []
    for (lang, item_id, translation), group in grouped.items():
        source = sources.get(lang, {}).get(item_id)
        if source is None:
            continue
        labels = sorted(reference_labels([list(r["errors"] or []) for r in group]))
        flags, judged = reference_flags(labels)
        digest = hashlib.sha256(translation.encode("utf-8")).hexdigest()[:8]
        out.append({
            "id": f"argilla-{review_set}-{lang}-{item_id}-{digest}", "split": split, "item_id": item_id,
            "source": source, "target_lang": lang, "translation": translation,
            "labels": flags, "judged_flags": judged, "made": "argilla",
            "annotators": sorted(r["annotator"] for r in group), "review_set": review_set, "review_labels": labels,
            "note": MAPPING_NOTE,
        })
    return out


def dataset_sources(dataset_path: str | Path, languages: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per language, item id -> English source of the dataset folder's rows."""
    from annotation.translations import read_rows

    return {lang: {str(r["id"]): r["source_instruction"] for r in read_rows(Path(dataset_path), lang)
                   if r.get("source_instruction")} for lang in languages}
