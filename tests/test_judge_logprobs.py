"""Probability scoring through an OpenAI-compatible server (``openai:`` judge, ``--scoring probs``).

`transformers serve` ignores ``logprobs`` (its handler lists them as unused fields), and vLLM needs a GPU, so the
server here is a small stand-in written for the test that does what vLLM does with the same request: it renders
the chat with the model's own template (``continue_final_message``, ``add_generation_prompt``), runs a real tiny
model greedily and returns each generated token's top alternatives. The judge's scores through it must equal the
local judge's (:class:`~baselines.judging.local_judge.LocalJudge`) on the same model; a server that sends no
logprobs fails in one line.
"""
from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from baselines.judging.prob_scoring import distribution_from_logprobs
from bench.workspace import Workspace
from tests.test_judge import add_responses
from tests.test_judge_probs import distributions


class LogprobServer:
    """``/v1/chat/completions`` over a real local model: greedy, ``max_tokens`` tokens, top logprobs on request."""

    def __init__(self, model_dir, *, send_logprobs: bool = True):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.send_logprobs = send_logprobs
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # silence
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                payload = json.dumps(server.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def answer(self, body: dict) -> dict:
        torch = self.torch
        with self.lock:
            self.bodies.append(body)
            text = self.tok.apply_chat_template(body["messages"], tokenize=False,
                                                add_generation_prompt=body.get("add_generation_prompt", True),
                                                continue_final_message=body.get("continue_final_message", False))
            ids = self.tok(text, add_special_tokens=False)["input_ids"]
            content, generated = [], []
            with torch.inference_mode():
                for _ in range(int(body.get("max_tokens") or 1)):
                    logits = self.model(input_ids=torch.tensor([ids + generated])).logits[0, -1].float()
                    logprobs = torch.log_softmax(logits, dim=-1)
                    top = torch.topk(logprobs, int(body.get("top_logprobs") or 1))
                    token = int(torch.argmax(logprobs))
                    generated.append(token)
                    content.append({"token": self.tok.decode([token]), "logprob": float(logprobs[token]),
                                    "top_logprobs": [{"token": self.tok.decode([int(i)]), "logprob": float(v)}
                                                     for v, i in zip(top.values, top.indices)]})
        choice = {"index": 0, "finish_reason": "length",
                  "message": {"role": "assistant", "content": self.tok.decode(generated)}}
        if body.get("logprobs") and self.send_logprobs:
            choice["logprobs"] = {"content": content}
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice],
                "usage": {"prompt_tokens": len(ids), "completion_tokens": len(generated),
                          "total_tokens": len(ids) + len(generated)}}

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("BENCH_NO_PROGRESS", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def test_digits_are_read_from_the_first_token_or_after_a_space():
    first = distribution_from_logprobs([(" 4", ((" 4", math.log(0.5)), ("4", math.log(0.1)), (" 2", math.log(0.2)),
                                                ("the", math.log(0.1))))])
    assert first is not None and first.probs == pytest.approx((0, 0.25, 0, 0.75, 0))
    assert first.mass == pytest.approx(0.8)
    after_space = distribution_from_logprobs([(" ", ((" ", -0.1), ("\n", -3.0))),
                                              ("5", (("5", math.log(0.3)), ("1", math.log(0.1))))])
    assert after_space is not None and after_space.probs == pytest.approx((0.25, 0, 0, 0, 0.75))
    assert distribution_from_logprobs([("Great", (("Great", -0.1), ("Good", -2.0)))]) is None
    assert distribution_from_logprobs([]) is None


def test_openai_judge_scores_from_server_logprobs_like_the_local_judge(tmp_path, tiny_causal_lm_dir, monkeypatch):
    """All five digits among the alternatives (top_logprobs = the tiny vocabulary): the server path's
    distributions equal the local judge's on the same model; the request continues the score prefix."""
    import baselines.judging.backends as backends
    from baselines.judging.judge import judge_responses

    monkeypatch.setitem(backends.PROBS_REQUEST, "top_logprobs", 512)  # a 512-token vocabulary: every token
    server = LogprobServer(tiny_causal_lm_dir)
    try:
        runs = {}
        for label, spec in (("server", f"openai:tiny@{server.url}"), ("local", f"hf:{tiny_causal_lm_dir}")):
            ws = Workspace(tmp_path / label)
            add_responses(ws, 4, instructions=[f"Question {i}: " + "tell me more. " * i for i in range(4)])
            report = judge_responses(ws, spec, scoring="probs", concurrency=2, device="cpu")
            assert report.judged == 4 and report.failed == 0 and report.scoring == "probs", report
            judge = ws.store.query("SELECT DISTINCT judge FROM judgements")[0][0]
            runs[label] = distributions(ws, judge)
            ws.close()
    finally:
        server.close()
    assert runs["server"].keys() == runs["local"].keys() and len(runs["server"]) == 1 + 3 * 5
    for key, dist in runs["local"].items():
        assert sum(runs["server"][key]) == pytest.approx(1.0)
        assert max(abs(a - b) for a, b in zip(dist, runs["server"][key])) <= 1e-4, key
    body = server.bodies[0]
    assert body["messages"][-1]["role"] == "assistant" and body["messages"][-1]["content"].endswith('"score":')
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["logprobs"] is True and body["max_tokens"] == 2


def test_a_server_without_logprobs_fails_in_one_line(tmp_path, tiny_causal_lm_dir):
    from baselines.judging.judge import judge_responses
    from baselines.judging.report import JudgeStopped

    server = LogprobServer(tiny_causal_lm_dir, send_logprobs=False)
    try:
        ws = Workspace(tmp_path / "ws")
        add_responses(ws, 3)
        with pytest.raises(JudgeStopped, match="sent no logprobs: this server cannot score by probability; "
                                               "use --scoring text"):
            judge_responses(ws, f"openai:tiny@{server.url}", scoring="probs", concurrency=1)
        ws.close()
    finally:
        server.close()
