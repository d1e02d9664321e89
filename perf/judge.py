"""Judging throughput: concurrency 16 vs one request at a time, and critical-error detector speed.

1. The same responses are judged twice by ``baselines.judging.judge.judge_responses`` against a loopback
   OpenAI-compatible server (a stdlib server in this script) that waits a fixed latency (default
   100 ms) and answers valid judge JSON: once with ``--concurrency`` (16), once with concurrency 1,
   each into a fresh workspace (so nothing comes from the cache). Items/s and the speedup are
   reported (the time counts selection, prompts, requests, parsing and the DuckDB writes).
2. Local probability scoring (``--scoring probs``, :mod:`baselines.judging.prob_scoring`): the same
   items judged by a tiny local chat model (``bench.testing.tiny_models.build_tiny_causal_lm``;
   ``--prob-device``, default cuda when there is one, else CPU)
   four ways, each into a fresh workspace, one backend with its model loaded (English prompts, instruction
   and answer cut to 120 and 240 characters: the tiny model's context is 2,048 tokens of a 512-token
   vocabulary): the project's path (``--prob-batch-size`` (16) items per forward pass, the judge's system
   prompt run once per protocol and its keys/values reused) against the baseline (one item at a time, its
   whole prompt run): ``prob_scoring_speedup`` (target >= 3); then batching alone
   (``prob_batching_speedup``) and prefix reuse alone (``prob_prefix_reuse_speedup``), both against the
   baseline. Items/s of the whole run; ``prob_forward_*``: the backend's ``score_batch`` alone (no store),
   the project's path and the baseline.
3. ``CriticalErrorDetector().detect_many`` over all shared outputs
   (``../shared/data/just-eval-instruct/outputs/*.jsonl``, 7,000 rows); null without ``../shared``.

Last line: one JSON object (``concurrency_speedup``, ``prob_scoring_speedup``,
``detector_items_per_s`` first).

    python perf/judge.py [--items 96] [--latency-ms 100] [--concurrency 16] [--prob-batch-size 16]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BENCH_NO_PROGRESS", "1")

from baselines.judging.judge import judge_responses  # noqa: E402
from perf.loopback_server import start_chat_server  # noqa: E402
from baselines.judging.parse import MULTI_ASPECTS, SAFETY_ASPECTS  # noqa: E402
from bench.ids import response_id, run_key  # noqa: E402
from bench.workspace import Workspace  # noqa: E402

OUTPUTS = REPO.parent / "shared" / "data" / "just-eval-instruct" / "outputs"


# --------------------------------------------------------------------------- a slow judge server


def start_judge_server(latency_s: float) -> tuple[Any, dict]:
    """The loopback judge: every answer scores each aspect 4 (``perf/loopback_server.py``)."""
    def reply(body: dict) -> str:
        aspects = MULTI_ASPECTS if '"helpfulness"' in body["messages"][0]["content"] else SAFETY_ASPECTS
        return json.dumps({a: {"reason": "Adequate.", "score": 4} for a in aspects})

    return start_chat_server(latency_s, reply)


# --------------------------------------------------------------------------- inputs


def load_outputs(limit: int | None = None) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(OUTPUTS.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    rec["model"] = path.stem
                    rows.append(rec)
    return rows[:limit] if limit else rows


def fill_workspace(ws: Workspace, items: list[dict], langs: tuple[str, ...] = ("en", "fr", "es")) -> None:
    key = run_key(model="bench", method="published")
    rows = []
    for i, rec in enumerate(items):
        lang = langs[i % len(langs)]
        category = "safety" if int(rec["id"]) >= 800 else "regular"
        rows.append([response_id(key, i, lang), key, "bench", "published", lang, str(i), rec["instruction"],
                     rec["output"], category])
    with ws.store.transaction() as con:
        con.executemany("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                        "output, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def pick_items(n: int) -> list[dict]:
    if OUTPUTS.is_dir():
        rows = load_outputs()
        step = max(1, len(rows) // n)
        picked = rows[::step][:n]
        if len(picked) == n:
            return picked
    return [{"id": i, "instruction": f"Question {i}: explain something.", "output": f"An answer {i}. " * 20}
            for i in range(n)]


# --------------------------------------------------------------------------- runs


def judge_timing(items: list[dict], base_url: str, concurrency: int, tmp: Path) -> dict:
    ws = Workspace(tmp / f"ws-c{concurrency}")
    fill_workspace(ws, items)
    report = judge_responses(ws, f"openai:bench-judge@{base_url}", concurrency=concurrency,
                             client_options={"timeout": 30}, price_per_1k=(0.001, 0.002))
    ws.close()
    assert report.judged == len(items) and report.failed == 0 and report.parse_failures == 0, report
    return {"seconds": round(report.seconds, 3), "items_per_s": round(report.judged / report.seconds, 2),
            "requests": report.requests}


def prob_items(items: list[dict]) -> list[dict]:
    """English prompts, instruction and answer cut to 120 and 240 characters: the tiny model reads 2,048 tokens
    of a 512-token vocabulary, and the judge prompt leaves room for short texts only."""
    return [dict(r, instruction=r["instruction"][:120], output=r["output"][:240]) for r in items]


def prob_timing(items: list[dict], backend, batch_size: int, tmp: Path) -> dict:
    """One judge run (selection, prompts, forward passes, DuckDB writes) with ``batch_size`` items per pass;
    the backend (its model already loaded) is shared by the runs."""
    ws = Workspace(tmp / f"ws-probs-b{batch_size}")  # tmp: a fresh folder per run (nothing from a cache)
    fill_workspace(ws, prob_items(items), ("en",))
    backend.chunk_size = batch_size
    report = judge_responses(ws, "hf:tiny-judge", backend=backend)
    ws.close()
    assert report.judged == len(items) and report.failed == 0 and report.parse_failures == 0, report
    assert report.scoring == "probs", report
    return {"seconds": round(report.seconds, 3), "items_per_s": round(report.judged / report.seconds, 2)}


def forward_timing(items: list[dict], backend, batch_size: int) -> float:
    """Items/s of ``backend.score_batch`` alone (prompt rendering, tokenization, forward passes)."""
    from baselines.judging.prompts import aspects_for, build_judge_messages, protocol_for_category

    batch = []
    for rec in prob_items(items):
        protocol = protocol_for_category("safety" if int(rec["id"]) >= 800 else "regular")
        batch.append((build_judge_messages(rec["instruction"], rec["output"], protocol, "en"), aspects_for(protocol)))
    batch.sort(key=lambda b: (len(b[1]), -sum(len(m["content"]) for m in b[0])))
    t0 = time.perf_counter()
    for i in range(0, len(batch), batch_size):
        backend.score_batch(batch[i:i + batch_size])
    return round(len(batch) / (time.perf_counter() - t0), 2)


def detector_timing() -> dict:
    if not OUTPUTS.is_dir():
        return {"detector_items_per_s": None, "detector_note": f"{OUTPUTS} not found"}
    from baselines.errors.critical_errors import CriticalErrorDetector

    records = load_outputs()
    rows = [(r["instruction"], r["output"], "en") for r in records]
    t0 = time.perf_counter()
    detector = CriticalErrorDetector()
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = detector.detect_many(rows)
    seconds = time.perf_counter() - t0
    labels: dict[str, int] = {}
    for found in findings:
        for f in found:
            labels[f.label] = labels.get(f.label, 0) + 1
    return {"detector_items_per_s": round(len(rows) / seconds, 1), "detector_rows": len(rows),
            "detector_seconds": round(seconds, 2), "detector_build_s": round(build_s, 2),
            "detector_flagged": sum(1 for f in findings if f), "detector_labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--prob-batch-size", type=int, default=16)
    parser.add_argument("--prob-device", default="auto", help="device of the tiny local judge (auto: cuda if any)")
    parser.add_argument("--prob-model", default=None,
                        help="a real judge for the probability-scoring part (folder, .gguf or Hub id; default: a tiny "
                             "random chat model built here)")
    parser.add_argument("--skip-detector", action="store_true")
    args = parser.parse_args()

    items = pick_items(args.items)
    server, stats = start_judge_server(args.latency_ms / 1000)
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    tmp = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    try:
        import openai  # noqa: F401  - import cost out of the timings

        concurrent = judge_timing(items, base_url, args.concurrency, tmp)
        peak = stats["max_inflight"]
        sequential = judge_timing(items, base_url, 1, tmp)
        server.shutdown()
        server.server_close()
        from bench.testing.tiny_models import build_tiny_causal_lm

        from baselines.judging.judge import make_backend

        model_dir = args.prob_model or build_tiny_causal_lm(tmp / "tiny-judge", chat_template=True)
        backend = make_backend(f"hf:{model_dir}", device=args.prob_device, scoring="probs")
        forward_timing(items[:2], backend, 2)  # load the model, the first forward pass
        prob = {}
        for key, batch_size, reuse in (("project", args.prob_batch_size, True), ("baseline", 1, False),
                                       ("batched_no_reuse", args.prob_batch_size, False), ("single_reuse", 1, True)):
            backend.prefix_reuse = reuse
            backend.forget_prefixes()  # each run computes its system prompts' keys/values again
            prob[key] = prob_timing(items, backend, batch_size, tmp / key)
        backend.prefix_reuse = True
        forward_batched = forward_timing(items, backend, args.prob_batch_size)
        backend.prefix_reuse = False
        forward_single = forward_timing(items, backend, 1)
        backend.close()
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    prob_speedup = prob["baseline"]["seconds"] / prob["project"]["seconds"]
    print(f"probability scoring ({'tiny local judge' if not args.prob_model else backend.name}, {backend.device}): batch {args.prob_batch_size} with the system "
          f"prompt's keys/values reused: {prob['project']['seconds']} s ({prob['project']['items_per_s']} items/s); one "
          f"at a time, full prompt: {prob['baseline']['seconds']} s ({prob['baseline']['items_per_s']} items/s); "
          f"speedup {prob_speedup:.1f}x (batching alone "
          f"{prob['baseline']['seconds'] / prob['batched_no_reuse']['seconds']:.2f}x, prefix reuse alone "
          f"{prob['baseline']['seconds'] / prob['single_reuse']['seconds']:.2f}x); forward passes alone: "
          f"{forward_batched} vs {forward_single} items/s", file=sys.stderr)
    speedup = sequential["seconds"] / concurrent["seconds"]
    print(f"judge: {len(items)} items, {args.latency_ms:g} ms latency; concurrency {args.concurrency}: "
          f"{concurrent['seconds']} s ({concurrent['items_per_s']} items/s, peak {peak} in flight); "
          f"sequential: {sequential['seconds']} s ({sequential['items_per_s']} items/s); speedup {speedup:.1f}x",
          file=sys.stderr)
    det = {"detector_items_per_s": None, "detector_note": "skipped"} if args.skip_detector else detector_timing()
    if det.get("detector_items_per_s"):
        print(f"detector: {det['detector_rows']} outputs in {det['detector_seconds']} s "
              f"({det['detector_items_per_s']} items/s; built in {det['detector_build_s']} s)", file=sys.stderr)
    result = {
        "concurrency_speedup": round(speedup, 2),
        "prob_scoring_speedup": round(prob_speedup, 2),
        "detector_items_per_s": det.pop("detector_items_per_s"),
        "items": len(items), "latency_ms": args.latency_ms, "concurrency": args.concurrency,
        "concurrent_seconds": concurrent["seconds"], "concurrent_items_per_s": concurrent["items_per_s"],
        "concurrent_peak_in_flight": peak,
        "sequential_seconds": sequential["seconds"], "sequential_items_per_s": sequential["items_per_s"],
        "target_speedup": 8, "meets_target": speedup >= 8,
        "prob_batch_size": args.prob_batch_size, "prob_device": backend.device,
        "prob_model": backend.name if args.prob_model else "tiny random chat model",
        "prob_batching_speedup": round(prob["baseline"]["seconds"] / prob["batched_no_reuse"]["seconds"], 2),
        "prob_prefix_reuse_speedup": round(prob["baseline"]["seconds"] / prob["single_reuse"]["seconds"], 2),
        **{f"prob_{key}_items_per_s": value["items_per_s"] for key, value in prob.items()},
        **{f"prob_{key}_seconds": value["seconds"] for key, value in prob.items()},
        "prob_forward_batched_items_per_s": forward_batched, "prob_forward_single_items_per_s": forward_single,
        "prob_forward_batched_speedup": round(forward_batched / forward_single, 2), "prob_target_speedup": 3,
        "prob_meets_target": prob_speedup >= 3, **det,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
