"""How well :func:`bench.instruction_features.instruction_features` reads what an instruction asks for,
on labelled instructions (``bench errors evaluate-intent``; the sealed set is ``evaluation/instruction_intent``).

A record is ``{"id", "lang", "labels", ...}`` with the instruction inline (``instruction``) or as a reference to a
shared English instruction (``instruction_ref``, read in place: :mod:`bench.labelled_sets`). The labels are the
intent fields of :class:`~bench.instruction_features.InstructionFeatures` (``technical`` is their union,
not a label). The report is :func:`bench.label_scores.evaluation_report` plus the per-language macro-F1 and the
misses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.instruction_features import InstructionFeatures, instruction_features
from bench.errors import InputError
from bench.json_records import iter_jsonl
from bench.label_scores import evaluation_report, gold_labels
from bench.labelled_sets import resolve_record, shared_dir

INTENT_LABELS: tuple[str, ...] = tuple(f for f in InstructionFeatures._fields if f != "technical")
LANGUAGES = ("en", "fr", "es")


def predicted_intents(instruction: str) -> list[str]:
    """The intent labels the features give ``instruction``."""
    features = instruction_features(instruction)
    return [label for label in INTENT_LABELS if getattr(features, label)]


def read_intent_records(path: str, shared: str | Path | None = None) -> list[dict[str, Any]]:
    """Validated records (instruction resolved); one-line InputError naming the file, the line and the field."""
    shared_path = shared_dir(shared)
    out = []
    for lineno, row in iter_jsonl(path):
        where = f"line {lineno}"
        if not isinstance(row, dict):
            raise InputError(path, f"expected a JSON object, got {type(row).__name__}", record=where)
        row = resolve_record(path, where, row, shared_path)
        for name in ("instruction", "lang"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise InputError(path, "missing or not a non-empty string", record=where, field=name)
        if row["lang"] not in LANGUAGES:
            raise InputError(path, f"unknown language {row['lang']!r}; known: {', '.join(LANGUAGES)}", record=where,
                             field="lang")
        labels = gold_labels(path, row, where, INTENT_LABELS, noun="intent")
        out.append({"id": str(row.get("id", where)), "lang": row["lang"], "instruction": row["instruction"],
                    "labels": labels})
    if not out:
        raise InputError(path, "no records (empty file)")
    return out


def evaluate_intents(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation report of the intent features on ``records``, per-language macro-F1 and the misses."""
    predicted = [predicted_intents(r["instruction"]) for r in records]
    report = evaluation_report([r["labels"] for r in records], predicted, INTENT_LABELS)
    report["by_language"] = {}
    for lang in LANGUAGES:
        idx = [i for i, r in enumerate(records) if r["lang"] == lang]
        if idx:
            sub = evaluation_report([records[i]["labels"] for i in idx], [predicted[i] for i in idx], INTENT_LABELS)
            report["by_language"][lang] = {"items": len(idx), "macro_f1": sub["macro"]["f1"],
                                           "clean_flagged_rate": sub["clean_flagged_rate"]}
    report["misses"] = [{"id": r["id"], "lang": r["lang"], "missed": sorted(set(r["labels"]) - set(p)),
                         "spurious": sorted(set(p) - set(r["labels"]))}
                        for r, p in zip(records, predicted) if set(r["labels"]) != set(p)]
    return report
