"""A loopback OpenAI-compatible chat server for the speed scripts: fixed latency, scripted replies.

``start_chat_server(latency_s, reply)`` answers every ``POST .../chat/completions`` after ``latency_s``
with ``reply(request body)``; it counts requests and the peak number in flight. It stands for a judge
whose own speed is not what the script measures (the client, the concurrency, the caching are).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def start_chat_server(latency_s: float, reply: Callable[[dict], str]) -> tuple[_Server, dict]:
    """Start the server in a thread; returns it (``server.server_address``) and its live counters."""
    stats = {"requests": 0, "inflight": 0, "max_inflight": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with lock:
                stats["requests"] += 1
                stats["inflight"] += 1
                stats["max_inflight"] = max(stats["max_inflight"], stats["inflight"])
            try:
                time.sleep(latency_s)
                payload = json.dumps({
                    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply(body)}}],
                    "usage": {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                with lock:
                    stats["inflight"] -= 1

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, stats
