"""Generation backends behind one interface: ``Generator.generate(prompts, params) -> list[Generation]``.

A prompt is either a **text** (sent as is: base-model prompts, zero-shot and URIAL) or a list of
chat **messages** (rendered by the model's own chat template, or by the server for ``openai``).

Backends
--------
``transformers`` (:class:`TransformersGenerator`, tested here)
    Batched greedy decoding (sampling when ``temperature > 0``) over length-sorted, left-padded
    batches; every decoding setting comes from :class:`GenerationParams` (the model's own
    ``generation_config`` defaults, e.g. a repetition penalty or top-k, never leak in; only its EOS
    ids are used). Per-prompt token limits (``max_new_tokens``, capped by the context length) are
    honoured in a batch by generating up to the largest and cutting each row to its own limit, so
    a greedy batch gives exactly what one prompt at a time gives. Stop sequences are passed to
    ``generate(stop_strings=...)`` and the text is cut again before the first stop sequence
    (``finish_reason="stop"``); a row that reaches its limit ends with ``finish_reason="length"``.
    ``repetition_penalty`` is applied by a processor that ignores padding positions (the
    built-in one would also penalise the pad token, often the EOS token, in padded rows only, and
    a batch would then differ from one prompt at a time).

    **Prefix KV-cache reuse** (``prefix_cache=True``, used when the caller passes
    ``shared_prefix``, e.g. all URIAL prompts of a language): the prefix is run once and its
    ``DynamicCache`` kept (a few prefixes, LRU). For a batch, the cache is copied and repeated to
    the batch size and only the suffixes are computed. Layout of one batch row::

        [prefix tokens P][pad ... pad][suffix tokens]      attention_mask = [1]*P + [0]*pad + [1]*len

    i.e. the suffixes are right-aligned *after* the shared prefix and the padding sits between the
    two, masked out. ``generate`` derives ``position_ids`` from the cumulative attention mask, so
    every real token gets the position it has without padding (prefix 0..P-1, suffix P..), and the
    masked pads are invisible to attention: the computation is the one of the unpadded prompt.
    Padding on the left of the whole row is impossible here (the cached prefix starts at position
    0 for every row), and left-padding the suffixes with positions counted from the row start
    would shift them. The prefix token ids are those of the tokenized full prompts (the longest
    common token prefix of the prefix text's encoding and every prompt), so a BPE merge across the
    prefix/suffix boundary cannot make the cached tokens differ from the uncached run. The cache is
    not used when a sliding-window layer could see past its window. Greedy outputs are identical
    with and without reuse (tests/test_generation.py checks it on a real URIAL prompt).

``openai`` (:class:`OpenAIGenerator`): ``openai:<model>@<base_url>``. Chat messages go through
    :class:`bench.openai_client.ChatClient` (bounded pool, retries); text prompts go to the
    ``/completions`` endpoint (vLLM, llama.cpp and TGI serve it; ``transformers serve`` only serves
    chat completions, so base-model methods fail there with a one-line error naming the endpoint).
    ``repetition_penalty`` != 1 is sent as ``extra_body`` (a vLLM extension).

``vllm`` (:class:`VLLMGenerator`): optional extra (``pip install '.[vllm]'``), imported lazily.
    **Untested here (no GPU in this environment).** Prompts are tokenized by the same code as the
    transformers backend and passed as token ids (so a rendered chat template's BOS is not doubled);
    ``enable_prefix_caching`` shares the URIAL prefix automatically; ``tensor_parallel_size``,
    ``data_parallel_size`` and any other engine argument are passed through to ``vllm.LLM``.

``Generation.seconds`` is the item's share of its batch's wall time (batched backends) or its own
request latency (openai).
"""
from __future__ import annotations

import copy
import logging
import os
import random
import time
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Sequence, Union

from bench.errors import BenchError
from bench.models import (
    ModelRef,
    length_sorted_batches,
    load_causal_lm,
    model_source,
    quiet_transformers,
    resolve_device,
    resolve_dtype,
    resolve_model,
)
from baselines.generation.urial import render_chat
from benchmark.translators.causal_lm import END_OF_TURN_TOKENS  # end-of-turn tokens: extra EOS ids for chat

log = logging.getLogger(__name__)

Messages = Sequence[dict[str, str]]
Prompt = Union[str, Messages]
FinishReason = Literal["stop", "length"]
MIN_PREFIX_TOKENS = 8  # shorter shared prefixes are not worth a cache
PREFIX_CACHE_ENTRIES = 4


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. ``temperature == 0`` is greedy (``top_p`` and ``seed`` then unused)."""

    max_new_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise BenchError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise BenchError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise BenchError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise BenchError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def key(self) -> dict[str, Any]:
        """What decides the outputs (run keys): sampling-only settings are left out when greedy."""
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty,
                               "stop": list(self.stop), "temperature": self.temperature}
        if not self.greedy:
            out.update(top_p=self.top_p, seed=self.seed)
        return out


@dataclass(frozen=True)
class Generation:
    """One completion. ``text_raw``: the generated text, cut before the first stop sequence (the
    stop sequence itself is not included) and without special tokens; ``completion_tokens`` counts
    the generated tokens up to and including the EOS / the tokens that completed a stop sequence."""

    text_raw: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    ok = True


@dataclass(frozen=True)
class GenerationFailure:
    """An item that could not be generated (remote backends only); nothing is stored for it."""

    reason: str
    seconds: float = 0.0
    ok = False


Outcome = Union[Generation, GenerationFailure]


class Generator:
    """One model on one backend. ``generate_iter`` yields ``(indices, outcomes)`` batch by batch so a
    caller can persist each batch as soon as it is done; ``generate`` collects everything in order."""

    backend: str = "?"
    supports_prefix_cache = False

    def generate(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                 shared_prefix: str | None = None, max_new_tokens: Sequence[int] | None = None) -> list[Generation]:
        out: list[Outcome | None] = [None] * len(prompts)
        for indices, outcomes in self.generate_iter(prompts, params, shared_prefix=shared_prefix,
                                                    max_new_tokens=max_new_tokens):
            for i, outcome in zip(indices, outcomes):
                out[i] = outcome
        failures = [o for o in out if isinstance(o, GenerationFailure)]
        if failures:
            raise BenchError(f"{self.backend}: {len(failures)} of {len(prompts)} generations failed "
                             f"(first: {failures[0].reason})")
        return out  # type: ignore[return-value]

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        raise NotImplementedError

    def render(self, prompt: Prompt) -> str:
        """The text a prompt becomes (chat messages through the chat template); remote chat: JSON."""
        raise NotImplementedError

    def chat_template_hash(self) -> str | None:
        """sha256 of the chat template used for chat prompts, None when the model has none."""
        return None

    def close(self) -> None:
        pass

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _limits(n: int, params: GenerationParams, max_new_tokens: Sequence[int] | None) -> list[int]:
    if max_new_tokens is None:
        return [params.max_new_tokens] * n
    if len(max_new_tokens) != n:
        raise BenchError(f"max_new_tokens has {len(max_new_tokens)} values for {n} prompts")
    for value in max_new_tokens:
        if value < 1:
            raise BenchError(f"max_new_tokens must be >= 1, got {value}")
    return list(max_new_tokens)


def _is_chat(prompt: Prompt) -> bool:
    return not isinstance(prompt, str)


# --------------------------------------------------------------------------- tokenization (shared)


def encode_prompt(tokenizer: Any, prompt: Prompt, model: str = "model") -> list[int]:
    """Token ids of a prompt. Text prompts get the tokenizer's special tokens (BOS where the model
    wants one) without a trailing EOS; a rendered chat template already holds its own."""
    if _is_chat(prompt):
        text = render_chat(tokenizer, list(prompt), model)  # type: ignore[arg-type]
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return encode_text(tokenizer, prompt)  # type: ignore[arg-type]


def encode_text(tokenizer: Any, text: str) -> list[int]:
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    if len(ids) > 1 and eos is not None and eos != bos and ids[-1] == eos:
        ids = ids[:-1]  # tokenizers set to append EOS would end the prompt before the answer
    return ids


def context_length(config: Any) -> int | None:
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def eos_token_ids(model: Any, tokenizer: Any, chat: bool) -> list[int]:
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        ids.extend(value if isinstance(value, (list, tuple)) else [value])
    if chat:
        specials = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {}) or {})
        for token in END_OF_TURN_TOKENS:
            if token in specials:
                idx = tokenizer.convert_tokens_to_ids(token)
                if isinstance(idx, int) and idx != tokenizer.unk_token_id:
                    ids.append(idx)
    return list(dict.fromkeys(int(i) for i in ids))


def _common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def finish_row(tokenizer: Any, tokens: Sequence[int], limit: int, eos: set[int], stops: Sequence[str]
               ) -> tuple[str, FinishReason, int]:
    """``(text_raw, finish_reason, completion_tokens)`` of one generated row (already cut to ``limit``).

    The row ends at the first EOS (counted), else at the tokens that complete the first stop
    sequence (text cut before it), else at ``limit`` (``length``)."""
    tokens = list(tokens[:limit])
    finish: FinishReason | None = None
    n = len(tokens)
    for k, tok in enumerate(tokens):
        if tok in eos:
            n, finish = k + 1, "stop"
            break
    gen = tokens[:n]
    text = tokenizer.decode(gen, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    if stops:
        hits = [i for i in (text.find(s) for s in stops) if i >= 0]
        if hits:
            cut = min(hits)
            # fewest tokens whose text already holds a stop sequence (monotone in the token count)
            lo, hi = 1, n
            while lo < hi:
                mid = (lo + hi) // 2
                piece = tokenizer.decode(gen[:mid], skip_special_tokens=True, clean_up_tokenization_spaces=False)
                if any(s in piece for s in stops):
                    hi = mid
                else:
                    lo = mid + 1
            return text[:cut], "stop", lo
    if finish is None:
        # without EOS or stop sequence a row ends at its limit (or, rarely, by a stop string that
        # straddles the prompt boundary: generation stopped early, count it as a stop)
        finish = "length" if n >= limit else "stop"
    return text, finish, n


# --------------------------------------------------------------------------- transformers


def _masked_repetition_penalty(penalty: float, prompt_mask: Any) -> Any:
    """HF's repetition penalty over the prompt and the generated tokens, ignoring padding positions
    of the prompt (``prompt_mask`` False), so padded and unpadded rows are penalised alike."""
    import torch
    from transformers import LogitsProcessor

    class MaskedRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            vocab = scores.shape[-1]
            width = prompt_mask.shape[1]
            ids = input_ids.clone()
            ids[:, :width] = ids[:, :width].masked_fill(~prompt_mask.to(ids.device), vocab)
            seen = torch.zeros((scores.shape[0], vocab + 1), dtype=torch.bool, device=scores.device)
            seen.scatter_(1, ids, True)
            penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
            return torch.where(seen[:, :vocab], penalised, scores)

    return MaskedRepetitionPenalty()


class TransformersGenerator(Generator):
    """A local causal LM (Hub id, folder or .gguf) generating with ``transformers``."""

    backend = "transformers"
    supports_prefix_cache = True

    def __init__(self, model: ModelRef | str, revision: str | None = None, *, dtype: str = "auto",
                 device: str = "auto", cache_dir: str | os.PathLike | None = None, batch_size: int = 8,
                 prefix_cache: bool = True, trust_remote_code: bool = False):
        if batch_size < 1:
            raise BenchError(f"batch size must be >= 1, got {batch_size}")
        self.ref = model if isinstance(model, ModelRef) else resolve_model(model, revision, cache_dir=cache_dir)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self.model, self.tokenizer = load_causal_lm(self.ref, dtype=self.dtype, device=self.device,
                                                    cache_dir=cache_dir, trust_remote_code=trust_remote_code)
        if getattr(self.model.config, "is_encoder_decoder", False):
            raise BenchError(f"model '{self.ref.ref}' is an encoder-decoder model; generation needs a causal LM")
        if self.tokenizer.pad_token_id is None:
            raise BenchError(f"model '{self.ref.ref}': tokenizer has neither a pad nor an eos token")
        self.context = context_length(self.model.config)
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.prefix_forward_calls = 0  # prefixes computed (tests, benchmarks)
        import inspect

        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # transformers 5.x renamed it

    # -- prompts -------------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        return prompt if isinstance(prompt, str) else render_chat(self.tokenizer, list(prompt), self.ref.ref)

    def chat_template_hash(self) -> str | None:
        from baselines.generation.urial import chat_template_hash, has_chat_template

        return chat_template_hash(self.tokenizer) if has_chat_template(self.tokenizer) else None

    def encode(self, prompt: Prompt) -> list[int]:
        return encode_prompt(self.tokenizer, prompt, self.ref.ref)

    # -- generation ----------------------------------------------------------------------------

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        if not prompts:
            return
        kinds = {_is_chat(p) for p in prompts}
        if len(kinds) > 1:
            raise BenchError("one generate call takes either text prompts or chat messages, not both")
        chat = kinds.pop()
        encoded = [self.encode(p) for p in prompts]
        limits = _limits(len(prompts), params, max_new_tokens)
        for i, ids in enumerate(encoded):
            if self.context is not None:
                if len(ids) >= self.context:
                    raise BenchError(f"model '{self.ref.ref}': prompt {i} has {len(ids)} tokens, more than its "
                                     f"context length {self.context}")
                limits[i] = min(limits[i], self.context - len(ids))
        prefix_len = self._shared_prefix_len(encoded, shared_prefix) if shared_prefix and self.prefix_cache else 0
        eos = eos_token_ids(self.model, self.tokenizer, chat)
        keys = [len(ids) - prefix_len for ids in encoded]
        for batch in length_sorted_batches(keys, self.batch_size):
            start = time.perf_counter()
            rows = self._generate_batch([encoded[j] for j in batch], [limits[j] for j in batch], params, eos,
                                        prefix_len)
            share = (time.perf_counter() - start) / len(batch)
            outcomes: list[Outcome] = []
            for j, row in zip(batch, rows):
                text, finish, n = finish_row(self.tokenizer, row, limits[j], set(eos), params.stop)
                outcomes.append(Generation(text, finish, len(encoded[j]), n, share))
            yield batch, outcomes

    def _shared_prefix_len(self, encoded: list[list[int]], shared_prefix: str) -> int:
        prefix_ids = encode_text(self.tokenizer, shared_prefix)
        n = min(_common_prefix_len(prefix_ids, ids) for ids in encoded)
        n = min(n, min(len(ids) for ids in encoded) - 1)  # every row keeps at least one token to compute
        return n if n >= MIN_PREFIX_TOKENS else 0

    def _sliding_window_ok(self, total: int) -> bool:
        config = self.model.config.get_text_config() if hasattr(self.model.config, "get_text_config") else self.model.config
        window = getattr(config, "sliding_window", None)
        layer_types = getattr(config, "layer_types", None) or []
        uses_window = window and (any("sliding" in str(t) for t in layer_types) or not layer_types)
        return not uses_window or total < window

    def _prefix_kv(self, prefix: tuple[int, ...]) -> Any:
        """The prefix's cache (computed once, kept LRU)."""
        import torch
        from transformers import DynamicCache

        cached = self._prefixes.get(prefix)
        if cached is not None:
            self._prefixes.move_to_end(prefix)
            return cached
        try:
            cache = DynamicCache(config=self.model.config)  # per-layer kinds (sliding windows) as generate makes them
        except TypeError:  # transformers < 4.56
            cache = DynamicCache()
        ids = torch.tensor([list(prefix)], device=self.model.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1,
                             **{self._cache_kw: cache})
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None) or cache
        self.prefix_forward_calls += 1
        self._prefixes[prefix] = cache
        while len(self._prefixes) > PREFIX_CACHE_ENTRIES:
            self._prefixes.popitem(last=False)
        return cache

    def _generate_batch(self, batch_ids: list[list[int]], limits: list[int], params: GenerationParams,
                        eos: list[int], prefix_len: int) -> list[list[int]]:
        import torch

        model, tok = self.model, self.tokenizer
        pad = tok.pad_token_id
        n_rows = len(batch_ids)
        cache = None
        if prefix_len and not self._sliding_window_ok(max(len(b) for b in batch_ids) + max(limits)):
            prefix_len = 0
        if prefix_len:
            prefix = tuple(batch_ids[0][:prefix_len])
            suffixes = [ids[prefix_len:] for ids in batch_ids]
            width = max(len(s) for s in suffixes)
            input_ids = torch.full((n_rows, prefix_len + width), pad, dtype=torch.long)
            mask = torch.zeros_like(input_ids)
            input_ids[:, :prefix_len] = torch.tensor(prefix, dtype=torch.long)
            mask[:, :prefix_len] = 1
            for i, suffix in enumerate(suffixes):
                input_ids[i, prefix_len + width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
                mask[i, prefix_len + width - len(suffix):] = 1
            with torch.inference_mode():
                cache = copy.deepcopy(self._prefix_kv(prefix))
                cache.batch_repeat_interleave(n_rows)
        else:
            width = max(len(ids) for ids in batch_ids)
            input_ids = torch.full((n_rows, width), pad, dtype=torch.long)
            mask = torch.zeros_like(input_ids)
            for i, ids in enumerate(batch_ids):
                input_ids[i, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
                mask[i, width - len(ids):] = 1
        input_ids, mask = input_ids.to(model.device), mask.to(model.device)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max(limits), num_beams=1, pad_token_id=pad, eos_token_id=eos or None,
            # the model's generation_config must not change the decoding: neutralise what it may set
            repetition_penalty=None, no_repeat_ngram_size=None, bad_words_ids=None, suppress_tokens=None,
            begin_suppress_tokens=None, min_length=0, min_new_tokens=None, typical_p=None, min_p=None,
            epsilon_cutoff=None, eta_cutoff=None, forced_bos_token_id=None, forced_eos_token_id=None,
            sequence_bias=None, exponential_decay_length_penalty=None, length_penalty=None,
        )
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
            torch.manual_seed(params.seed)
        if params.repetition_penalty != 1.0:
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(
                [_masked_repetition_penalty(float(params.repetition_penalty), mask.bool())])
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        if cache is not None:
            kwargs[self._cache_kw] = cache
        with torch.inference_mode(), quiet_transformers():
            out = model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        start = input_ids.shape[1]
        return [row[start:start + limit].tolist() for row, limit in zip(out, limits)]

    def close(self) -> None:
        self._prefixes.clear()
        if getattr(self, "model", None) is not None:
            device = str(self.model.device)
            self.model = None
            if device.startswith("cuda"):
                import torch

                torch.cuda.empty_cache()


# --------------------------------------------------------------------------- openai-compatible servers


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
        limits = _limits(len(prompts), params, max_new_tokens)
        groups: dict[tuple[bool, int], list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault((_is_chat(prompt), limits[i]), []).append(i)
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


# --------------------------------------------------------------------------- vLLM (untested here: needs a GPU)


class VLLMGenerator(Generator):
    """vLLM offline engine. UNTESTED IN THIS ENVIRONMENT (no GPU, vllm not installed)."""

    backend = "vllm"
    supports_prefix_cache = True  # automatic (enable_prefix_caching)

    def __init__(self, model: ModelRef | str, revision: str | None = None, *, dtype: str = "auto",
                 cache_dir: str | os.PathLike | None = None, tensor_parallel_size: int = 1,
                 data_parallel_size: int = 1, gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
                 enable_prefix_caching: bool = True, seed: int = 0, chunk_size: int = 256,
                 trust_remote_code: bool = False, engine_args: dict[str, Any] | None = None):
        try:
            import vllm
        except ImportError:
            raise BenchError("backend 'vllm' needs the vllm package: pip install '.[vllm]' (Linux with a CUDA GPU); "
                             "or use backend 'transformers'") from None
        self.ref = model if isinstance(model, ModelRef) else resolve_model(model, revision, cache_dir=cache_dir)
        path, source_kwargs = model_source(self.ref, cache_dir)
        args: dict[str, Any] = dict(model=path, tokenizer=path, dtype=dtype, seed=seed,
                                    tensor_parallel_size=tensor_parallel_size,
                                    gpu_memory_utilization=gpu_memory_utilization,
                                    enable_prefix_caching=enable_prefix_caching, trust_remote_code=trust_remote_code)
        if source_kwargs.get("revision"):
            args.update(revision=source_kwargs["revision"], tokenizer_revision=source_kwargs["revision"])
        if max_model_len:
            args["max_model_len"] = max_model_len
        if data_parallel_size > 1:
            args["data_parallel_size"] = data_parallel_size
        args.update(engine_args or {})
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.llm = vllm.LLM(**args)
        self.tokenizer = self.llm.get_tokenizer()
        self._vllm = vllm
        try:
            self.context = int(self.llm.llm_engine.model_config.max_model_len)
        except Exception:  # noqa: BLE001 - engine internals move between vLLM versions
            self.context = max_model_len

    def render(self, prompt: Prompt) -> str:
        return prompt if isinstance(prompt, str) else render_chat(self.tokenizer, list(prompt), self.ref.ref)

    def chat_template_hash(self) -> str | None:
        from baselines.generation.urial import chat_template_hash, has_chat_template

        return chat_template_hash(self.tokenizer) if has_chat_template(self.tokenizer) else None

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        if not prompts:
            return
        chat = _is_chat(prompts[0])
        encoded = [encode_prompt(self.tokenizer, p, self.ref.ref) for p in prompts]
        limits = _limits(len(prompts), params, max_new_tokens)
        if self.context:
            limits = [max(1, min(lim, self.context - len(ids))) for lim, ids in zip(limits, encoded)]
        extra_eos = eos_token_ids(_NoModel(), self.tokenizer, chat) if chat else []
        for start in range(0, len(prompts), self.chunk_size):
            chunk = list(range(start, min(start + self.chunk_size, len(prompts))))
            sampling = [self._vllm.SamplingParams(
                n=1, temperature=params.temperature, top_p=params.top_p if not params.greedy else 1.0,
                repetition_penalty=params.repetition_penalty, max_tokens=limits[j], stop=list(params.stop) or None,
                stop_token_ids=extra_eos or None, seed=None if params.greedy else params.seed,
                include_stop_str_in_output=False, skip_special_tokens=True) for j in chunk]
            t0 = time.perf_counter()
            results = self.llm.generate([{"prompt_token_ids": encoded[j]} for j in chunk], sampling, use_tqdm=False)
            share = (time.perf_counter() - t0) / len(chunk)
            outcomes: list[Outcome] = []
            for j, res in zip(chunk, results):
                out = res.outputs[0]
                finish: FinishReason = "length" if out.finish_reason == "length" else "stop"
                outcomes.append(Generation(out.text, finish, len(encoded[j]), len(out.token_ids), share))
            yield chunk, outcomes

    def close(self) -> None:
        self.llm = None


class _NoModel:
    generation_config = None
