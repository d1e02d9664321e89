"""Make the real small-model answers of the critical-error evaluation data (EN / FR / ES).

The 30 generation instructions of each split (``selection.json``; French and Spanish written by a
translator into ``generation_prompts.jsonl``) become a dataset folder per split; ``bench baselines
run`` then answers them with the study's decoding (greedy, repetition penalty 1.1) and 256 new
tokens, so loops, leaks, wrong languages and cuts appear as they do in the study:

* dev:  Gemma-3-270M base, zero-shot and URIAL;
* test: SmolLM2-135M-Instruct (its chat template, and URIAL), the Gemma-3-270M DPO model of ``make demo``.

The answers (text, finish reason, token counts, model, method) are written unlabelled to
``evaluation/critical_errors/parts/<split>-generated-answers.jsonl``; annotators label them from
that file. Needs the demo models (``make demo``).

    python evaluation/scripts/generate_answers.py --split dev [--models demo-output/models]
    python evaluation/scripts/generate_answers.py --split dev-r2   # the later dev round, selection-dev-r2.json
    python evaluation/scripts/generate_answers.py --split dev-r6   # selection-dev-r6.json; FR/ES from round 6's parts
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO / "evaluation"
WORK = REPO / "bench-workspace" / "evaluation"  # ignored: dataset folders and stores of these runs
MAX_NEW_TOKENS = 256


def grid_models(split: str, models: Path) -> str:
    if split.startswith("dev"):
        return (f"  - {{name: gemma-3-270m, path: {models / 'gemma-3-270m-q4_k_m.gguf'}, kind: base, dtype: bfloat16,"
                f" methods: [zero-shot, urial]}}\n")
    return (f"  - {{name: SmolLM2-135M-Instruct, path: {models / 'SmolLM2-135M-Instruct.Q4_1.gguf'}, kind: instruct,"
            f" dtype: bfloat16, methods: [chat, urial]}}\n"
            f"  - {{name: gemma-3-270m-DPO, path: {models / 'gemma-3-270m-dpo'}, kind: base, dtype: bfloat16,"
            f" methods: [dpo]}}\n")


def write_dataset(split: str, shared: Path, out: Path) -> None:
    """One parquet per language with the split's generation instructions."""
    pool, _, round_ = split.partition("-")  # "dev-r2": the dev pool, round 2
    name = f"selection-{split}.json" if round_ else "selection.json"
    selection = json.loads((EVAL / "scripts" / name).read_text(encoding="utf-8"))
    ids = set(selection[pool]["generation_ids"])
    english = {r["id"]: r for r in map(json.loads, (shared / "data" / "just-eval-instruct" /
                                                   "just_eval_instruct.jsonl").read_text(encoding="utf-8").splitlines())
               if r["id"] in ids}
    written = [json.loads(line) for line in (EVAL / "scripts" / "generation_prompts.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    if round_ == "r6":  # French and Spanish as round 6's annotators wrote them for their answers
        for name in ("dev-written-r6a.jsonl", "dev-written-r6b.jsonl"):
            for line in (EVAL / "critical_errors" / "parts" / name).read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if rec["instruction_ref"] in ids and rec["lang"] != "en":
                    written.append({"id": rec["instruction_ref"], "split": pool, "lang": rec["lang"],
                                    "instruction": rec["instruction"]})
    for lang in ("en", "fr", "es"):
        rows = []
        for item_id in sorted(ids):
            src = english[item_id]
            text = src["instruction"] if lang == "en" else next(
                w["instruction"] for w in written if w["id"] == item_id and w["lang"] == lang
                and w["split"] == pool)
            rows.append({"id": item_id, "instruction": text, "category": src["category"], "lang": lang,
                         "dataset": src["dataset"], "task": src["task"], "topic": src["topic"],
                         "difficulty": src["difficulty"]})
        (out / lang).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), out / lang / "test-00000-of-00001.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test", "dev-r2", "dev-r6"), required=True)
    ap.add_argument("--models", default=str(REPO / "demo-output" / "models"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--batch-size", type=int, default=15)
    ap.add_argument("--export-only", action="store_true", help="only rewrite the answers file from the store")
    args = ap.parse_args()
    work = WORK / args.split
    dataset = work / "dataset"
    write_dataset(args.split, Path(args.shared), dataset)
    grid = work / "grid.yaml"
    grid.write_text(
        f"dataset: {dataset}\nlanguages: [en, fr, es]\nbackend: transformers\ndevice: cpu\n"
        f"batch_size: {args.batch_size}\nprefix_cache: true\n"
        f"decoding: {{temperature: 0.0, max_new_tokens: {MAX_NEW_TOKENS}, repetition_penalty: 1.1, seed: 0}}\n"
        f"models:\n{grid_models(args.split, Path(args.models).resolve())}", encoding="utf-8")
    if not args.export_only:
        subprocess.run([sys.executable, "-m", "bench.cli", "--workspace", str(work / "ws"), "baselines", "run",
                        "--config", str(grid)], check=True, cwd=REPO)
    from baselines.errors.scan import answer_finish_reason
    from bench.store import Store

    rows = Store(work / "ws" / "bench.duckdb", read_only=True).query_dicts(
        "SELECT model, method, lang, item_id, output, raw_output, finish_reason, completion_tokens FROM responses "
        "ORDER BY model, method, lang, item_id")
    split, _, round_ = args.split.partition("-")
    prompts = {(r["id"], lang): r["instruction"] for lang in ("fr", "es")
               for r in pq.read_table(dataset / lang).to_pylist()}  # what each model was asked
    out = EVAL / "critical_errors" / "parts" / f"{split}-generated-answers{'-' + round_ if round_ else ''}.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"id": f"{args.split}-gen-{r['model']}-{r['method']}-{r['lang']}-{r['item_id']}",
                                 "split": split, "lang": r["lang"], "instruction_id": int(r["item_id"]),
                                 **({"instruction": prompts[(int(r["item_id"]), r["lang"])]}
                                    if r["lang"] != "en" and round_ == "r6" else {}),
                                 "generator": r["model"], "method": r["method"], "output": r["output"],
                                 "finish_reason": answer_finish_reason(r["output"], r["raw_output"], r["finish_reason"]), "completion_tokens": r["completion_tokens"],
                                 "max_new_tokens": MAX_NEW_TOKENS}, ensure_ascii=False) + "\n")
    print(f"{out}: {len(rows)} answers")


if __name__ == "__main__":
    main()
