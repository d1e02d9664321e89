"""``hf:<hub id or path>`` (or ``llm:``) judge: a local causal LM with a chat template, batched greedy decoding.

A thin adapter of the language-model layer (:mod:`bench.models`, :mod:`bench.chat`,
:mod:`bench.decoding`) to the :class:`JudgeBackend` interface: no server, one batch at a time.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Sequence

from bench.chat import encode_rendered_chat, has_chat_template, render_chat
from bench.decoding import context_length, eos_token_ids, generate_greedy
from bench.errors import BenchError
from bench.models import (
    empty_cuda_cache,
    length_sorted_batches,
    load_causal_lm,
    load_config,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
    resolve_model,
)
from bench.openai_client import ChatFailure, ChatResult
from baselines.judging.backends import DEFAULT_MAX_TOKENS, JudgeBackend, Outcome
from baselines.judging.naming import judge_name


class LocalJudge(JudgeBackend):
    """A local causal LM with a chat template (Hub id, folder or .gguf), batched greedy decoding.

    Named ``hf:<hub id>``, or ``hf:<last path component>`` for a local folder or file (never the user's
    absolute path; give ``--name`` to tell two local models of the same folder name apart)."""

    def __init__(self, spec: str, *, batch_size: int = 8, max_tokens: int | None = DEFAULT_MAX_TOKENS,
                 device: str = "auto", dtype: str = "auto", cache_dir: str | Path | None = None):
        if batch_size < 1:
            raise BenchError(f"batch size must be >= 1, got {batch_size}")
        self.spec = spec
        prefix, sep, rest = spec.partition(":")
        target = rest if sep and prefix in ("hf", "llm") else spec  # llm: is an alias of hf: (one judge name)
        self.cache_dir = str(cache_dir) if cache_dir else None
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.ref = resolve_model(target, cache_dir=self.cache_dir)
        self.config = load_config(self.ref, cache_dir=self.cache_dir)
        self.tokenizer = load_tokenizer(self.ref, padding_side="left", cache_dir=self.cache_dir)
        if not has_chat_template(self.tokenizer):
            raise BenchError(f"judge model '{self.ref.ref}' has no chat template (a judge must be a chat model)")
        if self.tokenizer.pad_token_id is None:
            raise BenchError(f"judge model '{self.ref.ref}': tokenizer has neither a pad nor an eos token")
        self.max_new_tokens = int(max_tokens or DEFAULT_MAX_TOKENS)
        self.name = judge_name(f"hf:{self.ref.ref}")
        self.workers = 1
        self.chunk_size = batch_size
        self._model: Any = None
        self._generations = 0
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return {"backend": "hf", "fingerprint": self.ref.fingerprint, "decoding": "greedy",
                "max_new_tokens": self.max_new_tokens}

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model, _ = load_causal_lm(self.ref, dtype=self.dtype, device=self.device, cache_dir=self.cache_dir)
        return self._model

    def complete_batch(self, batch: Sequence[list[dict]]) -> list[Outcome]:
        start = time.monotonic()
        tok = self.tokenizer
        out: list[Outcome | None] = [None] * len(batch)
        context = context_length(self.config)
        todo: list[int] = []
        encoded: dict[int, list[int]] = {}
        for i, messages in enumerate(batch):
            # templates without a system role get the system text in the first user turn
            ids = encode_rendered_chat(tok, render_chat(tok, list(messages)))
            if context is not None and len(ids) >= context:
                out[i] = ChatFailure(reason=f"prompt of {len(ids)} tokens exceeds the model's context length {context}",
                                     attempts=1, latency_s=0.0, retryable=False)
            else:
                encoded[i] = ids
                todo.append(i)
        if todo:
            model = self.model
            eos = eos_token_ids(model, tok, end_of_turn=True)
            eos_set = set(eos)
            lengths = [len(encoded[i]) for i in todo]
            for group in length_sorted_batches(lengths, len(todo)):
                idx = [todo[g] for g in group]
                limit = self.max_new_tokens
                if context is not None:
                    limit = min(limit, context - max(len(encoded[i]) for i in idx))
                try:
                    rows = generate_greedy(model, tok, [encoded[i] for i in idx], max_new_tokens=limit, eos_ids=eos)
                except Exception as exc:  # noqa: BLE001 - e.g. out of memory: these items fail, the run goes on
                    reason = f"generation error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                    for i in idx:
                        out[i] = ChatFailure(reason=reason, attempts=1, latency_s=time.monotonic() - start)
                    continue
                for new, i in zip(rows, idx):
                    n, finish = len(new), "length"
                    for k, t in enumerate(new):
                        if t in eos_set:
                            n, finish = k, "stop"
                            break
                    text = tok.decode(new[:n], skip_special_tokens=True, clean_up_tokenization_spaces=False)
                    out[i] = ChatResult(text=text.strip(), finish_reason=finish, prompt_tokens=len(encoded[i]),
                                        completion_tokens=n + (1 if finish == "stop" else 0), attempts=1,
                                        latency_s=time.monotonic() - start)
            with self._lock:
                self._generations += len(todo)
        return out  # type: ignore[return-value]

    def requests_sent(self) -> int:
        with self._lock:
            return self._generations

    def close(self) -> None:
        if self._model is not None:
            device = getattr(self._model, "device", "cpu")
            self._model = None
            empty_cuda_cache(device)
