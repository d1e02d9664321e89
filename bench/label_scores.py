"""Precision, recall and F1 of a multi-label tagger against gold labels, per label and micro-averaged.

Shared by every evaluation of the project's detectors (translation QA flags, critical-error labels
against a labelled dev set or against human annotations), so that they all count the same way:
per item, a label is a true positive when both sides have it, a false positive when only the
prediction has it, a false negative when only the gold has it. ``support`` is the number of gold
positives.

An item may be judged on some labels only (``scopes``: human reviews pulled from a taxonomy that cannot
speak to every label): labels outside its scope count neither way for it.
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


Scopes = Sequence[Iterable[str] | None] | None


def within_scopes(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]],
                  scopes: Scopes) -> tuple[list[set[str]], list[set[str]]]:
    """Gold and predicted label sets cut to each item's scope (``None``: the item is judged on every label)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold label sets for {len(predicted)} predictions")
    if scopes is None:
        return [set(g) for g in gold], [set(p) for p in predicted]
    if len(scopes) != len(gold):
        raise ValueError(f"{len(scopes)} scopes for {len(gold)} items")
    cut = [None if s is None else set(s) for s in scopes]
    return ([set(g) if s is None else set(g) & s for g, s in zip(gold, cut)],
            [set(p) if s is None else set(p) & s for p, s in zip(predicted, cut)])


def label_scores(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]], labels: Sequence[str], *,
                 undefined: float | None = 0.0, digits: int = 4,
                 scopes: Scopes = None) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``(per_label, micro)`` scores over aligned gold and predicted label sets (labels outside ``labels`` are ignored;
    ``scopes``: the labels each item is judged on, see :func:`within_scopes`)."""
    gold, predicted = within_scopes(gold, predicted, scopes)
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


def judged_labels(file: str, row: dict[str, Any], record: str, known: Sequence[str],
                  noun: str = "label") -> list[str] | None:
    """The optional ``judged_<noun>s`` field of a record: the only labels its gold speaks to (``None``: all of them).

    It must list known names and hold every gold label, else one InputError."""
    name = f"judged_{noun}s"
    if name not in row:
        return None
    judged = row[name]
    if not isinstance(judged, list) or not all(isinstance(x, str) for x in judged):
        raise InputError(file, f"must be a list of {noun} names", record=record, field=name)
    unknown = [x for x in judged if x not in known]
    if unknown:
        raise InputError(file, f"unknown {noun} {unknown[0]!r}; known: {', '.join(known)}", record=record, field=name)
    outside = [x for x in row.get("labels") or [] if x not in judged]
    if outside:
        raise InputError(file, f"label {outside[0]!r} is not among the {noun}s the record is judged on", record=record,
                         field=name)
    return judged


def confusion(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]],
              labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """For each gold label (and ``none`` = clean items), how often each label (or ``none``) was predicted.

    Rows are gold, columns predicted; an item with two gold labels counts in both rows. Shows which
    labels the tagger mixes up (a loop reported as a cut) and what it reports on clean items."""
    cols = list(labels) + ["none"]
    table = {row: {col: 0 for col in cols} for row in cols}
    for g, p in zip(gold, predicted):
        g, p = set(g) & set(labels), set(p) & set(labels)
        for row in sorted(g) or ["none"]:
            for col in sorted(p) or ["none"]:
                table[row][col] += 1
    return table


def evaluation_report(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]],
                      labels: Sequence[str], scopes: Scopes = None) -> dict[str, Any]:
    """Per-label, micro and macro scores, the clean-item false-alarm rate and the label confusion.

    ``macro`` averages P / R / F1 over the labels with gold support (a label absent from the set says
    nothing); ``clean_flagged_rate`` is the share of clean items (no gold label) given any label (both within each
    item's scope when ``scopes`` is given)."""
    gold, predicted = within_scopes(gold, predicted, scopes)
    per, micro = label_scores(gold, predicted, labels)
    present = [m for m in per.values() if m["support"]]
    macro = {key: (round(sum(m[key] or 0.0 for m in present) / len(present), 4) if present else None)
             for key in ("precision", "recall", "f1")}
    macro["labels"] = len(present)
    clean = [set(p) & set(labels) for g, p in zip(gold, predicted) if not set(g) & set(labels)]
    return {
        "items": len(gold),
        "exact_match": round(sum(1 for g, p in zip(gold, predicted) if set(g) == set(p)) / max(len(gold), 1), 4),
        "clean_items": len(clean),
        "clean_flagged_rate": round(sum(1 for p in clean if p) / max(len(clean), 1), 4),
        "labels": per,
        "micro": micro,
        "macro": macro,
        "confusion": confusion(gold, predicted, labels),
    }
