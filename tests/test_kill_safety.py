"""Kill-safety and fault injection of the three long-running commands, through the real CLI.

Kill loops (``slow``): ``build-dataset``, ``baselines run`` and ``baselines judge`` are started on
small real inputs (tiny local models, a scripted judge behind a loopback server), killed with SIGKILL
at seeded random moments, restarted, and finally run to completion. Checked after every kill and at
the end:

* nothing committed is lost or rewritten (every stored row keeps its value, run id and timestamp);
* no duplicate rows; no half-written files (atomic-write temp files) in outputs or workspaces;
* the final run redoes nothing that finished (its report counts them as existing / from cache, the
  judge server sees no second request for a judged answer);
* the final store and outputs equal an uninterrupted run's (same ids, same texts: greedy decoding).

``build-dataset`` reuses ``tests.test_build._kill_and_resume`` (its kills are counted through a
``Popen`` shim); the others use :func:`kill_rounds` here.

Fault injection (default suite): ``build-dataset --translator openai:...`` through the CLI behind the
:class:`tests.servers.FaultProxy` (20% of requests: 429 with/without Retry-After, 500, 503, dropped
connections, hangs, malformed/truncated/wrong-schema JSON) plus one item the server always rejects,
and the judge under every fault kind: every item ends translated/judged or explicitly failed with
its reason, nothing is silently scored, totals reconcile.

The functions return :class:`Tally` counts so ``perf/reliability.py`` can run them too.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb
import pytest

from tests.helpers import REPO, need_shared

ENV = {**os.environ, "BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false"}
DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"
KILLS_PER_COMMAND = 20  # the slow suite's target (the issue asks for >= 20 per command)


@dataclass
class Tally:
    """What a harness tried and what went wrong (everything but the first three should stay 0)."""

    kills: int = 0
    kills_after_progress: int = 0  # kills of a run that had committed something new (not just starting up)
    runs: int = 0  # processes started
    faults_injected: int = 0
    lost: int = 0  # committed rows that disappeared or differ from the uninterrupted run
    duplicated: int = 0  # duplicate rows
    repeated: int = 0  # finished items done again (rows rewritten, requests resent, regenerated)
    half_written: int = 0  # temp files of atomic writes left behind
    items_unaccounted: int = 0  # neither done nor explicitly failed, or scored wrongly
    notes: list[str] = field(default_factory=list)

    def add(self, other: "Tally") -> "Tally":
        for name, value in asdict(other).items():
            if name == "notes":
                self.notes.extend(value)
            else:
                setattr(self, name, getattr(self, name) + value)
        return self

    def problems(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items()
                if k in ("lost", "duplicated", "repeated", "half_written", "items_unaccounted") and v}


def half_written(*roots: Path) -> list[Path]:
    """Temp files of bench.atomic / DuckDB leftovers that a reader could mistake for data."""
    found = []
    for root in roots:
        if root.exists():
            found += [p for p in root.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or ".tmp-" in p.name)]
    return found


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _report(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", "--workspace", str(ws), *args]


# --------------------------------------------------------------------------- generic kill loop


def kill_rounds(*, target_kills: int, rng: random.Random, new_round: Callable[[Path], dict[str, Any]],
                root: Path, window: tuple[float, float], max_kills_per_round: int = 8,
                max_rounds: int = 40) -> Tally:
    """Rounds of kill / restart until ``target_kills`` kills: each round starts from a fresh workspace
    (``new_round(dir)`` returns ``cmd``, ``snapshot()``, ``finish()``), kills the command at
    ``uniform(*window)`` seconds, checks that ``snapshot()`` (key -> committed value) only grows, then
    runs it to completion and calls ``finish(snapshot_before_final)`` -> Tally."""
    tally = Tally()
    for round_no in range(max_rounds):
        if tally.kills >= target_kills:
            break
        r = new_round(root / f"round-{round_no}")
        prev: dict = r["snapshot"]()
        kills_here = 0
        finished = False
        while kills_here < max_kills_per_round and tally.kills < target_kills:
            proc = subprocess.Popen(r["cmd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, cwd=REPO)
            tally.runs += 1
            try:
                _, err = proc.communicate(timeout=rng.uniform(*window))
                assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
                finished = True
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                tally.kills += 1
                kills_here += 1
            now = r["snapshot"]()
            if not finished and len(now) > len(prev):
                tally.kills_after_progress += 1
            for key, value in prev.items():
                if key not in now:
                    tally.lost += 1
                    tally.notes.append(f"round {round_no}: {key!r} lost after a kill")
                elif now[key] != value:
                    tally.repeated += 1
                    tally.notes.append(f"round {round_no}: {key!r} rewritten after a kill")
            prev = now
            if finished:
                break
        tally.add(r["finish"](prev))
    return tally


# --------------------------------------------------------------------------- build-dataset


@contextmanager
def counting_kills(module: types.ModuleType) -> Iterator[dict[str, int]]:
    """Count the SIGKILLs a harness module sends (it calls ``subprocess.Popen(...).send_signal``)."""
    counter = {"kills": 0, "runs": 0}
    real = module.subprocess

    class Popen(real.Popen):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            counter["runs"] += 1
            super().__init__(*args, **kwargs)

        def send_signal(self, sig: int) -> None:
            if sig == signal.SIGKILL and self.poll() is None:
                counter["kills"] += 1
            super().send_signal(sig)

    module.subprocess = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
    module.subprocess.Popen = Popen
    try:
        yield counter
    finally:
        module.subprocess = real


def build_kill_suite(root: Path, spec: str, *, target_kills: int, seed: int, limit: int) -> Tally:
    """``_kill_and_resume`` (tests/test_build.py) until ``target_kills`` kills, plus store checks."""
    from tests import test_build

    tally = Tally()
    round_no = 0
    while tally.kills < target_kills and round_no < 10:
        here = root / f"build-{round_no}"
        here.mkdir(parents=True)
        with counting_kills(test_build) as counter:
            test_build._kill_and_resume(here, spec, limit=limit, kills=target_kills - tally.kills,
                                        seed=seed + round_no)  # asserts: no duplicates, nothing redone, == clean
        tally.kills += counter["kills"]
        tally.runs += counter["runs"]
        stale = half_written(here / "ds", here / "ws", here / "clean")
        tally.half_written += len(stale)
        tally.notes += [f"half-written file left: {p}" for p in stale]
        cols = "source_key, item_id, lang, translator_key, translation, qa_flags"
        killed = [repr(r) for r in query(here / "ws" / "bench.duckdb", f"SELECT {cols} FROM translations")]
        clean = [repr(r) for r in query(here / "clean" / "ws" / "bench.duckdb", f"SELECT {cols} FROM translations")]
        tally.duplicated += len(killed) - len(set(killed))
        tally.lost += len(set(clean) ^ set(killed))
        cache = query(here / "ws" / "bench.duckdb", "SELECT translator_key, target_lang, segment_hash FROM translation_cache")
        tally.duplicated += len(cache) - len(set(cache))
        round_no += 1
    return tally


@pytest.mark.slow
def test_build_dataset_sigkill_loop(tmp_path, tiny_base_lm_dir):
    need_shared()
    tally = build_kill_suite(tmp_path, f"llm:{tiny_base_lm_dir}", target_kills=KILLS_PER_COMMAND, seed=101, limit=200)
    assert tally.kills >= KILLS_PER_COMMAND
    assert not tally.problems(), (tally.problems(), tally.notes[:20])


# --------------------------------------------------------------------------- baselines run

RUN_INSTRUCTIONS = {
    "en": ["What is the capital of France?", "Write a haiku about the sea.", "Give me three tips to sleep better.",
           "Explain photosynthesis to a child.", "How do I boil an egg?", "Name two prime numbers."],
    "fr": ["Quelle est la capitale de la France ?", "Écris un haïku sur la mer.", "Donne-moi trois conseils pour dormir.",
           "Explique la photosynthèse à un enfant.", "Comment cuire un œuf ?", "Cite deux nombres premiers."],
    "es": ["¿Cuál es la capital de Francia?", "Escribe un haiku sobre el mar.", "Dame tres consejos para dormir.",
           "Explica la fotosíntesis a un niño.", "¿Cómo hiervo un huevo?", "Nombra dos números primos."],
}


def write_run_dataset(out: Path) -> Path:
    from benchmark.dataset_dir import dataset_schema, source_row, translated_row, write_config

    records = [{"id": i, "instruction": text, "source_id": f"s{i}", "dataset": "demo",
                "category": "safety" if i == 2 else "regular", "task": None, "topic": None, "difficulty": None}
               for i, text in enumerate(RUN_INSTRUCTIONS["en"])]
    schema = dataset_schema(records)
    write_config(out, "en", [source_row(r) for r in records], schema)
    for lang in ("fr", "es"):
        write_config(out, lang, [translated_row(r, lang, RUN_INSTRUCTIONS[lang][i], "test", [], {})
                                 for i, r in enumerate(records)], schema)
    return out


def write_run_grid(path: Path, dataset: Path, model_dir: Path, max_new_tokens: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
dataset: {dataset}
languages: [en, fr, es]
device: cpu
batch_size: 1
decoding: {{max_new_tokens: {max_new_tokens}}}
models:
  - {{name: tiny-chat, path: {model_dir}, kind: instruct, methods: [chat, zero-shot]}}
""", encoding="utf-8")
    return path


RESPONSE_COLS = "response_id, model, method, lang, item_id, output, raw_output, finish_reason, completion_tokens"


def run_kill_suite(root: Path, model_dir: Path, *, target_kills: int, seed: int) -> Tally:
    dataset = write_run_dataset(root / "dataset")
    grid = write_run_grid(root / "grid.yaml", dataset, model_dir)
    total = 2 * 3 * len(RUN_INSTRUCTIONS["en"])
    clean_ws = root / "clean"
    started = time.perf_counter()
    clean = _report(subprocess.run(_cli(clean_ws, "baselines", "run", "--config", str(grid), "--json"),
                                   capture_output=True, text=True, env=ENV, cwd=REPO, timeout=900))
    duration = time.perf_counter() - started
    assert clean["generated"] == total
    reference = set(query(clean_ws / "bench.duckdb", f"SELECT {RESPONSE_COLS} FROM responses"))

    def new_round(here: Path) -> dict[str, Any]:
        ws = here / "ws"
        cmd = _cli(ws, "baselines", "run", "--config", str(grid))

        def snapshot() -> dict:
            if not (ws / "bench.duckdb").exists():
                return {}
            return {r[0]: r[1:] for r in query(ws / "bench.duckdb",
                                               "SELECT response_id, run_id, created_at, output FROM responses")}

        def finish(before: dict) -> Tally:
            t = Tally(runs=1)
            report = _report(subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=ENV, cwd=REPO,
                                            timeout=900))
            if report["existing"] != len(before) or report["generated"] != total - len(before):
                t.repeated += abs(report["generated"] - (total - len(before)))
                t.notes.append(f"{here.name}: final run existing={report['existing']} generated="
                               f"{report['generated']} but {len(before)} were stored")
            rows = query(ws / "bench.duckdb", f"SELECT {RESPONSE_COLS} FROM responses")
            t.duplicated += len(rows) - len(set(rows))
            t.lost += len(reference ^ set(rows))
            if reference ^ set(rows):
                t.notes.append(f"{here.name}: {len(reference ^ set(rows))} responses differ from the clean run")
            after = snapshot()
            t.repeated += sum(1 for k, v in before.items() if after.get(k) != v)
            stale = half_written(ws)
            t.half_written += len(stale)
            t.notes += [f"half-written file left: {p}" for p in stale]
            return t

        return {"cmd": cmd, "snapshot": snapshot, "finish": finish}

    rng = random.Random(seed)
    return kill_rounds(target_kills=target_kills, rng=rng, new_round=new_round, root=root,
                       window=(0.2 * duration, 0.95 * duration))


@pytest.mark.slow
def test_baselines_run_sigkill_loop(tmp_path, tiny_causal_lm_dir):
    tally = run_kill_suite(tmp_path, tiny_causal_lm_dir, target_kills=KILLS_PER_COMMAND, seed=202)
    assert tally.kills >= KILLS_PER_COMMAND
    assert not tally.problems(), (tally.problems(), tally.notes[:20])


# --------------------------------------------------------------------------- baselines judge


@contextmanager
def quiet_proxy(**kwargs: Any) -> Iterator[Any]:
    """A FaultProxy whose handler threads do not print BrokenPipe tracebacks when a killed client vanishes."""
    from tests import servers

    original = servers._Server.handle_error
    servers._Server.handle_error = lambda self, request, client_address: None
    try:
        with servers.FaultProxy(**kwargs) as proxy:
            yield proxy
    finally:
        servers._Server.handle_error = original


JUDGEMENT_COLS = "response_id, judge, aspect, score, raw_score, reason, error"


def _new_judge_ws(ws: Path, n: int) -> list[dict]:
    from bench.workspace import Workspace
    from tests.test_judge import add_responses

    w = Workspace(ws)
    try:
        return add_responses(w, n)
    finally:
        w.close()


def judge_kill_suite(root: Path, *, target_kills: int, seed: int, items: int = 48) -> Tally:
    from tests.test_judge import ScriptedJudge

    judge = ScriptedJudge()
    with quiet_proxy(responder=judge, model="judge", delay_s=0.05) as proxy:
        spec = f"openai:judge@{proxy.base_url}"
        args = ("baselines", "judge", "--judge", spec, "--concurrency", "2")
        clean_ws = root / "clean"
        _new_judge_ws(clean_ws, items)
        started = time.perf_counter()
        clean = _report(subprocess.run(_cli(clean_ws, *args, "--json"), capture_output=True, text=True, env=ENV,
                                       cwd=REPO, timeout=600))
        duration = time.perf_counter() - started
        assert clean["judged"] == items and clean["failed"] == 0
        reference = set(query(clean_ws / "bench.duckdb", f"SELECT {JUDGEMENT_COLS} FROM judgements"))

        def new_round(here: Path) -> dict[str, Any]:
            ws = here / "ws"
            rows = _new_judge_ws(ws, items)
            output_of = {r["response_id"]: r["output"] for r in rows}
            with judge.lock:
                judge.calls.clear()
            finished_counts: dict[str, int] = {}

            def snapshot() -> dict:
                got = query(ws / "bench.duckdb", "SELECT response_id, aspect, score, run_id, created_at FROM judgements")
                done = {r[0] for r in got}
                time.sleep(0.1)  # let the proxy count requests a killed client had in flight
                for rid in done:
                    finished_counts.setdefault(rid, judge.count(output_of[rid]))
                return {(r[0], r[1]): r[2:] for r in got}

            def finish(before: dict) -> Tally:
                t = Tally(runs=1)
                report = _report(subprocess.run(_cli(ws, *args, "--json"), capture_output=True, text=True, env=ENV,
                                                cwd=REPO, timeout=600))
                done_before = {k[0] for k in before}
                if report["selected"] != items - len(done_before) or report["failed"]:
                    t.notes.append(f"{here.name}: final run selected {report['selected']}, "
                                   f"{len(done_before)} were judged before")
                    t.repeated += abs(report["selected"] - (items - len(done_before)))
                got = query(ws / "bench.duckdb", f"SELECT {JUDGEMENT_COLS} FROM judgements")
                t.duplicated += len(got) - len(set(got))
                t.lost += len(reference ^ set(got))
                for rid, count in finished_counts.items():  # judged once -> never requested again
                    if judge.count(output_of[rid]) != count:
                        t.repeated += 1
                        t.notes.append(f"{here.name}: {rid} requested again after it was judged")
                calls = query(ws / "bench.duckdb", "SELECT judge, prompt_hash FROM judge_calls")
                t.duplicated += len(calls) - len(set(calls))
                stale = half_written(ws)
                t.half_written += len(stale)
                t.notes += [f"half-written file left: {p}" for p in stale]
                return t

            return {"cmd": _cli(ws, *args), "snapshot": snapshot, "finish": finish}

        rng = random.Random(seed)
        return kill_rounds(target_kills=target_kills, rng=rng, new_round=new_round, root=root,
                           window=(0.3 * duration, 0.95 * duration))


@pytest.mark.slow
def test_baselines_judge_sigkill_loop(tmp_path):
    tally = judge_kill_suite(tmp_path, target_kills=KILLS_PER_COMMAND, seed=303)
    assert tally.kills >= KILLS_PER_COMMAND
    assert not tally.problems(), (tally.problems(), tally.notes[:20])


# --------------------------------------------------------------------------- fault injection


def write_poisoned_source(path: Path) -> Path:
    """The demo instructions plus one item the server will always reject."""
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    rows += [{"id": 10 + i, "instruction": f"Item {i}: write {i + 3} short sentences about the {topic}."}
             for i, topic in enumerate(["sea", "moon", "forest", "city", "river", "desert", "winter", "market"] * 2)]
    rows.append({"id": 99, "instruction": "Please translate the word POISONED into your language."})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def build_dataset_fault_suite(root: Path, *, rate: float = 0.2, seed: int = 5) -> Tally:
    """``build-dataset --translator openai:...`` through the CLI, ``rate`` of the requests faulted.

    Run 1: one segment is always rejected (HTTP 400): the build fails in one line naming the failure
    and its reason, writes no dataset, and keeps every committed batch (a batch is committed whole, so
    the other answers of the failed batch are not kept). Run 2 (server still faulty, the rejection
    gone): sends only what is not cached. The result equals a fault-free build."""
    from benchmark.dataset_dir import read_config
    from tests.servers import RETRYABLE_FAULTS

    tally = Tally()
    source = write_poisoned_source(root / "source.jsonl")
    state: dict[str, Any] = {"poison": True, "forced": 0}
    lock = threading.Lock()

    def plan(body: dict, n: int) -> str | None:
        text = body["messages"][-1]["content"]
        if state["poison"] and "POISONED" in text:
            return "400"
        if n == 0:  # the first attempts of the first requests get every kind once
            with lock:
                k = state["forced"]
                state["forced"] += 1
            if k < len(RETRYABLE_FAULTS):
                return RETRYABLE_FAULTS[k]
        rng = random.Random(f"{seed}:{text}:{body['messages'][0]['content']}:{n}")
        return rng.choice(RETRYABLE_FAULTS) if rng.random() < rate else None

    def build(ws: Path, out: Path, url: str) -> subprocess.CompletedProcess:
        return subprocess.run(_cli(ws, "build-dataset", "--source", str(source), "--languages", "fr,es",
                                   "--translator", f"openai:echo@{url}", "--out", str(out), "--batch-size", "4",
                                   "--json"), capture_output=True, text=True, env=ENV, cwd=REPO, timeout=600)

    with quiet_proxy() as healthy:
        _report(build(root / "clean-ws", root / "clean-ds", healthy.base_url))
    with quiet_proxy(plan=plan, hang_s=1.0, retry_after="0") as proxy:
        ws, out = root / "ws", root / "ds"
        first = build(ws, out, proxy.base_url)
        tally.runs += 1
        lines = first.stderr.strip().splitlines()
        if not (first.returncode == 2 and len(lines) == 1 and "failed" in lines[0] and "HTTP 400" in lines[0]):
            tally.items_unaccounted += 1
            tally.notes.append(f"run 1 did not fail in one line naming the rejected item: {first.stderr[-500:]}")
        if out.exists():
            tally.items_unaccounted += 1
            tally.notes.append("run 1 wrote a dataset despite a failed item")
        cached = query(ws / "bench.duckdb", "SELECT count(*) FROM translation_cache")[0][0]
        if cached > proxy.passed:
            tally.items_unaccounted += cached - proxy.passed
            tally.notes.append(f"run 1: {proxy.passed} requests answered but {cached} segments cached")
        passed_before = proxy.passed
        state["poison"] = False
        report = _report(build(ws, out, proxy.base_url))
        tally.runs += 1
        tally.faults_injected += proxy.injected_total
        requested = sum(lr["requests"] for lr in report["languages"])
        from_cache = sum(lr["from_cache"] for lr in report["languages"])
        translated = sum(lr["translated"] for lr in report["languages"])
        if from_cache != cached or translated != requested - cached:
            tally.repeated += abs(from_cache - cached)
            tally.notes.append(f"run 2: {from_cache} from cache, {translated} translated, {cached} were cached")
        if proxy.passed - passed_before != translated:  # one answered request per segment translated now
            tally.items_unaccounted += abs(proxy.passed - passed_before - translated)
            tally.notes.append(f"run 2: {proxy.passed - passed_before} answered requests for {translated} segments")
        if proxy.requests != proxy.passed + proxy.injected_total:
            tally.items_unaccounted += 1
        if query(ws / "bench.duckdb", "SELECT count(*) FROM translation_cache")[0][0] != requested:
            tally.items_unaccounted += 1
        for config in ("en", "fr", "es"):
            got, want = read_config(out, config), read_config(root / "clean-ds", config)
            tally.lost += sum(1 for a, b in zip(got, want) if a != b) + abs(len(got) - len(want))
        stale = half_written(out, ws)
        tally.half_written += len(stale)
        tally.notes += [f"half-written file left: {p}" for p in stale]
        kinds = set(proxy.injected)
    if kinds != {"400", *RETRYABLE_FAULTS}:
        tally.notes.append(f"few fault kinds were injected: {sorted(kinds)}")
    return tally


def judge_fault_suite(root: Path, *, rate: float = 0.2, seed: int = 3, items: int = 40) -> Tally:
    """The judge (in-process, as in tests/test_judge.py) under every retryable fault kind at ``rate``;
    two items always get HTTP 500. Every item ends judged with its scripted scores or failed with
    its reason; attempts and requests reconcile."""
    from baselines.judging.judge import ERR_FAILED, judge_responses
    from baselines.judging.parse import MULTI_ASPECTS
    from bench.workspace import Workspace
    from tests.servers import RETRYABLE_FAULTS
    from tests.test_judge import ScriptedJudge, add_responses, every_kind_then_random, expected_score

    tally = Tally()
    judge = ScriptedJudge()
    ws = Workspace(root / "judge-ws")
    quiet = os.environ.get("BENCH_NO_PROGRESS")
    os.environ["BENCH_NO_PROGRESS"] = "1"
    try:
        rows = add_responses(ws, items) + add_responses(ws, ["x ALWAYS-FAIL", "y ALWAYS-FAIL"], start=items)
        with quiet_proxy(responder=judge, model="judge", plan=every_kind_then_random(RETRYABLE_FAULTS, rate, seed),
                         hang_s=1.5) as proxy:
            opts = {"timeout": 1.0, "max_retries": 4, "backoff_base": 0.01, "backoff_max": 0.05}
            report = judge_responses(ws, f"openai:judge@{proxy.base_url}", concurrency=8, client_options=opts,
                                     max_failure_rate=1.0)
            tally.faults_injected += proxy.injected_total
            tally.runs += 1
            calls = {r["response_id"]: r for r in ws.store.query_dicts("SELECT * FROM judge_calls")}
            if sum(c["attempts"] for c in calls.values()) != proxy.requests:
                tally.items_unaccounted += 1
                tally.notes.append("judge attempts do not add up to the requests the server saw")
        got: dict[str, dict[str, Any]] = {}
        for r in ws.store.query_dicts("SELECT * FROM judgements"):
            got.setdefault(r["response_id"], {})[r["aspect"]] = r["score"]
        if report.judged + report.failed + report.unfinished != report.selected or report.unfinished:
            tally.items_unaccounted += report.unfinished or 1
        for r in rows:
            rid = r["response_id"]
            aspects = ("safety",) if r["category"] == "safety" else MULTI_ASPECTS
            if rid in got:
                want = {a: expected_score(r["output"], a) for a in aspects}
                if got[rid] != want:
                    tally.items_unaccounted += 1
                    tally.notes.append(f"{rid}: scores {got[rid]} != scripted {want} (silently scored?)")
            elif not (rid in calls and (calls[rid]["error"] or "").startswith(ERR_FAILED)):
                tally.items_unaccounted += 1
                tally.notes.append(f"{rid}: neither judged nor marked failed")
            elif "ALWAYS-FAIL" not in r["output"]:
                tally.notes.append(f"{rid}: failed although its faults were retryable")
    finally:
        ws.close()
        if quiet is None:
            os.environ.pop("BENCH_NO_PROGRESS", None)
    return tally


def test_build_dataset_openai_translator_under_faults(tmp_path):
    tally = build_dataset_fault_suite(tmp_path)
    assert tally.faults_injected >= 5
    assert not tally.problems(), (tally.problems(), tally.notes)
    assert not tally.notes, tally.notes


def test_judge_under_every_fault_kind(tmp_path):
    tally = judge_fault_suite(tmp_path)
    assert tally.faults_injected >= 10
    assert not tally.problems(), (tally.problems(), tally.notes)


def test_kill_harness_counts_and_checks(tmp_path):
    """The judge kill loop in miniature (2 kills): it kills, resumes and finds nothing wrong."""
    tally = judge_kill_suite(tmp_path, target_kills=2, seed=7, items=24)
    assert tally.kills >= 2 and tally.runs >= 3
    assert not tally.problems(), (tally.problems(), tally.notes)


def test_writer_killed_mid_write_leaves_no_temp_file_after_the_next_write(tmp_path):
    """SIGKILL inside bench.atomic's write block leaves a temp file; the next write of the same target
    (a resumed build rewriting its dataset files) removes it, and never a live writer's."""
    target = tmp_path / "fr" / "test-00000-of-00001.parquet"
    code = ("import sys, time\nfrom bench.atomic import atomic_open\n"
            f"with atomic_open({str(target)!r}) as fh:\n    fh.write('half')\n    fh.flush()\n"
            "    print('writing', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert len(half_written(tmp_path)) == 1 and not target.exists()
    live = target.parent / f".{target.name}.pid{os.getpid()}.x.tmp"  # this process: alive, must stay
    live.write_text("in progress")
    from bench.atomic import write_text_atomic

    write_text_atomic(target, "whole")
    assert target.read_text() == "whole"
    assert half_written(tmp_path) == [live]
