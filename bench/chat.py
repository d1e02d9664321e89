"""Chat prompts for local language models: the tokenizer's own template, and prompt token ids.

:func:`render_chat` renders OpenAI-style messages with the tokenizer's chat template
(``add_generation_prompt=True``), never a template chosen by model name. Templates without a
system role (Gemma's, for one) raise on a system message; by default its text is then folded into
the first user turn. Prompts become token ids through :func:`encode_text` (a plain completion
prompt: the tokenizer's special tokens, BOS where the model wants one, no trailing EOS) or
:func:`encode_rendered_chat` (a rendered template already holds its special tokens).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

Messages = Sequence[Mapping[str, str]]


def has_chat_template(tokenizer: Any) -> bool:
    """True when the tokenizer carries a chat template (an instruction-tuned model)."""
    return bool(getattr(tokenizer, "chat_template", None))


def fold_system_messages(messages: Messages) -> list[dict[str, str]]:
    """The messages without system turns, their text put in front of the first remaining turn."""
    merged = [dict(m) for m in messages if m["role"] != "system"]
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    if merged and system:
        merged[0]["content"] = system + "\n\n" + merged[0]["content"]
    return merged


def render_chat(tokenizer: Any, messages: Messages, *, system_fallback: bool = True) -> str:
    """``messages`` through the tokenizer's own chat template, generation prompt added.

    When the template rejects the messages (e.g. jinja's "System role not supported") and they hold a
    system turn, ``system_fallback`` renders them again with the system text folded into the first
    user turn (:func:`fold_system_messages`); otherwise the template's error propagates."""
    try:
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - templates raise whatever jinja raises
        if not system_fallback or not any(m["role"] == "system" for m in messages):
            raise
    return tokenizer.apply_chat_template(fold_system_messages(messages), tokenize=False, add_generation_prompt=True)


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a plain completion prompt: the tokenizer's special tokens, without a trailing EOS."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    if len(ids) > 1 and eos is not None and eos != bos and ids[-1] == eos:
        ids = ids[:-1]  # tokenizers set to append EOS would end the prompt before the answer
    return ids


def encode_rendered_chat(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered chat template (it already holds its special tokens, BOS included)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
