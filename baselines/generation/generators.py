"""Generation backends behind one interface: ``Generator.generate(prompts, params) -> list[Generation]``.

A prompt is either a **text** (sent as is: base-model prompts, zero-shot and URIAL) or a list of
chat **messages** (rendered by the model's own chat template, or by the server for ``openai``).
This module holds what every backend shares: the decoding settings (:class:`GenerationParams`),
the outcomes (:class:`Generation`, :class:`GenerationFailure`), the :class:`Generator` interface,
prompt encoding and how a generated row ends (:func:`finish_row`). The backends:

* ``transformers``: :class:`baselines.generation.transformers_backend.TransformersGenerator`
  (batched, with URIAL prefix KV-cache reuse from :mod:`baselines.generation.prefix_cache`);
* ``openai:<model>@<base_url>``: :class:`baselines.generation.openai_backend.OpenAIGenerator`;
* ``vllm``: :class:`baselines.generation.vllm_backend.VLLMGenerator` (optional extra).

``Generation.seconds`` is the item's share of its batch's wall time (batched backends) or its own
request latency (openai).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Literal, Sequence, Union

from bench.chat import encode_rendered_chat, encode_text
from bench.errors import BenchError
from baselines.generation.urial import render_chat

Messages = Sequence[dict[str, str]]
Prompt = Union[str, Messages]
FinishReason = Literal["stop", "length"]


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


def token_limits(n: int, params: GenerationParams, max_new_tokens: Sequence[int] | None) -> list[int]:
    """The token limit of each of ``n`` prompts: ``max_new_tokens`` when given (checked), else the params' one."""
    if max_new_tokens is None:
        return [params.max_new_tokens] * n
    if len(max_new_tokens) != n:
        raise BenchError(f"max_new_tokens has {len(max_new_tokens)} values for {n} prompts")
    for value in max_new_tokens:
        if value < 1:
            raise BenchError(f"max_new_tokens must be >= 1, got {value}")
    return list(max_new_tokens)


def is_chat(prompt: Prompt) -> bool:
    """True for chat messages, False for a text prompt."""
    return not isinstance(prompt, str)


# --------------------------------------------------------------------------- prompts and rows


def encode_prompt(tokenizer: Any, prompt: Prompt, model: str = "model") -> list[int]:
    """Token ids of a prompt. Text prompts get the tokenizer's special tokens (BOS where the model
    wants one) without a trailing EOS; a rendered chat template already holds its own."""
    if is_chat(prompt):
        return encode_rendered_chat(tokenizer, render_chat(tokenizer, list(prompt), model))  # type: ignore[arg-type]
    return encode_text(tokenizer, prompt)  # type: ignore[arg-type]


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
