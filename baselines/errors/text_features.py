"""Answer-text helpers shared by several detectors: evidence clips, normalised lines, the script of a letter."""
from __future__ import annotations

import re

_LIST_PREFIX_RE = re.compile(r"^\s*(?:[-*•+>]+|\d+[.)]|[a-zA-Z][.)]|#+)\s*")
_DIGITS_RE = re.compile(r"\d+")
_MARKUP_RE = re.compile(r"[*_`]+")


def clip(text: str, n: int = 80) -> str:
    """``text`` with its whitespace collapsed, cut to ``n`` characters (with an ellipsis) for evidence strings."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def norm_line(line: str, mask_digits: bool = False) -> str:
    """A line without its list marker, emphasis markup and extra spaces, lower-cased (digits masked on request)."""
    line = _LIST_PREFIX_RE.sub("", line)
    if "*" in line or "_" in line or "`" in line:
        line = _MARKUP_RE.sub("", line)
    if mask_digits:
        line = _DIGITS_RE.sub("0", line)
    return " ".join(line.split()).lower()


def script_of(ch: str) -> str:
    """The writing system of a letter: latin, cyrillic, arabic, han (incl. kana), hangul, devanagari, greek, other."""
    o = ord(ch)
    if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
        return "latin"
    if 0x400 <= o <= 0x52F:
        return "cyrillic"
    if 0x600 <= o <= 0x6FF or 0x750 <= o <= 0x77F:
        return "arabic"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3040 <= o <= 0x30FF:
        return "han"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
        return "hangul"
    if 0x900 <= o <= 0x97F:
        return "devanagari"
    if 0x370 <= o <= 0x3FF:
        return "greek"
    return "other"
