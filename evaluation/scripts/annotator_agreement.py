"""Agreement between two annotators who labelled the same evaluation items on their own.

    python evaluation/scripts/annotator_agreement.py evaluation/critical_errors/dev.jsonl \
        evaluation/agreement/critical_errors-dev-second.jsonl [--json]

The first file holds the reference labels (every record with an ``id`` and ``labels``), the second the other
annotator's labels for a subset of those ids. Per label: Krippendorff's alpha (nominal, the label as a yes/no
decision; equal to Scott's pi for two annotators), how often each annotator gave it, and the items where they
disagree; overall: exact agreement of the label sets and their mean Jaccard overlap. Items the second file has
and the first lacks are an error naming the id.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from annotation.agreement import jaccard, per_label_alpha, rounded  # noqa: E402
from bench.errors import InputError  # noqa: E402
from bench.json_records import iter_jsonl  # noqa: E402


def read_labels(path: str) -> dict[str, list[str]]:
    out = {}
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("labels"), list):
            raise InputError(path, "needs a string id and a list of labels", record=f"line {lineno}")
        out[row["id"]] = sorted(row["labels"])
    return out


def agreement(reference: dict[str, list[str]], second: dict[str, list[str]]) -> dict:
    missing = sorted(set(second) - set(reference))
    if missing:
        raise InputError("second annotator file", f"id {missing[0]!r} is not in the reference file")
    ids = sorted(second)
    units = [[reference[i], second[i]] for i in ids]
    labels = sorted({x for u in units for s in u for x in s})
    alpha = per_label_alpha(units, labels)
    per_label = {}
    for label in labels:
        a = sum(label in reference[i] for i in ids)
        b = sum(label in second[i] for i in ids)
        both = sum(label in reference[i] and label in second[i] for i in ids)
        per_label[label] = {"alpha": rounded(alpha[label]), "reference": a, "second": b, "both": both}
    return {"items": len(ids), "exact": rounded(sum(reference[i] == second[i] for i in ids) / len(ids)),
            "mean_jaccard": rounded(sum(jaccard(reference[i], second[i]) for i in ids) / len(ids)),
            "labels": per_label,
            "disagreements": [{"id": i, "reference": reference[i], "second": second[i]}
                              for i in ids if reference[i] != second[i]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference")
    ap.add_argument("second")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = agreement(read_labels(args.reference), read_labels(args.second))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    print(f"{report['items']} items labelled by both: exact agreement {report['exact']}, "
          f"mean Jaccard {report['mean_jaccard']}")
    print(f"{'label':<18} {'alpha':>6} {'ref':>4} {'2nd':>4} {'both':>5}")
    for label, m in report["labels"].items():
        print(f"{label:<18} {m['alpha'] if m['alpha'] is not None else '-':>6} {m['reference']:>4} {m['second']:>4} "
              f"{m['both']:>5}")


if __name__ == "__main__":
    main()
