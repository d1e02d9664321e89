"""Judge backends: the interface a judge run talks to, and the OpenAI-compatible judge.

A backend turns chat messages into answers (:class:`ChatResult`) or failed items
(:class:`ChatFailure`); the local model judge is :class:`baselines.judging.local_judge.LocalJudge`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from bench.openai_client import ChatClient, ChatError, ChatFailure, ChatResult, parse_openai_spec

DEFAULT_MAX_TOKENS = 1024

Outcome = ChatResult | ChatFailure


class JudgeBackend:
    """Turns chat messages into judge answers.

    ``workers`` tasks run at once, each of up to ``chunk_size`` requests; ``complete_batch`` returns one
    :class:`ChatResult` or :class:`ChatFailure` per request and never raises for one bad item.
    """

    spec: str
    name: str  # default judge name (judgements.judge)
    workers: int = 1
    chunk_size: int = 1

    def identity(self) -> dict[str, Any]:
        """What, besides the messages, decides the answer (enters the prompt hash)."""
        raise NotImplementedError

    def complete_batch(self, batch: Sequence[list[dict]]) -> list[Outcome]:
        raise NotImplementedError

    def requests_sent(self) -> int:
        return 0

    def close(self) -> None:
        pass


class OpenAIJudge(JudgeBackend):
    """``openai:<model>[@<base_url>]`` through :class:`ChatClient` (temperature 0)."""

    def __init__(self, spec: str, *, concurrency: int = 16, max_tokens: int | None = DEFAULT_MAX_TOKENS,
                 client_options: Mapping[str, Any] | None = None):
        self.spec = spec
        self.model, self.base_url = parse_openai_spec(spec)
        self.params: dict[str, Any] = {"temperature": 0.0}
        if max_tokens:
            self.params["max_tokens"] = int(max_tokens)
        options = dict(client_options or {})
        options.setdefault("timeout", 120)
        self.client = ChatClient(self.model, self.base_url, concurrency=concurrency, default_params=self.params,
                                 **options)
        default = "https://api.openai.com/v1"
        self.name = f"openai:{self.model}" + ("" if self.base_url == default else f"@{self.base_url}")
        self.workers = concurrency
        self.chunk_size = 1

    def identity(self) -> dict[str, Any]:
        # the base URL is left out: the same model behind another address answers the same
        return {"backend": "openai", "model": self.model, "params": self.params}

    def complete_batch(self, batch: Sequence[list[dict]]) -> list[Outcome]:
        out: list[Outcome] = []
        for messages in batch:
            try:
                out.append(self.client.complete(messages))
            except ChatError as exc:  # retries exhausted or a fail-fast status: one failed item
                out.append(exc.failure)
        return out

    def requests_sent(self) -> int:
        return self.client.usage.requests

    def close(self) -> None:
        self.client.close()
