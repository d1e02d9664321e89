"""The optional second opinion on uncertain critical-error findings (baselines/errors/second_opinion.py),
through the real OpenAI-compatible client against a loopback server whose replies are scripted."""
from __future__ import annotations

import json

from baselines.errors.second_opinion import ASK_BELOW, question, verdict
from tests.helpers import run_main
from tests.servers import FaultProxy


def _judge(body: dict) -> str:
    """Says 'no' to every truncation question, 'yes' to the rest."""
    text = body["messages"][-1]["content"]
    return "No." if "Critical error 'truncated'" in text else "Yes"


def test_verdict_and_question():
    assert verdict("Yes.") is True and verdict("no, it is complete") is False and verdict("Oui") is True
    assert verdict("Maybe") is None and verdict("") is None
    messages = question("Dis bonjour.", "x" * 10_000, "truncated")
    assert len(messages[-1]["content"]) < 4_000 and "Critical error 'truncated'" in messages[-1]["content"]


def test_judge_rejects_uncertain_findings_only_and_is_cached(tmp_path):
    rows = [
        # an announcement that never comes (weak truncation, scored under ASK_BELOW): asked, rejected
        {"id": "a", "instruction": "How do I list files?", "output": "You can list the files with this command:",
         "lang": "en", "finish_reason": "stop"},
        # a firm finding (a truncation marker, 0.9): never asked
        {"id": "b", "instruction": "Tell me a story.", "output": "Once upon a time... (truncated)", "lang": "en"},
        {"id": "c", "instruction": "Say hi.", "output": "Hi!", "lang": "en"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ws = tmp_path / "ws"
    with FaultProxy(responder=_judge, model="judge") as proxy:
        spec = f"openai:judge@{proxy.base_url}"
        plain = run_main("--workspace", str(ws), "errors", "detect", "--input", str(src), "--out", str(tmp_path / "p.jsonl"))
        assert plain.exit_code == 0 and proxy.requests == 0
        got = {r["id"]: r for r in map(json.loads, (tmp_path / "p.jsonl").read_text().splitlines())}
        assert got["a"]["critical_errors"] == ["truncated"] and got["b"]["critical_errors"] == ["truncated"]
        assert got["a"]["critical_error_evidence"][0]["score"] < ASK_BELOW <= got["b"]["critical_error_evidence"][0]["score"]

        first = run_main("--workspace", str(ws), "errors", "detect", "--input", str(src), "--out",
                         str(tmp_path / "j.jsonl"), "--judge", spec)
        assert first.exit_code == 0, first.output
        assert proxy.requests == 1 and "1 rejected" in first.stderr
        got = {r["id"]: r for r in map(json.loads, (tmp_path / "j.jsonl").read_text().splitlines())}
        assert got["a"]["critical_errors"] == [] and got["b"]["critical_errors"] == ["truncated"]

        again = run_main("--workspace", str(ws), "errors", "detect", "--input", str(src), "--out",
                         str(tmp_path / "k.jsonl"), "--judge", spec)
        assert again.exit_code == 0 and proxy.requests == 1 and "1 from cache" in again.stderr
