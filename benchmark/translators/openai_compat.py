"""``openai:<model>@<base_url>``: translation by any OpenAI-compatible chat server.

Examples: ``openai:gpt-4o-mini`` (api.openai.com, key from ``$OPENAI_API_KEY``),
``openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1`` (vLLM, ``transformers serve``,
llama.cpp; no key needed).
"""
from __future__ import annotations

import json
from typing import Sequence

from bench.errors import BenchError
from bench.openai_client import ChatClient, ChatFailure, parse_openai_spec
from benchmark.translators.base import Translator
from benchmark.translators.prompts import PROMPT_VERSION, chat_messages, clean_output


class OpenAITranslator(Translator):
    """Sends ``prompts.chat_messages`` to a chat server and applies ``prompts.clean_output``.

    Requests of one batch run concurrently (``concurrency`` in flight) and each is retried on its
    own by ``bench.openai_client.ChatClient`` (429 with Retry-After, 5xx, timeouts, dropped
    connections, malformed JSON).

    Failure policy: the builder's contract is one string per input, so ``translate_batch`` either
    returns every translation or raises a ``BenchError`` naming how many items of the batch failed
    and the first reason. The builder has already committed every earlier batch, so a failure loses
    at most one batch (``batch_size``, default 32 = 4 x the default concurrency); the translations
    that did succeed in the failed batch are kept in memory and are not requested again by a later
    call on the same translator. Callers that prefer partial results use ``translate_outcomes``,
    which never raises for a failed item and returns ``str | ChatFailure`` per input.

    ``cache_key`` names model, server, prompt version and generation parameters, never the key.
    """

    unit = "segment"

    def __init__(self, spec: str, target: str, *, batch_size: int | None = None, cache_dir: str | None = None,
                 concurrency: int = 8, max_tokens: int | None = None, temperature: float = 0.0,
                 max_retries: int = 6, timeout: float = 60, api_key: str | None = None):
        super().__init__(spec)
        self.model, self.base_url = parse_openai_spec(target)
        self.batch_size = int(batch_size) if batch_size else max(32, 4 * concurrency)
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self._params: dict[str, object] = {"temperature": self.temperature}
        if max_tokens is not None:
            self._params["max_tokens"] = int(max_tokens)
        self.client = ChatClient(self.model, self.base_url, api_key=api_key, concurrency=concurrency,
                                 max_retries=max_retries, timeout=timeout)
        self._done: dict[tuple[str, str, str], str] = {}  # (src, tgt, text) -> translation, this process only

    @property
    def cache_key(self) -> str:
        params = json.dumps({"temperature": self.temperature, "max_tokens": self.max_tokens},
                            sort_keys=True, separators=(",", ":"))
        return f"openai:{self.model}@{self.base_url}:{PROMPT_VERSION}:{params}"

    @property
    def system_name(self) -> str:
        return f"openai:{self.model}"

    def translate_outcomes(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str | ChatFailure]:
        """One ``str`` (cleaned translation) or ``ChatFailure`` per input, same order; never raises per item."""
        out: list[str | ChatFailure | None] = [None] * len(texts)
        todo: list[int] = []
        for i, text in enumerate(texts):
            hit = self._done.get((source_lang, target_lang, text))
            if hit is not None:
                out[i] = hit
            elif not text.strip():
                out[i] = text  # nothing to translate: keep whitespace-only input as it is
            else:
                todo.append(i)
        messages = [chat_messages(texts[i], source_lang, target_lang) for i in todo]
        for j, outcome in self.client.iter_complete(messages, **self._params):
            i = todo[j]
            if isinstance(outcome, ChatFailure):
                out[i] = outcome
            else:
                out[i] = clean_output(outcome.text, source_lang)
                self._done[(source_lang, target_lang, texts[i])] = out[i]  # type: ignore[assignment]
        return out  # type: ignore[return-value]

    def translate_batch(self, texts: Sequence[str], source_lang: str, target_lang: str,
                        ids: Sequence[str] | None = None) -> list[str]:
        outcomes = self.translate_outcomes(texts, source_lang, target_lang)
        failures = [o for o in outcomes if isinstance(o, ChatFailure)]
        if failures:
            raise BenchError(
                f"{self.spec}: {len(failures)} of {len(texts)} translations failed "
                f"({source_lang}->{target_lang}); first failure after {failures[0].attempts} attempt(s): "
                f"{failures[0].reason}")
        return [o for o in outcomes if isinstance(o, str)]

    def close(self) -> None:
        self.client.close()
