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


def test_scan_with_a_judge_stores_reviewed_checks_apart_and_the_leaderboard_reads_them(tmp_path):
    from baselines.errors.critical_errors import DETECTOR_VERSION
    from baselines.leaderboard.queries import error_rate_rows
    from bench.workspace import Workspace

    ws_dir = tmp_path / "ws"
    ws = Workspace(ws_dir)
    answers = {"weak": ("How do I list files?", "You can list the files with this command:", "stop"),
               "firm": ("Tell me a story.", "Once upon a time... (truncated)", "stop"),
               "fine": ("Say hi.", "Hi!", "stop")}
    with ws.store.transaction() as con:
        for i, (kind, (instruction, output, finish)) in enumerate(answers.items()):
            con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                        "category, output, finish_reason) VALUES (?, 'k', 'm', 'urial', 'en', ?, ?, 'regular', ?, ?)",
                        [kind, str(i), instruction, output, finish])
    ws.close()
    with FaultProxy(responder=_judge, model="judge") as proxy:
        plain = run_main("--workspace", str(ws_dir), "errors", "scan")
        assert plain.exit_code == 0 and proxy.requests == 0
        reviewed = run_main("--workspace", str(ws_dir), "errors", "scan", "--judge", f"openai:judge@{proxy.base_url}")
        assert reviewed.exit_code == 0, reviewed.output
        assert proxy.requests == 1 and "1 rejected" in reviewed.stderr
        again = run_main("--workspace", str(ws_dir), "errors", "scan", "--judge", f"openai:judge@{proxy.base_url}")
        assert again.exit_code == 0 and proxy.requests == 1          # every response already checked so
    ws = Workspace(ws_dir)
    checks = {(r, v): list(labels) for r, v, labels in ws.store.query(
        "SELECT response_id, detector_version, labels FROM critical_error_checks")}
    versions = {v for _, v in checks}
    [judged] = versions - {DETECTOR_VERSION}
    assert judged.startswith(f"{DETECTOR_VERSION}+so-v1:openai:judge")
    assert checks[("weak", DETECTOR_VERSION)] == ["truncated"] and checks[("weak", judged)] == []
    assert checks[("firm", judged)] == ["truncated"] and checks[("fine", judged)] == []
    assert error_rate_rows(ws.store)[0]["err_truncated"] == 1 / 3   # the reviewed (latest) checks
    ws.close()


def _qa_judge(body: dict) -> str:
    """Says 'no' to every repetition question, 'yes' to the rest."""
    text = body["messages"][-1]["content"]
    return "No" if "Error 'repetition'" in text else "Yes."


def test_qa_translations_judge_reviews_uncertain_flags_only(tmp_path):
    from benchmark.qa.evidence import FIRM
    from benchmark.qa.second_opinion import translation_question

    messages = translation_question(("Say hi.", "x" * 10_000, "fr"), "truncated")
    assert "Translation (French)" in messages[-1]["content"] and len(messages[-1]["content"]) < 4_000
    rows = [
        # a doubled phrase (a heuristic, scored under ASK_BELOW): asked, and the judge says no
        {"id": "a", "source": "Describe a sunset on the beach.",
         "translation": "Describe una puesta de sol en la playa en la playa.", "target_lang": "es"},
        # the whole translation left in English (firm): never asked
        {"id": "b", "source": "Write a short story about a robot who learns to paint.",
         "translation": "Write a short story about a robot who learns to paint.", "target_lang": "fr"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ws = tmp_path / "ws"
    plain = run_main("--workspace", str(ws), "qa", "translations", "--input", str(src), "--out", str(tmp_path / "p.jsonl"))
    assert plain.exit_code == 0, plain.output
    got = {r["id"]: r for r in map(json.loads, (tmp_path / "p.jsonl").read_text().splitlines())}
    assert got["a"]["qa_flags"] == ["repetition"] and got["a"]["qa_scores"]["repetition"] < ASK_BELOW
    assert got["a"]["qa_spans"]["repetition"] == [27, 38]  # 'en la playa', where the evidence points
    assert got["b"]["qa_flags"] == ["untranslated"] and got["b"]["qa_scores"]["untranslated"] >= FIRM
    with FaultProxy(responder=_qa_judge, model="judge") as proxy:
        spec = f"openai:judge@{proxy.base_url}"
        first = run_main("--workspace", str(ws), "qa", "translations", "--input", str(src), "--out",
                         str(tmp_path / "j.jsonl"), "--judge", spec)
        assert first.exit_code == 0, first.output
        assert proxy.requests == 1 and "1 rejected" in first.stderr
        got = {r["id"]: r for r in map(json.loads, (tmp_path / "j.jsonl").read_text().splitlines())}
        assert got["a"]["qa_flags"] == [] and got["a"]["qa_scores"] == {}
        assert got["b"]["qa_flags"] == ["untranslated"]
        again = run_main("--workspace", str(ws), "qa", "translations", "--input", str(src), "--out",
                         str(tmp_path / "k.jsonl"), "--judge", spec)
        assert again.exit_code == 0 and proxy.requests == 1 and "1 from cache" in again.stderr
