"""``llm:<id, path or .gguf>``: a local decoder-only LM prompted to translate.

Chat models (the tokenizer has a chat template) get ``prompts.chat_messages`` through
``apply_chat_template(add_generation_prompt=True)``; base models get ``prompts.few_shot_prompt``
and their completion is cut at ``prompts.stop_strings`` (``clean_output``). Decoding is greedy,
batched over length-sorted, left-padded prompts; a greedy batch gives the same outputs as one
prompt at a time. ``max_new_tokens`` defaults to ``2 * tokens of the text + 16`` per text (capped
at 512 and by the context length). GGUF files are converted once to safetensors
(:func:`bench.models.convert_gguf`).
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

from bench.errors import BenchError
from bench.models import (
    length_sorted_batches,
    load_causal_lm,
    load_config,
    load_tokenizer,
    quiet_transformers,
)
from benchmark.translators import prompts
from benchmark.translators.base import LocalModelTranslator

PromptMode = Literal["chat", "few-shot"]
MAX_NEW_TOKENS_CAP = 512
CODE_VERSION = "v1"
# End-of-turn tokens of common chat formats; used as extra stop tokens in chat mode when the
# tokenizer has them as special tokens (GGUF files record only one EOS id).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "<turn|>")


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_chat_prompt(tokenizer: Any, text: str, source_lang: str, target_lang: str) -> str:
    """The chat prompt as text; templates without a system role get the instructions in the user turn."""
    messages = prompts.chat_messages(text, source_lang, target_lang)
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - e.g. jinja "System role not supported"
        merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
        return tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)


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
            return render_chat_prompt(self.tokenizer, text, source_lang, target_lang)
        return prompts.few_shot_prompt(text, source_lang, target_lang)

    def encode_prompt(self, prompt: str) -> list[int]:
        # a rendered chat template already holds its special tokens (BOS included when wanted)
        add_special = self.prompt_mode == "few-shot"
        ids = self.tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
        eos, bos = self.tokenizer.eos_token_id, self.tokenizer.bos_token_id
        if add_special and len(ids) > 1 and eos is not None and eos != bos and ids[-1] == eos:
            ids = ids[:-1]  # tokenizers set to append EOS would end the prompt before the answer
        return ids

    def _context_length(self) -> int | None:
        for name in ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"):
            value = getattr(self.config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for value in (gen_eos, self.tokenizer.eos_token_id):
            if value is None:
                continue
            ids.extend(value if isinstance(value, (list, tuple)) else [value])
        if self.prompt_mode == "chat":
            specials = set(self.tokenizer.all_special_tokens)
            vocab_ids = self.tokenizer.convert_tokens_to_ids([t for t in END_OF_TURN_TOKENS if t in specials])
            ids.extend(i for i in vocab_ids if i is not None)
        return list(dict.fromkeys(ids))

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
        context = self._context_length()
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
        import torch

        model, tok = self.model, self.tokenizer
        padded = tok.pad({"input_ids": batch_ids}, padding=True, return_tensors="pt")
        padded = {k: v.to(model.device) for k, v in padded.items()}
        eos = self._eos_ids()
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max(limits), do_sample=False, num_beams=1, pad_token_id=tok.pad_token_id,
            eos_token_id=eos or None, temperature=None, top_p=None, top_k=None,
        )
        if self.prompt_mode == "few-shot":
            # stop early at the next example header; the text is cut again by clean_output
            kwargs.update(stop_strings=prompts.stop_strings(source_lang), tokenizer=tok)
        with torch.inference_mode(), quiet_transformers():
            out = model.generate(**padded, **kwargs)
        start = padded["input_ids"].shape[1]
        return [row[start:start + limit].tolist() for row, limit in zip(out, limits)]

    def close(self) -> None:
        if self._model is not None:
            device = str(self._model.device)
            self._model = None
            if device.startswith("cuda"):
                import torch

                torch.cuda.empty_cache()
