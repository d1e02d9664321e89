"""Machine translations for the translation-QA evaluation data, by the demo's translator.

Gemma-3-270M (base, few-shot prompt; ``make demo`` installs it) translates 40 sources per split and
language (the first 40 translation sources of each in ``selection.json``) with ``bench build-dataset``;
its output is written unlabelled to ``evaluation/translation_qa/parts/<split>-mt.jsonl.unlabelled``
(source by id, translation, translator) for annotators to label. Real machine-translation errors,
not written ones.

    python evaluation/scripts/machine_translations.py [--models demo-output/models]
    python evaluation/scripts/machine_translations.py --round 2     # dev only: 25 per language, selection-dev-r2.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO / "evaluation"
WORK = REPO / "bench-workspace" / "evaluation" / "mt"
PER_LANGUAGE = 40


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(REPO / "demo-output" / "models"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--round", type=int, choices=(1, 2), default=1)
    args = ap.parse_args()
    name, splits, per_language, prefix = (("selection.json", ("dev", "test"), PER_LANGUAGE, "") if args.round == 1
                                          else ("selection-dev-r2.json", ("dev",), 25, "-r2"))
    selection = json.loads((EVAL / "scripts" / name).read_text(encoding="utf-8"))
    english = {r["id"]: r for r in map(json.loads, (Path(args.shared) / "data" / "just-eval-instruct" /
                                                   "just_eval_instruct.jsonl").read_text(encoding="utf-8").splitlines())}
    translator = f"llm:{Path(args.models).resolve() / 'gemma-3-270m-q4_k_m.gguf'}"
    for split in splits:
        out_rows = []
        for lang in ("fr", "es"):
            ids = selection[split]["translation_ids"][lang][:per_language]
            work = WORK / f"{split}{prefix}-{lang}"
            work.mkdir(parents=True, exist_ok=True)
            source = work / "source.jsonl"
            source.write_text("".join(json.dumps({"id": i, "instruction": english[i]["instruction"]}) + "\n"
                                      for i in ids), encoding="utf-8")
            subprocess.run([sys.executable, "-m", "bench.cli", "--workspace", str(WORK / f"ws{prefix}"), "build-dataset",
                            "--source", str(source), "--languages", lang, "--translator", translator,
                            "--out", str(work / "dataset"), "--dtype", "bfloat16", "--batch-size", "8"],
                           check=True, cwd=REPO)
            import pyarrow.parquet as pq

            for row in pq.read_table(work / "dataset" / lang / "test-00000-of-00001.parquet").to_pylist():
                out_rows.append({"id": f"{split}{prefix}-{lang}-{row['id']}-mt", "split": split, "source_id": int(row["id"]),
                                 "target_lang": lang, "translation": row["machine_translation"],
                                 "made": "machine-translation", "translator": "Gemma-3-270M base, few-shot (demo)"})
        out = EVAL / "translation_qa" / "parts" / f"{split}{prefix}-mt.jsonl.unlabelled"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out_rows), encoding="utf-8")
        print(f"{out}: {len(out_rows)} translations")


if __name__ == "__main__":
    main()
