"""``vllm`` generation backend: the vLLM offline engine (optional extra: ``pip install '.[vllm]'``).

**Untested here (no GPU in this environment).** vllm is imported lazily. Prompts are tokenized by
the same code as the transformers backend and passed as token ids (so a rendered chat template's
BOS is not doubled); ``enable_prefix_caching`` shares the URIAL prefix automatically;
``tensor_parallel_size``, ``data_parallel_size`` and any other engine argument are passed through
to ``vllm.LLM``.
"""
from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

from bench.chat import has_chat_template
from bench.decoding import eos_token_ids
from bench.errors import BenchError
from bench.models import ModelRef, model_source, resolve_model
from baselines.generation.generators import (
    FinishReason,
    Generation,
    GenerationParams,
    Generator,
    Outcome,
    Prompt,
    encode_prompt,
    is_chat,
    token_limits,
)
from baselines.generation.urial import chat_template_hash, render_chat


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
        return chat_template_hash(self.tokenizer) if has_chat_template(self.tokenizer) else None

    def generate_iter(self, prompts: Sequence[Prompt], params: GenerationParams, *,
                      shared_prefix: str | None = None,
                      max_new_tokens: Sequence[int] | None = None) -> Iterator[tuple[list[int], list[Outcome]]]:
        if not prompts:
            return
        chat = is_chat(prompts[0])
        encoded = [encode_prompt(self.tokenizer, p, self.ref.ref) for p in prompts]
        limits = token_limits(len(prompts), params, max_new_tokens)
        if self.context:
            limits = [max(1, min(lim, self.context - len(ids))) for lim, ids in zip(limits, encoded)]
        extra_eos = eos_token_ids(None, self.tokenizer, end_of_turn=True, added_tokens=True) if chat else []
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
