"""``empty``: nothing, or whitespace / punctuation / special tokens only."""
from __future__ import annotations

import re
import unicodedata

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding
from baselines.errors.text_features import clip

_SPECIAL_TOKENS_RE = re.compile(
    r"<\|[a-z_]+\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<pad>|<unk>|<eos>|<bos>")


def _has_content(text: str) -> bool:
    for ch in text:
        if ch.isalnum():
            return True
        cat = unicodedata.category(ch)
        if cat == "So" and not (0x2800 <= ord(ch) <= 0x28FF):  # emoji / symbols; blank braille is not content
            return True
    return False


def detect(ctx: AnswerContext) -> Finding | None:
    """Nothing, whitespace only, or special tokens / punctuation only."""
    output = ctx.output
    if not output.strip():
        return Finding("empty", 1.0, (0, len(output)), "empty output" if not output else "whitespace only")
    stripped = _SPECIAL_TOKENS_RE.sub("", output)
    stripped = re.sub(r"```\w*", "", stripped)
    if not _has_content(stripped):
        what = "special tokens only" if _SPECIAL_TOKENS_RE.search(output) else "punctuation only"
        return Finding("empty", 0.95, (0, len(output)), f"{what}: {clip(output, 40)!r}")
    return None
