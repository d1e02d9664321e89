"""`bench errors scan`: detectors over every stored response, resumable, feeding the leaderboard."""
from __future__ import annotations

import json

import duckdb

from bench.ids import response_id, run_key
from bench.store import Store
from tests.helpers import SHARED, need_shared, run_cli

OUTPUTS = SHARED / "data" / "just-eval-instruct" / "outputs" / "vicuna-7b-v1.5.jsonl"


def fill_store(db, n: int = 60) -> int:
    """``n`` real vicuna outputs (EN) plus a few small-model failures in FR/ES."""
    rows = [json.loads(line) for line in need_shared(OUTPUTS).read_text(encoding="utf-8").splitlines()[:n]]
    items = [(r["id"], r["instruction"], r["output"], "en", "stop") for r in rows]
    items += [
        (1000, "Donne-moi trois idées de dîner rapide.", "Je pense que " * 60 + "je pen", "fr", "length"),
        (1001, "¿Cómo se prepara un gazpacho?", "Gazpacho is a cold soup made with tomatoes, cucumbers, peppers, "
         "onion, garlic, olive oil and vinegar, blended until smooth and served chilled.", "es", "stop"),
        (1002, "¿Cuál es la capital de Francia?", "París.", "es", "stop"),
    ]
    store = Store(db)
    key = run_key(model="vicuna-7b-v1.5", method="published")
    with store.transaction() as con:
        for item_id, instruction, output, lang, finish in items:
            con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                        "category, output, finish_reason) VALUES (?, ?, 'vicuna-7b-v1.5', 'published', ?, ?, ?, "
                        "'regular', ?, ?)", [response_id(key, item_id, lang), key, lang, str(item_id), instruction,
                                             output, finish])
    store.close()
    return len(items)


def test_a_large_scan_uses_worker_processes_and_finds_what_one_process_does(tmp_path):
    """A chunk of 500 responses runs the rules in forked workers (with the progress bar live in the parent)."""
    from baselines.errors.critical_errors import CriticalErrorDetector

    ws = tmp_path / "ws"
    ws.mkdir()
    total = fill_store(ws / "bench.duckdb", n=520)
    result = run_cli("errors", "scan", workspace=ws, env={"BENCH_NO_PROGRESS": "0"})
    assert result.returncode == 0, result.stderr
    assert f"checked {total} responses now" in result.stderr
    con = duckdb.connect(str(ws / "bench.duckdb"), read_only=True)
    rows = con.execute("SELECT r.instruction, r.output, r.lang, r.finish_reason, c.labels FROM critical_error_checks c "
                       "JOIN responses r USING (response_id) ORDER BY r.response_id").fetchall()
    con.close()
    alone = CriticalErrorDetector(workers=1).detect_many([row[:4] for row in rows])
    assert [sorted(row[4]) for row in rows] == [sorted(f.label for f in found) for found in alone]


def test_scan_checks_every_response_once_and_feeds_leaderboard(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    total = fill_store(ws / "bench.duckdb")
    first = run_cli("errors", "scan", workspace=ws)
    assert first.returncode == 0, first.stderr
    assert f"checked {total} responses now; 0 were already checked" in first.stderr
    con = duckdb.connect(str(ws / "bench.duckdb"), read_only=True)
    labels = dict(con.execute("SELECT r.item_id, c.labels FROM critical_error_checks c JOIN responses r "
                              "USING (response_id)").fetchall())
    con.close()
    assert len(labels) == total
    assert "repetition_loop" in labels["1000"] and "truncated" in labels["1000"]
    assert labels["1001"] == ["wrong_language"]
    assert labels["1002"] == []  # a one-word answer is not an error
    again = run_cli("errors", "scan", workspace=ws)
    assert f"checked 0 responses now; {total} were already checked" in again.stderr
    board = run_cli("leaderboard", "--format", "json", workspace=ws)
    assert board.returncode == 0, board.stderr
    rows = {r["language"]: r for r in json.loads(board.stdout)}
    assert rows["fr"]["err_repetition_loop"] == 1.0
    assert rows["es"]["err_wrong_language"] == 0.5
