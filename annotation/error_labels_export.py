"""Human critical-error labels pulled from Argilla, turned into evaluation records for the checkers.

``bench annotate errors pull --to-eval FILE --split dev`` appends, for every response of the store that
annotators labelled, one record in the format of ``evaluation/critical_errors/`` (instruction, answer,
language, finish reason, the reference labels = those chosen by at least half of its annotators) with
its provenance: ``made: "argilla"``, the annotators, the Argilla dataset and the response's model and
method. Records already in the file (same id) are kept as they are: the file only grows, so a labelled
item never silently changes after someone tuned or scored on it.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.workspace import Workspace
from bench.vocabulary import ERROR_LABELS


def labelled_records(ws: Workspace, split: str) -> list[dict[str, Any]]:
    """One evaluation record per human-labelled response of the store (reference = majority labels)."""
    from annotation.errors import reference_labels

    rows = ws.store.query(
        "SELECT a.response_id, a.annotator, a.labels, a.source, r.instruction, r.output, r.lang, r.finish_reason, "
        "r.model, r.method FROM error_annotations a JOIN responses r ON r.response_id = a.response_id "
        "ORDER BY a.response_id, a.annotator")
    grouped: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(row)
    out = []
    for response_id, group in grouped.items():
        first = group[0]
        labels = reference_labels([list(g[2] or []) for g in group])
        out.append({
            "id": f"argilla-{response_id}", "split": split, "lang": first[6], "instruction": first[4],
            "output": first[5], "finish_reason": first[7],
            "labels": [label for label in ERROR_LABELS if label in labels],
            "made": "argilla", "annotators": sorted(g[1] for g in group), "source": first[3],
            "generator": f"{first[8]} ({first[9]})",
            "note": "reference = labels chosen by at least half of the annotators"
                    + ("; 'other' dropped (not a detector label)" if "other" in labels else ""),
        })
    return out


def append_records(path: str | Path, records: list[dict[str, Any]]) -> tuple[int, int]:
    """Append the records whose id the file does not hold yet; returns (added, already there)."""
    path = Path(path)
    have: set[str] = set()
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    have.add(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    raise InputError(str(path), "not a JSON evaluation record with an id", record=f"line {n}",
                                     field="id") from None
    new = [r for r in records if r["id"] not in have]
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new))
    return len(new), len(records) - len(new)
