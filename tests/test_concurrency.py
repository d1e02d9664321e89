"""Several bench processes on one workspace at once (bench/store.py: the file is held per operation).

The overlap tests start ``bench baselines run`` (tiny local model), ``bench baselines judge`` (a scripted
judge behind a loopback server) and a loop of ``bench leaderboard --format json`` on one workspace at
the same time, through the real CLI. Everything finishes, the store holds every response and
judgement exactly once, and equals a sequential (uninterrupted) run; killing either writer with
SIGKILL during the overlap and rerunning it loses and repeats nothing committed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.errors import BenchError
from bench.store import WAIT_ENV, Store
from tests.helpers import REPO
from tests.test_kill_safety import (ENV, JUDGEMENT_COLS, RESPONSE_COLS, _cli, _report, half_written, quiet_proxy,
                                    write_run_dataset, write_run_grid)

MAX_NEW_TOKENS = 96  # a few seconds of generation for the 36 answers on a CPU core
JUDGE_DELAY_S = 0.1  # each judge request takes this long (the judge run spans the generation's)
TIMEOUT = 300

# A third process: `bench leaderboard --format json` through bench.cli.main in a loop until STOP exists;
# one JSON line per read (time, exit code, rows) in LOG.
LEADERBOARD_LOOP = """
import json, sys, time
from pathlib import Path
from tests.helpers import run_main
ws, log, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
with log.open("a") as out:
    while not stop.exists():
        started = time.time()
        res = run_main("--workspace", ws, "leaderboard", "--format", "json", "--no-ci")
        rows = None
        if res.exit_code == 0:
            rows = json.loads(res.stdout)
        out.write(json.dumps({"start": started, "end": time.time(), "code": res.exit_code, "rows": rows,
                              "error": res.output[-500:] if res.exit_code else None}) + "\\n")
        out.flush()
        time.sleep(0.1)
"""


def _db(ws: Path) -> Path:
    return ws / "bench.duckdb"


def read(ws: Path, sql: str) -> list[tuple]:
    """Rows read through the store (it waits while a bench process holds the file)."""
    return Store(_db(ws), read_only=True).query(sql)


def _popen(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a command; its stdout (the --json report) goes to ``log``, its stderr beside it."""
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=log.with_suffix(".err").open("w"), env=ENV, cwd=REPO)


def _wait_ok(proc: subprocess.Popen, log: Path, timeout: float = TIMEOUT) -> dict:
    code = proc.wait(timeout)
    assert code == 0, f"{proc.args[4:7]} exited {code}:\n{log.with_suffix('.err').read_text()[-3000:]}"
    return json.loads(log.read_text().strip().splitlines()[-1])


def _wait_until(condition, proc: subprocess.Popen, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"{what}: the process ended (exit {proc.returncode}) before it could be killed")
        time.sleep(0.05)
    pytest.fail(f"{what}: timed out")


class Setup:
    """A grid (tiny chat model, chat + zero-shot, en/fr/es, 6 items: 36 answers) and the judge server."""

    def __init__(self, root: Path, model_dir: Path, proxy: Any, judge: Any):
        self.root = root
        self.grid = write_run_grid(root / "grid.yaml", write_run_dataset(root / "dataset"), model_dir,
                                   max_new_tokens=MAX_NEW_TOKENS)
        self.proxy, self.judge = proxy, judge
        self.judge_args = ("baselines", "judge", "--judge", f"openai:judge@{proxy.base_url}", "--concurrency", "1",
                           "--json")

    def run_cmd(self, ws: Path, *extra: str) -> list[str]:
        return _cli(ws, "baselines", "run", "--config", str(self.grid), "--json", *extra)

    def judge_cmd(self, ws: Path) -> list[str]:
        return _cli(ws, *self.judge_args)

    def run(self, cmd: list[str]) -> dict:
        return _report(subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=TIMEOUT))


def contents(ws: Path) -> dict[str, list[tuple]]:
    return {"responses": read(ws, f"SELECT {RESPONSE_COLS} FROM responses ORDER BY response_id"),
            "judgements": read(ws, f"SELECT {JUDGEMENT_COLS} FROM judgements ORDER BY response_id, aspect")}


def exactly_once(ws: Path) -> None:
    """Every response and every judgement once (primary keys and natural keys)."""
    for sql in ("SELECT COUNT(*) - COUNT(DISTINCT response_id) FROM responses",
                "SELECT COUNT(*) - COUNT(DISTINCT (run_key, lang, item_id)) FROM responses",
                "SELECT COUNT(*) - COUNT(DISTINCT (response_id, judge, aspect)) FROM judgements",
                "SELECT COUNT(*) - COUNT(DISTINCT (judge, prompt_hash)) FROM judge_calls"):
        assert read(ws, sql) == [(0,)], sql


@pytest.fixture(scope="module")
def judge_server():
    from tests.test_judge import ScriptedJudge

    judge = ScriptedJudge()
    with quiet_proxy(responder=judge, model="judge", delay_s=JUDGE_DELAY_S) as proxy:
        yield proxy, judge


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_causal_lm_dir, judge_server):
    return Setup(tmp_path_factory.mktemp("concurrency"), tiny_causal_lm_dir, *judge_server)


@pytest.fixture(scope="module")
def english(setup):
    """A workspace holding the English answers (the judge's work while fr/es are generated); tests copy it."""
    ws = setup.root / "english"
    assert setup.run(setup.run_cmd(ws, "--languages", "en"))["generated"] == 12
    return ws


@pytest.fixture(scope="module")
def reference(setup, english):
    """The store after the same work done one command at a time: generate everything, then judge it."""
    ws = shutil.copytree(english, setup.root / "reference")
    assert setup.run(setup.run_cmd(ws))["generated"] == 24
    assert setup.run(setup.judge_cmd(ws))["judged"] == 36
    return contents(ws)


def _start_reader(ws: Path, here: Path) -> tuple[subprocess.Popen, Path, Path]:
    log, stop = here / "leaderboard.jsonl", here / "stop"
    proc = subprocess.Popen([sys.executable, "-c", LEADERBOARD_LOOP, str(ws), str(log), str(stop)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, cwd=REPO)
    return proc, log, stop


def _stop_reader(proc: subprocess.Popen, log: Path, stop: Path) -> list[dict]:
    stop.touch()
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    reads = [json.loads(line) for line in log.read_text().splitlines()]
    failed = [r for r in reads if r["code"] != 0]
    assert reads and not failed, failed[:3]
    return reads


def test_generation_judge_and_leaderboard_at_once(setup, english, reference, tmp_path):
    ws = shutil.copytree(english, tmp_path / "ws")
    requests_before = setup.proxy.requests
    reader, reads_log, stop = _start_reader(ws, tmp_path)
    started = time.time()
    gen = _popen(setup.run_cmd(ws), tmp_path / "run.log")
    jud = _popen(setup.judge_cmd(ws), tmp_path / "judge.log")
    ended = {}

    def watch(name: str, proc: subprocess.Popen) -> None:
        proc.wait(TIMEOUT)
        ended[name] = time.time()

    watchers = [threading.Thread(target=watch, args=(n, p)) for n, p in (("run", gen), ("judge", jud))]
    for w in watchers:
        w.start()
    run_report = _wait_ok(gen, tmp_path / "run.log")
    judge_report = _wait_ok(jud, tmp_path / "judge.log")
    for w in watchers:
        w.join()
    reads = _stop_reader(reader, reads_log, stop)
    overlap = (started, min(ended.values()))
    assert any(overlap[0] <= r["start"] and r["end"] <= overlap[1] for r in reads), (overlap, reads[:5])
    assert run_report["existing"] == 12 and run_report["generated"] == 24
    assert judge_report["judged"] >= 12 and judge_report["failed"] == 0  # the English answers, maybe more
    final = setup.run(setup.judge_cmd(ws))  # what was generated after the judge's selection
    assert final["judged"] == 36 - judge_report["judged"] and final["from_cache"] == 0
    exactly_once(ws)
    assert contents(ws) == reference
    calls = read(ws, "SELECT COUNT(*), MAX(attempts) FROM judge_calls")[0]
    assert setup.proxy.requests - requests_before == calls[0] and calls[1] == 1  # each prompt sent once
    assert read(ws, "SELECT status, COUNT(*) FROM runs GROUP BY status") == [("done", 4)]
    assert not half_written(ws)


def test_sigkill_of_either_writer_during_the_overlap_loses_nothing(setup, english, reference, tmp_path):
    ws = shutil.copytree(english, tmp_path / "ws")
    reader, reads_log, stop = _start_reader(ws, tmp_path)
    logs = {name: tmp_path / f"{name}.log" for name in ("run", "judge", "judge2", "run2")}
    gen = _popen(setup.run_cmd(ws), logs["run"])
    jud = _popen(setup.judge_cmd(ws), logs["judge"])

    # 1. the judge is killed once it has committed judgements, while the generation runs
    judged = lambda: read(ws, "SELECT COUNT(*) FROM judgements")[0][0] > 0  # noqa: E731
    _wait_until(judged, jud, "judge")
    assert gen.poll() is None, "the generation finished before the judge could be killed during the overlap"
    jud.send_signal(signal.SIGKILL)
    jud.wait(30)
    kept_judgements = read(ws, "SELECT response_id, aspect, score, run_id, created_at FROM judgements")
    jud2 = _popen(setup.judge_cmd(ws), logs["judge2"])  # its rerun, while the generation goes on

    # 2. the generation is killed once it has committed new answers, while the judge's rerun runs
    generated = lambda: read(ws, "SELECT COUNT(*) FROM responses WHERE lang <> 'en'")[0][0] > 0  # noqa: E731
    _wait_until(generated, gen, "generation")
    gen.send_signal(signal.SIGKILL)
    gen.wait(30)
    kept_responses = read(ws, "SELECT response_id, run_id, created_at, output FROM responses")
    gen2 = _popen(setup.run_cmd(ws), logs["run2"])

    rerun = _wait_ok(gen2, logs["run2"])
    _wait_ok(jud2, logs["judge2"])
    _stop_reader(reader, reads_log, stop)
    assert rerun["existing"] == len(kept_responses) and rerun["generated"] == 36 - len(kept_responses)
    setup.run(setup.judge_cmd(ws))  # judges what the second generation added

    exactly_once(ws)
    assert contents(ws) == reference  # nothing lost, nothing changed, nothing extra
    now_j = set(read(ws, "SELECT response_id, aspect, score, run_id, created_at FROM judgements"))
    now_r = set(read(ws, "SELECT response_id, run_id, created_at, output FROM responses"))
    assert set(kept_judgements) <= now_j and set(kept_responses) <= now_r  # committed rows never rewritten
    assert len(kept_judgements) > 0 and len(kept_responses) > 12
    statuses = dict(read(ws, "SELECT status, COUNT(*) FROM runs GROUP BY status"))
    assert statuses == {"done": 4, "interrupted": 2}, statuses  # the two killed runs, found dead
    assert not half_written(ws)


# --------------------------------------------------------------------------- the store's own guarantees


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold(db: Path, seconds: float) -> subprocess.Popen:
    """Another process that keeps the store file open (as a bench of an older version would)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_an_open_waits_for_another_process_then_fails_in_one_line(tmp_path, monkeypatch, capsys):
    import bench.store as store_module

    db = tmp_path / "bench.duckdb"
    Store(db).close()
    monkeypatch.setattr(store_module, "_announced", threading.Event())
    holder = _hold(db, 1.5)
    started = time.monotonic()
    store = Store(db)  # waits for the holder, then opens
    assert time.monotonic() - started >= 0.5
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]
    holder.wait(30)
    err = capsys.readouterr().err
    assert err.count("waiting for another bench process") == 1 and str(db) in err

    holder = _hold(db, 30)
    try:
        monkeypatch.setenv(WAIT_ENV, "0.3")
        started = time.monotonic()
        with pytest.raises(BenchError) as info:
            Store(db, read_only=True)
        assert time.monotonic() - started < 5
        message = str(info.value)
        assert "\n" not in message and message.startswith(str(db)) and "another bench process" in message
        monkeypatch.setenv(WAIT_ENV, "soon")
        with pytest.raises(BenchError, match=WAIT_ENV):
            Store(db)
    finally:
        holder.kill()
        holder.wait(30)


def test_runs_of_live_processes_stay_running(tmp_path):
    db = tmp_path / "bench.duckdb"
    code = ("import sys, time\nfrom bench.store import Store\n"
            f"s = Store({str(db)!r})\nprint(s.start_run('baselines run', {{}}), flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        live_run = proc.stdout.readline().strip()
        store = Store(db)  # another command opens the store for writing while that run goes on
        assert dict(store.query("SELECT run_id, status FROM runs")) == {live_run: "running"}
        reused = store.start_run("baselines judge", {})  # its pid now names a process younger than the run
        store.query("UPDATE runs SET pid = ?, started_at = started_at - INTERVAL 1 HOUR WHERE run_id = ?",
                    [proc.pid, reused])
        assert store.mark_interrupted_runs() == 1
        assert dict(store.query("SELECT run_id, status FROM runs")) == {live_run: "running", reused: "interrupted"}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert Store(db).mark_interrupted_runs() == 0  # the first open after the kill marked it
    assert dict(store.query("SELECT run_id, status FROM runs")) == {live_run: "interrupted", reused: "interrupted"}


def test_committed_rows_of_a_killed_writer_are_replayed(tmp_path):
    """A writer killed after a commit and before closing leaves a write-ahead log: readers see its
    rows, and the next writable open keeps them (and checkpoints)."""
    db = tmp_path / "bench.duckdb"
    Store(db).close()
    code = ("import os, signal, sys\nfrom bench.store import Store\n"
            "s = Store(sys.argv[1])\ncon = s.con\n"
            "con.execute(\"INSERT INTO runs (run_id, command, started_at, status) VALUES ('r1', 'x', now(), 'done')\")\n"
            "con.execute('BEGIN TRANSACTION')\n"
            "con.execute(\"INSERT INTO runs (run_id, command, started_at, status) VALUES ('r2', 'x', now(), 'done')\")\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(db)], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert db.with_name("bench.duckdb.wal").exists()
    assert Store(db, read_only=True).query("SELECT run_id FROM runs") == [("r1",)]
    assert Store(db).query("SELECT run_id FROM runs") == [("r1",)]
    assert not db.with_name("bench.duckdb.wal").exists()


def test_schema_applied_once_and_file_released_between_operations(tmp_path):
    db = tmp_path / "bench.duckdb"
    store = Store(db)
    applied = store.query("SELECT digest, applied_at, pid FROM store_schema")
    assert len(applied) == 1 and applied[0][2] == os.getpid()
    again = Store(db)  # schema current: nothing rewritten
    assert again.query("SELECT digest, applied_at, pid FROM store_schema") == applied
    store.query("DROP TABLE store_schema")  # a store written by an older bench: brought up to date
    assert len(Store(db).query("SELECT digest FROM store_schema")) == 1
    # between operations the file is free: another process can open it right away
    check = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(db)],
                           capture_output=True, text=True, cwd=REPO, timeout=60)
    assert check.returncode == 0, check.stderr
    with store.session():  # ... but not during a session
        held = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(db)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert held.returncode != 0 and "lock" in held.stderr
        opens = store.opens
        store.query("SELECT 1")
        store.query_dicts("SELECT 2 AS x")
        assert store.opens == opens  # one open for the whole session


def test_threads_of_one_process_share_the_store(tmp_path):
    store = Store(tmp_path / "bench.duckdb")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(15):
                with store.transaction() as con:
                    con.execute("INSERT INTO runs (run_id, command, started_at, status) VALUES (?, 'x', now(), 'done')",
                                [f"t{t}-{i}"])
                store.query("SELECT COUNT(*) FROM runs")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.query("SELECT COUNT(DISTINCT run_id) FROM runs") == [(60,)]


def test_arrow_and_registered_tables(tmp_path):
    import pyarrow as pa

    store = Store(tmp_path / "bench.duckdb")
    assert store.arrow("SELECT 42 AS x").to_pylist() == [{"x": 42}]
    ids = pa.table({"v": [1, 2, 3]})
    assert store.query("SELECT SUM(v) FROM _t", tables={"_t": ids}) == [(6,)]
    with pytest.raises(duckdb.Error):
        store.query("SELECT * FROM _t")  # unregistered after the query
