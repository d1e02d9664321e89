"""``llm:<id, path or .gguf>``: a local decoder-only LM prompted to translate.

Chat models (the tokenizer has a chat template) get ``prompts.chat_messages`` rendered by their
own template (:func:`bench.chat.render_chat`); base models get ``prompts.few_shot_prompt``
and their completion is cut at ``prompts.stop_strings`` (``clean_output``). Decoding is greedy,
batched over length-sorted, left-padded prompts; a greedy batch gives the same outputs as one
prompt at a time. ``max_new_tokens`` defaults to ``2 * tokens of the text + 16`` per text (capped
at 512 and by the context length). GGUF files are converted once to safetensors
(:func:`bench.models.convert_gguf`).
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

from bench.chat import encode_rendered_chat, encode_text, has_chat_template, render_chat
from bench.decoding import context_length, eos_token_ids, generate_greedy
from bench.errors import BenchError
from bench.models import empty_cuda_cache, length_sorted_batches, load_causal_lm, load_config, load_tokenizer
from benchmark.translators import prompts
from benchmark.translators.base import LocalModelTranslator

PromptMode = Literal["chat", "few-shot"]
MAX_NEW_TOKENS_CAP = 512
CODE_VERSION = "v1"


class CausalLMTranslator(LocalModelTranslator):
    """Local causal LM (Hub id, folder or .gguf) used as a translator."""

    unit = "segment"
    batch_size = 8

    def __init__(
        self,
        spec: str,
        target: str,
        *,
        batch_size: int | None = None,
        cache_dir: str | None = None,
        max_new_tokens: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        prompt_mode: str = "auto",
    ):
        if prompt_mode not in ("auto", "chat", "few-shot"):
            raise BenchError(f"prompt_mode must be auto, chat or few-shot, got '{prompt_mode}'")
        super().__init__(spec, target, batch_size=batch_size, cache_dir=cache_dir, max_new_tokens=max_new_tokens,
                         device=device, dtype=dtype, revision=revision)
        self.config = load_config(self.model_ref, cache_dir=cache_dir)
        if getattr(self.config, "is_encoder_decoder", False):
            raise BenchError(f"model '{self.model_ref.ref}' is an encoder-decoder model; use hf:<model>")
        self.tokenizer = load_tokenizer(self.model_ref, padding_side="left", cache_dir=cache_dir)
        if self.tokenizer.pad_token_id is None:
            raise BenchError(f"model '{self.model_ref.ref}': tokenizer has neither a pad nor an eos token")
        if prompt_mode == "auto":
            prompt_mode = "chat" if has_chat_template(self.tokenizer) else "few-shot"
        elif prompt_mode == "chat" and not has_chat_template(self.tokenizer):
            raise BenchError(f"model '{self.model_ref.ref}' has no chat template; use the few-shot prompt")
        self.prompt_mode: PromptMode = prompt_mode  # type: ignore[assignment]
        self._model: Any = None

    @property
    def cache_key(self) -> str:
        return (
            f"llm:{self.model_ref.fingerprint}:{self.prompt_mode}:{prompts.PROMPT_VERSION}:greedy:"
            f"max_new={self.max_new_tokens or 'auto'}:dtype={self.dtype}:{CODE_VERSION}"
        )

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model, _ = load_causal_lm(self.model_ref, dtype=self.dtype, device=self.device, cache_dir=self.cache_dir)
        return self._model

    # -- prompts ------------------------------------------------------------------------------

    def build_prompt(self, text: str, source_lang: str, target_lang: str) -> str:
        if self.prompt_mode == "chat":
            # templates without a system role get the instructions in the user turn
            return render_chat(self.tokenizer, prompts.chat_messages(text, source_lang, target_lang))
        return prompts.few_shot_prompt(text, source_lang, target_lang)

    def encode_prompt(self, prompt: str) -> list[int]:
        if self.prompt_mode == "few-shot":
            return encode_text(self.tokenizer, prompt)
        return encode_rendered_chat(self.tokenizer, prompt)

    # -- translation --------------------------------------------------------------------------

    def translate_batch(
        self, texts: Sequence[str], source_lang: str, target_lang: str, ids: Sequence[str] | None = None
    ) -> list[str]:
        results = [str(t) for t in texts]  # blank texts are returned as they are
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return results
        tok = self.tokenizer
        encoded = [self.encode_prompt(self.build_prompt(texts[i], source_lang, target_lang)) for i in todo]
        context = context_length(self.config)
        limits = []
        for i, prompt_ids in zip(todo, encoded):
            limit = self.max_new_tokens or min(2 * len(tok(texts[i], add_special_tokens=False)["input_ids"]) + 16,
                                               MAX_NEW_TOKENS_CAP)
            if context is not None:
                if len(prompt_ids) >= context:
                    raise BenchError(
                        f"model '{self.model_ref.ref}': prompt of {len(prompt_ids)} tokens exceeds its context "
                        f"length {context}"
                    )
                limit = min(limit, context - len(prompt_ids))
            limits.append(limit)
        for batch in length_sorted_batches([len(e) for e in encoded], self.batch_size):
            outputs = self._generate([encoded[j] for j in batch], [limits[j] for j in batch], source_lang)
            for j, seq in zip(batch, outputs):
                raw = tok.decode(seq, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                results[todo[j]] = prompts.clean_output(raw, source_lang) if self.prompt_mode == "few-shot" else raw.strip()
        return results

    def _generate(self, batch_ids: list[list[int]], limits: list[int], source_lang: str) -> list[list[int]]:
        eos = eos_token_ids(self.model, self.tokenizer, end_of_turn=self.prompt_mode == "chat")
        options: dict[str, Any] = {}
        if self.prompt_mode == "few-shot":
            # stop early at the next example header; the text is cut again by clean_output
            options.update(stop_strings=prompts.stop_strings(source_lang), tokenizer=self.tokenizer)
        rows = generate_greedy(self.model, self.tokenizer, batch_ids, max_new_tokens=max(limits), eos_ids=eos,
                               **options)
        return [row[:limit] for row, limit in zip(rows, limits)]

    def close(self) -> None:
        if self._model is not None:
            device = self._model.device
            self._model = None
            empty_cuda_cache(device)
