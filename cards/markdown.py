"""Text from a user or a model, made safe to write into Markdown that is also read as HTML.

Cards, the leaderboard's Markdown table and the changelog show names (models, judges, translators,
reviewers) that come from users, configs and stores. Written raw, ``<img src=x onerror=...>`` is
live HTML on the Hub, a backtick closes the code span around it and ``|`` splits a table row.
:func:`md_text` makes a value inert plain text (one line, HTML special characters as entities,
Markdown control characters backslash-escaped: safe in running text and in table cells);
:func:`md_code` shows it as a code span when that is safe, else as :func:`md_text`.
"""
from __future__ import annotations

import re
from typing import Any

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_CONTROL = frozenset("\\`*_[]|~")  # emphasis, code, links, table cells, strikethrough
_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_NOT_IN_CODE = frozenset("<>&|")  # HTML in a raw view; '|' splits a table cell even inside a code span


def _one_line(value: Any) -> str:
    return _BREAKS.sub(" ", "" if value is None else str(value))


def md_text(value: Any) -> str:
    """``value`` as inert Markdown text on one line: ``&<>`` as entities, ``\\ ` * _ [ ] | ~`` escaped."""
    return "".join(_ENTITIES.get(ch) or (f"\\{ch}" if ch in _MD_CONTROL else ch) for ch in _one_line(value))


def md_code(value: Any) -> str:
    """``value`` as an inline code span whose fence is longer than any run of backticks in it; a value
    with HTML special characters or ``|`` (or an empty one) is written as :func:`md_text` instead."""
    text = _one_line(value)
    if not text.strip() or _NOT_IN_CODE & set(text):
        return md_text(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""  # CommonMark strips one space each side
    return f"{fence}{pad}{text}{pad}{fence}"
