"""Judge backends: the interface a judge run talks to, and the OpenAI-compatible judge.

A backend turns chat messages into answers (:class:`ChatResult`) or failed items
(:class:`ChatFailure`); the local model judge is :class:`baselines.judging.local_judge.LocalJudge`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from bench.openai_client import DEFAULT_BASE_URL, ChatClient, ChatError, ChatFailure, ChatResult, parse_openai_spec
from baselines.judging.naming import endpoint_tag, judge_name
from baselines.judging.prob_scoring import (SCORING_VERSION, ScoredResult, distribution_from_logprobs, resolve_scoring,
                                            score_prefix)

DEFAULT_MAX_TOKENS = 1024

Outcome = ChatResult | ChatFailure
# An OpenAI-compatible judge scored by probability: continue the score prefix (vLLM's chat-template options) and
# return the top alternatives of two tokens (the digit, or a space and then the digit), deterministically.
PROBS_REQUEST: dict[str, Any] = {
    "max_tokens": 2, "temperature": 0.0, "logprobs": True, "top_logprobs": 20,
    "extra_body": {"continue_final_message": True, "add_generation_prompt": False},
}


class JudgeBackend:
    """Turns chat messages into judge answers.

    ``workers`` tasks run at once, each of up to ``chunk_size`` requests; ``complete_batch`` returns one
    :class:`ChatResult` or :class:`ChatFailure` per request and never raises for one bad item.
    ``scoring``: ``text`` (answers are parsed) or ``probs`` (``score_batch`` reads the scores from the
    judge's next-token distribution: :mod:`baselines.judging.prob_scoring`).
    """

    spec: str
    name: str  # default judge name (judgements.judge): baselines.judging.naming.judge_name of the spec
    workers: int = 1
    chunk_size: int = 1
    scoring: str = "text"

    def identity(self) -> dict[str, Any]:
        """What, besides the messages, decides the answer (enters the prompt hash)."""
        raise NotImplementedError

    def complete_batch(self, batch: Sequence[list[dict]]) -> list[Outcome]:
        raise NotImplementedError

    def score_batch(self, batch: Sequence[tuple[list[dict], Sequence[str]]]) -> list[Any]:
        """``(messages, aspects)`` items -> one ``ScoredResult`` or :class:`ChatFailure` each (``probs`` scoring)."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The judge's settings for provenance (store and results card): public names only, no credentials."""
        return {"backend": type(self).__name__, "scoring": self.scoring}

    def requests_sent(self) -> int:
        return 0

    def close(self) -> None:
        pass


class OpenAIJudge(JudgeBackend):
    """``openai:<model>[@<base_url>]`` through :class:`ChatClient` (temperature 0).

    Named ``openai:<model>`` (the hosted API) or ``openai:<model>@<base_url>`` without credentials, query
    string or a loopback port (:func:`baselines.judging.naming.judge_name`)."""

    def __init__(self, spec: str, *, concurrency: int = 16, max_tokens: int | None = DEFAULT_MAX_TOKENS,
                 client_options: Mapping[str, Any] | None = None, scoring: str = "auto"):
        self.spec = spec
        self.model, self.base_url = parse_openai_spec(spec)
        self.params: dict[str, Any] = {"temperature": 0.0}
        if max_tokens:
            self.params["max_tokens"] = int(max_tokens)
        options = dict(client_options or {})
        options.setdefault("timeout", 120)
        self.client = ChatClient(self.model, self.base_url, concurrency=concurrency, default_params=self.params,
                                 **options)
        self.name = judge_name(f"openai:{self.model}" + ("" if self.base_url == DEFAULT_BASE_URL
                                                          else f"@{self.base_url}"))
        self._endpoint = endpoint_tag(self.base_url)
        self.workers = concurrency
        self.chunk_size = 1
        self.scoring = resolve_scoring(scoring, ("text", "probs"), "text", self.name)

    def identity(self) -> dict[str, Any]:
        # the base URL is left out: the same model behind another address answers the same (the name
        # holds the host); what the name hides (credentials, a query string) enters as a hash
        identity: dict[str, Any] = {"backend": "openai", "model": self.model, "params": self.params}
        if self.scoring == "probs":  # the request decides the scores, not the text-mode params
            identity.update(scoring=SCORING_VERSION, params=PROBS_REQUEST)
        if self._endpoint:
            identity["endpoint"] = self._endpoint
        return identity

    def score_batch(self, batch: Sequence[tuple[list[dict], Sequence[str]]]) -> list[Outcome | ScoredResult]:
        """Scores from the server's logprobs: per item and aspect, one request that continues the score prefix
        (:mod:`baselines.judging.prob_scoring`). A server that sends no logprobs fails the item in one line."""
        out: list[Outcome | ScoredResult] = []
        for messages, aspects in batch:
            scores, prompt_tokens, attempts, latency, failure = {}, 0, 0, 0.0, None
            for aspect in aspects:
                request = list(messages) + [{"role": "assistant", "content": score_prefix(aspect)}]
                try:
                    result = self.client.complete(request, **PROBS_REQUEST)
                except ChatError as exc:
                    failure = exc.failure
                    break
                prompt_tokens += result.prompt_tokens
                attempts += result.attempts
                latency += result.latency_s
                if result.logprobs is None:
                    failure = ChatFailure(reason=f"{self.name} sent no logprobs: this server cannot score by "
                                                 "probability; use --scoring text", attempts=attempts,
                                          latency_s=latency, retryable=False, kind="no_logprobs")
                    break
                scores[aspect] = distribution_from_logprobs(result.logprobs)
            out.append(failure if failure is not None else
                       ScoredResult(scores, prompt_tokens=prompt_tokens, attempts=attempts, latency_s=latency))
        return out

    def settings(self) -> dict[str, Any]:
        if self.scoring == "probs":
            return {"backend": "openai", "model": self.name.partition(":")[2], "scoring": "probs",
                    "scoring_version": SCORING_VERSION, "top_logprobs": PROBS_REQUEST["top_logprobs"]}
        return {"backend": "openai", "model": self.name.partition(":")[2], "scoring": self.scoring,
                "temperature": self.params.get("temperature"), "max_tokens": self.params.get("max_tokens")}

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
