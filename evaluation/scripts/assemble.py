"""Assemble the evaluation sets from their labelled parts and seal the test split.

``evaluation/<set>/parts/<split>-*.jsonl`` (one file per way of making items, see
``evaluation/README.md``) are concatenated into ``evaluation/<set>/<split>.jsonl``. Generated answers
that were labelled in a separate file (``<split>-generated-labels*.jsonl``: id, labels, note) are joined
to their text (``<split>-generated-answers*.jsonl``; ``-r2`` for the later dev round). ``--seal`` records the sha256 of each test file in
``evaluation/SEALED.json``; the test suite fails if a sealed file changes afterwards.

    python evaluation/scripts/assemble.py [--seal]
"""
from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1]
SETS = ("critical_errors", "translation_qa")
SEALED = EVAL / "SEALED.json"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _generated(parts: Path, split: str) -> list[dict]:
    answer_files = sorted(parts.glob(f"{split}-generated-answers*.jsonl"))
    label_files = sorted(parts.glob(f"{split}-generated-labels*.jsonl"))
    if not (answer_files and label_files):
        return []
    by_id = {r["id"]: r for path in answer_files for r in _lines(path)}
    prompts = {(r["id"], r["lang"]): r["instruction"]
               for r in _lines(EVAL / "scripts" / "generation_prompts.jsonl")}
    out = []
    for lab in (row for path in label_files for row in _lines(path)):
        ans = by_id[lab["id"]]
        rec = {"id": ans["id"], "split": split, "lang": ans["lang"], "instruction_id": ans["instruction_id"]}
        if ans["lang"] == "en":
            rec["instruction_ref"] = ans["instruction_id"]
        else:
            rec["instruction"] = ans.get("instruction") or prompts[(ans["instruction_id"], ans["lang"])]
        rec.update({"output": ans["output"], "finish_reason": ans["finish_reason"], "labels": lab["labels"],
                    "made": "generated", "generator": f"{ans['generator']} ({ans['method']}, "
                                                      f"{ans['max_new_tokens']} new tokens)",
                    "note": lab.get("note", "")})
        out.append(rec)
    return out


def assemble() -> dict[str, int]:
    counts = {}
    for name in SETS:
        parts = EVAL / name / "parts"
        for split in ("dev", "test"):
            records = []
            for part in sorted(parts.glob(f"{split}-*.jsonl")):
                if part.name.startswith(f"{split}-generated-"):
                    continue
                records += _lines(part)
            records += _generated(parts, split)
            ids = [r["id"] for r in records]
            if len(ids) != len(set(ids)):
                raise SystemExit(f"{name}/{split}: duplicate ids")
            out = EVAL / name / f"{split}.jsonl"
            out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
            counts[f"{name}/{split}"] = len(records)
    return counts


def seal() -> None:
    """Record the assembled test files' sha256; entries of other sealed files (instruction_intent) are kept."""
    old = json.loads(SEALED.read_text(encoding="utf-8")) if SEALED.is_file() else {}
    files = {**old.get("sha256", {}),
             **{f"{name}/test.jsonl": hashlib.sha256((EVAL / name / "test.jsonl").read_bytes()).hexdigest()
                for name in SETS}}
    SEALED.write_text(json.dumps({**old, "sealed_at": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                                  "sha256": files}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seal", action="store_true", help="record the test files' sha256 in evaluation/SEALED.json")
    args = ap.parse_args()
    print(json.dumps(assemble()))
    if args.seal:
        seal()


if __name__ == "__main__":
    main()
