"""Translation speed: batched vs one segment at a time, a cached rebuild vs a cold build, and the
full dataset (1,000 instructions x fr, es) rebuilt from the cache.

Runs on a tiny locally built seq2seq model (no downloads) over real instructions from
../shared when present (the shipped demo sample otherwise). Both sides of each ratio run in
this process, on the same inputs. The full rebuild (``--full-items``, 0 to skip) translates the
whole source once, then times a rebuild that finds every segment in the cache, with where its
time goes (``rebuild_phase_s``: translate = cache lookups and segmenting, qa, rows, store, write).
Target: the full cached rebuild under 10 s on 2 cores. Last line: one JSON object (ratios first).

    python perf/translate.py [--items 150] [--segments 96] [--batch-size 32] [--full-items 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BENCH_NO_PROGRESS", "1")

from bench.testing.tiny_models import build_tiny_m2m100  # noqa: E402
from bench.workspace import Workspace  # noqa: E402
from benchmark.build import build_dataset  # noqa: E402
from benchmark.segment import plan_item  # noqa: E402
from benchmark.source import load_source  # noqa: E402
from benchmark.translators import load_translator  # noqa: E402

SHARED_SOURCE = REPO.parent / "shared" / "data" / "just-eval-instruct" / "just_eval_instruct.jsonl"
DEMO_SOURCE = REPO / "benchmark" / "data" / "demo_instructions.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=150, help="items for the cold/cached build")
    parser.add_argument("--segments", type=int, default=96, help="segments for batched vs sequential")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--full-items", type=int, default=1000,
                        help="items for the full cached rebuild (0: skip it)")
    args = parser.parse_args()

    source_path = SHARED_SOURCE if SHARED_SOURCE.exists() else DEMO_SOURCE
    tmp = Path(tempfile.mkdtemp(prefix="bench-translate-"))
    model_dir = build_tiny_m2m100(tmp / "tiny-m2m100")
    spec = f"hf:{model_dir}"

    # 1. batched vs one segment at a time (same segments, greedy, same translator object)
    source = load_source(str(source_path), limit=args.items)
    segments = sorted({r for rec in source.records for r in plan_item(rec["instruction"]).requests()})[: args.segments]
    translator = load_translator(spec, batch_size=args.batch_size, device="cpu")
    translator.translate_batch(segments[:4], "en", "fr")  # warm-up
    t0 = time.perf_counter()
    single = [translator.translate_batch([s], "en", "fr")[0] for s in segments]
    sequential_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = []
    for i in range(0, len(segments), args.batch_size):
        batched.extend(translator.translate_batch(segments[i:i + args.batch_size], "en", "fr"))
    batched_s = time.perf_counter() - t0
    identical = sum(a == b for a, b in zip(single, batched))

    # 2. cold build vs fully cached rebuild (same workspace, same translator object)
    ws = Workspace(tmp / "workspace")
    t0 = time.perf_counter()
    cold = build_dataset(ws, source, ["fr", "es"], translator, tmp / "dataset")
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = build_dataset(ws, source, ["fr", "es"], translator, tmp / "dataset")
    cached_s = time.perf_counter() - t0
    ws.close()

    # 3. the full dataset rebuilt from the cache (a fresh workspace: cold once, then timed rebuild)
    full: dict = {}
    if args.full_items:
        full_source = load_source(str(source_path), limit=args.full_items)
        ws = Workspace(tmp / "workspace-full")
        build_dataset(ws, full_source, ["fr", "es"], translator, tmp / "dataset-full")
        t0 = time.perf_counter()
        rebuild = build_dataset(ws, full_source, ["fr", "es"], translator, tmp / "dataset-full")
        full = {"full_cached_rebuild_s": round(time.perf_counter() - t0, 2),
                "full_items": len(full_source.records),
                "full_rebuild_translated": sum(lr.translated for lr in rebuild.languages),
                "rebuild_phase_s": rebuild.phase_seconds}
        ws.close()
    translator.close()

    figures = {
        "batched_speedup": round(sequential_s / batched_s, 2),
        "cached_rebuild_speedup": round(cold_s / cached_s, 2),
        **({"full_cached_rebuild_s": full.pop("full_cached_rebuild_s")} if full else {}),
        "segments": len(segments),
        "batch_size": args.batch_size,
        "sequential_segments_per_s": round(len(segments) / sequential_s, 1),
        "batched_segments_per_s": round(len(segments) / batched_s, 1),
        "batched_equals_sequential": f"{identical}/{len(segments)}",
        "items": len(source.records),
        "cold_build_s": round(cold_s, 2),
        "cached_rebuild_s": round(cached_s, 2),
        "cold_translated": sum(lr.translated for lr in cold.languages),
        "rebuild_translated": sum(lr.translated for lr in warm.languages),
        "rebuild_phase_s": warm.phase_seconds,
        **{k if k != "rebuild_phase_s" else "full_rebuild_phase_s": v for k, v in full.items()},
        "source": source_path.name,
        "model": "tiny random M2M100 built locally (d_model 32)",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
