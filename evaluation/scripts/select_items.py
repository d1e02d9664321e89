"""Draw, once, which Just-Eval-Instruct items each part of the evaluation data is made from.

The 1,000 instruction ids are shuffled with a fixed seed and cut in two pools: ``dev`` and ``test``
never share an instruction. Within a pool, the generation prompts, the translation sources and the
shared model answers to label are drawn without looking at any detector. Coding and maths items are
over-drawn (they make the hard cases: intended code, numbers); everything else is uniform.

    python evaluation/scripts/select_items.py --shared ../shared > evaluation/scripts/selection.json

A second round, drawn later for ``dev`` only (more real answers and translations to tune on), takes
ids of the dev pool that the first round left unused, with a seed of its own:

    python evaluation/scripts/select_items.py --round 2 > evaluation/scripts/selection-dev-r2.json

A third dev round (hard negatives and subtle errors written by new annotators) draws, from the dev pool,
60 instructions to write answers for and 60 translation sources, none translated or generated from before:

    python evaluation/scripts/select_items.py --round 3 > evaluation/scripts/selection-dev-r3.json
    python evaluation/scripts/select_items.py --round 4 > evaluation/scripts/selection-dev-r4.json
    python evaluation/scripts/select_items.py --round 5 > evaluation/scripts/selection-dev-r5.json

``--round 6`` draws 20 instructions of round 6's written answers whose French and Spanish versions its
annotators wrote, for real Gemma-3-270M answers (``generate_answers.py --split dev-r6``):

    python evaluation/scripts/select_items.py --round 6 > evaluation/scripts/selection-dev-r6.json

``--round 7`` offers the dev pool's other coding and maths sources again, for technical translations:

    python evaluation/scripts/select_items.py --round 7 > evaluation/scripts/selection-dev-r7.json

Round 5 and later also offer 20 of the dev pool's coding and maths sources again (all were translated by earlier
rounds), for new translations by new annotators (``technical_translation_ids``).
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
    ap.add_argument("--round", type=int, choices=(1, 2, 3, 4, 5, 6, 7), default=1,
                    help="2-5: the later dev-only draws, from dev-pool ids the earlier rounds left unused")
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
    if args.round == 6:
        out = generation_dev_round()
    elif args.round == 7:
        out = technical_dev_round(rows, half)
    elif args.round == 2:
        out = second_dev_round(rows, half, out["dev"])
    elif args.round >= 3:
        rounds = [out["dev"], second_dev_round(rows, half, out["dev"])["dev"]]
        for n in range(3, args.round + 1):
            out = written_dev_round(rows, half, rounds, n)
            rounds.append(out["dev"])
    print(json.dumps(out, indent=1))


def second_dev_round(rows: list[dict], half: set[int], first: dict) -> dict:
    """40 generation ids (32 regular, 8 safety) that round 1 used nowhere, and 100 translation sources that
    were neither translated nor generated from before (they may be instructions of round 1's shared answers)."""
    rng = random.Random(SEED + 2)
    translated = {i for ids in first["translation_ids"].values() for i in ids}
    used = set(first["generation_ids"]) | translated | {i for ids in first["shared_answers"].values() for i in ids}
    pool = [r for r in rows if r["id"] in half and len(r["instruction"]) <= 700]
    gen = _draw(rng, [r for r in pool if r["category"] == "regular"], 32, used) + \
        _draw(rng, [r for r in pool if r["category"] == "safety"], 8, used)
    qa = _draw(rng, pool, 100, set(first["generation_ids"]) | translated | set(gen))
    return {"seed": SEED + 2, "source": "just_eval_instruct.jsonl", "round": 2,
            "dev": {"generation_ids": sorted(gen), "translation_ids": {"fr": qa[:50], "es": qa[50:]}}}


def written_dev_round(rows: list[dict], half: set[int], earlier: list[dict], round_no: int) -> dict:
    """60 instructions to write answers for (48 regular, 12 safety) and 60 translation sources, dev pool only.

    Round 3: none generated from or translated by an earlier round (instructions of shared answers may come back).
    Round 4 and later (the pool runs short): answers for instructions no earlier round answered, translations of
    sources no earlier round translated; the two draws of a round never share an instruction."""
    rng = random.Random(SEED + round_no)
    answered = {i for rnd in earlier for key in ("generation_ids", "written_answer_ids") for i in rnd.get(key, ())}
    translated = {i for rnd in earlier for ids in rnd["translation_ids"].values() for i in ids}
    pool = [r for r in rows if r["id"] in half and len(r["instruction"]) <= 700]
    used = answered | translated if round_no == 3 else set(answered)
    written = _draw(rng, [r for r in pool if r["category"] == "regular"], 48, used) + \
        _draw(rng, [r for r in pool if r["category"] == "safety"], 12, used)
    qa = _draw(rng, pool, 60, used if round_no == 3 else translated | set(written))
    out = {"seed": SEED + round_no, "source": "just_eval_instruct.jsonl", "round": round_no,
           "dev": {"written_answer_ids": sorted(written), "translation_ids": {"fr": qa[:30], "es": qa[30:]}}}
    if round_no >= 5:  # the dev pool's coding and maths sources are all translated already: 20 offered again
        tech = [r["id"] for r in sorted(pool, key=lambda r: r["id"]) if set(r.get("task") or ()) & {"coding", "math"}]
        again = sorted(random.Random(SEED + 100 * (round_no + 1)).sample(tech, 20))
        out["dev"]["technical_translation_ids"] = {"fr": again[0::2], "es": again[1::2]}
    return out

def technical_dev_round(rows: list[dict], half: set[int]) -> dict:
    """Every coding and maths source of the dev pool that round 6's technical translations did not use, for new
    translations by a new annotator (targets alternate Spanish / French in id order)."""
    parts = Path(__file__).resolve().parents[1] / "translation_qa" / "parts"
    used = {json.loads(line)["source_id"] for line in (parts / "dev-r6-written.jsonl").read_text(
        encoding="utf-8").splitlines() if json.loads(line)["id"].endswith("-tech")}
    tech = [r["id"] for r in sorted(rows, key=lambda r: r["id"]) if r["id"] in half and len(r["instruction"]) <= 700
            and set(r.get("task") or ()) & {"coding", "math"} and r["id"] not in used]
    return {"seed": None, "source": "just_eval_instruct.jsonl", "round": 7,
            "dev": {"translation_ids": {"es": tech[0::2], "fr": tech[1::2]}}}


def generation_dev_round() -> dict:
    """20 instructions of round 6's written answers (``--round 5``'s draw) whose French and Spanish versions the
    round-6 annotators wrote, for real small-model answers (``generate_answers.py --split dev-r6``)."""
    parts = Path(__file__).resolve().parents[1] / "critical_errors" / "parts"
    langs: dict[int, set[str]] = {}
    for name in ("dev-written-r6a.jsonl", "dev-written-r6b.jsonl"):
        for line in (parts / name).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            langs.setdefault(rec["instruction_ref"], set()).add(rec["lang"])
    both = sorted(i for i, seen in langs.items() if {"fr", "es"} <= seen)
    return {"seed": SEED + 6, "source": "just_eval_instruct.jsonl", "round": 6,
            "dev": {"generation_ids": sorted(random.Random(SEED + 6).sample(both, 20))}}


if __name__ == "__main__":
    main()
