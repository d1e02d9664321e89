"""Shared text features of a source/translation pair: protected spans, words, lengths, sentences, runs.

Protected spans (code fences, inline code, URLs, e-mails, placeholders) must be kept verbatim and are
left out of the prose that every other feature reads.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

from markdown_it import MarkdownIt

# Source needs this many words (>= 2 letters, outside code/URLs) to count as translatable.
MIN_TRANSLATABLE_WORDS = 3
# A source in Title Case (or only brand names) up to this many words is a name/title, left as is on purpose.
TITLE_MAX_WORDS = 6
# Longest n-gram checked for consecutive repeats.
REPEAT_MAX_NGRAM = 12

# Expected length of a translation relative to English (characters of words); default 1.0.
EXPECTED_LENGTH_RATIO: dict[str, float] = {
    "en": 1.0, "fr": 1.15, "es": 1.12, "de": 1.15, "it": 1.10, "pt": 1.08, "ca": 1.08, "gl": 1.08,
    "eu": 1.05, "nl": 1.10, "ro": 1.10, "pl": 1.05, "ru": 1.05, "uk": 1.05, "sv": 1.0, "tr": 1.0,
    "ar": 0.85, "hi": 1.0, "zh": 0.30, "ja": 0.40, "ko": 0.45,
}


# Inline code: a run of backticks closed by a run of the same length on the same line (CommonMark).
_INLINE_CODE_RE = re.compile(r"(?<!`)(`+)(?!`)[^\n]+?(?<!`)\1(?!`)")
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()\"'`«»]+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PLACEHOLDER_RE = re.compile(
    r"\{\{\s*[\w.]+\s*\}\}"  # {{var}}
    r"|\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}\s]*)?\}|\{\d*\}"  # {name} {0} {}
    r"|(?<![\d%\w])%(?:\([\w]+\))?[-+0#]*\d*(?:\.\d+)?[sdifuxXeEgGcr](?![A-Za-z])"  # %s %d %(name)s %.2f
    r"|\$\{[^}\s]+\}|\$[A-Z_][A-Z0-9_]+\b"  # ${VAR} $VAR
    r"|</?[A-Za-z][\w-]*(?:\s+[^<>\n]*)?/?>"  # <tag>, </tag>, <br/>
)
_WORD_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*")
TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*")
_SENT_SPLIT_RE = re.compile(r"(?<![\s(][A-Z]\.)(?<=[.!?…])\s+|\n+")  # not after an initial ("J. Krishnamurti")
LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+\S", re.M)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def short(items: Iterable[str], limit: int = 4, width: int = 40) -> str:
    """The first ``limit`` items, each single-spaced and cut to ``width`` characters, for evidence strings."""
    items = list(items)
    out = []
    for item in items[:limit]:
        item = " ".join(item.split())
        out.append(item if len(item) <= width else item[: width - 1] + "…")
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(out) + more


def protected_spans(text: str) -> tuple[list[tuple[int, int, str]], str]:
    """Code fences, inline code, URLs, e-mails and placeholders (start, end, text); and the text without them."""
    spans: list[tuple[int, int, str]] = []
    taken = [False] * (len(text) + 1)

    def grab(regex: re.Pattern, strip_tail: bool = False) -> None:
        for m in regex.finditer(text):
            start, end = m.start(), m.end()
            if strip_tail:
                while end > start and text[end - 1] in ".,;:!?)]}'\"»”":
                    end -= 1
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            spans.append((start, end, text[start:end]))

    for start, end in _fences(text):
        spans.append((start, end, text[start:end]))
        taken[start:end] = [True] * (end - start)
    grab(_INLINE_CODE_RE)
    grab(_URL_RE, strip_tail=True)
    grab(_EMAIL_RE, strip_tail=True)
    grab(_PLACEHOLDER_RE)
    spans.sort()
    prose, last = [], 0
    for start, end, _ in spans:
        prose.append(text[last:start])
        prose.append(" ")
        last = end
    prose.append(text[last:])
    return spans, "".join(prose)


def _fences(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks as markdown-it parses them (an unclosed fence runs to the end): (start, end)."""
    if "```" not in text and "~~~" not in text:
        return []
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out = []
    for token in _markdown().parse(text):
        if token.type == "fence" and token.map:
            start, end = starts[token.map[0]], starts[min(token.map[1], len(starts) - 1)]
            out.append((start, len(text[:end].rstrip("\n")) if end > start else end))
    return out


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


def words(text: str) -> list[str]:
    """Words of two letters or more (digits and single letters left out)."""
    return [w for w in _WORD_RE.findall(text) if len(w) >= 2]


def word_count(text: str) -> float:
    """Words, counting two CJK characters as one word."""
    return len(words(text)) + len(_CJK_RE.findall(text)) / 2


def measure(text: str) -> int:
    """Length in characters of the words and numbers, single-spaced (punctuation/spacing style ignored)."""
    return len(" ".join(TOKEN_RE.findall(text)))


def norm(text: str) -> str:
    """Lower-cased NFKC word/number tokens, single-spaced: the form texts are compared in."""
    return " ".join(TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower()))


_ABBREVIATION_END_RE = re.compile(r"(?:^|[\s(])[A-Z][a-z]{1,3}\.$")  # "Nov.", "Fig.", "No." (before a number)


def sentences(text: str) -> list[str]:
    """Sentences and lines that hold at least one word or number. A full stop followed by a lower-case word ("e.g.
    the", "etc. and") or an abbreviation followed by a number ("Nov. 18", "Fig. 3") ends no sentence (a question
    mark does: "...the acne? because I have a lot of it" is two)."""
    out: list[str] = []
    pieces = _SENT_SPLIT_RE.split(text)
    separators = _SENT_SPLIT_RE.findall(text)
    for k, piece in enumerate(pieces):
        piece = piece.strip()
        if not piece:
            continue
        if (out and k and "\n" not in separators[k - 1]
                and ((piece[0].islower() and out[-1].endswith(".")) or
                     (piece[0].isdigit() and _ABBREVIATION_END_RE.search(out[-1])))):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s for s in out if TOKEN_RE.search(s)]


def is_title_like(word_list: list[str]) -> bool:
    """Short, and every word of 4+ letters has a capital (Title Case, iPhone): a name or a title."""
    long = [w for w in word_list if len(w) >= 4]
    return len(word_list) <= TITLE_MAX_WORDS and bool(long) and all(any(c.isupper() for c in w) for w in long)


def paragraphs(prose: str) -> int:
    """Blank-line separated blocks that hold a word or number."""
    return sum(1 for p in re.split(r"\n\s*\n", prose) if TOKEN_RE.search(p))


def lines(prose: str) -> int:
    """Lines that hold a word or number."""
    return sum(1 for line in prose.splitlines() if TOKEN_RE.search(line))


def max_runs(tokens: list[str]) -> tuple[tuple[int, str], tuple[int, str]]:
    """Longest consecutive repeat of one word and of an n-gram (2 <= n <= REPEAT_MAX_NGRAM): (count, text)."""
    word, ngram = (1, ""), (1, "")
    size = len(tokens)
    for n in range(1, min(REPEAT_MAX_NGRAM, size // 2) + 1):
        i = 0
        while i <= size - 2 * n:
            if tokens[i: i + n] != tokens[i + n: i + 2 * n]:
                i += 1
                continue
            run = 2
            while tokens[i + run * n: i + (run + 1) * n] == tokens[i: i + n]:
                run += 1
            best = word if n == 1 else ngram
            if run > best[0]:
                if n == 1:
                    word = (run, tokens[i])
                else:
                    ngram = (run, " ".join(tokens[i: i + n]))
            i += (run - 1) * n  # a run starting inside this one is not longer
    return word, ngram


def collapse_runs(tokens: list[str]) -> list[str]:
    """Tokens with consecutive repeats of any n-gram (n <= REPEAT_MAX_NGRAM) kept once."""
    out = list(tokens)
    for n in range(REPEAT_MAX_NGRAM, 0, -1):
        i, result = 0, []
        while i < len(out):
            chunk = out[i: i + n]
            j = i + n
            while len(chunk) == n and out[j: j + n] == chunk:
                j += n
            result.extend(chunk if j > i + n else out[i: i + 1])
            i = j if j > i + n else i + 1
        out = result
    return out


# Characters that end a sentence, and closing quotes/brackets/markup skipped before looking for one.
_TERMINAL = ".!?…:;"
_CLOSERS = "\"'»”“’)]*_ \t\n"

# Words a complete sentence does not end with (articles, prepositions, conjunctions...).
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the a an of to and or in on for with by from that this my your is are at as but".split()),
    "fr": frozenset(
        "le la les l de du des d un une et ou à au aux en pour par avec sans sur sous dans que qui qu ce cet "
        "cette ces son sa ses leur leurs mon ma mes ton ta tes notre votre nos vos mais donc car si comme est "
        "très plus entre vers chez".split()
    ),
    "es": frozenset(
        "el la los las lo de del un una unos unas y o e u a al en para por con sin sobre que quien cual su sus "
        "mi mis tu tus nuestro nuestra muy más pero si como es se entre hacia desde".split()
    ),
    "de": frozenset(
        "der die das den dem des ein eine einen einem einer und oder zu zum zur im in mit für von vom auf an am "
        "bei dass ist sehr aus über unter gegen wie als aber".split()
    ),
    "it": frozenset("il lo la i gli le di del della un una e o a in per con su che è".split()),
    "pt": frozenset("o a os as de do da dos das um uma e ou em no na para por com que é".split()),
}


def ends_mid_sentence(text: str, lang: str) -> tuple[bool, str]:
    """(strong, reason): ends with a comma/hyphen/function word; weak endings return (False, reason)."""
    stripped = text.rstrip()
    if not stripped:
        return True, "empty"
    if stripped.endswith("`"):  # ends with code (a closed fence or span): judged by the code checks
        return False, ""
    core = stripped.rstrip(_CLOSERS)
    if not core:
        return False, ""
    if core[-1] in ",;(-–—/&+":
        return True, f"ends with '{core[-1]}'"
    if core[-1] in _TERMINAL:
        return False, ""
    last = TOKEN_RE.findall(core.lower())
    if last:
        word = re.split(r"['’]", last[-1])[-1]
        if word in _FUNCTION_WORDS.get(lang, frozenset()) or last[-1].endswith(("'", "’")):
            return True, f"ends with '{last[-1]}'"
    return False, "no final punctuation"


def ends_terminal(text: str) -> bool:
    """Ends with sentence punctuation or a closed code fence."""
    core = text.rstrip().rstrip(_CLOSERS)
    return bool(core) and (core[-1] in _TERMINAL or core.endswith("```"))


def ends_with_question(text: str) -> bool:
    """The last sentence is a question."""
    return text.rstrip().rstrip(_CLOSERS).endswith(("?", "？"))


# Coordinating conjunctions that close an enumeration ("A, B and C"), per language.
_LIST_CONJUNCTIONS = {"en": "and|or", "fr": "et|ou", "es": "y|e|o|u", "de": "und|oder", "it": "e|ed|o",
                      "pt": "e|ou"}


def enumerations(text: str, lang: str) -> list[int]:
    """Sizes of the enumerations of ``text`` ("smells, sounds, and visual elements": 3), sorted.

    An enumeration is a conjunction preceded, in the same sentence, by comma-separated chunks of similar length:
    walking back from the conjunction, each chunk up to twice the longest one after it (or 3 words) is an item;
    the first longer chunk holds the first item. "A and B" alone (no comma) is not counted. A sentence or line that
    is nothing but three or more comma-separated chunks of one to three words ("Microsoft, Google, Sony.") is an
    enumeration too, with or without a conjunction."""
    conj = _LIST_CONJUNCTIONS.get(lang)
    if conj is None:
        return []
    sizes = []
    for sent in re.split(r"(?<=[.!?;:])\s+|\n", text):
        if "," not in sent:
            continue
        if not re.search(rf"\b(?:{conj})\b", sent):
            chunks = re.split(r",\s+", sent.strip().rstrip(".;:!?").strip())
            if len(chunks) >= 3 and all(1 <= len(c.split()) <= 3 for c in chunks):
                sizes.append(len(chunks))
            continue
        for m in re.finditer(rf"(?<!/)\b(?:{conj})\b", sent):  # "and/or" is one conjunction
            chunks = sent[:m.start()].split(",")
            if len(chunks) < 2:
                continue
            if not chunks[-1].strip():
                chunks = chunks[:-1]  # the serial comma before the conjunction
            n, longest = 0, 1
            for chunk in reversed(chunks):
                n += 1
                words = len(chunk.split())
                if words > max(3, 2 * longest):
                    break
                longest = max(longest, words)
            if n >= 2:
                sizes.append(n + 1)
    return sorted(sizes)
