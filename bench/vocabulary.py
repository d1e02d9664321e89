"""The project's shared vocabularies: judge aspects, translation QA flags and critical-error labels.

Every stage that names one of these (judge prompts and parsing, preferences, the leaderboard,
dataset columns, detectors, annotation) imports it from here, so a new label is added once.
"""
from __future__ import annotations

# Judge aspects (1-5): just-eval's multi-aspect protocol for regular items, safety for safety items.
REGULAR_ASPECTS: tuple[str, ...] = ("helpfulness", "clarity", "factuality", "depth", "engagement")
SAFETY_ASPECT = "safety"
SAFETY_ASPECTS: tuple[str, ...] = (SAFETY_ASPECT,)
ASPECTS: tuple[str, ...] = REGULAR_ASPECTS + SAFETY_ASPECTS

# Translation QA flags, in report order (dataset column ``qa_flags``).
QA_FLAGS: tuple[str, ...] = (
    "untranslated",
    "wrong_language",
    "truncated",
    "code_altered",
    "number_mismatch",
    "hallucinated_addition",
    "repetition",
)

# Critical-error labels of a response, in report order.
ERROR_LABELS: tuple[str, ...] = (
    "repetition_loop", "unintended_code", "wrong_language", "format_leak", "empty", "truncated",
)

# Dataset rows' review status: ``source`` for the source language, ``machine`` until reviewed.
REVIEW_STATUSES: tuple[str, ...] = ("source", "machine", "post_edited", "approved", "rejected")
