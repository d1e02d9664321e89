"""Loopback servers for tests: a real ``transformers serve`` model server and a fault-injecting proxy.

* ``transformers_server(model_dir)`` starts ``transformers serve <local dir>`` (offline, CPU) on
  127.0.0.1 with a free port in its own process group, waits for ``/health`` and stops it afterwards
  (SIGTERM, then SIGKILL of the whole group).
* ``FaultProxy`` is a stdlib ``ThreadingHTTPServer`` in a thread. It answers a seeded fraction of
  ``POST .../chat/completions`` with an injected fault (429 with/without Retry-After, 500, 503,
  dropped connection, a hang past the client timeout, malformed or truncated JSON, ...) and forwards
  the others to ``upstream`` (the real server), or, with no upstream, answers them itself with a
  deterministic echo "translation" (or the text of an optional ``responder(body)``). It counts every
  request, every injected fault by kind and the peak number of requests in flight.

Fault decisions are reproducible regardless of thread scheduling: the n-th time a given request
body is seen, the decision is drawn from ``Random(f"{seed}:{sha256(body)}:{n}")``.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

# -------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_tiny_chat_model(out_dir: str | Path) -> Path:
    """A tiny random Llama with a byte-level BPE tokenizer and a ChatML template (seconds on CPU).

    Uses ``bench.testing.tiny_models.build_tiny_causal_lm`` when the project has it."""
    out = Path(out_dir)
    try:
        from bench.testing.tiny_models import build_tiny_causal_lm  # type: ignore[import-not-found]
    except ImportError:
        build_tiny_causal_lm = None
    if build_tiny_causal_lm is not None:
        result = build_tiny_causal_lm(out, chat_template=True)
        return Path(result) if isinstance(result, (str, Path)) else out

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = ["Write a short poem about the sea.", "You are a professional translator. Translate the text.",
              "Écris un court poème sur la mer.", "Escribe un poema corto sobre el mar.", "hello world"]
    tok.train_from_iterator(corpus * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|im_end|>",
                                   unk_token="<unk>", pad_token="<unk>")
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out


def wait_ready(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s:\n{tail}")


# -------------------------------------------------------------------------- real model server


@dataclass
class LocalServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the model id requests must name (the local path)
    startup_s: float
    proc: subprocess.Popen
    log: Path


def _transformers_cli() -> list[str]:
    exe = Path(sys.executable).with_name("transformers")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.argv[0]='transformers'; main()"]


def serving_available() -> bool:
    try:
        from transformers.utils.import_utils import is_serve_available

        return bool(is_serve_available())
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def transformers_server(model_dir: str | Path, *, startup_timeout: float = 120, log_dir: str | Path | None = None,
                        extra_args: tuple[str, ...] = ()) -> Iterator[LocalServer]:
    """``transformers serve <model_dir>`` on 127.0.0.1:<free port>, offline, CPU; stopped on exit."""
    model = str(Path(model_dir).resolve())
    log = Path(log_dir or model_dir).resolve() / f"serve-{os.getpid()}-{time.monotonic_ns()}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    last_error: Exception | None = None
    for _ in range(3):  # a free port can be taken between probe and bind: retry with another one
        port = free_port()
        cmd = [*_transformers_cli(), "serve", model, "--host", "127.0.0.1", "--port", str(port),
               "--device", "cpu", "--log-level", "warning", *extra_args]
        started = time.monotonic()
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", startup_timeout, proc, log)
        except (RuntimeError, TimeoutError) as exc:
            _stop(proc)
            last_error = exc
            if "address already in use" in str(exc).lower():
                continue
            raise
        try:
            yield LocalServer(f"http://127.0.0.1:{port}/v1", model, time.monotonic() - started, proc, log)
        finally:
            _stop(proc)
        return
    raise RuntimeError(f"could not start transformers serve: {last_error}")


def _stop(proc: subprocess.Popen, grace: float = 5) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(grace)


# -------------------------------------------------------------------------- fault-injecting proxy

# retryable kinds (the client must retry them)
RETRYABLE_FAULTS = ("429", "429_retry_after", "429_retry_after_ms", "500", "503", "drop", "timeout",
                    "malformed", "truncated", "wrong_schema")
# what the client's usage.reasons should call each kind
FAULT_CATEGORY = {"429": "http_429", "429_retry_after": "http_429", "429_retry_after_ms": "http_429",
                  "500": "http_500", "503": "http_503", "drop": "connection", "timeout": "timeout",
                  "malformed": "bad_response", "truncated": "bad_response", "wrong_schema": "bad_response",
                  "400": "http_400", "401": "http_401", "401_echo_key": "http_401", "404": "http_404"}


def echo_translation(body: dict) -> str:
    """Deterministic stand-in translation: ``[<target language>] <user text>``."""
    messages = body.get("messages") or []
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    match = re.search(r"into (\w+)\.", system or "")
    return f"[{match.group(1) if match else 'echo'}] {user}"


class FaultProxy:
    """Loopback OpenAI-compatible endpoint that injects faults and forwards (or echoes) the rest.

    ``fault_rate``: probability that one request gets a fault, drawn among ``faults``.
    ``plan``: optional ``(body, n_seen) -> kind | None`` that overrides the random draw.
    ``delay_s``: sleep before answering each forwarded/echoed request (concurrency tests).
    ``hang_s``: how long a ``timeout`` fault sleeps before closing (set it past the client timeout).
    ``responder``: optional ``(request body) -> assistant text`` used instead of the echo "translation"
    when there is no upstream (e.g. a scripted LLM judge answering JSON).
    """

    def __init__(self, upstream: str | None = None, *, fault_rate: float = 0.0,
                 faults: tuple[str, ...] = RETRYABLE_FAULTS, seed: int = 0, delay_s: float = 0.0,
                 hang_s: float = 3.0, retry_after: str = "0", retry_after_ms: str = "20",
                 plan: Callable[[dict, int], str | None] | None = None, model: str = "echo",
                 responder: Callable[[dict], str] | None = None):
        unknown = set(faults) - set(FAULT_CATEGORY)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.upstream = urlsplit(upstream) if upstream else None
        self.fault_rate, self.faults, self.seed = fault_rate, tuple(faults), seed
        self.delay_s, self.hang_s = delay_s, hang_s
        self.retry_after, self.retry_after_ms = retry_after, retry_after_ms
        self.plan, self.model = plan, model
        self.responder = responder
        self.lock = threading.Lock()
        self.requests = 0  # chat completion requests received
        self.passed = 0  # answered normally (forwarded or echoed)
        self.injected: Counter[str] = Counter()
        self.inflight = 0
        self.max_inflight = 0
        self.auth_headers: set[str] = set()
        self._seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FaultProxy":
        handler = type("Handler", (_Handler,), {"proxy": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counts(self) -> None:
        with self.lock:
            self.requests = self.passed = self.inflight = self.max_inflight = 0
            self.injected.clear()

    @property
    def injected_total(self) -> int:
        return sum(self.injected.values())

    # -- decisions
    def decide(self, raw: bytes, body: dict) -> str | None:
        digest = hashlib.sha256(raw).hexdigest()
        with self.lock:
            n = self._seen[digest]
            self._seen[digest] += 1
        if self.plan is not None:
            return self.plan(body, n)
        rng = random.Random(f"{self.seed}:{digest}:{n}")
        if rng.random() < self.fault_rate:
            return rng.choice(self.faults)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) drops SYNs under a burst of connections


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass

    # -- plumbing
    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, *, length: int | None = None,
              close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, obj: object, headers: dict[str, str] | None = None, close: bool = False) -> None:
        self._send(status, json.dumps(obj).encode(), headers, close=close)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routes
    def do_GET(self) -> None:  # noqa: N802
        p = self.proxy
        if p.upstream is not None:
            status, headers, body = self._forward("GET", b"")
            self._send(status, body, headers)
        elif self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": p.model, "object": "model", "owned_by": "test"}]})
        elif self.path.rstrip("/").endswith("/health"):
            self._send_json(200, {"status": "ok"})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        p = self.proxy
        raw = self._read_body()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        with p.lock:
            p.requests += 1
            p.inflight += 1
            p.max_inflight = max(p.max_inflight, p.inflight)
            auth = self.headers.get("Authorization")
            if auth:
                p.auth_headers.add(auth)
        try:
            kind = p.decide(raw, body)
            if kind is not None:
                with p.lock:
                    p.injected[kind] += 1
                self._fault(kind, body)
                return
            if p.delay_s:
                time.sleep(p.delay_s)
            if p.upstream is not None:
                status, headers, payload = self._forward("POST", raw)
            else:
                status, headers, payload = 200, {}, json.dumps(self._echo(body)).encode()
            with p.lock:
                p.passed += 1
            self._send(status, payload, headers)
        finally:
            with p.lock:
                p.inflight -= 1

    def _echo(self, body: dict) -> dict:
        responder = self.proxy.responder
        text = responder(body) if responder is not None else echo_translation(body)
        return {"id": "chatcmpl-echo", "object": "chat.completion", "created": 0, "model": body.get("model", "echo"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": len(json.dumps(body.get("messages", []))) // 4,
                          "completion_tokens": max(1, len(text) // 4),
                          "total_tokens": len(json.dumps(body.get("messages", []))) // 4 + max(1, len(text) // 4)}}

    def _forward(self, method: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        up = self.proxy.upstream
        assert up is not None
        path = self.path
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        try:
            headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            conn.request(method, path, body=raw or None, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, {}, payload
        except OSError as exc:
            return 502, {}, json.dumps({"error": {"message": f"upstream: {type(exc).__name__}"}}).encode()
        finally:
            conn.close()

    def _fault(self, kind: str, body: dict) -> None:
        p = self.proxy
        err = lambda msg, typ: {"error": {"message": msg, "type": typ, "code": None}}  # noqa: E731
        if kind == "429":
            self._send_json(429, err("Rate limit reached (injected)", "rate_limit_exceeded"))
        elif kind == "429_retry_after":
            self._send_json(429, err("Rate limit reached (injected)", "rate_limit_exceeded"),
                            {"Retry-After": p.retry_after})
        elif kind == "429_retry_after_ms":
            self._send_json(429, err("Rate limit reached (injected)", "rate_limit_exceeded"),
                            {"retry-after-ms": p.retry_after_ms})
        elif kind in ("500", "503"):
            self._send_json(int(kind), err(f"injected {kind}", "server_error"))
        elif kind in ("400", "404"):
            self._send_json(int(kind), err(f"injected {kind}", "invalid_request_error"))
        elif kind == "401":
            self._send_json(401, err("Incorrect API key provided.", "invalid_request_error"))
        elif kind == "401_echo_key":  # a careless server quoting the credential back
            auth = self.headers.get("Authorization", "")
            self._send_json(401, err(f"Incorrect API key provided: {auth.removeprefix('Bearer ')} ({auth})",
                                     "invalid_request_error"))
        elif kind == "drop":
            self.close_connection = True  # read the request, answer nothing, close
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif kind == "timeout":
            p._stop.wait(p.hang_s)
            self.close_connection = True
        elif kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-x", "object": "chat.completion", "choices": [}', close=True)
        elif kind == "truncated":
            full = json.dumps(self._echo(body)).encode()
            self._send(200, full[: len(full) // 2], close=True)
        elif kind == "wrong_schema":
            self._send_json(200, {"object": "chat.completion", "result": "no choices here"}, close=True)
        else:  # pragma: no cover - guarded in __init__
            raise ValueError(kind)
