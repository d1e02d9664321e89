"""Critical-error detector speed (and error rates) over the 7 x 1,000 published Just-Eval answers.

Reads ../shared/data/just-eval-instruct/outputs/*.jsonl in place (English answers), runs
``CriticalErrorDetector.detect_many`` over all of them (best of --repeat runs; the detector is built
once, outside the timing) with its default worker processes (one per available core) and, as the baseline,
in one process (``workers=1``), prints the share of answers per label and model, and ends with one JSON line:
``{"detector_items_per_s": ..., "items": ...}``.

Then the optional second opinion (``--judge``) on the same answers: every uncertain finding is asked of
a loopback OpenAI-compatible server answering "no" after ``--judge-latency-ms`` (a stand-in judge: what
is measured is the path's own cost and its concurrency, not a model), with a fresh cache; reported
separately as ``second_opinion_items_per_s``.

    python perf/detectors.py [--repeat 5] [--outputs DIR] [--judge-latency-ms 50]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.errors.critical_errors import DETECTOR_VERSION, LABELS, CriticalErrorDetector  # noqa: E402

OUTPUTS = REPO.parent / "shared" / "data" / "just-eval-instruct" / "outputs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", default=str(OUTPUTS), help="folder of <model>.jsonl answer files")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each path, interleaved; the best one is reported")
    parser.add_argument("--judge-latency-ms", type=float, default=50.0, help="latency of the loopback judge")
    args = parser.parse_args()

    files = sorted(Path(args.outputs).glob("*.jsonl"))
    if not files:
        sys.exit(f"no answer files in {args.outputs} (../shared is absent?)")
    rows, models = [], []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                rows.append((rec["instruction"], rec["output"], "en", rec.get("finish_reason")))
                models.append(path.stem)

    t0 = time.perf_counter()
    detector = CriticalErrorDetector(("en", "fr", "es"))
    build_s = time.perf_counter() - t0
    single = CriticalErrorDetector(("en", "fr", "es"), workers=1)
    best = best_single = float("inf")
    results = None
    for _ in range(max(1, args.repeat)):  # the two interleaved, so both see the same machine load
        t0 = time.perf_counter()
        single.detect_many(rows)
        best_single = min(best_single, time.perf_counter() - t0)
        t0 = time.perf_counter()
        results = detector.detect_many(rows)
        best = min(best, time.perf_counter() - t0)
    chars = sum(len(r[1]) for r in rows)

    per_model: dict[str, Counter] = {}
    totals: Counter = Counter(models)
    for model, found in zip(models, results):
        c = per_model.setdefault(model, Counter())
        c.update(f.label for f in found)
        c["(any)"] += bool(found)
    short = {label: label.split("_")[0][:6] for label in LABELS}
    header = f"{'model':28s}" + "".join(f"{short[l]:>9s}" for l in LABELS) + f"{'any':>9s}"
    print(f"critical errors ({DETECTOR_VERSION}), share of answers (count) per model:")
    print(header)
    for model in sorted(per_model):
        n = totals[model]
        cells = "".join(f"{per_model[model][l] / n:>8.1%} " for l in LABELS + ("(any)",))
        print(f"{model:28s}{cells}")
    print(f"detector built in {build_s:.2f}s; {len(rows)} answers ({chars / len(rows):,.0f} chars on average) "
          f"in {best:.2f}s with {detector.workers} worker process(es), {best_single:.2f}s in one (best of {args.repeat})")
    second = second_opinion_speed(rows, results, args.judge_latency_ms / 1000, best)
    print(f"second opinion: {second['second_opinion_questions']} uncertain findings asked in "
          f"{second['second_opinion_s']:.2f}s ({second['second_opinion_items_per_s']:,.0f} answers/s overall)")
    print(json.dumps({"workers_speedup": round(best_single / best, 2),
                      "detector_items_per_s": round(len(rows) / best, 1), "workers": detector.workers,
                      "single_process_items_per_s": round(len(rows) / best_single, 1), "items": len(rows),
                      "seconds": round(best, 3), "mean_chars": round(chars / len(rows)), "build_s": round(build_s, 2),
                      "detector_version": DETECTOR_VERSION, **second}))


def second_opinion_speed(rows: list[tuple], results: list, latency_s: float, rules_s: float) -> dict:
    """Rules (``rules_s``) plus the second opinion on their uncertain findings, against a loopback judge."""
    import tempfile

    from baselines.errors.second_opinion import SecondOpinion
    from baselines.judging.judge import make_backend
    from perf.loopback_server import start_chat_server

    server, stats = start_chat_server(latency_s, lambda body: "No")
    backend = make_backend(f"openai:judge@http://127.0.0.1:{server.server_address[1]}/v1", scoring="text",
                           max_tokens=8, client_options={"api_key": "loopback"})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            _, report = SecondOpinion(backend, Path(tmp) / "cache.jsonl").review(rows, results)
            seconds = time.perf_counter() - t0
    finally:
        backend.close()
        server.shutdown()
    return {"second_opinion_items_per_s": round(len(rows) / (rules_s + seconds), 1), "second_opinion_s": round(seconds, 2),
            "second_opinion_questions": report.asked, "second_opinion_rejected": report.rejected,
            "judge_latency_ms": round(latency_s * 1000), "judge_max_inflight": stats["max_inflight"]}


if __name__ == "__main__":
    main()
