"""Scores from a local judge's next-token probabilities (issue 15 item 1) and the judge's provenance (item 5).

A real tiny chat model (``tiny_causal_lm_dir``) is driven through ``bench baselines judge``; the stored
distributions, expected scores, argmax, entropy and mass are checked against each other, batched scoring
against one item at a time, prompt reuse against full rows, and text mode against probs mode (cache and
names kept apart).
"""
from __future__ import annotations

import json
import math

import pytest

from bench.workspace import Workspace
from baselines.judging.judge import judge_responses
from baselines.judging.prob_scoring import ScoreDistribution, score_prefix
from baselines.judging.report import JudgeStopped
from tests.helpers import run_main
from tests.test_judge import add_responses, judgements


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("BENCH_NO_PROGRESS", "1")


def distributions(ws: Workspace, judge: str) -> dict[tuple[str, str], list[float]]:
    return {(r["response_id"], r["aspect"]): r["score_distribution"] for r in ws.store.query_dicts(
        "SELECT response_id, aspect, score_distribution FROM judgements WHERE judge = ?", [judge])}


def test_distribution_math():
    d = ScoreDistribution.from_raw([0.01, 0.01, 0.02, 0.04, 0.02])
    assert math.isclose(sum(d.probs), 1.0, abs_tol=1e-12) and math.isclose(d.mass, 0.1)
    assert math.isclose(d.expected, (1 * 1 + 2 * 1 + 3 * 2 + 4 * 4 + 5 * 2) / 10)
    assert d.argmax == 4
    assert ScoreDistribution.from_raw([0.2] * 5).argmax == 1  # a tie: the lower score
    assert math.isclose(ScoreDistribution.from_raw([0.2] * 5).entropy, math.log(5))
    assert ScoreDistribution.from_raw([0, 0, 1, 0, 0]).entropy == 0.0
    assert ScoreDistribution.from_raw([0.0] * 5) is None and ScoreDistribution.from_raw([math.nan] * 5) is None
    assert score_prefix("depth") == '{"depth": {"score":'


def test_cli_probs_scoring_stores_distributions_and_provenance(tmp_path, tiny_causal_lm_dir):
    ws_dir = tmp_path / "ws"
    ws = Workspace(ws_dir)
    rows = add_responses(ws, 8)  # multi-aspect and safety items, en/fr/es
    ws.close()
    res = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", f"hf:{tiny_causal_lm_dir}",
                   "--batch-size", "4", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["scoring"] == "probs" and report["judged"] == 8 and report["parse_failures"] == 0
    assert report["repairs"] == 0 and report["completion_tokens"] == 0
    ws = Workspace(ws_dir)
    judge = f"hf:{tiny_causal_lm_dir.name}"
    got = judgements(ws, judge)
    assert set(got) == {r["response_id"] for r in rows}
    cells = 0
    for r in rows:
        aspects = ("safety",) if r["category"] == "safety" else (
            "helpfulness", "clarity", "factuality", "depth", "engagement")
        assert set(got[r["response_id"]]) == set(aspects)
        for row in got[r["response_id"]].values():
            cells += 1
            dist = row["score_distribution"]
            assert row["scoring"] == "probs" and row["error"] is None and len(dist) == 5
            assert all(p >= 0 for p in dist) and abs(sum(dist) - 1) <= 1e-6
            assert 1 <= row["score"] <= 5 and math.isclose(row["score"], sum(k * p for k, p in zip(range(1, 6), dist)))
            assert row["score_argmax"] == 1 + dist.index(max(dist))
            assert 0 <= row["score_entropy"] <= math.log(5) + 1e-9
            assert math.isclose(row["score_entropy"], -sum(p * math.log(p) for p in dist if p > 0), rel_tol=1e-9)
            assert 0 < row["score_mass"] <= 1
    assert cells == 6 * 5 + 2 * 1  # six multi-aspect items, two safety items
    calls = ws.store.query_dicts("SELECT scoring, error, parsed FROM judge_calls WHERE judge = ?", [judge])
    assert len(calls) == 8 and {c["scoring"] for c in calls} == {"probs"} and {c["error"] for c in calls} == {None}
    # provenance: the settings the judge ran with, in the store (public model name, no local path)
    settings = ws.store.query_dicts("SELECT settings FROM judge_settings WHERE judge = ?", [judge])
    assert len(settings) == 1
    s = json.loads(settings[0]["settings"])
    assert s["backend"] == "hf" and s["model"] == tiny_causal_lm_dir.name and s["scoring"] == "probs"
    assert s["dtype"] == "float32" and s["device"] == "cpu" and s["prompt_version"] == "bench-judge-v1"
    assert s["fingerprint"].startswith("sha256:") and s["scoring_version"] == "probs-v1"
    assert str(tiny_causal_lm_dir.parent) not in settings[0]["settings"]
    run = ws.store.query_dicts("SELECT params FROM runs WHERE command = 'baselines judge'")[0]
    assert json.loads(run["params"])["settings"] == s
    # a rerun takes nothing; judgements rebuilt from the cache keep their distributions exactly
    before = distributions(ws, judge)
    with ws.store.transaction() as con:
        con.execute("DELETE FROM judgements")
    again = judge_responses(ws, f"hf:{tiny_causal_lm_dir}", batch_size=4, device="cpu")
    assert again.judged == 8 and again.from_cache == 8 and again.requests == 0
    assert distributions(ws, judge) == before
    ws.close()


def test_batched_equals_one_at_a_time_and_prompt_reuse_equals_full_rows(tmp_path, tiny_causal_lm_dir, monkeypatch):
    import baselines.judging.local_judge as local_judge

    spec = f"hf:{tiny_causal_lm_dir}"
    runs = {}
    for label, batch, reuse in (("batched", 8, True), ("single", 1, True), ("full-rows", 8, False)):
        monkeypatch.setattr(local_judge, "_full_attention_only", lambda config, reuse=reuse: reuse)
        ws = Workspace(tmp_path / label)
        add_responses(ws, 8, instructions=[f"Question {i}: " + "tell me more. " * i for i in range(8)])
        report = judge_responses(ws, spec, batch_size=batch, device="cpu")
        assert report.judged == 8 and report.requests == 8
        runs[label] = distributions(ws, f"hf:{tiny_causal_lm_dir.name}")
        ws.close()
    assert len(runs["batched"]) == 2 * 1 + 6 * 5
    for label in ("single", "full-rows"):
        assert runs[label].keys() == runs["batched"].keys()
        for key, dist in runs["batched"].items():
            assert max(abs(a - b) for a, b in zip(dist, runs[label][key])) <= 1e-5, (label, key)


def test_text_mode_still_works_and_modes_never_mix(tmp_path, tiny_causal_lm_dir):
    ws = Workspace(tmp_path / "ws")
    rows = add_responses(ws, 4, categories=["safety"] * 4)
    spec = f"hf:{tiny_causal_lm_dir}"
    # the random model writes no readable score: the text run stores its parse failures and "fails"
    with pytest.raises(JudgeStopped, match="no usable score") as info:
        judge_responses(ws, spec, judge_name="t", scoring="text", max_tokens=4, batch_size=4, device="cpu",
                        repair_attempts=0, max_parse_failure_rate=1.0)
    text = info.value.report
    assert text.scoring == "text" and text.judged == 4 and text.parse_failures == 4  # text path: generated, parsed
    stored = judgements(ws, "t")
    assert {row["scoring"] for r in rows for row in stored[r["response_id"]].values()} == {"text"}
    assert all(row["score_distribution"] is None for r in rows for row in stored[r["response_id"]].values())
    text_calls = {r["prompt_hash"] for r in ws.store.query_dicts(
        "SELECT prompt_hash FROM judge_calls WHERE judge = 't' AND scoring = 'text' AND raw IS NOT NULL")}
    assert len(text_calls) == 4
    # the same name in probs mode is refused (its scores would mix with text-parsed ones)
    with pytest.raises(Exception, match="already holds judgements scored with 'text'.*--scoring text"):
        judge_responses(ws, spec, judge_name="t", device="cpu")
    # under the same name the judge_calls cache keys differ by mode: probs never reads a text answer
    with ws.store.transaction() as con:
        con.execute("DELETE FROM judgements WHERE judge = 't'")
    probs = judge_responses(ws, spec, judge_name="t", device="cpu", batch_size=4)
    assert probs.scoring == "probs" and probs.from_cache == 0 and probs.judged == 4 and probs.parse_failures == 0
    prob_calls = {r["prompt_hash"] for r in ws.store.query_dicts(
        "SELECT prompt_hash FROM judge_calls WHERE judge = 't' AND scoring = 'probs'")}
    assert len(prob_calls) == 4 and not prob_calls & text_calls
    assert len(ws.store.query("SELECT DISTINCT settings_hash FROM judge_settings WHERE judge = 't'")) == 2
    ws.close()


def test_scoring_mode_errors_in_one_line():
    """A backend asked for a mode it cannot do fails in one line naming the backend and the modes it has
    (every shipped backend now does both; openai: reads probabilities from server logprobs)."""
    from baselines.judging.prob_scoring import resolve_scoring
    from bench.errors import BenchError

    with pytest.raises(BenchError, match=r"judge x: scoring 'probs' is not available for this backend "
                                         r"\(available: text, or auto\)"):
        resolve_scoring("probs", ("text",), "text", "x")
    assert resolve_scoring("auto", ("text", "probs"), "text", "openai:m") == "text"


def test_prompt_keys_values_are_reused_only_for_full_attention_models():
    from transformers import Gemma3TextConfig, LlamaConfig

    from baselines.judging.local_judge import _full_attention_only

    assert _full_attention_only(LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                            intermediate_size=64, vocab_size=64))
    gemma = Gemma3TextConfig(num_hidden_layers=3, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                             head_dim=8, intermediate_size=64, vocab_size=64, sliding_window=16,
                             layer_types=["sliding_attention", "full_attention", "sliding_attention"])
    assert not _full_attention_only(gemma)  # a sliding window: every prompt + suffix is one full row


def test_system_prompt_keys_values_are_computed_once_per_prompt_and_change_nothing(tiny_causal_lm_dir):
    """The judge's system prompt (one per protocol and language) runs once; every item then runs only its own
    tokens on those keys/values, and the scores equal a full prefill's."""
    from baselines.judging.local_judge import LocalJudge
    from baselines.judging.prompts import aspects_for, build_judge_messages

    items = []
    for lang in ("en", "fr"):
        for protocol in ("multi-aspect", "safety"):
            for i in range(3):
                messages = build_judge_messages(f"Question {i}: " + "more. " * (3 * i), f"Answer {i}. " * (i + 1),
                                                protocol, lang)
                items.append((messages, aspects_for(protocol)))
    reused = LocalJudge(f"hf:{tiny_causal_lm_dir}", device="cpu", batch_size=8)
    full = LocalJudge(f"hf:{tiny_causal_lm_dir}", device="cpu", batch_size=8, prefix_reuse=False)
    widths = {"reused": [], "full": []}
    for name, judge in (("reused", reused), ("full", full)):
        forward = judge.model.forward
        judge.model.forward = (lambda f, w: lambda *a, **k: (w.append(k["input_ids"].shape[1]), f(*a, **k))[1])(
            forward, widths[name])
    with_prefix, without = reused.score_batch(items), full.score_batch(items)
    # with reuse, only the 4 system prompts run at full width; every other pass (each group's prompts, then the
    # score suffixes) runs under half the narrowest full prompt pass
    full_prompts = sorted(widths["full"], reverse=True)[:4]
    assert sorted(widths["reused"], reverse=True)[4] < min(full_prompts) / 2
    assert reused._prefixes.forward_calls == 4            # 2 languages x 2 protocols, each computed once
    assert reused._system_prefix_len(items[0][0][0]["content"], [reused.tokenizer.encode("x")] * 2) == 0
    for a, b in zip(with_prefix, without):
        assert a.scores.keys() == b.scores.keys()
        for aspect in a.scores:
            assert max(abs(x - y) for x, y in zip(a.scores[aspect].probs, b.scores[aspect].probs)) <= 1e-5
    again = reused.score_batch(items[:3])                 # a later batch reuses the kept prefix
    assert reused._prefixes.forward_calls == 4 and again[0].scores == with_prefix[0].scores
