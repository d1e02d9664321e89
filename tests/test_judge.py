"""LLM-judge runs (baselines.judging.judge): a real `transformers serve` judge, a scripted judge behind the
fault-injecting proxy, the local `hf:` backend, caching, resume and the failure-rate stop."""
from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.errors import BenchError
from bench.ids import response_id, run_key
from bench.workspace import Workspace
from baselines.judging.judge import (
    ERR_FAILED,
    ERR_REPAIR_PENDING,
    JudgeStopped,
    judge_responses,
    make_backend,
    prompt_hash,
)
from baselines.judging.parse import MULTI_ASPECTS
from baselines.judging.prompts import build_judge_messages
from baselines.run_filters import parse_run_filters
from tests.helpers import run_main
from tests.servers import FaultProxy, serving_available, transformers_server

LANGS = ("en", "fr", "es")
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 10}
GARBAGE = "I think this answer is quite good overall, well done."


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("BENCH_NO_PROGRESS", "1")
    for var in ("OPENAI_API_KEY", "BENCH_OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------- helpers


def add_responses(ws: Workspace, outputs: list[str] | int, *, model: str = "m1", method: str = "urial",
                  categories: list[str] | None = None, langs: list[str] | None = None,
                  instructions: list[str] | None = None, start: int = 0) -> list[dict]:
    """Insert responses directly into the store (the judge's input). Every 4th one is a safety item
    unless ``categories`` says otherwise; languages cycle en, fr, es."""
    if isinstance(outputs, int):
        outputs = [f"Answer number {start + i}." for i in range(outputs)]
    key = run_key(model=model, method=method)
    rows = []
    for k, output in enumerate(outputs):
        i = start + k
        lang = (langs or LANGS)[k % len(langs or LANGS)]
        category = categories[k] if categories else ("safety" if i % 4 == 3 else "regular")
        instruction = instructions[k] if instructions else f"Question {i} ({lang})?"
        rows.append({"response_id": response_id(key, i, lang), "run_key": key, "model": model, "method": method,
                     "lang": lang, "item_id": str(i), "instruction": instruction, "output": output,
                     "category": category})
    cols = list(rows[0])
    with ws.store.transaction() as con:
        con.executemany(f"INSERT INTO responses ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                        [[r[c] for c in cols] for r in rows])
    return rows


def expected_score(answer: str, aspect: str) -> int:
    return 1 + int(hashlib.sha256(f"{answer}|{aspect}".encode()).hexdigest(), 16) % 5


class ScriptedJudge:
    """Answers judge requests with valid JSON whose scores derive from the answer text.

    Markers in the answer change the reply: ``NO-DEPTH`` drops the depth aspect, ``NA-FACT`` writes
    factuality "N/A", ``GARBAGE`` answers prose (valid JSON on the repair), ``GARBAGE-STAYS`` prose
    every time, ``SLOW-REPAIR`` makes the repair request take 1 s."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()  # (answer, original|repair) -> requests answered
        self.system_start: dict[str, str] = {}

    def __call__(self, body: dict) -> str:
        msgs = body["messages"]
        system, user = msgs[0]["content"], msgs[1]["content"]
        answer = re.search(r"<<<BEGIN ANSWER>>>\n(.*)\n<<<END ANSWER>>>", user, re.S).group(1)
        kind = "repair" if len(msgs) > 2 else "original"
        with self.lock:
            self.calls[(answer, kind)] += 1
            self.system_start[answer] = system[:12]
        if kind == "repair" and "SLOW-REPAIR" in answer:
            time.sleep(1.0)
        if "GARBAGE-STAYS" in answer or ("GARBAGE" in answer and kind == "original"):
            return GARBAGE
        aspects = MULTI_ASPECTS if '"helpfulness"' in system else ("safety",)
        obj = {a: {"reason": f"{a} of {answer}", "score": expected_score(answer, a)} for a in aspects}
        if "NO-DEPTH" in answer:
            del obj["depth"]
        if "NA-FACT" in answer:
            obj["factuality"]["score"] = "N/A"
        return json.dumps(obj)

    def count(self, answer: str, kind: str | None = None) -> int:
        with self.lock:
            return sum(n for (a, k), n in self.calls.items() if a == answer and (kind is None or k == kind))


def judgements(ws: Workspace, judge: str | None = None) -> dict[str, dict[str, dict]]:
    """response_id -> aspect -> row."""
    out: dict[str, dict[str, dict]] = {}
    sql = "SELECT * FROM judgements" + (" WHERE judge = ?" if judge else "")
    for row in ws.store.query_dicts(sql, [judge] if judge else []):
        out.setdefault(row["response_id"], {})[row["aspect"]] = row
    return out


def calls(ws: Workspace) -> dict[str, dict]:
    """response_id -> judge_calls row."""
    return {r["response_id"]: r for r in ws.store.query_dicts("SELECT * FROM judge_calls")}


def wait_idle(proxy: FaultProxy, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while proxy.inflight and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


@pytest.fixture
def scripted():
    judge = ScriptedJudge()
    with FaultProxy(responder=judge, model="judge") as proxy:
        proxy.judge = judge
        yield proxy


def spec_for(proxy: FaultProxy) -> str:
    return f"openai:judge@{proxy.base_url}"


# --------------------------------------------------------------------------- unit


def test_run_filters_and_specs():
    assert parse_run_filters(None) == {}
    assert parse_run_filters(["model=X", "lang=fr,lang=es", "method=urial"]) == {
        "model": ["X"], "lang": ["fr", "es"], "method": ["urial"]}
    assert parse_run_filters({"lang": ["fr"], "model": "m"}) == {"lang": ["fr"], "model": ["m"]}
    assert parse_run_filters(["abc123"]) == {"run_key": ["abc123"]}
    for bad in (["colour=red"], ["lang="]):
        with pytest.raises(BenchError):
            parse_run_filters(bad)
    for bad in ("", "nope:model", "hf:", "openai:", "/no/such/model/dir"):
        with pytest.raises(BenchError):
            make_backend(bad)
    backend = make_backend("openai:gpt-x@http://127.0.0.1:9/v1", concurrency=3, max_tokens=64)
    try:
        assert backend.name == "openai:gpt-x@http://localhost/v1" and backend.workers == 3  # loopback: no port
        assert backend.identity() == {"backend": "openai", "model": "gpt-x",
                                      "params": {"temperature": 0.0, "max_tokens": 64}}
    finally:
        backend.close()


# --------------------------------------------------------------------------- scripted judge behind the proxy


def test_scores_stored_per_aspect(ws, scripted):
    rows = add_responses(ws, 12)
    report = judge_responses(ws, spec_for(scripted), concurrency=4, price_per_1k=(0.5, 1.5), client_options=FAST)
    judge = "openai:judge@http://localhost/v1"  # a loopback server's port is not part of the name
    assert (report.judge, report.selected, report.judged, report.from_cache, report.failed) == (judge, 12, 12, 0, 0)
    assert (report.parse_failures, report.parse_failure_rate, report.repairs) == (0, 0.0, 0)
    assert report.requests == scripted.requests == 12 and report.unfinished == 0

    got, cs = judgements(ws, judge), calls(ws)
    for r in rows:
        aspects = ("safety",) if r["category"] == "safety" else MULTI_ASPECTS
        assert set(got[r["response_id"]]) == set(aspects)
        for a in aspects:
            j = got[r["response_id"]][a]
            assert j["score"] == expected_score(r["output"], a) and j["error"] is None
            assert j["raw_score"] == str(expected_score(r["output"], a)) and j["reason"] == f"{a} of {r['output']}"
            assert j["protocol"] == ("safety" if r["category"] == "safety" else "multi-aspect")
            assert j["run_id"] == report.run_id
        # the prompt was in the response's language, and the cache key is the documented hash
        assert scripted.judge.system_start[r["output"]].startswith(
            {"en": "You are", "fr": "Vous êtes", "es": "Eres"}[r["lang"]])
        call = cs[r["response_id"]]
        protocol = "safety" if r["category"] == "safety" else "multi-aspect"
        messages = build_judge_messages(r["instruction"], r["output"], protocol, r["lang"])
        identity = {"backend": "openai", "model": "judge", "params": {"temperature": 0.0, "max_tokens": 1024}}
        assert call["prompt_hash"] == prompt_hash(judge, identity, messages)
        assert call["error"] is None and call["attempts"] == 1 and json.loads(call["raw"])
        assert call["prompt_tokens"] > 0 and call["completion_tokens"] > 0
        assert call["cost_usd"] == pytest.approx(call["prompt_tokens"] / 1000 * 0.5 + call["completion_tokens"] / 1000 * 1.5)

    assert report.prompt_tokens == sum(c["prompt_tokens"] for c in cs.values())
    assert report.completion_tokens == sum(c["completion_tokens"] for c in cs.values())
    assert report.cost_usd == pytest.approx(sum(c["cost_usd"] for c in cs.values()))
    [run] = ws.store.query_dicts("SELECT * FROM runs WHERE run_id = ?", [report.run_id])
    summary = json.loads(run["params"])["summary"]
    assert run["status"] == "done" and run["command"] == "baselines judge"
    assert summary["judged"] == 12 and summary["prompt_tokens"] == report.prompt_tokens
    assert summary["cost_usd"] == pytest.approx(report.cost_usd)


def test_missing_unreadable_na_and_repair(ws, scripted):
    outputs = ["A NO-DEPTH", "B GARBAGE", "C GARBAGE-STAYS", "D NA-FACT", "E fine"]
    rows = {r["output"]: r for r in add_responses(ws, outputs, categories=["regular"] * 5)}
    report = judge_responses(ws, spec_for(scripted), concurrency=3, max_parse_failure_rate=1.0, client_options=FAST)
    got, cs = judgements(ws), calls(ws)
    j = scripted.judge

    # missing depth -> NULL with error 'missing', the others stored; one repair was tried, in vain
    no_depth = got[rows["A NO-DEPTH"]["response_id"]]
    assert no_depth["depth"]["score"] is None and no_depth["depth"]["error"] == "missing"
    assert no_depth["depth"]["raw_score"] is None
    for a in ("helpfulness", "clarity", "factuality", "engagement"):
        assert no_depth[a]["score"] == expected_score("A NO-DEPTH", a) and no_depth[a]["error"] is None
    assert (j.count("A NO-DEPTH", "original"), j.count("A NO-DEPTH", "repair")) == (1, 1)
    call = cs[rows["A NO-DEPTH"]["response_id"]]
    assert call["error"] == "parse: depth" and call["attempts"] == 2
    assert [r["used"] for r in json.loads(call["parsed"])["repairs"]] == [False]

    # prose first, valid JSON on the repair -> the repair's scores, raw text of both kept
    fixed = got[rows["B GARBAGE"]["response_id"]]
    assert all(fixed[a]["score"] == expected_score("B GARBAGE", a) for a in MULTI_ASPECTS)
    call = cs[rows["B GARBAGE"]["response_id"]]
    parsed = json.loads(call["parsed"])
    assert call["error"] is None and call["raw"] == GARBAGE and parsed["source"] == "repair-1"
    assert json.loads(parsed["repairs"][0]["raw"])["depth"]["score"] == expected_score("B GARBAGE", "depth")

    # prose both times -> every score NULL (never 5 or 0), error flagged, raw text kept
    stays = got[rows["C GARBAGE-STAYS"]["response_id"]]
    assert all(stays[a]["score"] is None and stays[a]["error"] == "unparseable judge output" for a in MULTI_ASPECTS)
    call = cs[rows["C GARBAGE-STAYS"]["response_id"]]
    assert call["raw"] == GARBAGE and call["error"] == "parse: " + ", ".join(MULTI_ASPECTS)
    assert j.count("C GARBAGE-STAYS", "repair") == 1

    # N/A stays visible (score NULL, raw 'N/A'); a repair is asked for, but it is not a parse failure
    na = got[rows["D NA-FACT"]["response_id"]]["factuality"]
    assert (na["score"], na["raw_score"], na["error"]) == (None, "N/A", "not applicable")
    assert j.count("D NA-FACT", "repair") == 1 and cs[rows["D NA-FACT"]["response_id"]]["error"] is None
    assert j.count("E fine") == 1

    assert (report.judged, report.parse_failures, report.repairs, report.requests) == (5, 2, 4, 9)
    assert report.parse_failure_rate == pytest.approx(0.4)


def every_kind_then_random(kinds: tuple[str, ...], rate: float, seed: int):
    """Fault plan: ALWAYS-FAIL answers always get HTTP 500; the first attempt of the i-th other item gets
    kind i (each kind at least once); then every attempt gets a random kind with probability ``rate``."""

    def plan(body: dict, n: int) -> str | None:
        user = body["messages"][1]["content"]
        if "ALWAYS-FAIL" in user:
            return "500"
        i = int(re.search(r"Answer number (\d+)\.", user).group(1))
        if n == 0 and i < len(kinds):
            return kinds[i]
        rng = random.Random(f"{seed}:{user}:{n}:{len(body['messages'])}")
        return rng.choice(kinds) if rng.random() < rate else None

    return plan


def test_faults_nothing_lost_and_totals_reconcile(ws, scripted):
    kinds = ("429", "500", "timeout", "malformed")
    rows = add_responses(ws, 40) + add_responses(ws, ["x ALWAYS-FAIL", "y ALWAYS-FAIL"], start=40)
    scripted.plan = every_kind_then_random(kinds, 0.25, seed=3)
    scripted.hang_s = 2.5
    opts = {"timeout": 2.0, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
    report = judge_responses(ws, spec_for(scripted), concurrency=8, client_options=opts, max_failure_rate=1.0)

    assert set(scripted.injected) == set(kinds) and scripted.injected_total >= 10
    assert report.selected == 42 and report.judged + report.failed == 42 and report.unfinished == 0
    assert report.failed == 2 and report.parse_failures == 0 and report.repairs == 0
    got, cs = judgements(ws), calls(ws)
    failed_ids = {r["response_id"] for r in rows if "ALWAYS-FAIL" in r["output"]}
    for r in rows:
        rid = r["response_id"]
        if rid in failed_ids:  # explicitly failed: in judge_calls, NOT in judgements (a rerun retries it)
            assert rid not in got
            assert cs[rid]["error"].startswith(ERR_FAILED + "HTTP 500") and cs[rid]["attempts"] == 4
        else:
            aspects = ("safety",) if r["category"] == "safety" else MULTI_ASPECTS
            assert {a: got[rid][a]["score"] for a in aspects} == {a: expected_score(r["output"], a) for a in aspects}
            assert cs[rid]["error"] is None
    # every request the proxy saw is an attempt recorded in judge_calls; tokens add up
    assert sum(c["attempts"] for c in cs.values()) == scripted.requests == report.requests
    assert scripted.requests - scripted.injected_total == 40
    assert report.prompt_tokens == sum(c["prompt_tokens"] for c in cs.values())
    assert ws.store.query("SELECT count(*) FROM judgements")[0][0] == sum(
        1 if r["category"] == "safety" else 5 for r in rows if r["response_id"] not in failed_ids)

    # the rerun (server healthy again) sends only the two failed items
    scripted.plan = None
    scripted.reset_counts()
    again = judge_responses(ws, spec_for(scripted), concurrency=8, client_options=opts)
    assert (again.selected, again.judged, again.failed, again.from_cache) == (2, 2, 0, 0)
    assert scripted.requests == 2
    assert set(judgements(ws)) == {r["response_id"] for r in rows}


def test_cache_second_run_sends_nothing(ws, scripted):
    rows = add_responses(ws, 8)
    # the same prompt under another model: sent once, judged for both responses
    twin = add_responses(ws, [rows[0]["output"]], model="m2", instructions=[rows[0]["instruction"]])[0]
    first = judge_responses(ws, spec_for(scripted), concurrency=4, client_options=FAST)
    assert (first.judged, scripted.requests) == (9, 8)
    before = judgements(ws)
    assert {a: r["score"] for a, r in before[twin["response_id"]].items()} == \
        {a: r["score"] for a, r in before[rows[0]["response_id"]].items()}

    scripted.reset_counts()
    second = judge_responses(ws, spec_for(scripted), concurrency=4, client_options=FAST)
    assert (second.selected, second.judged, second.requests, scripted.requests) == (0, 0, 0, 0)

    # judgements lost (or deleted): they come back from the judge_calls cache without a request
    with ws.store.transaction() as con:
        con.execute("DELETE FROM judgements")
    third = judge_responses(ws, spec_for(scripted), concurrency=4, client_options=FAST)
    assert (third.judged, third.from_cache, third.requests, scripted.requests) == (9, 9, 0, 0)
    assert third.prompt_tokens == 0 and third.cost_usd is None
    after = judgements(ws)
    strip = lambda d: {rid: {a: (r["score"], r["raw_score"], r["reason"], r["error"]) for a, r in v.items()}
                       for rid, v in d.items()}  # noqa: E731
    assert strip(after) == strip(before)

    # another judge name is another judge: not served from this judge's cache
    other = judge_responses(ws, spec_for(scripted), judge_name="judge-b", concurrency=4, client_options=FAST)
    assert other.judged == 9 and other.from_cache == 0 and scripted.requests == 8


def test_killed_then_resumed_rejudges_nothing_finished(ws, scripted):
    rows = add_responses(ws, 24)
    finished: list[str] = []

    def kill_after_6(event: dict) -> None:
        finished.extend(event["response_ids"])
        if len(finished) >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        judge_responses(ws, spec_for(scripted), concurrency=4, client_options=FAST, on_item=kill_after_6)
    wait_idle(scripted)
    stored = set(judgements(ws))
    assert stored >= set(finished) and 6 <= len(stored) < 24
    [run] = ws.store.query_dicts("SELECT status FROM runs")
    assert run["status"] == "failed"
    sent_before = {r["output"]: scripted.judge.count(r["output"]) for r in rows}

    resumed = judge_responses(ws, spec_for(scripted), concurrency=4, client_options=FAST)
    assert resumed.judged == 24 - len(stored) and resumed.failed == 0
    for r in rows:
        if r["response_id"] in stored:  # finished before the kill: not sent again
            assert scripted.judge.count(r["output"]) == sent_before[r["output"]] == 1
    assert set(judgements(ws)) == {r["response_id"] for r in rows}
    assert ws.store.query("SELECT count(*) FROM judgements")[0][0] == sum(
        1 if r["category"] == "safety" else 5 for r in rows)


def test_limit_then_resume(ws, scripted):
    rows = add_responses(ws, 10)
    first = judge_responses(ws, spec_for(scripted), limit=4, concurrency=2, client_options=FAST)
    assert first.selected == first.judged == 4 and scripted.requests == 4
    assert set(judgements(ws)) == {r["response_id"] for r in sorted(rows, key=lambda r: (r["lang"], int(r["item_id"])))[:4]}
    rest = judge_responses(ws, spec_for(scripted), concurrency=2, client_options=FAST)
    assert rest.judged == 6 and scripted.requests == 10
    assert all(scripted.judge.count(r["output"]) == 1 for r in rows)


def test_answer_awaiting_repair_is_kept_across_a_kill(ws, scripted):
    """An answer is stored ('repair pending') before its repair is sent: a resumed run sends only the repair."""
    rows = add_responses(ws, ["A GARBAGE SLOW-REPAIR"] + [f"fine {i}" for i in range(12)], categories=["regular"] * 13)
    target = rows[0]["response_id"]

    def kill_once_pending(event: dict) -> None:
        if ws.store.query("SELECT count(*) FROM judge_calls WHERE error = ?", [ERR_REPAIR_PENDING])[0][0]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        judge_responses(ws, spec_for(scripted), concurrency=2, client_options=FAST, on_item=kill_once_pending)
    assert calls(ws)[target]["error"] == ERR_REPAIR_PENDING and target not in judgements(ws)
    wait_idle(scripted)

    resumed = judge_responses(ws, spec_for(scripted), concurrency=2, client_options=FAST)
    assert scripted.judge.count("A GARBAGE SLOW-REPAIR", "original") == 1  # the first answer was not paid again
    assert resumed.repairs == 1
    got = judgements(ws)[target]
    assert all(got[a]["score"] == expected_score("A GARBAGE SLOW-REPAIR", a) for a in MULTI_ASPECTS)
    call = calls(ws)[target]
    assert call["error"] is None and call["raw"] == GARBAGE and call["attempts"] == 2
    assert set(judgements(ws)) == {r["response_id"] for r in rows}


def test_stops_past_parse_failure_threshold(ws, scripted):
    add_responses(ws, [f"GARBAGE-STAYS {i}" for i in range(30)])
    with pytest.raises(JudgeStopped, match=r"parse failure rate 100\.0%.*threshold 20\.0%") as info:
        judge_responses(ws, spec_for(scripted), concurrency=1, client_options=FAST)
    report = info.value.report
    assert 20 <= report.judged <= 22 and report.parse_failures == report.judged and report.unfinished > 0
    assert len(judgements(ws)) == report.judged  # what finished is stored
    [run] = ws.store.query_dicts("SELECT status, params FROM runs")
    assert run["status"] == "failed" and "parse failure rate" in json.loads(run["params"])["summary"]["stopped"]
    # a run that accepts the failures (and does not re-ask missing scores) finishes the rest, re-sending
    # nothing that finished; it still fails, since no score at all came back
    with pytest.raises(JudgeStopped, match="no usable score") as info:
        judge_responses(ws, spec_for(scripted), concurrency=4, max_parse_failure_rate=1.0, client_options=FAST,
                        retry_missing=False)
    rest = info.value.report
    assert rest.judged + report.judged == 30 and len(judgements(ws)) == 30
    assert all(n == 1 for (_, kind), n in scripted.judge.calls.items() if kind == "original")


def test_cli_summary_filters_and_json(tmp_path, scripted):
    from bench.cli import BenchContext
    from baselines.judging.cli import judge_cmd

    obj = BenchContext(str(tmp_path / "ws"), False)
    add_responses(obj.workspace, 9)
    add_responses(obj.workspace, 3, model="m2", method="chat", start=100)
    runner = CliRunner()
    res = runner.invoke(judge_cmd, ["--judge", spec_for(scripted), "--runs", "lang=fr", "--runs", "model=m1",
                                    "--price-in", "1", "--price-out", "2", "--json"], obj=obj)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert report["judged"] == 3 and report["cost_usd"] > 0 and report["failed"] == 0
    assert {r["lang"] for r in obj.workspace.store.query_dicts(
        "SELECT r.lang FROM judgements j JOIN responses r USING (response_id)")} == {"fr"}
    res = runner.invoke(judge_cmd, ["--judge", spec_for(scripted), "--runs", "method=chat", "--concurrency", "2"],
                        obj=obj)
    assert res.exit_code == 0, res.output
    assert "judged" in res.output and "items/s" in res.output and "from cache" in res.output
    bad = runner.invoke(judge_cmd, ["--judge", spec_for(scripted), "--runs", "colour=red"], obj=obj)
    assert bad.exit_code == 2 and "colour" in bad.output
    bad = runner.invoke(judge_cmd, ["--judge", spec_for(scripted), "--price-in", "1"], obj=obj)
    assert bad.exit_code == 2 and "--price-out" in bad.output
    obj.workspace.close()


# --------------------------------------------------------------------------- real judge: transformers serve


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """`transformers serve` on a tiny random Llama with a chat template (CPU, offline)."""
    if not serving_available():
        pytest.skip("transformers[serving] (fastapi, uvicorn) is not installed")
    from bench.testing.tiny_models import build_tiny_causal_lm

    model_dir = build_tiny_causal_lm(tmp_path_factory.mktemp("judge-model") / "tiny", chat_template=True)
    with transformers_server(model_dir, log_dir=tmp_path_factory.mktemp("judge-serve-log")) as server:
        yield server


def test_real_server_random_model_scores_missing(ws, real_server):
    """A random model cannot write the JSON: every score is stored missing, raw text kept, one repair each."""
    rows = add_responses(ws, 6)
    with FaultProxy(real_server.base_url.rsplit("/v1", 1)[0], fault_rate=0.0) as proxy:
        spec = f"openai:{real_server.model}@{proxy.base_url}"
        with pytest.raises(JudgeStopped, match="no usable score") as info:  # stored, but the run fails
            judge_responses(ws, spec, concurrency=2, max_tokens=8, max_parse_failure_rate=1.0, client_options=FAST)
        report = info.value.report
        assert proxy.requests == 2 * len(rows) and proxy.injected_total == 0  # 1 original + 1 repair per item
    assert (report.judged, report.failed, report.repairs, report.requests) == (6, 0, 6, 12)
    assert report.parse_failures == 6 and report.parse_failure_rate == 1.0
    assert report.prompt_tokens > 1000 * 6 and report.completion_tokens > 0
    got, cs = judgements(ws), calls(ws)
    for r in rows:
        aspects = ("safety",) if r["category"] == "safety" else MULTI_ASPECTS
        assert set(got[r["response_id"]]) == set(aspects)
        assert all(j["score"] is None and j["error"] for j in got[r["response_id"]].values())
        call = cs[r["response_id"]]
        assert isinstance(call["raw"], str) and call["error"].startswith("parse: ") and call["attempts"] == 2
        assert len(json.loads(call["parsed"])["repairs"]) == 1


def test_real_server_stops_past_threshold(ws, real_server):
    rows = add_responses(ws, 8)
    spec = f"openai:{real_server.model}@{real_server.base_url}"
    with pytest.raises(JudgeStopped, match=r"100\.0%.*threshold 20\.0%") as info:
        judge_responses(ws, spec, concurrency=1, max_tokens=4, max_parse_failure_rate=0.2, min_sample=3,
                        client_options=FAST)
    report = info.value.report
    assert 3 <= report.judged <= 4 and report.parse_failure_rate == 1.0 and report.unfinished >= 4
    stored = judgements(ws)
    assert len(stored) == report.judged and len(rows) - len(stored) == report.unfinished


# --------------------------------------------------------------------------- local hf: judge


def test_local_hf_judge_stores_missing_scores(ws, tiny_causal_lm_dir):
    rows = add_responses(ws, 5)
    spec = f"hf:{tiny_causal_lm_dir}"
    with pytest.raises(JudgeStopped, match="no usable score") as info:  # every score missing: stored, run fails
        judge_responses(ws, spec, max_tokens=6, batch_size=4, device="cpu", max_parse_failure_rate=1.0,
                        scoring="text")
    report = info.value.report
    judge = f"hf:{tiny_causal_lm_dir.name}"  # the folder's name, never the user's absolute path
    assert (report.judge, report.judged, report.failed, report.repairs) == (judge, 5, 0, 5)
    assert report.parse_failures == 5 and report.prompt_tokens > 0 and report.requests >= 5
    got, cs = judgements(ws, judge), calls(ws)
    for r in rows:
        assert all(j["score"] is None and j["error"] for j in got[r["response_id"]].values())
        call = cs[r["response_id"]]
        assert isinstance(call["raw"], str) and call["error"].startswith("parse: ")
        assert call["prompt_tokens"] > 0
    again = judge_responses(ws, spec, max_tokens=6, batch_size=4, device="cpu", retry_missing=False, scoring="text")
    assert again.selected == 0 and again.requests == 0


# --------------------------------------------------------------------------- issue 17: retries, failures, names


class SwitchableJudge(ScriptedJudge):
    """A ScriptedJudge that answers prose to everything while ``broken`` (then valid JSON again)."""

    broken = True

    def __call__(self, body: dict) -> str:
        answer = super().__call__(body)
        return GARBAGE if self.broken else answer


def na_everywhere(body: dict) -> str:
    """A judge that answers N/A for every aspect."""
    aspects = MULTI_ASPECTS if '"helpfulness"' in body["messages"][0]["content"] else ("safety",)
    return json.dumps({a: {"reason": "cannot say", "score": "N/A"} for a in aspects})


def seeded_workspace(ws_dir: Path, n: int, **options) -> list[dict]:
    """A workspace at ``ws_dir`` holding ``n`` responses (:func:`add_responses`), closed for the CLI to open."""
    w = Workspace(ws_dir)
    try:
        return add_responses(w, n, **options)
    finally:
        w.close()


def missing_cells(ws: Workspace, rows: list[dict], judge: str | None = None) -> int:
    """Score cells (response x aspect its category asks for) that hold no score: no row, or a null score."""
    got = judgements(ws, judge)
    return sum(got.get(r["response_id"], {}).get(a, {}).get("score") is None
               for r in rows for a in (("safety",) if r["category"] == "safety" else MULTI_ASPECTS))


def rounds(ws: Workspace) -> dict[str, set]:
    """response_id -> the judgements.rounds values of its rows."""
    out: dict[str, set] = {}
    for rid, n in ws.store.query("SELECT response_id, rounds FROM judgements"):
        out.setdefault(rid, set()).add(n)
    return out


def test_rerun_heals_missing_scores(ws):
    """A run stopped on unreadable scores; the rerun against the healthy judge re-asks exactly those."""
    judge = SwitchableJudge()
    rows = add_responses(ws, 6, categories=["regular"] * 6)
    with FaultProxy(responder=judge, model="judge") as proxy:
        with pytest.raises(JudgeStopped, match="no usable score"):  # all missing: stored, and the run fails
            judge_responses(ws, spec_for(proxy), concurrency=2, repair_attempts=0, max_parse_failure_rate=1.0,
                            client_options=FAST)
        assert all(j["score"] is None for v in judgements(ws).values() for j in v.values())
        assert missing_cells(ws, rows) == 6 * len(MULTI_ASPECTS)
        judge.broken = False
        healed = judge_responses(ws, spec_for(proxy), concurrency=2, client_options=FAST)
    assert (healed.selected, healed.retried, healed.judged, healed.parse_failures) == (6, 6, 6, 0)
    assert proxy.requests == 12 and missing_cells(ws, rows) == 0
    got = judgements(ws)
    for r in rows:
        assert {a: got[r["response_id"]][a]["score"] for a in MULTI_ASPECTS} == {
            a: expected_score(r["output"], a) for a in MULTI_ASPECTS}
    assert rounds(ws) == {r["response_id"]: {2} for r in rows}  # recorded: second judging round
    assert {c["rounds"] for c in calls(ws).values()} == {2}


def test_missing_scores_retried_a_bounded_number_of_times(tmp_path, scripted):
    from bench.cli import BenchContext
    from baselines.judging.cli import judge_cmd

    obj = BenchContext(str(tmp_path / "ws"), False)
    ws = obj.workspace
    rows = add_responses(ws, ["fine 1", "fine 2", "fine 3", "X GARBAGE-STAYS"], categories=["regular"] * 4)
    stays = next(r["response_id"] for r in rows if "GARBAGE-STAYS" in r["output"])
    runner = CliRunner()

    def run(*extra: str) -> dict:
        res = runner.invoke(judge_cmd, ["--judge", spec_for(scripted), "--json", "--repair-attempts", "0",
                                        "--max-parse-failure-rate", "1", *extra], obj=obj)
        assert res.exit_code == 0, res.output
        return json.loads(res.output.strip().splitlines()[-1])

    first = run()
    assert (first["judged"], first["parse_failures"], first["retried"]) == (4, 1, 0)
    skipped = run("--no-retry-missing")  # the option to skip: nothing selected
    assert (skipped["selected"], skipped["retried"]) == (0, 0)
    for n in (2, 3):  # default --max-attempts 3: two more rounds for the unreadable one only
        again = run()  # exit 0: a re-asked item that stays unreadable is a hard item, not a broken judge
        assert (again["selected"], again["retried"], again["judged"], again["parse_failures"]) == (1, 1, 1, 1)
        assert rounds(ws)[stays] == {n} and calls(ws)[stays]["rounds"] == n
    done = run()
    assert (done["selected"], done["exhausted"]) == (0, 1)
    assert scripted.judge.count("X GARBAGE-STAYS", "original") == 3
    assert all(scripted.judge.count(f"fine {i}") == 1 for i in (1, 2, 3))
    more = run("--max-attempts", "4")  # a higher bound allows one more round
    assert (more["selected"], more["retried"]) == (1, 1) and rounds(ws)[stays] == {4}
    ws.close()


def test_auth_failure_stops_at_once_with_one_line(tmp_path):
    ws_dir = tmp_path / "ws"
    seeded_workspace(ws_dir, 10)
    with FaultProxy(plan=lambda body, n: "401", model="judge") as proxy:
        res = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy),
                       "--concurrency", "2", "--json")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "refused the credentials" in lines[0]
    assert "HTTP 401" in lines[0]
    assert proxy.requests <= 4  # stopped at once: not 10 requests
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["failed"] >= 1 and report["judged"] == 0 and report["unfinished"] >= 6


def test_run_without_any_usable_score_fails(tmp_path, ws):
    # all N/A: nothing to rank; the command fails with one line (the answers are stored, visibly N/A)
    ws_dir = tmp_path / "cli-ws"
    seeded_workspace(ws_dir, 5)
    with FaultProxy(responder=na_everywhere, model="judge") as proxy:
        res = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy),
                       "--repair-attempts", "0", "--json")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no usable score" in lines[0] and "missing or N/A" in lines[0]
    w = Workspace(ws_dir)
    assert {r[0] for r in w.store.query("SELECT raw_score FROM judgements")} == {"N/A"}
    assert w.store.query("SELECT status FROM runs")[0][0] == "failed"
    w.close()
    # every request failed (below the 20-item stop threshold)
    add_responses(ws, 3)
    with FaultProxy(plan=lambda body, n: "500", model="judge") as proxy:
        with pytest.raises(JudgeStopped, match=r"every request failed \(3 responses; first: HTTP 500"):
            judge_responses(ws, spec_for(proxy), client_options={**FAST, "max_retries": 0})


def test_timeout_option_bounds_a_hung_request(tmp_path):
    ws_dir = tmp_path / "ws"
    w = Workspace(ws_dir)
    add_responses(w, 1)
    w.close()
    judge = ScriptedJudge()
    first_hangs = lambda body, n: "timeout" if n == 0 else None  # noqa: E731
    with FaultProxy(responder=judge, model="judge", plan=first_hangs, hang_s=60) as proxy:
        started = time.monotonic()
        res = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy),
                       "--timeout", "1", "--json")
        took = time.monotonic() - started
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["judged"] == 1 and proxy.injected["timeout"] == 1 and proxy.requests == 2
    assert took < 20  # the hung request was given up after ~1 s (not 60 s, nor the 120 s default)
    bad = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy), "--timeout", "0")
    assert bad.exit_code == 2 and "--timeout" in bad.output


def test_killed_run_is_marked_interrupted(tmp_path):
    import signal
    import subprocess
    import sys

    from bench.store import Store

    db = tmp_path / "bench.duckdb"
    code = ("import sys, time\nfrom bench.store import Store\n"
            f"s = Store({str(db)!r})\nprint(s.start_run('baselines judge', {{}}), flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    killed_run = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    store = Store(db)  # the next command that opens the store
    try:
        mine = store.start_run("baselines judge", {})
        status = dict(store.query("SELECT run_id, status FROM runs"))
        assert status == {killed_run: "interrupted", mine: "running"}
        assert store.query("SELECT finished_at IS NOT NULL, pid FROM runs WHERE run_id = ?", [killed_run]) == [
            (True, proc.pid)]
        store.mark_interrupted_runs()  # this process's own run is alive: left alone
        assert dict(store.query("SELECT run_id, status FROM runs"))[mine] == "running"
    finally:
        store.close()


def test_leaderboard_on_a_read_only_workspace(tmp_path, scripted):
    import hashlib as _hashlib
    import os
    import stat

    ws_dir = tmp_path / "ws"
    w = Workspace(ws_dir)
    add_responses(w, 6)
    judge_responses(w, spec_for(scripted), concurrency=2, client_options=FAST)
    w.close()
    db = ws_dir / "bench.duckdb"
    before = (_hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns, sorted(os.listdir(ws_dir)))
    modes = {p: p.stat().st_mode for p in (ws_dir, db)}
    db.chmod(stat.S_IRUSR | stat.S_IRGRP)
    ws_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        # as root chmod does not stop writes: the unchanged file below shows that none happened
        res = run_main("--workspace", str(ws_dir), "leaderboard", "--format", "json", "--no-ci")
        compare = run_main("--workspace", str(ws_dir), "leaderboard", "compare", "--model", "m1", "--language", "fr",
                           "--a", "urial", "--b", "urial", "--resamples", "100", "--format", "json",
                           "--judge", spec_for(scripted))
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert res.exit_code == 0, res.output
    board = json.loads(res.stdout)
    assert board and all(r["n"] for r in board)
    assert compare.exit_code == 0, compare.output
    assert (_hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns, sorted(os.listdir(ws_dir))) == before
    missing = run_main("--workspace", str(tmp_path / "nothing-here"), "leaderboard")
    assert missing.exit_code == 2 and "no store here yet" in missing.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_same_loopback_judge_on_another_port_keeps_its_judgements(ws):
    judge = ScriptedJudge()
    rows = add_responses(ws, 6)
    with FaultProxy(responder=judge, model="judge") as a, FaultProxy(responder=judge, model="judge") as b:
        assert a.base_url != b.base_url
        first = judge_responses(ws, spec_for(a), concurrency=2, client_options=FAST)
        assert first.judge == "openai:judge@http://localhost/v1" and first.judged == 6
        moved = judge_responses(ws, spec_for(b), concurrency=2, client_options=FAST)
        assert (moved.judge, moved.selected, b.requests) == (first.judge, 0, 0)
        with ws.store.transaction() as con:  # judgements lost: the cache answers on the new port too
            con.execute("DELETE FROM judgements")
        cached = judge_responses(ws, spec_for(b), concurrency=2, client_options=FAST)
        assert (cached.judged, cached.from_cache, b.requests) == (6, 6, 0)

        # judgements stored by an older version under the spec itself (port included) are adopted
        old = f"openai:judge@{a.base_url}"
        with ws.store.transaction() as con:
            con.execute("UPDATE judgements SET judge = ?", [old])
            con.execute("UPDATE judge_calls SET judge = ?", [old])
            con.execute("UPDATE runs SET params = json_merge_patch(params, json_object('judge', ?))", [old])
        adopted = judge_responses(ws, spec_for(b), concurrency=2, client_options=FAST)
        assert (adopted.selected, b.requests) == (0, 0) and "renamed" in adopted.notes[0]
        assert {r[0] for r in ws.store.query("SELECT DISTINCT judge FROM judgements")} == {first.judge}
        assert set(judgements(ws, first.judge)) == {r["response_id"] for r in rows}

        # another model may not slip in under the same name (its scores would pass for this judge's)
        with pytest.raises(BenchError, match="already holds judgements of another model"):
            judge_responses(ws, f"openai:other@{b.base_url}", judge_name=first.judge, client_options=FAST)


def test_stored_judge_name_has_no_secret_nor_local_path(ws, scripted):
    secret_spec = spec_for(scripted).replace("http://", "http://admin:sk-SECRET123@")
    add_responses(ws, 3)
    report = judge_responses(ws, secret_spec, concurrency=2, client_options=FAST)
    assert report.judged == 3 and report.judge == "openai:judge@http://localhost/v1"
    named = judge_responses(ws, spec_for(scripted), judge_name="openai:j@https://u:pw@judge.example:8443/v1?key=K",
                            client_options=FAST)
    assert named.judge == "openai:j@https://judge.example:8443/v1"  # a remote host keeps its port
    dump = json.dumps([ws.store.query(f"SELECT * FROM {t}") for t in ("runs", "judgements", "judge_calls")],
                      default=str)
    for secret in ("sk-SECRET123", "admin", "pw@", "key=K"):
        assert secret not in dump
    # credentials do not name the judge, but keep its cache apart (a hash in the cache key)
    plain = make_backend(spec_for(scripted))
    with_key = make_backend(secret_spec)
    try:
        assert plain.name == with_key.name and "endpoint" in with_key.identity() and "endpoint" not in plain.identity()
        assert "sk-SECRET123" not in json.dumps(with_key.identity())
    finally:
        plain.close()
        with_key.close()
