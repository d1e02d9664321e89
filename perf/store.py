"""Cost of holding the store per operation (bench/store.py): each query or transaction opens the DuckDB
file and closes it (checkpointing what it wrote) so that other bench processes can use it in between.

A store with ``--responses`` answers (about 1,500 characters each) and five judgements per answer is
built in a temporary folder; then, best of ``--repeat``:

* a small read (``SELECT COUNT(*)`` by language) as its own operation vs inside one held session;
* a batch write (8 answers in one transaction, what ``baselines run`` commits per batch) as its own
  operation vs inside one held session;
* the opening of a ``Store`` for writing when its schema is current (what every command pays once).

Last line: one JSON object (ratios first, then milliseconds per operation).

    python perf/store.py [--responses 10000] [--repeat 40]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.store import Store  # noqa: E402

INSERT = ("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, output) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
TEXT = ("The answer explains the idea step by step, with an example and a short summary at the end. " * 17)[:1500]


def fill(store: Store, n: int) -> None:
    with store.transaction() as con:
        con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, output) "
                    "SELECT 'r' || i, 'k', 'm', 'zero-shot', ['en', 'fr', 'es'][i % 3 + 1], i::VARCHAR, "
                    "'Question ' || i, ? || i FROM range(?) t(i)", [TEXT, n])
        con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                    "SELECT 'r' || i, 'j', 'multi-aspect', a, (i % 5) + 1 FROM range(?) t(i), "
                    "(VALUES ('helpfulness'), ('clarity'), ('factuality'), ('depth'), ('engagement')) v(a)", [n])


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-perf-store-"))
    try:
        db = tmp / "bench.duckdb"
        store = Store(db)
        fill(store, args.responses)
        counter = [0]

        def read() -> None:
            store.query("SELECT lang, COUNT(*) FROM responses GROUP BY lang")

        def write() -> None:
            rows = [(f"w{counter[0] + i}", "k", "m", "chat", "fr", str(counter[0] + i), "Question", TEXT)
                    for i in range(8)]
            counter[0] += 8
            with store.transaction() as con:
                con.executemany(INSERT, rows)

        read_alone, write_alone = median_ms(read, args.repeat), median_ms(write, args.repeat)
        with store.session():
            read_held, write_held = median_ms(read, args.repeat), median_ms(write, args.repeat)
        open_ms = median_ms(lambda: Store(db), max(5, args.repeat // 4))
        result = {
            "read_per_op_vs_held": round(read_alone / read_held, 2),
            "write_per_op_vs_held": round(write_alone / write_held, 2),
            "read_per_op_ms": round(read_alone, 2), "read_held_ms": round(read_held, 2),
            "write_batch_per_op_ms": round(write_alone, 2), "write_batch_held_ms": round(write_held, 2),
            "open_overhead_read_ms": round(read_alone - read_held, 2),
            "open_overhead_write_ms": round(write_alone - write_held, 2),
            "store_open_schema_current_ms": round(open_ms, 2),
            "responses": args.responses, "store_mb": round(db.stat().st_size / 1e6, 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
