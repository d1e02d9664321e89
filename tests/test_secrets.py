"""Tokens never leak: every command runs with sentinel HF / OpenAI / Argilla tokens in its environment,
then stdout, stderr, every file written (outputs, dataset folders, workspace files including the DuckDB
file's bytes and a SQL dump of every table) is searched for them.

The OpenAI-compatible servers are loopback :class:`tests.servers.FaultProxy` instances; one of them
answers 401 quoting the key back (a careless server), so the key also travels through an error path,
with and without ``--debug``. The proxies record the ``Authorization`` headers they received, which
proves the key was really used (the test is not vacuous).

The release stage runs on the dataset built here: ``bench release --results`` (the store's responses,
judgements and critical errors go into the release folder, which is then searched too), ``bench release
verify``, ``bench push-to-hub --dry-run`` (HF_TOKEN found, never shown) and a real push refused offline.
``bench annotate translations push`` runs against a closed loopback port, with and without ``--debug``,
so ARGILLA_API_KEY goes through the "server not reachable" error path (no Argilla server is needed).

:func:`run_every_command` is reused by ``perf/reliability.py``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

SENTINELS = {
    "HF_TOKEN": "hf_SENTINELtok3n7c1e0d2b9a4f",
    "OPENAI_API_KEY": "sk-SENTINEL-openai-5e2a9c41b7d6",
    "ARGILLA_API_KEY": "argilla.apikey.SENTINEL-3f9d7a12c8e5",
    "BENCH_OPENAI_API_KEY": "sk-SENTINEL-bench-8b1e44d0f3a2",
    "HUGGING_FACE_HUB_TOKEN": "hf_SENTINELlegacy6d5c4b3a2910",
}
DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"


def leak_patterns() -> dict[str, re.Pattern]:
    """Each secret, and its distinctive tail alone (a partly redacted key is still a leak)."""
    out = {}
    for var, value in SENTINELS.items():
        tail = value[-12:]
        out[var] = re.compile(re.escape(value) + "|" + re.escape(tail))
    return out


def find_leaks(name: str, data: str | bytes, patterns: dict[str, re.Pattern]) -> list[str]:
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return [f"{var} in {name}" for var, pat in patterns.items() if pat.search(text)]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **SENTINELS, "BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("BENCH_WORKSPACE", None)
    env.update(extra)
    return env


def _run(ws: Path, *args: str, env: dict[str, str] | None = None, debug: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bench.cli", *(["--debug"] if debug else []), "--workspace", str(ws), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or _env(), cwd=REPO, timeout=600)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _answer(body: dict) -> str:
    """A generation stand-in that differs per served model (so judged answers differ)."""
    user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    return f"{body.get('model')} says: here is a helpful answer to '{user[:60]}'."


def dump_store(db: Path) -> str:
    """Every row of every table of a DuckDB file, as text."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)  # names from the catalog
    finally:
        con.close()


def run_every_command(tmp: Path, *, dpo_model: Path | None = None) -> dict[str, Any]:
    """Run (nearly) every bench command with the sentinel tokens set; return what leaked where.

    ``dpo_model``: a tiny base model folder for ``baselines train-dpo`` (skipped when None)."""
    from tests.servers import FaultProxy, free_port
    from tests.test_judge import ScriptedJudge

    ws = tmp / "ws"
    procs: list[tuple[str, subprocess.CompletedProcess]] = []
    failures: list[str] = []

    def step(label: str, *args: str, ok: bool = True, **kw: Any) -> subprocess.CompletedProcess:
        proc = _run(ws, *args, **kw)
        procs.append((label, proc))
        if ok and proc.returncode != 0:
            failures.append(f"{label}: exit {proc.returncode}: {proc.stderr[-800:]}")
        if not ok and proc.returncode == 0:
            failures.append(f"{label}: expected a failure")
        return proc

    judge = ScriptedJudge()
    with FaultProxy() as translate, FaultProxy(responder=_answer) as generate, \
            FaultProxy(responder=judge, model="judge") as judging, \
            FaultProxy(plan=lambda body, n: "401_echo_key") as careless:
        # a server that quotes the key back in its 401: the failure is one line, with and without --debug
        for debug in (False, True):
            step(f"build-dataset (401 echoing the key, debug={debug})", "build-dataset", "--source", str(DEMO),
                 "--languages", "fr", "--translator", f"openai:echo@{careless.base_url}", "--out",
                 str(tmp / "never"), ok=False, debug=debug)
        ds = tmp / "ds"
        step("build-dataset", "build-dataset", "--source", str(DEMO), "--languages", "fr,es", "--translator",
             f"openai:echo@{translate.base_url}", "--out", str(ds), "--json")
        qa_in = _jsonl(tmp / "qa_in.jsonl", [
            {"source": "Write a poem about the sea.", "translation": "Écris un poème sur la mer.", "target_lang": "fr",
             "labels": []},
            {"source": "How many days are in a leap year?", "translation": "How many days are in a leap year?",
             "target_lang": "es", "labels": ["untranslated"]}])
        step("qa translations", "qa", "translations", "--input", str(qa_in), "--out", str(tmp / "qa_out.jsonl"))
        step("qa evaluate", "qa", "evaluate", "--dev", str(qa_in), "--json")
        grid = tmp / "grid.yaml"
        grid.write_text(f"""
dataset: {ds}
languages: [en, fr]
models:
  - {{name: echo-a, path: org/echo-a, kind: instruct, backend: "openai:echo-a@{generate.base_url}"}}
  - {{name: echo-b, path: org/echo-b, kind: instruct, backend: "openai:echo-b@{generate.base_url}"}}
openai: {{concurrency: 4, max_retries: 1}}
""", encoding="utf-8")
        step("baselines run", "baselines", "run", "--config", str(grid), "--limit", "4", "--json")
        step("baselines export", "baselines", "export", "--out", str(tmp / "export"))
        no_openai_key = _env()
        no_openai_key.pop("OPENAI_API_KEY")  # the judge falls back to BENCH_OPENAI_API_KEY
        judge_spec = f"openai:judge@{judging.base_url}"
        step("baselines judge", "baselines", "judge", "--judge", judge_spec, "--json", env=no_openai_key)
        step("errors scan", "errors", "scan")
        det = _jsonl(tmp / "det_in.jsonl", [
            {"instruction": "Say hi.", "output": "Hi! Hi! Hi! Hi! Hi! Hi! Hi! Hi! Hi! Hi! Hi! Hi!", "lang": "en",
             "labels": ["repetition_loop"]},
            {"instruction": "Dis bonjour.", "output": "Bonjour !", "lang": "fr", "labels": []}])
        step("errors detect", "errors", "detect", "--input", str(det), "--out", str(tmp / "det_out.jsonl"))
        step("errors evaluate", "errors", "evaluate", "--dev", str(det), "--json")
        je = tmp / "published.json"
        je.write_text(json.dumps([{
            "id": i, "input": f"Question {i}?", "output_cand": f"Published answer {i}.", "generator_cand": "pub-model",
            "eval_config": {"mode": "score_multi", "gpt": "gpt-4"}, "result": "{}",
            "parsed_result": {a: {"reason": "fine", "score": str(1 + i % 5)} for a in
                              ("helpfulness", "clarity", "factuality", "depth", "engagement")}} for i in range(4)]),
            encoding="utf-8")
        step("results import-just-eval", "results", "import-just-eval", str(je), "--json")
        step("results export-judgements", "results", "export-judgements", str(tmp / "judgements"))
        for fmt in ("table", "json", "html"):  # every format's escaping: tests/test_untrusted.py
            step(f"leaderboard {fmt}", "leaderboard", "--format", fmt, "--resamples", "50",
                 "--out", str(tmp / f"board.{fmt}"))
        step("leaderboard stdout", "leaderboard", "--format", "json", "--no-ci")
        step("leaderboard compare", "leaderboard", "compare", "--model", "echo-a", "--language", "fr", "--a", "chat",
             "--b", "chat", "--resamples", "100", "--judge", judge_spec, "--format", "json")
        prefs = tmp / "prefs.jsonl"
        step("baselines make-preferences", "baselines", "make-preferences", "--out", str(prefs), "--judge", judge_spec,
             "--min-margin", "0", "--json")
        if dpo_model is not None:
            step("baselines train-dpo", "baselines", "train-dpo", "--model", str(dpo_model), "--preferences",
                 str(prefs), "--out", str(tmp / "dpo-model"), "--max-steps", "1", "--batch-size", "1",
                 "--max-length", "64", "--max-prompt-length", "32", "--json")
        rel = tmp / "release"
        step("release", "release", "--dataset", str(ds), "--version", "1.0.0", "--out", str(rel), "--results",
             "--allow-unreviewed", "--date", "2025-03-01", "--json")
        step("release verify", "release", "verify", str(rel), "--json")
        step("push-to-hub --dry-run", "push-to-hub", str(rel), "--repo-id", "org/bench-release", "--dry-run")
        step("push-to-hub (offline: refused)", "push-to-hub", str(rel), "--repo-id", "org/bench-release", ok=False)
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the key goes through an error path
        for debug in (False, True):
            step(f"annotate translations push (no server, debug={debug})", "annotate", "translations", "push",
                 "--dataset", str(ds), "--languages", "fr", "--api-url", dead, ok=False, debug=debug)
        step("version", "--version")
        step("help", "--help")
        auth = {"translate": set(translate.auth_headers), "generate": set(generate.auth_headers),
                "judge": set(judging.auth_headers), "careless": set(careless.auth_headers)}

    patterns = leak_patterns()
    leaks: list[str] = []
    for label, proc in procs:
        leaks += find_leaks(f"{label} stdout", proc.stdout, patterns)
        leaks += find_leaks(f"{label} stderr", proc.stderr, patterns)
    files = [p for p in tmp.rglob("*") if p.is_file()]
    for path in files:
        leaks += find_leaks(str(path.relative_to(tmp)), path.read_bytes(), patterns)
    if (ws / "bench.duckdb").exists():
        leaks += find_leaks("store (SQL dump)", dump_store(ws / "bench.duckdb"), patterns)
    return {"commands": len(procs), "files": len(files), "leaks": leaks, "failures": failures, "auth": auth,
            "procs": procs}


def test_no_command_leaks_a_token(tmp_path):
    result = run_every_command(tmp_path)
    assert not result["failures"], result["failures"]
    assert not result["leaks"], result["leaks"]
    assert result["commands"] >= 20 and result["files"] >= 15
    openai_key, bench_key = SENTINELS["OPENAI_API_KEY"], SENTINELS["BENCH_OPENAI_API_KEY"]
    # the keys were really sent (as the Authorization header, and nowhere else)
    assert result["auth"]["translate"] == {f"Bearer {openai_key}"}
    assert result["auth"]["generate"] == {f"Bearer {openai_key}"}
    assert result["auth"]["judge"] == {f"Bearer {bench_key}"}
    assert result["auth"]["careless"] == {f"Bearer {openai_key}"}
    procs = dict(result["procs"])
    for label in ("build-dataset (401 echoing the key, debug=False)", "build-dataset (401 echoing the key, debug=True)"):
        proc = procs[label]
        assert proc.returncode == 2 and "401" in proc.stderr
    assert len(procs["build-dataset (401 echoing the key, debug=False)"].stderr.strip().splitlines()) == 1
    assert "Traceback" in procs["build-dataset (401 echoing the key, debug=True)"].stderr
    assert "***" in procs["build-dataset (401 echoing the key, debug=False)"].stderr  # redacted, not dropped
    # the release stage ran for real: the release folder (with the store's results) verified, the dry run found
    # the token without showing it, and the real push stopped at the offline guard (token loaded, not used)
    assert (tmp_path / "release" / "MANIFEST.json").is_file() and (tmp_path / "release" / "responses").is_dir()
    assert "token: found" in procs["push-to-hub --dry-run"].stdout
    assert "HF_HUB_OFFLINE" in procs["push-to-hub (offline: refused)"].stderr
    # the Argilla key went through the "not reachable" path: one line, or the traceback with --debug
    for debug in (False, True):
        proc = procs[f"annotate translations push (no server, debug={debug})"]
        assert proc.returncode == 2 and "Argilla server not reachable at http://127.0.0.1:" in proc.stderr
        assert ("Traceback" in proc.stderr) == debug, proc.stderr
    assert len(procs["annotate translations push (no server, debug=False)"].stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_dpo_leaks_no_token(tmp_path, tiny_base_lm_dir):
    result = run_every_command(tmp_path, dpo_model=tiny_base_lm_dir)
    assert not result["failures"], result["failures"]
    assert not result["leaks"], result["leaks"]
    assert (tmp_path / "dpo-model" / "config.json").is_file()
