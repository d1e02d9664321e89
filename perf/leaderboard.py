"""Leaderboard speed: the full table in DuckDB vs plain Python loops (just-eval's way) vs pandas.

Builds a fresh store with ~1,000,000 synthetic judgement rows (seeded): models × methods ×
languages × 1,000 items (800 regular items with 5 aspects, 200 safety items with 1), with ~2%
N/A scores, a few judgement rows dropped (failed judge calls, counted as missing) to reach
exactly ``--rows``, and one critical-error check per response. Then times the same aggregation
(per model × method × language × judge: aspect means with N/A missing, overall, length in words,
n, missing rate, error rates per label) three ways, checks that they agree, and prints the
figures. Each side starts from where it keeps its data:

- ``loops_seconds`` / ``loops_speedup`` (the issue's baseline, just-eval's way): ``json.load``
  one judged JSON file per model × method × language (written beforehand, one per set, as
  just-eval keeps them; page cache warm) and aggregate in plain Python loops.
- ``loops_in_memory_seconds`` / ``loops_in_memory_speedup``: the same loops over records already
  parsed in memory (the stricter figure: no parsing at all).
- ``pandas_seconds``: the aggregation on DataFrames already built in memory.
- ``duckdb_seconds``: the steady state, best of ``--repeat`` calls of ``leaderboard_rows`` on the
  store (it checks the word-count cache against a fingerprint of every output, then runs the one
  query: aspect means, length, missing rate and error labels). ``duckdb_cold_seconds`` is the
  first call, which also counts the words of every output once; ``duckdb_uncached_query_seconds``
  is the query counting every output's words with the regex, no cache.

    python perf/leaderboard.py [--rows 1000000] [--seed 0] [--repeat 3]

Last line: one JSON object of figures.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from baselines.leaderboard.queries import known_labels, label_key, leaderboard_rows, leaderboard_sql  # noqa: E402
from bench.ids import response_id, run_key  # noqa: E402
from bench.store import Store  # noqa: E402
from bench.vocabulary import ASPECTS, REGULAR_ASPECTS  # noqa: E402

N_ITEMS, N_REGULAR = 1000, 800
LANGS = ("en", "fr", "es", "de", "it", "pt")
METHODS = ("zero-shot", "urial", "chat", "dpo")
LABELS = known_labels() or ("repetition_loop", "wrong_language", "empty", "truncated")
JUDGE = "judge-a"
VOCAB = np.array(["the", "model", "answer", "is", "a", "good", "réponse", "de", "la", "respuesta", "und", "1.",
                  "**Note**:", "code", "\u00e9t\u00e9", "-", "step", "first", "because", "however"])


def make_data(target_rows: int, seed: int):
    """Synthetic responses, judgement rows and checks (Python lists of dicts / arrays)."""
    rng = np.random.default_rng(seed)
    cells_per_combo = N_REGULAR * len(REGULAR_ASPECTS) + (N_ITEMS - N_REGULAR)
    n_combos = math.ceil(target_rows / cells_per_combo)
    n_models = math.ceil(n_combos / (len(METHODS) * len(LANGS)))
    combos = [(f"model-{m:02d}", method, lang) for m in range(n_models) for method in METHODS for lang in LANGS]
    combos = combos[:n_combos]
    responses, judgements, checks = [], [], []
    words = np.clip(rng.lognormal(4.3, 0.7, size=len(combos) * N_ITEMS).astype(int), 0, 600)
    tokens = rng.integers(0, len(VOCAB), size=int(words.sum()))
    seps = np.array([" ", " ", " ", " ", " ", " ", "\n", "  ", "\n\n"])
    offset = 0
    k = 0
    for model, method, lang in combos:
        key = run_key(model=model, method=method)
        quality = rng.normal(0, 0.6)
        for item in range(N_ITEMS):
            n_words = int(words[k])
            toks = VOCAB[tokens[offset: offset + n_words]]
            offset += n_words
            k += 1
            sep = seps[item % len(seps)]
            output = sep.join(toks.tolist())
            rid = response_id(key, item, lang)
            category = "regular" if item < N_REGULAR else "safety"
            responses.append({"response_id": rid, "run_key": key, "model": model, "method": method, "lang": lang,
                              "item_id": str(item), "instruction": f"instruction {item}", "category": category,
                              "output": output})
            aspects = REGULAR_ASPECTS if category == "regular" else ("safety",)
            for aspect in aspects:
                judgements.append((rid, aspect))
            labels = [lab for lab, p in zip(LABELS, rng.random(len(LABELS))) if p < 0.04]
            checks.append({"response_id": rid, "detector_version": "ce-v1", "labels": labels})
    n = len(judgements)
    scores = np.clip(np.rint(rng.normal(3.6 + rng.normal(0, 0.1), 1.0, size=n)), 1, 5)
    na = rng.random(n) < 0.02
    keep = np.ones(n, dtype=bool)
    drop = n - target_rows
    if drop > 0:
        keep[rng.choice(n, size=drop, replace=False)] = False
    rows = []
    for (rid, aspect), score, is_na, kept in zip(judgements, scores.tolist(), na.tolist(), keep.tolist()):
        if not kept:
            continue
        rows.append({"response_id": rid, "judge": JUDGE, "protocol": "safety" if aspect == "safety" else "multi-aspect",
                     "aspect": aspect, "score": None if is_na else score, "raw_score": "N/A" if is_na else str(int(score)),
                     "error": "not applicable" if is_na else None})
    return responses, rows, checks


def load_store(path: Path, responses, judgements, checks) -> Store:
    import pyarrow as pa

    store = Store(path)
    with store.transaction() as con:
        for table, rows in (("responses", responses), ("judgements", judgements), ("critical_error_checks", checks)):
            data = pa.Table.from_pylist(rows)
            con.register("_bench", data)
            con.execute(f"INSERT INTO {table} ({', '.join(data.column_names)}) SELECT * FROM _bench")
            con.unregister("_bench")
    store.con.execute("CHECKPOINT")
    return store


def just_eval_records(responses, judgements, checks) -> list[dict]:
    """One JSON-like record per judged response, as just-eval files hold them (scores as strings)."""
    by_rid = defaultdict(dict)
    for j in judgements:
        by_rid[j["response_id"]][j["aspect"]] = {"reason": "", "score": j["raw_score"]}
    labels = {c["response_id"]: c["labels"] for c in checks}
    return [{"model": r["model"], "method": r["method"], "lang": r["lang"], "id": r["item_id"],
             "category": r["category"], "output_cand": r["output"], "judge": JUDGE,
             "parsed_result": by_rid.get(r["response_id"], {}), "critical_errors": labels[r["response_id"]]}
            for r in responses]


def write_just_eval_files(records: list[dict], folder: Path) -> list[Path]:
    """One JSON file per model × method × language, as just-eval keeps its judged outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    sets: dict[tuple, list[dict]] = defaultdict(list)
    for rec in records:
        sets[(rec["model"], rec["method"], rec["lang"])].append(rec)
    files = []
    for i, (key, recs) in enumerate(sorted(sets.items())):
        path = folder / f"{i:04d}-{'_'.join(key)}.json"
        path.write_text(json.dumps(recs, indent=2, ensure_ascii=False), encoding="utf-8")
        files.append(path)
    return files


def read_just_eval_files(files: list[Path]) -> list[dict]:
    """just-eval's first step: ``json.load`` every judged file."""
    records: list[dict] = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            records.extend(json.load(f))
    return records


def loops_leaderboard(records: list[dict]) -> dict[tuple, dict]:
    """The aggregation in plain Python loops over the records (just-eval's approach)."""
    groups: dict[tuple, dict] = {}
    for rec in records:
        key = (rec["model"], rec["method"], rec["lang"], rec["judge"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"sums": defaultdict(float), "counts": defaultdict(int), "cells": 0, "scored": 0,
                               "n": 0, "words_reg": 0, "n_reg": 0, "words_all": 0, "labels": defaultdict(int)}
        g["n"] += 1
        words = len(rec["output_cand"].split())
        g["words_all"] += words
        regular = rec["category"] != "safety"
        if regular:
            g["words_reg"] += words
            g["n_reg"] += 1
        expected = REGULAR_ASPECTS if regular else ("safety",)
        parsed = rec["parsed_result"]
        for aspect in set(expected) | set(parsed):
            g["cells"] += 1
            entry = parsed.get(aspect)
            if entry is None:
                continue
            try:
                score = float(entry["score"])
            except (TypeError, ValueError):
                continue  # N/A and unparseable scores are missing
            g["sums"][aspect] += score
            g["counts"][aspect] += 1
            g["scored"] += 1
        for label in rec["critical_errors"]:
            g["labels"][label] += 1
    out = {}
    for key, g in groups.items():
        row = {a: (g["sums"][a] / g["counts"][a] if g["counts"][a] else None) for a in ASPECTS}
        regular = [row[a] for a in REGULAR_ASPECTS if row[a] is not None]
        row["overall"] = sum(regular) / len(regular) if regular else row["safety"]
        row["length"] = g["words_reg"] / g["n_reg"] if g["n_reg"] else g["words_all"] / g["n"]
        row["n"] = g["n"]
        row["missing_rate"] = 1 - g["scored"] / g["cells"]
        for label in LABELS:
            row[label_key(label)] = g["labels"][label] / g["n"]
        out[key] = row
    return out


def pandas_leaderboard(resp_df, cells_df) -> dict[tuple, dict]:
    """The same aggregation with pandas (vectorised where pandas can)."""
    import pandas as pd

    keys = ["model", "method", "lang", "judge"]
    means = cells_df.pivot_table(index=keys, columns="aspect", values="score", aggfunc="mean")
    cells = cells_df.groupby(keys).agg(cells=("aspect", "size"), scored=("score", "count"))
    words = resp_df["output"].str.split().str.len()
    resp = resp_df.assign(words=words, regular=resp_df["category"] != "safety")
    reg = resp[resp["regular"]].groupby(keys)["words"].mean().rename("len_reg")
    allw = resp.groupby(keys).agg(len_all=("words", "mean"), n=("words", "size"))
    label_cols = {label_key(lab): resp["labels"].map(lambda ls, lab=lab: lab in ls).astype(float) for lab in LABELS}
    rates = pd.DataFrame(label_cols).assign(**{k: resp[k] for k in keys}).groupby(keys).mean()
    table = means.join(cells).join(reg).join(allw).join(rates)
    regular = table[list(REGULAR_ASPECTS)]
    table["overall"] = regular.mean(axis=1, skipna=True).where(regular.notna().any(axis=1), table["safety"])
    table["length"] = table["len_reg"].fillna(table["len_all"])
    table["missing_rate"] = 1 - table["scored"] / table["cells"]
    out = {}
    for key, row in table.iterrows():
        rec = {a: (None if pd.isna(row.get(a)) else float(row[a])) for a in ASPECTS}
        rec.update(overall=float(row["overall"]), length=float(row["length"]), n=int(row["n"]),
                   missing_rate=float(row["missing_rate"]))
        rec.update({k: float(row[k]) for k in label_cols})
        out[tuple(key)] = rec
    return out


def pandas_frames(responses, judgements, checks):
    """Long cells (expected ∪ written, N/A = NaN) and responses as DataFrames (built outside the timer)."""
    import pandas as pd

    resp = pd.DataFrame(responses)[["response_id", "model", "method", "lang", "category", "output"]]
    resp["judge"] = JUDGE
    resp["labels"] = [c["labels"] for c in checks]
    expected = pd.concat([
        resp.loc[resp["category"] != "safety", ["response_id"]].merge(pd.DataFrame({"aspect": REGULAR_ASPECTS}), how="cross"),
        resp.loc[resp["category"] == "safety", ["response_id"]].assign(aspect="safety"),
    ])
    jud = pd.DataFrame(judgements)[["response_id", "aspect", "score"]]
    cells = expected.merge(jud, on=["response_id", "aspect"], how="left")
    cells = cells.merge(resp[["response_id", "model", "method", "lang", "judge"]], on="response_id")
    return resp, cells


def agree(a: dict, b: dict, tol: float = 1e-9) -> bool:
    if set(a) != set(b):
        return False
    for key, row in a.items():
        other = b[key]
        for col, value in row.items():
            v2 = other.get(col)
            if value is None or v2 is None:
                if value is not v2:
                    return False
            elif abs(float(value) - float(v2)) > tol * max(1.0, abs(float(value))):
                return False
    return True


def duckdb_as_dict(rows) -> dict[tuple, dict]:
    return {(r["model"], r["method"], r["language"], r["judge"]):
            {k: v for k, v in r.items() if k not in ("model", "method", "language", "judge")} for r in rows}


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    responses, judgements, checks = make_data(args.rows, args.seed)
    gen_s = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="bench-leaderboard-"))
    try:
        run(args, responses, judgements, checks, gen_s, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, responses, judgements, checks, gen_s: float, tmp: Path) -> None:
    t0 = time.perf_counter()
    store = load_store(tmp / "bench.duckdb", responses, judgements, checks)
    load_s = time.perf_counter() - t0
    n_rows = store.query("SELECT COUNT(*) FROM judgements")[0][0]
    print(f"store: {len(responses):,} responses, {n_rows:,} judgement rows "
          f"(generated in {gen_s:.1f} s, loaded in {load_s:.1f} s)", file=sys.stderr)

    cold_s, _ = best_of(lambda: leaderboard_rows(store), 1)  # first call also fills the word-count cache
    duck_s, duck_rows = best_of(lambda: leaderboard_rows(store), args.repeat)
    sql, params = leaderboard_sql()
    uncached_s, _ = best_of(lambda: store.query(sql, params), 1)  # the query without the cache
    duck = duckdb_as_dict(duck_rows)
    ci_s, _ = best_of(lambda: leaderboard_rows(store, ci=True), 1)

    records = just_eval_records(responses, judgements, checks)
    files = write_just_eval_files(records, tmp / "just-eval")
    loops_json_s, loops_json = best_of(lambda: loops_leaderboard(read_just_eval_files(files)), args.repeat)
    loops_s, loops = best_of(lambda: loops_leaderboard(records), args.repeat)

    resp_df, cells_df = pandas_frames(responses, judgements, checks)
    pandas_s, pand = best_of(lambda: pandas_leaderboard(resp_df, cells_df), args.repeat)

    agree_loops, agree_pandas = agree(duck, loops) and agree(duck, loops_json), agree(duck, pand)
    store.close()
    figures = {
        "loops_speedup": round(loops_json_s / duck_s, 1),
        "pandas_speedup": round(pandas_s / duck_s, 1),
        "loops_in_memory_speedup": round(loops_s / duck_s, 1),
        "duckdb_seconds": round(duck_s, 4),
        "duckdb_cold_seconds": round(cold_s, 3),
        "duckdb_uncached_query_seconds": round(uncached_s, 3),
        "loops_seconds": round(loops_json_s, 3),
        "loops_in_memory_seconds": round(loops_s, 3),
        "pandas_seconds": round(pandas_s, 3),
        "duckdb_with_ci_seconds": round(ci_s, 3),
        "agree_loops": agree_loops,
        "agree_pandas": agree_pandas,
        "judgement_rows": n_rows,
        "responses": len(responses),
        "groups": len(duck),
        "cores": os.cpu_count(),
        "target_under_1s": duck_s < 1.0,
        "target_20x_loops": loops_json_s / duck_s >= 20,
        "json_files": len(files),
    }
    print(f"DuckDB {duck_s:.3f} s | loops over JSON files {loops_json_s:.2f} s ({figures['loops_speedup']}x) | "
          f"loops in memory {loops_s:.2f} s ({figures['loops_in_memory_speedup']}x) | "
          f"pandas {pandas_s:.2f} s ({figures['pandas_speedup']}x) | agree: loops {agree_loops}, pandas {agree_pandas}",
          file=sys.stderr)
    print(json.dumps(figures))
    if not (agree_loops and agree_pandas):
        sys.exit(1)


if __name__ == "__main__":
    main()
