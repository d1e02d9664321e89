"""Segment and protect instructions before machine translation; reassemble afterwards.

An instruction becomes an :class:`ItemPlan`: a sequence of *verbatim* parts (copied to the
output byte for byte) and *units* (one MT request each). The rules:

* **Verbatim, never sent**: fenced code blocks (````` or ``~~~``, any language tag, closed or
  not), blank lines and every line break (``\\n``, ``\\r\\n``, ``\\r``), runs of ``<br>``
  tags, indentation, list / heading / quote markers (``1. ``, ``- ``, ``* ``, ``a) ``,
  ``# ``, ``> ``), table pipes and one-token cells (``int``, ``personId``), leading/trailing
  whitespace of every piece, and lines that are clearly code (see :func:`_code_lines`).
* **One request per line**: a paragraph goes line by line, so line breaks never depend on the
  MT system (seq2seq models drop them) and list items are translated one by one. A line over
  :data:`MAX_REQUEST_CHARS` characters is split at sentence boundaries into several requests
  (abbreviations such as ``Dr.``, ``e.g.``, ``U.S.`` and protected spans are never cut).
  Requests without letters (numbers, punctuation, a lone placeholder) are not sent.
* **Protected inside a request** (:func:`protect`): inline code, URLs, e-mails, template
  placeholders (``{name}``, ``{{var}}``, ``%s``, ``%(x)d``, ``$VAR``, ``${x}``, ``[LINK]``,
  ``<NAME>``), HTML tags, LaTeX commands and ``$math$``, code identifiers (``snake_case``,
  ``camelCase``, ``a.b``, ``f(x)``), file paths and a code tail after a colon. Each span is
  replaced by ``⟦0⟧``, ``⟦1⟧``... in order and restored byte for byte (:func:`restore`).
* **Fallback**: when an MT output loses, duplicates or invents a marker, the unit's text chunks
  between protected spans become new, marker-free requests (round 2) and the unit is rebuilt
  as chunk translations around the original spans. Round 2 always succeeds, so every
  protected span of the source appears byte for byte in the result. Marker look-alikes already
  in the source (``⟦0⟧``, ``[[1]]``) are protected spans themselves.

With an identity translation map, :meth:`ItemPlan.assemble` gives back the original text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Union

__all__ = [
    "MASK_PATTERN", "MASK_FORMAT", "MAX_REQUEST_CHARS", "Unit", "ItemPlan", "AssembleResult",
    "mask", "plan_item", "protect", "restore",
]

MASK_FORMAT = "⟦{}⟧"
# The placeholder form put in MT requests: ⟦0⟧, ⟦1⟧, ... (U+27E6 / U+27E7).
MASK_PATTERN = re.compile(r"⟦(\d+)⟧")
# What is accepted back from MT: spacing inside the brackets, the look-alike 〚 〛 (U+301A/B),
# [[n]], and any Unicode digits (e.g. ⟦٠⟧ from Arabic output).
_MARKER_OUT = re.compile(r"[⟦〚]\s*(\d+)\s*[⟧〛]|\[\[\s*(\d+)\s*\]\]")

MAX_REQUEST_CHARS = 400


def mask(n: int) -> str:
    """The placeholder for protected span ``n``."""
    return MASK_FORMAT.format(n)


def _has_letters(s: str) -> bool:
    return any(c.isalpha() for c in s)


# ---------------------------------------------------------------------------------------------
# Protection: spans that MT must never see.

_HTML_TAGS = (
    "a|abbr|article|aside|audio|b|blockquote|body|br|button|canvas|caption|code|col|dd|del|details|div|dl|dt|"
    "em|embed|fieldset|figcaption|figure|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|"
    "label|li|link|main|mark|meta|nav|noscript|ol|option|p|param|pre|q|s|samp|script|section|select|small|"
    "source|span|strong|style|sub|summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|title|tr|"
    "u|ul|var|video|path|circle|rect|g"
)
_FILE_EXT = (
    "py|ipynb|js|jsx|ts|tsx|json|jsonl|ya?ml|toml|ini|cfg|conf|txt|csv|tsv|md|rst|html?|css|scss|xml|java|"
    "kt|scala|go|rs|rb|php|pl|cpp|cc|cxx|hpp|c|h|cs|swift|jl|lua|sh|bash|zsh|ps1|bat|exe|dll|so|sql|"
    "db|sqlite|parquet|pdf|docx?|xlsx?|pptx?|png|jpe?g|gif|svg|mp3|mp4|wav|zip|tar|gz|tgz|log|lock|tex|bib|"
    "env|pt|pth|ckpt|safetensors|gguf|onnx|bin|dockerfile"
)

# (name, regex) pairs; all matches are collected, the leftmost-longest non-overlapping win.
_SPAN_RES: list[tuple[str, re.Pattern[str]]] = [
    ("code", re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")),
    ("marker", re.compile(r"[⟦〚][^⟦〚⟧〛\n]{0,20}[⟧〛]|\[\[\s*\d+\s*\]\]")),
    ("url", re.compile(r"\b(?:https?|ftp|file)://[^\s<>\"'`]+|\bwww\.[A-Za-z0-9-]+\.[^\s<>\"'`]+",
                       re.IGNORECASE)),
    ("email", re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    ("template", re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\$\{[^{}\n]*\}|"
                            r"\{[A-Za-z_]\w*(?:[.\[][^{}\s]*)?(?:![rsa])?(?::[^{}\s]*)?\}|\{\d*\}")),
    ("printf", re.compile(r"(?<![\w%])%(?:\(\w+\))?[-+ 0#]?(?:\d+|\*)?(?:\.(?:\d+|\*))?[sdifuxXoeEgGcr](?![A-Za-z])")),
    ("latex", re.compile(r"\\[A-Za-z]+\*?(?:\{[^{}\n]*\}|\[[^\]\n]*\])*")),
    ("math", re.compile(r"(?<![\w$])\$(?![\s\d$])([^$\n]*?[^\s$\\])\$(?![\w$])")),
    ("var", re.compile(r"(?<![\w$])\$[A-Za-z_]\w*")),
    ("tag", re.compile(rf"</?(?:{_HTML_TAGS})\b(?:\s+[^<>\n]*?)?\s*/?>|</[A-Za-z][\w-]*\s*>|<!--.*?-->|"
                       r"<[A-Za-z][\w-]*(?:\s+[\w:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))+\s*/?>",
                       re.IGNORECASE)),
    ("caps", re.compile(r"\[[A-Z][A-Z0-9_]*(?:[ _-][A-Z0-9_]+)*\]|<[A-Z][A-Z0-9_]*(?:[ _-][A-Z0-9_]+)*>")),
    ("winpath", re.compile(r"\b[A-Za-z]:\\[^\s\"'<>|]+")),
    ("path", re.compile(r"(?<![\w/.~])(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]+)*/?|"
                        r"(?<![\w/])[\w.-]{2,}/(?:[\w.-]+/)*(?=[\s,;:)\"'])")),
    ("file", re.compile(rf"(?<![\w.])(?:[\w-]+\.)*[\w-]{{2,}}\.(?:{_FILE_EXT})\b(?!\.\w)")),
    ("call", re.compile(r"\b(?![A-Za-z]{4,}\([A-Za-z]{2,}\))[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\((?!e?s\))[^()\s]*\)")),
    ("dotted", re.compile(r"\b[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+\b(?:\(\))?")),
    ("snake", re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")),
    ("camel", re.compile(r"\b[a-z]{3,}[A-Z][A-Za-z0-9]*\b|\b[a-z]+(?:[A-Z][a-z0-9]*){2,}\b")),
]

_URL_TRAIL = ".,;:!?'\""


def _trim_url(url: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets that end a sentence."""
    while url:
        last = url[-1]
        if last in _URL_TRAIL:
            url = url[:-1]
        elif last in ")]}":
            opener = {")": "(", "]": "[", "}": "{"}[last]
            if url.count(opener) < url.count(last):
                url = url[:-1]
            else:
                break
        else:
            break
    return url


def _find_spans(text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of protected spans in ``text``, in order."""
    if not text:
        return []
    cands: list[tuple[int, int]] = []
    for name, rx in _SPAN_RES:
        for m in rx.finditer(text):
            s, e = m.span()
            if name in ("url", "path", "file"):
                e = s + len(_trim_url(m.group()))
            if name == "math" and not re.search(r"[\\^_=+{}]|^[A-Za-z]{1,3}$", m.group(1)):
                continue
            if e > s:
                cands.append((s, e))
    tail = _code_tail(text)
    if tail is not None:
        cands.append(tail)
    cands.sort(key=lambda se: (se[0], -se[1]))
    spans: list[tuple[int, int]] = []
    pos = 0
    for s, e in cands:
        if s >= pos:
            spans.extend(_stray_markers(text, pos, s))
            spans.append((s, e))
            pos = e
    spans.extend(_stray_markers(text, pos, len(text)))
    return spans


def _stray_markers(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Marker look-alikes left between spans: protected too, so the masked text has no marker
    that :func:`restore` would take for its own."""
    return [m.span() for m in _MARKER_OUT.finditer(text, start, end)]


def _code_tail(text: str) -> tuple[int, int] | None:
    """``What is wrong with this code: int x = 0;`` -> the span of the code after the colon."""
    for m in re.finditer(r":[ \t]+(?=\S)", text):
        tail = text[m.end():]
        if _is_strong_code(tail.rstrip()):
            return m.end(), len(text.rstrip())
    return None


@dataclass(frozen=True)
class Unit:
    """One MT request: ``masked`` text with ⟦n⟧ placeholders and the original ``spans`` (index n)."""

    masked: str
    spans: tuple[str, ...] = ()

    def chunks(self) -> list[str]:
        """The text between placeholders: ``len(spans) + 1`` marker-free pieces."""
        return MASK_PATTERN.split(self.masked)[::2]

    def original(self) -> str:
        restored = restore(self.masked, self)
        assert restored is not None
        return restored


def protect(text: str) -> Unit:
    """Replace every protected span of ``text`` by ⟦0⟧, ⟦1⟧, ... in order."""
    spans = _find_spans(text)
    if not spans:
        return Unit(text, ())
    out: list[str] = []
    pos = 0
    for i, (s, e) in enumerate(spans):
        out.append(text[pos:s])
        out.append(mask(i))
        pos = e
    out.append(text[pos:])
    return Unit("".join(out), tuple(text[s:e] for s, e in spans))


def restore(masked_translation: str, unit: Unit) -> str | None:
    """Put ``unit``'s spans back into an MT output; None if a placeholder is missing, repeated or unknown."""
    seen: set[int] = set()
    ok = True

    def sub(m: re.Match[str]) -> str:
        nonlocal ok
        n = int(m.group(1) or m.group(2))
        if n >= len(unit.spans) or n in seen:
            ok = False
            return ""
        seen.add(n)
        return unit.spans[n]

    out = _MARKER_OUT.sub(sub, masked_translation)
    if not ok or len(seen) != len(unit.spans):
        return None
    return out


def _strip_markers(text: str) -> str:
    """Remove marker-like junk an MT system invented in a marker-free request's output."""
    return re.sub(r"[ \t]{2,}", " ", _MARKER_OUT.sub("", text)) if _MARKER_OUT.search(text) else text


# ---------------------------------------------------------------------------------------------
# Code detection (lines).

_PROSE_RUN = re.compile(r"(?:\b[A-Za-z]+(?:'[a-z]+)? ){4,}[A-Za-z]+\b")  # 5 plain words in a row
_PLAIN_RUN3 = re.compile(r"(?:\b[A-Za-z]+(?:'[a-z]+)? ){2,}[A-Za-z]+\b")
_STRING_LIT = re.compile(r"\"[^\"\n]*\"|(?<![A-Za-z])'[^'\n]*'")
_SENTENCE_END = re.compile(r"[.!?:][\"')\]]*\s*$")
_CODE_KEYWORD = (r"def|class|import|from\s+[\w.]+\s+import|return|elif|else|try|except|finally|while|for|if|"
                 r"with|switch|case|public|private|protected|static|void|int|float|double|char|bool|boolean|"
                 r"String|var|let|const|function|fn|func|package|using|namespace|template|struct|enum|print|"
                 r"printf|echo|console\.\w+|System\.out\.\w+")
_KEYWORD_START = re.compile(rf"^\s*(?:{_CODE_KEYWORD})\b")
_SQL = re.compile(r"^\s*(?:SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\b.*\bSET|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW)|"
                  r"DROP\s+TABLE|ALTER\s+TABLE)\b")
_STOPWORDS = frozenset(
    "the an you your me my we our us please can could would should what how why to of with are was were have has "
    "they them he she his her there here which who will does do it's i'm i've don't".split())
_STRONG_CODE = [
    re.compile(r"==|!=|<=|>=|->|=>|::|&&|\|\||\+\+|\+=|-=|\*=|/=|/\*|\*/|^\s*//|^\s*#(?:include|define|!)"),
    re.compile(rf"^\s*(?:{_CODE_KEYWORD})\b.*(?:\w\(|[:{{}};=]\s*$|\)\s*$)"),
    re.compile(r"^\s*\\[A-Za-z]+"),
    re.compile(r"^\s*[A-Za-z_][\w.]*(?:\[[^\]]*\])*\s*[-+*/%]?=(?!=)\s*\S"),
    re.compile(r"^\s*[A-Za-z_][\w.]*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*[:;]?\s*$"),
    re.compile(r"^\s*(?:<[A-Za-z/!][^<>]*>\s*)+$"),
    re.compile(r"\b[A-Za-z_]\w*\.[A-Za-z_]\w*\s*(?:==?|!=|<|>)\s*[\w\"'(]"),
]
_WEAK_SQL = re.compile(
    r"^\s*(?:select|from|where|join|left join|right join|inner join|outer join|on|group by|order by|having|"
    r"insert into|values|update|set|delete from|limit|union|SELECT|FROM|WHERE|JOIN|LEFT JOIN|INNER JOIN|ON|"
    r"GROUP BY|ORDER BY|HAVING|INSERT INTO|VALUES|UPDATE|SET|DELETE FROM|LIMIT)\b")
_INDENTED = re.compile(r"^(?: {4,}|\t)")
_BRACKETS = re.compile(r"[(){}\[\]=<>]")
_BLOCK_OPEN = re.compile(r"[{(\[:]\s*$|^\s*\\begin\b|^\s*<[A-Za-z][^<>/]*>\s*$")
_BLOCK_CLOSE = re.compile(r"^\s*(?:[})\]]|\\end\b|</)")


def _is_prose(line: str) -> bool:
    """Reads like English: 5 plain words in a row, 3 English function words, or a sentence end
    after 3+ words (string literals ignored)."""
    bare = _STRING_LIT.sub('""', line)
    if _PROSE_RUN.search(bare):
        return True
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", bare)
    if sum(w.lower() in _STOPWORDS for w in words) >= 3:
        return True
    end = _SENTENCE_END.search(bare)
    if not end or len(words) < 3:
        return False
    return not (end.group().lstrip().startswith(":") and _KEYWORD_START.match(bare))


def _is_strong_code(line: str) -> bool:
    if not line.strip():
        return False
    if _SQL.match(line):
        return True
    if _is_prose(line):
        return False
    if re.search(r"[;{}]\s*$", line) and not _PLAIN_RUN3.search(_STRING_LIT.sub('""', line)):
        return True
    return any(rx.search(line) for rx in _STRONG_CODE)


def _is_weak_code(line: str) -> bool:
    """Code only next to code: SQL clause, deep indentation, brackets without 3 plain words."""
    if not _has_letters(line):
        return True
    if _SENTENCE_END.search(line) and not line.rstrip().endswith(":"):
        return False
    return bool(_WEAK_SQL.match(line) or _INDENTED.match(line) or _KEYWORD_START.match(line)
                or (_BRACKETS.search(line) and not _PLAIN_RUN3.search(_STRING_LIT.sub('""', line))))


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines of a paragraph (no blank lines) are code, kept verbatim.

    Strong code lines count; weak ones (SQL clauses, deep indentation, brackets) only next to
    code; up to 3 lines inside a block (``\\begin{..}`` ... ``\\end{..}``, ``{`` ... ``}``,
    ``<tag>`` ... ``</tag>``) count too, e.g. the text of a LaTeX document."""
    code = [_is_strong_code(line) for line in lines]
    if not any(code):
        return code
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(lines):
            if not code[i] and _is_weak_code(line) and (
                    (i > 0 and code[i - 1]) or (i + 1 < len(lines) and code[i + 1])):
                code[i] = changed = True
    idx = [i for i, c in enumerate(code) if c]
    for a, b in zip(idx, idx[1:]):
        if 1 < b - a <= 4 and _BLOCK_OPEN.search(lines[a]) and _BLOCK_CLOSE.match(lines[b]):
            for i in range(a + 1, b):
                code[i] = True
    return code


# ---------------------------------------------------------------------------------------------
# Segmentation.

_NEWLINE = re.compile(r"\r\n|\r|\n")
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_BR_RUN = re.compile(r"(?:[ \t]*<br\s*/?>[ \t]*)+", re.IGNORECASE)
_LIST_PREFIX = re.compile(
    r"^[ \t]*(?:(?:[-*+•▪◦‣–]|\d{1,3}[.)]|[A-Za-z][.)]|\((?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})\)|#{1,6}|>+)"
    r"[ \t]+(?:\[[ xX]\][ \t]+)?)*")
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$")
# a table cell kept verbatim: one lowercase / snake_case / camelCase token, or no letters
_TABLE_TOKEN = re.compile(r"[a-z_][a-z0-9_]*(?:[A-Z][A-Za-z0-9_]*)*|[^A-Za-z]*")
_ABBREV = {
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "no", "fig", "figs", "vol",
    "approx", "ca", "cf", "al", "inc", "ltd", "co", "corp", "dept", "est", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "op", "p", "pp", "gen", "gov", "sen", "rep",
}
_SENT_BOUNDARY = re.compile(r"[.!?…][\"'”’)\]]*(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class _Seg:
    """A translatable part of a plan (stripped: its surrounding whitespace is a verbatim part)."""

    unit: Unit


_Part = Union[str, _Seg]


@dataclass
class AssembleResult:
    """``text`` is None while MT requests are missing (all listed in ``missing``)."""

    text: str | None
    missing: list[str] = field(default_factory=list)
    fallbacks: int = 0  # units rebuilt chunk by chunk because MT mangled their markers


class ItemPlan:
    """How one instruction is translated: verbatim parts kept, translatable segments masked."""

    def __init__(self, source: str, parts: list[_Part]):
        self.source = source
        self.parts = parts

    @property
    def units(self) -> list[Unit]:
        return [p.unit for p in self.parts if isinstance(p, _Seg)]

    def requests(self) -> list[str]:
        """Distinct texts to send to MT in round 1 (stripped, with placeholders)."""
        return list(dict.fromkeys(u.masked for u in self.units))

    def assemble(self, translations: Mapping[str, str]) -> AssembleResult:
        """Rebuild the instruction from MT outputs (``request text -> output``)."""
        missing: list[str] = []
        out: list[str] = []
        fallbacks = 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            unit = part.unit
            tr = translations.get(unit.masked)
            if tr is None:
                missing.append(unit.masked)
                continue
            restored = restore(tr.strip(), unit)
            if restored is None:
                fallbacks += 1
                restored = self._fallback(unit, translations, missing)
            if restored is not None:
                out.append(restored)
        if missing:
            return AssembleResult(None, list(dict.fromkeys(missing)), fallbacks)
        return AssembleResult("".join(out), [], fallbacks)

    @staticmethod
    def _fallback(unit: Unit, translations: Mapping[str, str], missing: list[str]) -> str | None:
        pieces: list[str] = []
        ok = True
        for i, chunk in enumerate(unit.chunks()):
            if i:
                pieces.append(unit.spans[i - 1])
            if not _has_letters(chunk):
                pieces.append(chunk)
                continue
            # punctuation glued to the neighbouring spans (", " after one, " (" before one) stays
            lead = _CHUNK_LEAD.match(chunk).group()
            trail = _CHUNK_TRAIL.search(chunk, len(lead)).group()
            core = chunk[len(lead):len(chunk) - len(trail)]
            tr = translations.get(core)
            if tr is None:
                missing.append(core)
                ok = False
                continue
            pieces.append(lead + _strip_markers(tr).strip() + trail)
        return "".join(pieces) if ok else None

    def __repr__(self) -> str:
        return f"ItemPlan({len(self.parts)} parts, {len(self.requests())} requests)"


_CHUNK_LEAD = re.compile(r"[\s,.;:!?)\]}]*")
_CHUNK_TRAIL = re.compile(r"[\s(\[{]*$")


def _edges(s: str) -> tuple[str, str]:
    core = s.strip()
    if not core:
        return s, ""
    start = len(s) - len(s.lstrip())
    return s[:start], s[start + len(core):]


def _split_lines(text: str) -> Iterator[tuple[str, str]]:
    """(line, line ending) pairs; the last ending is ''."""
    pos = 0
    for m in _NEWLINE.finditer(text):
        yield text[pos:m.start()], m.group()
        pos = m.end()
    yield text[pos:], ""


def _sentence_chunks(text: str, limit: int = MAX_REQUEST_CHARS) -> list[str]:
    """Split a long stripped text at sentence ends into pieces <= ``limit`` (when possible);
    the separators between pieces are returned as separate odd items: [chunk, sep, chunk, ...]."""
    spans = _find_spans(text)

    def inside(i: int) -> bool:
        return any(s < i < e for s, e in spans)

    cuts: list[tuple[int, int]] = []  # (start, end) of whitespace separators
    for m in _SENT_BOUNDARY.finditer(text):
        ws_s, ws_e = m.span(1)
        if inside(ws_s):
            continue
        before = text[:m.start() + 1]
        word = re.search(r"(\S+)$", before)
        token = word.group(1).rstrip(".!?…\"'”’)]").lower() if word else ""
        if text[m.start()] == "." and (
                token in _ABBREV or len(token) == 1 or re.fullmatch(r"\d{1,2}", token)
                or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token)):
            continue
        cuts.append((ws_s, ws_e))
    if not cuts:
        return [text]
    sentences: list[str] = []
    seps: list[str] = []
    pos = 0
    for s, e in cuts:
        sentences.append(text[pos:s])
        seps.append(text[s:e])
        pos = e
    sentences.append(text[pos:])
    out: list[str] = [sentences[0]]
    for sep, sent in zip(seps, sentences[1:]):
        if len(out[-1]) + len(sep) + len(sent) <= limit:
            out[-1] += sep + sent
        else:
            out.extend([sep, sent])
    return out


def _add_text(parts: list[_Part], text: str) -> None:
    """Append a translatable piece of one line: whitespace kept, long text split, spans masked."""
    lead, trail = _edges(text)
    core = text.strip()
    if not _has_letters(core):
        parts.append(text)
        return
    if lead:
        parts.append(lead)
    pieces = _sentence_chunks(core) if len(core) > MAX_REQUEST_CHARS else [core]
    for i, piece in enumerate(pieces):
        if i % 2:
            parts.append(piece)
            continue
        unit = protect(piece)
        if _has_letters(unit.masked):
            parts.append(_Seg(unit))
        else:
            parts.append(piece)
    if trail:
        parts.append(trail)


def _add_line(parts: list[_Part], line: str) -> None:
    """A prose line: list marker / indentation verbatim, <br> runs verbatim, rest translated."""
    if _TABLE_ROW.match(line):
        cells = re.split(r"((?<!\\)\|)", line)
        for cell in cells:
            if cell == "|" or _TABLE_TOKEN.fullmatch(cell.strip()):
                parts.append(cell)  # pipes, and cells holding one identifier/type/number
            else:
                _add_text(parts, cell)
        return
    prefix = _LIST_PREFIX.match(line).group()
    if prefix:
        parts.append(prefix)
    rest = line[len(prefix):]
    # <br> runs split the line, except inside inline code
    code_spans = [m.span() for m in _SPAN_RES[0][1].finditer(rest)]
    pos = 0
    for m in _BR_RUN.finditer(rest):
        if any(s <= m.start() < e for s, e in code_spans):
            continue
        _add_text(parts, rest[pos:m.start()])
        parts.append(m.group())
        pos = m.end()
    _add_text(parts, rest[pos:])


def plan_item(text: str) -> ItemPlan:
    """Segment and protect one instruction."""
    parts: list[_Part] = []
    lines = list(_split_lines(text))
    i = 0
    n = len(lines)
    while i < n:
        line, eol = lines[i]
        fence = _FENCE_OPEN.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            char, size = fence.group(1)[0], len(fence.group(1))
            close = re.compile(rf"^[ \t]*{re.escape(char)}{{{size},}}[ \t]*$")
            j = i + 1
            while j < n and not close.match(lines[j][0]):
                j += 1
            end = min(j, n - 1)
            parts.append("".join(ln + e for ln, e in lines[i:end + 1]))
            i = end + 1
            continue
        if not line.strip():
            parts.append(line + eol)
            i += 1
            continue
        # a paragraph: consecutive non-blank, non-fence lines
        j = i
        while j < n and lines[j][0].strip():
            f = _FENCE_OPEN.match(lines[j][0])
            if f and not (f.group(1)[0] == "`" and "`" in f.group(2)):
                break
            j += 1
        para = lines[i:j]
        code = _code_lines([ln for ln, _ in para])
        for (ln, e), is_code in zip(para, code):
            if is_code:
                parts.append(ln)
            else:
                _add_line(parts, ln)
            parts.append(e)
        i = j
    # merge adjacent verbatim strings
    merged: list[_Part] = []
    for p in parts:
        if isinstance(p, str):
            if not p:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += p
                continue
        merged.append(p)
    return ItemPlan(text, merged)
