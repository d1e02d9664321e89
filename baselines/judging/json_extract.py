"""Find JSON-like objects in free judge text.

Judges wrap the requested JSON object in code fences or prose, answer with Python-style dicts,
leave trailing commas, forget to escape quotes or stop mid-object. This module only finds and
reads candidate objects; :mod:`baselines.judging.parse` decides which one holds the scores:

* :func:`strict_candidates`: strict JSON (the whole text, fenced blocks, every object in the text);
* :func:`top_level_spans`: every top-level object read by :class:`LenientReader`, a forgiving
  JSON / Python-literal reader (single quotes, trailing commas, unescaped quotes, missing commas,
  truncation) that keeps what it could read;
* :func:`python_candidates`: the single-quoted spans read again as Python literals.
"""
from __future__ import annotations

import ast
import json
import re
from typing import Any

# --------------------------------------------------------------------------- lenient reader

class _Truncated(Exception):
    """The text ended inside a value."""


# A following key: quoted anywhere, bare (JavaScript/YAML style) only at the start of a line.
_KEYLIKE = r"""(?:"[^"\n]{0,80}"\s*:|'[^'\n]{0,80}'\s*:|\n\s*[A-Za-z_]\w{0,40}\s*:)"""
# What may follow the closing quote of a string, per context.
_END_VALUE_IN_OBJECT = re.compile(
    rf"""\s*(?:$|[}}\]]|,\s*(?:$|[}}\]]|{_KEYLIKE})|{_KEYLIKE}|```)""")
_END_KEY = re.compile(r"\s*:")
_END_VALUE_IN_ARRAY = re.compile(r"""\s*(?:$|[\]}]|,)""")
_END_TOP = re.compile(r"")
_BARE_END = re.compile(r"[,}\]\n]")
_BARE_KEY = re.compile(r"[A-Za-z_*][\w \-*]{0,60}")
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class LenientReader:
    """A forgiving JSON / Python-literal reader that returns what it could read.

    Objects keep every complete key/value pair read before the text stopped or broke;
    a string cut off by the end of the text is dropped with its key.
    """

    def __init__(self, text: str, start: int = 0):
        self.s, self.i, self.n = text, start, len(text)
        self.truncated = False
        self.broken = False

    def ws(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c.isspace():
                self.i += 1
            elif s.startswith("//", self.i):  # comments some judges add
                j = s.find("\n", self.i)
                self.i = n if j < 0 else j + 1
            else:
                break

    def value(self, ctx: re.Pattern) -> Any:
        self.ws()
        if self.i >= self.n:
            raise _Truncated
        c = self.s[self.i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c in "\"'\u201c":
            return self.string(ctx)
        return self.bare()

    def obj(self) -> dict:
        self.i += 1
        out: dict[str, Any] = {}
        while True:
            self.ws()
            while self.i < self.n and self.s[self.i] == ",":
                self.i += 1
                self.ws()
            if self.i >= self.n:
                self.truncated = True
                return out
            if self.s[self.i] == "}":
                self.i += 1
                return out
            try:
                key = self.key()
            except _Truncated:
                self.truncated = True
                return out
            if key is None:  # cannot read a key: stop here, keep what we have
                self.broken = True
                return out
            self.ws()
            if self.i >= self.n:
                self.truncated = True
                return out
            if self.s[self.i] in ":=":
                self.i += 1
            else:
                self.broken = True
                return out
            try:
                val = self.value(_END_VALUE_IN_OBJECT)
            except _Truncated:
                self.truncated = True
                return out
            out[key] = val
            if self.broken or self.truncated:
                return out
            self.ws()
            if self.i >= self.n:
                self.truncated = True
                return out
            c = self.s[self.i]
            if c == ",":
                self.i += 1
            elif c == "}":
                self.i += 1
                return out
            elif c in "\"'":
                continue  # missing comma between pairs
            else:
                self.broken = True
                return out

    def arr(self) -> list:
        self.i += 1
        out: list[Any] = []
        while True:
            self.ws()
            while self.i < self.n and self.s[self.i] == ",":
                self.i += 1
                self.ws()
            if self.i >= self.n:
                self.truncated = True
                return out
            if self.s[self.i] == "]":
                self.i += 1
                return out
            try:
                out.append(self.value(_END_VALUE_IN_ARRAY))
            except _Truncated:
                self.truncated = True
                return out
            if self.broken or self.truncated:
                return out
            self.ws()
            if self.i < self.n and self.s[self.i] == ",":
                self.i += 1
            elif self.i < self.n and self.s[self.i] == "]":
                self.i += 1
                return out
            elif self.i >= self.n:
                self.truncated = True
                return out
            else:
                self.broken = True
                return out

    def key(self) -> str | None:
        c = self.s[self.i]
        if c in "\"'\u201c":
            return self.string(_END_KEY)
        m = _BARE_KEY.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group(0).strip()

    def string(self, ctx: re.Pattern) -> str:
        s, n = self.s, self.n
        q = s[self.i]
        closers = ("\u201d", "\u201c", '"') if q == "\u201c" else (q,)
        self.i += 1
        buf: list[str] = []
        while True:
            if self.i >= n:
                raise _Truncated
            c = s[self.i]
            if c == "\\":
                if self.i + 1 >= n:
                    raise _Truncated
                e = s[self.i + 1]
                if e == "u":
                    hx = s[self.i + 2:self.i + 6]
                    if len(hx) == 4 and all(h in "0123456789abcdefABCDEF" for h in hx):
                        buf.append(chr(int(hx, 16)))
                        self.i += 6
                        continue
                    if self.i + 6 > n:
                        raise _Truncated
                    buf.append("\\u")
                elif e in _SIMPLE_ESCAPES:
                    buf.append(_SIMPLE_ESCAPES[e])
                else:
                    buf.append(e)  # invalid escape: keep the character
                self.i += 2
                continue
            if c in closers:
                # A quote closes the string only when what follows fits the context;
                # otherwise it is an unescaped quote inside the text.
                if ctx is _END_TOP or ctx.match(s, self.i + 1):
                    self.i += 1
                    return _fix_surrogates("".join(buf))
            buf.append(c)
            self.i += 1

    def bare(self) -> Any:
        m = _BARE_END.search(self.s, self.i)
        end = self.n if m is None else m.start()
        token = self.s[self.i:end].strip()
        if m is None and not token:
            raise _Truncated
        self.i = end
        if m is None:
            self.truncated = True
        if not token:
            return None
        low = token.lower()
        if low in ("null", "none"):
            return None
        if low == "true":
            return True
        if low == "false":
            return False
        try:
            return int(token)
        except ValueError:
            pass
        try:
            return float(token)
        except ValueError:
            return token  # e.g. 4/5, N/A: parse_score decides


def _fix_surrogates(text: str) -> str:
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        try:
            return text.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeError:
            return text
    return text


# --------------------------------------------------------------------------- candidates

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_MAX_OBJECT_STARTS = 64


def _object_starts(text: str) -> list[int]:
    starts, i = [], text.find("{")
    while i >= 0 and len(starts) < _MAX_OBJECT_STARTS:
        starts.append(i)
        i = text.find("{", i + 1)
    return starts


def strict_candidates(text: str) -> list[Any]:
    """Objects that strict JSON reads: the whole text, else fenced blocks and every object in the text."""
    out: list[Any] = []
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
        if isinstance(whole, str):  # double-encoded: "{\"helpfulness\": ...}"
            whole = json.loads(whole)
        out.append(whole)
        return out  # the whole text is JSON: nothing else to look at
    except (ValueError, RecursionError):
        pass
    for m in _FENCE_RE.finditer(text):
        try:
            out.append(json.loads(m.group(2).strip()))
        except (ValueError, RecursionError):
            pass
    dec = json.JSONDecoder()
    covered = -1
    for i in _object_starts(text):
        if i < covered:
            continue  # inside an object already read
        try:
            obj, covered = dec.raw_decode(text, i)
        except (ValueError, RecursionError):
            continue
        out.append(obj)
    return out


def top_level_spans(text: str) -> list[tuple[int, int, LenientReader, Any]]:
    """Read every top-level object with the lenient parser: (start, end, parser, value)."""
    spans = []
    i = text.find("{")
    while i >= 0 and len(spans) < _MAX_OBJECT_STARTS:
        p = LenientReader(text, i)
        try:
            val = p.value(_END_TOP)
        except (_Truncated, RecursionError):
            break
        end = max(p.i, i + 1)
        spans.append((i, end, p, val))
        i = text.find("{", end)
    return spans


def python_candidates(text: str, spans: list[tuple[int, int, LenientReader, Any]]) -> list[Any]:
    """The complete single-quoted spans read as Python literals (JSON-style spans are left to the lenient reader)."""
    out = []
    for start, end, p, _ in spans:
        if p.truncated or p.broken:
            continue
        snippet = text[start:end]
        if not snippet[1:].lstrip().startswith("'"):
            continue  # JSON-style (double-quoted keys): the lenient reader keeps JSON escape rules
        try:
            out.append(ast.literal_eval(snippet))
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            pass
    return out


__all__ = ["LenientReader", "python_candidates", "strict_candidates", "top_level_spans"]
