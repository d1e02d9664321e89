"""``openai:<model>@<base_url>`` generation backend: an OpenAI-compatible server.

Chat messages go through :class:`bench.openai_client.ChatClient` (bounded pool, retries); text
prompts go to the ``/completions`` endpoint (vLLM, llama.cpp and TGI serve it; ``transformers
serve`` only serves chat completions, so base-model methods fail there with a one-line error
naming the endpoint). ``repetition_penalty`` != 1 is sent as ``extra_body`` (a vLLM extension).
"""
from __future__ import annotations

import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Iterator, Sequence

from baselines.generation.generators import (
    FinishReason,
    Generation,
    GenerationFailure,
    GenerationParams,
    Generator,
    Outcome,
    Prompt,
    is_chat,
    token_limits,
)


class OpenAIGenerator(Generator):
    """``openai:<model>@<base_url>``: chat messages via ChatClient, text prompts via ``/completions``."""

    supports_prefix_cache = False

    def __init__(self, spec: str, *, concurrency: int = 8, timeout: float = 120, max_retries: int = 6,
                 api_key: str | None = None):
        from bench.openai_client import ChatClient, parse_openai_spec, resolve_api_key

        self.model_name, self.base_url = parse_openai_spec(spec)
        self.backend = f"openai:{self.model_name}@{self.base_url}"
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.client = ChatClient(self.model_name, self.base_url, api_key=api_key, concurrency=concurrency,
                                 max_retries=max_retries, timeout=timeout)
        self._api_key = resolve_api_key(self.base_url, api_key)
        self._completions: Any = None

    def render(self, prompt: Prompt) -> str:
        import json

        return prompt if isinstance(prompt, str) else json.dumps(list(prompt), ensure_ascii=False)

    @staticmethod
    def _request_params(params: GenerationParams, limit: int) -> dict[str, Any]:
        out: dict[str, Any] = {"max_tokens": limit, "temperature": params.temperature}
        if not params.greedy:
            out.update(top_p=params.top_p, seed=params.seed)
        if params.stop:
            out["stop"] = list(params.stop)
        if params.repetition_penalty != 1.0:
            out["extra_body"] = {"repetition_penalty": params.repetition_penalty}
        return out

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        limits = token_limits(len(prompts), params, max_new_tokens)
        groups: dict[tuple[bool, int], list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault((is_chat(prompt), limits[i]), []).append(i)
        for (chat, limit), indices in groups.items():
            request = self._request_params(params, limit)
            if chat:
                for k, outcome in self.client.iter_complete([list(prompts[i]) for i in indices], **request):
                    if outcome.ok:
                        finish: FinishReason = "length" if outcome.finish_reason == "length" else "stop"
                        yield [indices[k]], [Generation(outcome.text, finish, outcome.prompt_tokens,
                                                        outcome.completion_tokens, outcome.latency_s)]
                    else:
                        yield [indices[k]], [GenerationFailure(outcome.reason, outcome.latency_s)]
            else:
                yield from self._complete_texts([prompts[i] for i in indices], indices, request)  # type: ignore[misc]

    def _client(self) -> Any:
        if self._completions is None:
            import openai

            self._completions = openai.OpenAI(api_key=self._api_key, base_url=self.base_url, timeout=self.timeout,
                                              max_retries=0)
        return self._completions

    def _complete_one(self, prompt: str, request: dict[str, Any]) -> Outcome:
        import openai

        client = self._client()
        start = time.monotonic()
        for attempt in range(self.max_retries + 1):
            try:
                resp = client.completions.create(model=self.model_name, prompt=prompt, **request)
                choice = resp.choices[0]
                usage = getattr(resp, "usage", None)
                finish: FinishReason = "length" if choice.finish_reason == "length" else "stop"
                return Generation(choice.text or "", finish, int(getattr(usage, "prompt_tokens", 0) or 0),
                                  int(getattr(usage, "completion_tokens", 0) or 0), time.monotonic() - start)
            except openai.NotFoundError:
                return GenerationFailure(
                    f"{self.base_url}: no /completions endpoint for model '{self.model_name}' (transformers serve "
                    "only serves chat completions): use backend transformers or vllm for zero-shot/urial",
                    time.monotonic() - start)
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                reason = f"{type(exc).__name__}"
            except openai.APIStatusError as exc:
                return GenerationFailure(f"HTTP {exc.status_code} from {self.base_url}/completions",
                                         time.monotonic() - start)
            except (AttributeError, IndexError, TypeError) as exc:
                reason = f"bad response ({type(exc).__name__})"
            if attempt < self.max_retries:
                time.sleep(min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random() / 2))
        return GenerationFailure(f"{reason} after {self.max_retries + 1} attempts", time.monotonic() - start)

    def _complete_texts(self, texts: list[str], indices: list[int], request: dict[str, Any]
                        ) -> Iterator[tuple[list[int], list[Outcome]]]:
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts)), thread_name_prefix="complete")
        try:
            futures = {pool.submit(self._complete_one, text, request): k for k, text in enumerate(texts)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    yield [indices[futures[fut]]], [fut.result()]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.client.close()
        if self._completions is not None:
            self._completions.close()
