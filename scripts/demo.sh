#!/usr/bin/env bash
# The main job, offline: build the multilingual demo dataset end to end with a locally built model.
# (Real small pretrained models replace the tiny random one when the demo issue lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-demo-output}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/2 building a tiny multilingual MT model locally (random weights: shows the mechanics only)"
python - "$OUT/models/tiny-m2m100" <<'PY'
import sys
from bench.tiny_models import build_tiny_m2m100
print("model:", build_tiny_m2m100(sys.argv[1]))
PY

echo "== 2/2 bench build-dataset: demo sample -> fr, es (translation, QA flags, dataset folder)"
bench --workspace "$OUT/workspace" build-dataset \
  --source benchmark/data/demo_instructions.jsonl --languages fr,es \
  --translator "hf:$OUT/models/tiny-m2m100" --out "$OUT/dataset"

python - "$OUT/dataset" <<'PY'
import sys
from datasets import load_dataset
for config in ("en", "fr", "es"):
    ds = load_dataset(sys.argv[1], config, split="test")
    print(f"load_dataset({sys.argv[1]!r}, {config!r}): {ds.num_rows} rows, columns: {', '.join(ds.column_names[:6])}, ...")
PY
echo "dataset: $OUT/dataset (card: $OUT/dataset/README.md); store: $OUT/workspace/bench.duckdb"
echo "demo finished in $(( $(date +%s) - start )) s"
