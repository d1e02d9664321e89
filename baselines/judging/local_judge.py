"""``hf:<hub id or path>`` (or ``llm:``) judge: a local causal LM with a chat template.

A thin adapter of the language-model layer (:mod:`bench.models`, :mod:`bench.chat`,
:mod:`bench.decoding`) to the :class:`JudgeBackend` interface: no server, one batch at a time. Two
scoring modes: ``probs`` (the default: scores read from the next-token distribution,
:mod:`baselines.judging.prob_scoring`; one forward pass over a batch's prompts, whose keys and values
then serve the short score prefix of every aspect; the system prompt, the same for every item of one
protocol and language, is run once and its keys and values reused, as the URIAL prefix is in
generation: :mod:`baselines.generation.prefix_cache`) and ``text`` (batched greedy generation of the JSON
answer, parsed by :mod:`baselines.judging.parse`).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from bench.chat import encode_rendered_chat, has_chat_template, render_chat
from bench.decoding import context_length, eos_token_ids, generate_greedy, next_token_probs
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
from bench.public_names import public_name
from baselines.judging.backends import DEFAULT_MAX_TOKENS, JudgeBackend, Outcome
from baselines.judging.naming import judge_name
from baselines.judging.parse import MULTI_ASPECTS, SAFETY_ASPECTS
from baselines.generation.prefix_cache import PrefixCache, shared_prefix_ids_len
from baselines.judging.prob_scoring import ScoredResult, ScoreTokens, resolve_scoring

PREFIX_ENTRIES = 8  # system prompts kept: 2 protocols x en, fr, es (+ room)


class LocalJudge(JudgeBackend):
    """A local causal LM with a chat template (Hub id, folder or .gguf): scores from probabilities
    (``scoring='probs'``, the default) or batched greedy decoding of the JSON answer (``'text'``).

    Named ``hf:<hub id>``, or ``hf:<last path component>`` for a local folder or file (never the user's
    absolute path; give ``--name`` to tell two local models of the same folder name apart)."""

    def __init__(self, spec: str, *, batch_size: int = 8, max_tokens: int | None = DEFAULT_MAX_TOKENS,
                 device: str = "auto", dtype: str = "auto", cache_dir: str | Path | None = None,
                 scoring: str = "auto", prefix_reuse: bool = True):
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
        self.scoring = resolve_scoring(scoring, ("probs", "text"), "probs", self.name)
        self.prefix_reuse = prefix_reuse
        self._prefix_cache: PrefixCache | None = None
        self._system_ids: dict[str, list[int]] = {}  # system prompt -> its rendered token ids
        self.score_tokens: ScoreTokens | None = None
        if self.scoring == "probs":
            probe = render_chat(self.tokenizer, [{"role": "user", "content": "?"}])
            self.score_tokens = ScoreTokens(self.tokenizer, lambda text: encode_rendered_chat(self.tokenizer, text),
                                            probe, MULTI_ASPECTS + SAFETY_ASPECTS)

    def identity(self) -> dict[str, Any]:
        if self.score_tokens is not None:  # the score position's tokens and the scoring version
            tokens = json.dumps(self.score_tokens.fingerprint(), sort_keys=True)
            return {"backend": "hf", "fingerprint": self.ref.fingerprint, "scoring": "probs",
                    "score_tokens": hashlib.sha256(tokens.encode()).hexdigest()[:16]}
        return {"backend": "hf", "fingerprint": self.ref.fingerprint, "decoding": "greedy",
                "max_new_tokens": self.max_new_tokens}

    def settings(self) -> dict[str, Any]:
        out = {"backend": "hf", "model": public_name(self.name.partition(":")[2]), "kind": self.ref.kind,
               "revision": self.ref.revision, "fingerprint": self.ref.fingerprint, "dtype": self.dtype,
               "device": self.device, "scoring": self.scoring}
        if self.scoring == "text":
            out["max_tokens"] = self.max_new_tokens
        else:
            out["scoring_version"] = self.score_tokens.fingerprint()["version"] if self.score_tokens else None
        return out

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
                    _fail(out, idx, "generation", exc, start)
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

    def score_batch(self, batch: Sequence[tuple[list[dict], Sequence[str]]]) -> list[Outcome | ScoredResult]:
        """Scores from probabilities for ``(messages, aspects)`` items: one forward pass per group of items with
        the same aspects (their prompts once, then each aspect's score prefix on their keys and values)."""
        assert self.score_tokens is not None, "score_batch needs scoring='probs'"
        start = time.monotonic()
        tok, tokens = self.tokenizer, self.score_tokens
        out: list[Outcome | ScoredResult | None] = [None] * len(batch)
        context = context_length(self.config)
        groups: dict[tuple[tuple[str, ...], str], list[int]] = {}  # (aspects, system prompt) -> items
        encoded: dict[int, list[int]] = {}
        for i, (messages, aspects) in enumerate(batch):
            ids = encode_rendered_chat(tok, render_chat(tok, list(messages)))
            longest = max(len(tokens.suffixes[a]) for a in aspects) + 1
            if context is not None and len(ids) + longest > context:
                out[i] = ChatFailure(reason=f"prompt of {len(ids)} tokens exceeds the model's context length {context}",
                                     attempts=1, latency_s=0.0, retryable=False)
                continue
            encoded[i] = ids
            system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
            groups.setdefault((tuple(aspects), system), []).append(i)
        if groups:
            model = self.model
            reuse = _full_attention_only(self.config)
            for (aspects, system), idx in groups.items():
                suffixes = [tokens.suffixes[a] for a in aspects]
                prompts = [encoded[i] for i in idx]
                prefix_len = self._system_prefix_len(system, prompts) if reuse and self.prefix_reuse else 0
                try:
                    probs = next_token_probs(model, tok, prompts, suffixes, tokens.flat, reuse_prompt=reuse,
                                             prefix_cache=self._prefixes if prefix_len else None,
                                             prefix_len=prefix_len)
                except Exception as exc:  # noqa: BLE001 - e.g. out of memory: these items fail, the run goes on
                    _fail(out, idx, "scoring", exc, start)
                    continue
                for i, rows in zip(idx, probs):
                    dists = tokens.distributions(rows)
                    out[i] = ScoredResult(dict(zip(aspects, dists)), prompt_tokens=len(encoded[i]),
                                          latency_s=time.monotonic() - start)
            with self._lock:
                self._generations += len(encoded)
        return out  # type: ignore[return-value]

    @property
    def _prefixes(self) -> PrefixCache:
        if self._prefix_cache is None:
            self._prefix_cache = PrefixCache(self.model, entries=PREFIX_ENTRIES)
        return self._prefix_cache

    def _system_prefix_len(self, system: str, prompts: Sequence[list[int]]) -> int:
        """Tokens every prompt of a group shares with the rendered system prompt (0: too few to reuse)."""
        if not system:
            return 0
        ids = self._system_ids.get(system)
        if ids is None:
            text = render_chat(self.tokenizer, [{"role": "system", "content": system}, {"role": "user", "content": ""}])
            ids = self._system_ids[system] = encode_rendered_chat(self.tokenizer, text)
        return shared_prefix_ids_len(ids, prompts)

    def forget_prefixes(self) -> None:
        """Drop the system prompts' keys/values (each is computed again on next use; benchmarks)."""
        if self._prefix_cache is not None:
            self._prefix_cache.clear()

    def requests_sent(self) -> int:
        with self._lock:
            return self._generations

    def close(self) -> None:
        if self._model is not None:
            device = getattr(self._model, "device", "cpu")
            self._model = None
            if self._prefix_cache is not None:
                self._prefix_cache.close()
                self._prefix_cache = None
            empty_cuda_cache(device)


def _fail(out: list, idx: Sequence[int], stage: str, exc: Exception, start: float) -> None:
    """Mark the items of one failed batch as failed (one line: the stage and the exception), not the run."""
    reason = f"{stage} error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    for i in idx:
        out[i] = ChatFailure(reason=reason, attempts=1, latency_s=time.monotonic() - start)


def _full_attention_only(config: Any) -> bool:
    """Whether every layer attends to the whole context (a prompt's keys/values then serve several suffixes)."""
    from baselines.generation.prefix_cache import cache_layer_windows

    windows = cache_layer_windows(config)
    return windows is not None and all(w is None for w in windows)
