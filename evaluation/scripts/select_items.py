"""Draw, once, which Just-Eval-Instruct items each part of the evaluation data is made from.

The 1,000 instruction ids are shuffled with a fixed seed and cut in two pools: ``dev`` and ``test``
never share an instruction. Within a pool, the generation prompts, the translation sources and the
shared model answers to label are drawn without looking at any detector. Coding and maths items are
over-drawn (they make the hard cases: intended code, numbers); everything else is uniform.

    python evaluation/scripts/select_items.py --shared ../shared > evaluation/scripts/selection.json
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 20261205
DEV_MODELS = ("gpt-4-0613", "Llama-2-7b-chat-hf", "vicuna-7b-v1.5", "tulu-2-dpo-7b")
TEST_MODELS = ("gpt-3.5-turbo-0301", "Mistral-7B-Instruct-v0.1", "Yi-6B-Chat")


def _draw(rng: random.Random, pool: list[dict], n: int, used: set[int]) -> list[int]:
    """``n`` ids from ``pool`` not in ``used``; a third of them from coding/maths items where there are enough."""
    free = [r for r in pool if r["id"] not in used]
    tech = [r for r in free if set(r.get("task") or ()) & {"coding", "math"}]
    picked = rng.sample(tech, min(len(tech), n // 3))
    rest = [r for r in free if r not in picked]
    picked += rng.sample(rest, n - len(picked))
    ids = sorted(r["id"] for r in picked)
    used.update(ids)
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="../shared")
    args = ap.parse_args()
    src = Path(args.shared) / "data" / "just-eval-instruct" / "just_eval_instruct.jsonl"
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(SEED)
    ids = [r["id"] for r in rows]
    rng.shuffle(ids)
    half = set(ids[: len(ids) // 2])
    out: dict = {"seed": SEED, "source": "just_eval_instruct.jsonl"}
    for split, models in (("dev", DEV_MODELS), ("test", TEST_MODELS)):
        pool = [r for r in rows if (r["id"] in half) == (split == "dev") and len(r["instruction"]) <= 700]
        used: set[int] = set()
        gen = _draw(rng, [r for r in pool if r["category"] == "regular"], 24, used) + \
            _draw(rng, [r for r in pool if r["category"] == "safety"], 6, used)
        qa = _draw(rng, pool, 180, used)
        per_model = 200 // len(models) + 1
        shared = {m: _draw(rng, pool, per_model, used) for m in models}
        out[split] = {"generation_ids": sorted(gen), "translation_ids": {"fr": qa[:90], "es": qa[90:]},
                      "shared_answers": shared, "models": list(models)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
