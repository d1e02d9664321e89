"""``transformers`` generation backend: a local causal LM in this process (Hub id, folder or .gguf).

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

With ``prefix_cache=True`` and a ``shared_prefix`` (e.g. all URIAL prompts of a language), the
prefix's KV cache is computed once and reused (:mod:`baselines.generation.prefix_cache`; sliding-window
models such as Gemma 3 included).
"""
from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

from bench.chat import has_chat_template
from bench.decoding import batch_inputs, context_length, eos_token_ids
from bench.errors import BenchError
from bench.models import (
    ModelRef,
    empty_cuda_cache,
    length_sorted_batches,
    load_causal_lm,
    quiet_transformers,
    resolve_device,
    resolve_dtype,
    resolve_model,
)
from baselines.generation.generators import (
    Generation,
    GenerationParams,
    Generator,
    Outcome,
    Prompt,
    encode_prompt,
    finish_row,
    is_chat,
    token_limits,
)
from baselines.generation.prefix_cache import PrefixCache, shared_prefix_len
from baselines.generation.urial import chat_template_hash, render_chat


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
        self.context = context_length(self.model.config, text_config=True)
        self._prefixes = PrefixCache(self.model)

    @property
    def prefix_forward_calls(self) -> int:
        """Prefixes computed so far (tests, benchmarks)."""
        return self._prefixes.forward_calls

    # -- prompts -------------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        return prompt if isinstance(prompt, str) else render_chat(self.tokenizer, list(prompt), self.ref.ref)

    def chat_template_hash(self) -> str | None:
        return chat_template_hash(self.tokenizer) if has_chat_template(self.tokenizer) else None

    def encode(self, prompt: Prompt) -> list[int]:
        return encode_prompt(self.tokenizer, prompt, self.ref.ref)

    # -- generation ----------------------------------------------------------------------------

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        if not prompts:
            return
        kinds = {is_chat(p) for p in prompts}
        if len(kinds) > 1:
            raise BenchError("one generate call takes either text prompts or chat messages, not both")
        chat = kinds.pop()
        encoded = [self.encode(p) for p in prompts]
        limits = token_limits(len(prompts), params, max_new_tokens)
        for i, ids in enumerate(encoded):
            if self.context is not None:
                if len(ids) >= self.context:
                    raise BenchError(f"model '{self.ref.ref}': prompt {i} has {len(ids)} tokens, more than its "
                                     f"context length {self.context}")
                limits[i] = min(limits[i], self.context - len(ids))
        prefix_len = 0
        if shared_prefix and self.prefix_cache and self._prefixes.supported:
            prefix_len = shared_prefix_len(self.tokenizer, encoded, shared_prefix)
        eos = eos_token_ids(self.model, self.tokenizer, end_of_turn=chat, added_tokens=True)
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

    def _generate_batch(self, batch_ids: list[list[int]], limits: list[int], params: GenerationParams,
                        eos: list[int], prefix_len: int) -> list[list[int]]:
        import torch

        model, tok = self.model, self.tokenizer
        cache = None
        input_ids, mask = batch_inputs(batch_ids, tok.pad_token_id)
        if prefix_len:  # the first prefix_len columns come from the prefix cache (None: full prefill, same layout)
            pads = [input_ids.shape[1] - len(ids) for ids in batch_ids]
            cache = self._prefixes.batch(tuple(batch_ids[0][:prefix_len]), pads)
        input_ids, mask = input_ids.to(model.device), mask.to(model.device)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max(limits), num_beams=1, pad_token_id=tok.pad_token_id, eos_token_id=eos or None,
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
            kwargs[self._prefixes.cache_kw] = cache
        with torch.inference_mode(), quiet_transformers():
            out = model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        start = input_ids.shape[1]
        return [row[start:start + limit].tolist() for row, limit in zip(out, limits)]

    def close(self) -> None:
        self._prefixes.close()
        if getattr(self, "model", None) is not None:
            device = self.model.device
            self.model = None
            empty_cuda_cache(device)
