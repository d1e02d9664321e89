"""Precision, recall and F1 of a multi-label tagger against gold labels, per label and micro-averaged.

Shared by every evaluation of the project's detectors (translation QA flags, critical-error labels
against a labelled dev set or against human annotations), so that they all count the same way:
per item, a label is a true positive when both sides have it, a false positive when only the
prediction has it, a false negative when only the gold has it. ``support`` is the number of gold
positives.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bench.errors import InputError


def prf(tp: int, fp: int, fn: int, *, undefined: float | None = 0.0, digits: int = 4) -> dict[str, Any]:
    """Precision / recall / F1 of one count triple; a ratio with a zero denominator is ``undefined``."""
    p = tp / (tp + fp) if tp + fp else undefined
    r = tp / (tp + fn) if tp + fn else undefined
    if p is None or r is None:
        f = None
    else:
        f = 2 * p * r / (p + r) if p + r else 0.0

    def rnd(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {"precision": rnd(p), "recall": rnd(r), "f1": rnd(f), "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def label_scores(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]], labels: Sequence[str], *,
                 undefined: float | None = 0.0, digits: int = 4) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``(per_label, micro)`` scores over aligned gold and predicted label sets (labels outside ``labels`` are ignored)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold label sets for {len(predicted)} predictions")
    counts = {label: [0, 0, 0] for label in labels}
    for g, p in zip(gold, predicted):
        g, p = set(g), set(p)
        for label, c in counts.items():
            if label in p and label in g:
                c[0] += 1
            elif label in p:
                c[1] += 1
            elif label in g:
                c[2] += 1
    per_label = {label: prf(*c, undefined=undefined, digits=digits) for label, c in counts.items()}
    micro = prf(*(sum(c[i] for c in counts.values()) for i in range(3)), undefined=undefined, digits=digits)
    return per_label, micro


def gold_labels(file: str, row: dict[str, Any], record: str, known: Sequence[str], noun: str = "label") -> list[str]:
    """The ``labels`` field of a labelled dev-set record: a list of known names, else one InputError."""
    labels = row.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InputError(file, f"must be a list of {noun} names", record=record, field="labels")
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise InputError(file, f"unknown {noun} {unknown[0]!r}; known: {', '.join(known)}", record=record,
                         field="labels")
    return labels
