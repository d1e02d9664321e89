"""Quality flags for one machine translation of an instruction (pure Python + lingua).

Flags, in this order: untranslated, wrong_language, truncated, code_altered,
number_mismatch, hallucinated_addition, repetition. A problem that another flag
already explains is not reported twice: numbers or code lost in a truncated tail
count as ``truncated`` only, extra numbers in added text as ``hallucinated_addition``
only, and length inflated by a loop as ``repetition`` only.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from bench.languages import get_language, lingua_detector
from bench.vocabulary import QA_FLAGS


# ----------------------------------------------------------------- thresholds
# Source needs this many words (>= 2 letters, outside code/URLs) to count as translatable.
MIN_TRANSLATABLE_WORDS = 3
# A source in Title Case (or only brand names) up to this many words is a name/title, left as is on purpose.
TITLE_MAX_WORDS = 6
# Normalised word-sequence similarity at or above which a translation counts as a copy of the source.
NEAR_IDENTICAL_RATIO = 0.85
# Words (outside code, URLs, quotes) needed before language identification is trusted.
LID_MIN_WORDS = 4
# Confidence of the source language (whole translation) that marks it as untranslated.
UNTRANSLATED_CONFIDENCE = 0.70
# Confidence of a third language (whole translation) that marks it as wrong_language.
WRONG_LANGUAGE_CONFIDENCE = 0.60
# A third language wins and the target gets at most this confidence: wrong_language whatever the winner's score.
WRONG_LANGUAGE_MAX_TARGET_CONFIDENCE = 0.05
# From this many words on, a third language winning by a margin is enough for wrong_language...
WRONG_LANGUAGE_LONG_WORDS = 12
# ...that margin over the target's confidence.
WRONG_LANGUAGE_LONG_MARGIN = 0.20
# A sentence/line needs this many words to be judged on its own (mixed-language output).
SEGMENT_MIN_WORDS = 6
# Confidence needed to flag a single sentence/line as source or third language.
SEGMENT_CONFIDENCE = 0.90
# A sentence detected as the source language, whose words all come from the source, is copied text
# when the target language gets at most this confidence.
SEGMENT_COPY_MAX_TARGET_CONFIDENCE = 0.20
# Share of a source-language sentence's words allowed to be absent from the source (copied-sentence test).
SEGMENT_MAX_NEW_WORDS = 0.10
# Quoted spans up to this many words are treated as titles/citations and skipped by language ID.
QUOTE_MAX_WORDS = 12
# Length ratios (characters of words) are only judged when the source prose has this many characters.
RATIO_MIN_CHARS = 25
# Translation shorter than this share of its expected length is truncated, whatever its ending.
TRUNCATED_RATIO = 0.45
# Translation ending mid-sentence is truncated when shorter than this share of its expected length.
TRUNCATED_SOFT_RATIO = 0.80
# Fewer paragraphs/lines than the source is truncation when shorter than this share of the expected length.
TRUNCATED_LINES_RATIO = 0.80
# Translation longer than this multiple of its expected length (plus the slack below) has additions.
HALLUCINATED_RATIO = 1.60
# Same, when the translation has no more sentences/lines than the source (acronyms, idioms expand legitimately).
HALLUCINATED_RATIO_SAME_SENTENCES = 2.0
# Characters of slack added to the expected length before HALLUCINATED_RATIO applies (short items vary a lot).
HALLUCINATED_SLACK_CHARS = 20
# Extra sentences/lines only count as additions when the translation is this much longer than expected.
HALLUCINATED_EXTRA_RATIO = 1.25
# An extra sentence needs this many words/numbers to count as added content.
EXTRA_SENTENCE_MIN_WORDS = 4
# Consecutive repeats of one word that count as a degenerate loop ("la la la").
REPEAT_MIN_RUN_WORD = 3
# Consecutive repeats of an n-gram (n >= 2) that count as a degenerate loop.
REPEAT_MIN_RUN_NGRAM = 3
# A doubled word ("comment comment") this long (n-gram: 3 letters more) is a stutter when the source repeats nothing.
DOUBLED_MIN_LETTERS = 5
# Longest n-gram checked for consecutive repeats.
REPEAT_MAX_NGRAM = 8
# Sentences shorter than this (words) are ignored by the repeated-sentence test.
REPEAT_SENTENCE_MIN_WORDS = 3
# A sentence appearing this many times, more often than any sentence of the source, is repetition.
REPEAT_SENTENCE_MIN_COUNT = 2
# A line/list item appearing this many times, more often than in the source, is repetition.
REPEAT_LINE_MIN_COUNT = 3
# Character pattern (1-6 chars) repeated this many times in a row ("hahahaha", "!!!!!!!!").
REPEAT_CHAR_MIN_RUN = 8

# Close relatives added to the detector so that output in a neighbouring language (Portuguese or Catalan
# for Spanish, Dutch for German...) is recognised as wrong_language instead of passing as the target.
NEIGHBOUR_LANGUAGES: dict[str, tuple[str, ...]] = {
    "es": ("pt", "ca", "it"), "fr": ("it", "ca"), "de": ("nl",), "it": ("es", "fr"), "pt": ("es",),
    "ca": ("es", "fr"), "gl": ("pt", "es"), "nl": ("de",), "ro": ("it",), "ru": ("uk",), "uk": ("ru",),
    "sv": ("nl",),
}

# Expected length of a translation relative to English (characters of words); default 1.0.
EXPECTED_LENGTH_RATIO: dict[str, float] = {
    "en": 1.0, "fr": 1.15, "es": 1.12, "de": 1.15, "it": 1.10, "pt": 1.08, "ca": 1.08, "gl": 1.08,
    "eu": 1.05, "nl": 1.10, "ro": 1.10, "pl": 1.05, "ru": 1.05, "uk": 1.05, "sv": 1.0, "tr": 1.0,
    "ar": 0.85, "hi": 1.0, "zh": 0.30, "ja": 0.40, "ko": 0.45,
}

# ------------------------------------------------------------------- patterns
_FENCE_RE = re.compile(r"(```|~~~)[^\n]*\n.*?(?:\1|\Z)", re.S)
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()\"'`«»]+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PLACEHOLDER_RE = re.compile(
    r"\{\{\s*[\w.]+\s*\}\}"  # {{var}}
    r"|\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}\s]*)?\}|\{\d*\}"  # {name} {0} {}
    r"|(?<![\d%\w])%(?:\([\w]+\))?[-+0#]*\d*(?:\.\d+)?[sdifuxXeEgGcr](?![A-Za-z])"  # %s %d %(name)s %.2f
    r"|\$\{[^}\s]+\}|\$[A-Z_][A-Z0-9_]+\b"  # ${VAR} $VAR
    r"|</?[A-Za-z][\w-]*(?:\s+[^<>\n]*)?/?>"  # <tag>, </tag>, <br/>
)
_HASHTAG_RE = re.compile(r"(?<![\w&#/])#[^\W\d_][\w-]*")
_QUOTE_RE = re.compile(r"«[^»\n]*»|“[^”\n]*”|„[^“”\n]*[“”]|\"[^\"\n]*\"")
_WORD_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-][^\W\d_])*")
_TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*")
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+|\n+")
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+\S", re.M)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_NUM_RE = re.compile(r"\d+(?:(?:[.,]|[ \u00a0\u202f'’](?=\d{3}(?!\d)))\d+)*(?P<k>[kK](?![^\W\d_]))?")
_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?", re.I)
_ZERO_MINUTES_RE = re.compile(r"(?<=\d)(?::|\s?h\s?)00\b")
_ROMAN_RE = re.compile(r"\b([IVXLCDM]+)(?:e|er|re|ème|º|\.º|\.)?(?![\w])")
_TERMINAL = ".!?…:;"
_CLOSERS = "\"'»”“’)]*_ \t\n"

_PREFIX_RE = re.compile(
    r"^[\W_]*(?:"
    r"(?:here(?:'s| is) (?:the |a |my |your )?translation|voici (?:la |une |ma )?traduction"
    r"|aqu[ií] (?:est[aá] |tienes |tiene )?(?:la |una |mi )?traducci[oó]n|hier ist (?:die |eine |meine )?übersetzung"
    r"|ecco la traduzione|aqui est[aá] a tradu[cç][aã]o)"
    r"|(?:translation|translated text|traduction|traducci[oó]n|übersetzung|traduzione|tradu[cç][aã]o)"
    r"(?:\s+(?:en|al|in|ins|into|to|vers|au|a|auf)\s+\w+)?\s*[:：]"
    r"|(?:sure|certainly|of course|absolutely|bien s[uû]r|certainement|claro|por supuesto|desde luego"
    r"|natürlich|klar|gerne|certo)\s*[!,.]"
    r")",
    re.I,
)
_NOTE_RE = re.compile(
    r"(?:^|\n|\()\s*\**\s*(?:note|nota|remarque|anmerkung|hinweis|n\.\s?b\.)"
    r"(?:\s+(?:du traducteur|del traductor|des übersetzers|de traduction|de traducci[oó]n|on the translation))?\s*\**\s*[:：]"
    r"|hope (?:this|that|it) helps|j'esp[eè]re que (?:cela|ça|ceci) (?:vous |t'|t’)?aide"
    r"|espero que (?:esto |esta |te |le |les )*(?:ayude|sirva)|ich hoffe,? (?:das|dies|es) hilft",
    re.I,
)

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

# Number words (cardinals, ordinals, "dozen"): digits and words are interchangeable.
_NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": {
        **{w: i for i, w in enumerate(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty".split())},
        "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
        "hundred": 100, "thousand": 1000, "million": 1000000, "dozen": 12, "once": 1, "twice": 2,
        "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
        "ninth": 9, "tenth": 10, "a": 1, "an": 1, "single": 1, "couple": 2, "pair": 2, "half": 2,
    },
    "fr": {
        "zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
        "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
        "seize": 16, "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100,
        "mille": 1000, "million": 1000000, "millions": 1000000, "douzaine": 12, "premier": 1, "première": 1,
        "deuxième": 2, "second": 2, "seconde": 2, "troisième": 3, "quatrième": 4, "cinquième": 5,
        "sixième": 6, "septième": 7, "huitième": 8, "neuvième": 9, "dixième": 10, "fois": 1, "moitié": 2,
        "demi": 2, "demie": 2,
    },
    "es": {
        "cero": 0, "uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
        "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
        "quince": 15, "dieciséis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
        "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80,
        "noventa": 90, "cien": 100, "ciento": 100, "mil": 1000, "millón": 1000000, "millones": 1000000,
        "docena": 12, "primer": 1, "primero": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercer": 3,
        "tercero": 3, "tercera": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5, "sexto": 6,
        "séptimo": 7, "octavo": 8, "noveno": 9, "décimo": 10, "vez": 1, "veces": 1, "mitad": 2, "medio": 2,
        "media": 2,
    },
    "de": {
        "null": 0, "eins": 1, "ein": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3,
        "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11,
        "zwölf": 12, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50, "hundert": 100,
        "tausend": 1000, "million": 1000000, "millionen": 1000000, "dutzend": 12, "erste": 1, "ersten": 1,
        "erster": 1, "erstes": 1, "zweite": 2, "zweiten": 2, "dritte": 3, "dritten": 3, "vierte": 4,
        "fünfte": 5, "mal": 1, "hälfte": 2, "halb": 2,
    },
}


# ------------------------------------------------------------------- results
@dataclass
class QAResult:
    """Flags (in QA_FLAGS order) and, per flag, a short human-readable reason."""

    flags: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"qa_flags": list(self.flags), "qa_evidence": dict(self.evidence)}


def _short(items: Iterable[str], limit: int = 4, width: int = 40) -> str:
    items = list(items)
    out = []
    for item in items[:limit]:
        item = " ".join(item.split())
        out.append(item if len(item) <= width else item[: width - 1] + "…")
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(out) + more


# --------------------------------------------------------------- text helpers
def _protected_spans(text: str) -> tuple[list[tuple[int, int, str]], str]:
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

    grab(_FENCE_RE)
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


def _words(text: str) -> list[str]:
    return [w for w in _WORD_RE.findall(text) if len(w) >= 2]


def _word_count(text: str) -> float:
    return len(_words(text)) + len(_CJK_RE.findall(text)) / 2


def _measure(text: str) -> int:
    """Length in characters of the words and numbers, single-spaced (punctuation/spacing style ignored)."""
    return len(" ".join(_TOKEN_RE.findall(text)))


def _norm(text: str) -> str:
    return " ".join(_TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower()))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT_RE.split(text) if s and s.strip() and _TOKEN_RE.search(s)]


def _lid_text(prose: str) -> str:
    """Prose for language ID: quoted titles/citations and digits removed."""
    def drop(m: re.Match) -> str:
        return " " if len(m.group(0).split()) <= QUOTE_MAX_WORDS else m.group(0)

    text = _QUOTE_RE.sub(drop, prose)
    text = re.sub(r"[\d#*_>|=+\-–—/\\\[\](){}<>~^$%@&]+", " ", text)
    return " ".join(text.split())


def _is_title_like(words: list[str]) -> bool:
    """Short, and every word of 4+ letters has a capital (Title Case, iPhone): a name or a title."""
    long = [w for w in words if len(w) >= 4]
    return len(words) <= TITLE_MAX_WORDS and bool(long) and all(any(c.isupper() for c in w) for w in long)


def _ends_mid_sentence(text: str, lang: str) -> tuple[bool, str]:
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
    last = _TOKEN_RE.findall(core.lower())
    if last:
        word = re.split(r"['’]", last[-1])[-1]
        if word in _FUNCTION_WORDS.get(lang, frozenset()) or last[-1].endswith(("'", "’")):
            return True, f"ends with '{last[-1]}'"
    return False, "no final punctuation"


def _ends_terminal(text: str) -> bool:
    core = text.rstrip().rstrip(_CLOSERS)
    return bool(core) and (core[-1] in _TERMINAL or core.endswith("```"))


def _cut_inside(item: str, translation: str) -> bool:
    """The translation stops inside ``item`` (it ends with a prefix of it)."""
    head = item[: min(12, len(item))]
    pos = translation.rfind(head)
    tail = translation[pos:].rstrip() if pos >= 0 else ""
    return bool(tail) and item.startswith(tail)


def _paragraphs(prose: str) -> int:
    return sum(1 for p in re.split(r"\n\s*\n", prose) if _TOKEN_RE.search(p))


def _lines(prose: str) -> int:
    return sum(1 for line in prose.splitlines() if _TOKEN_RE.search(line))


# -------------------------------------------------------------------- numbers
@dataclass
class _Num:
    surface: str
    values: frozenset[str]
    pos: float  # relative position in the text (0..1)


def _canon(int_part: str, frac: str | None = None) -> str:
    int_part = int_part.lstrip("0") or "0"
    return f"{int_part}.{frac}" if frac is not None else int_part


def _interpret(token: str) -> list[frozenset[str]]:
    """Candidate canonical values of one numeric token; several numbers if it is a list/version."""
    if re.search(r"[ \u00a0\u202f'’]", token):
        groups = re.split(r"[ \u00a0\u202f'’]", token)
        if 1 <= len(groups[0].rstrip(".,").split(",")[-1].split(".")[-1]) <= 3 and all(
            len(g.split(",")[0].split(".")[0]) == 3 for g in groups[1:]
        ):
            token = "".join(groups)
        else:
            return [v for g in groups for v in _interpret(g)]
    seps = re.findall(r"[.,]", token)
    parts = re.split(r"[.,]", token)
    if not seps:
        return [frozenset({_canon(token)})]
    if len(seps) == 1:
        a, b = parts
        values = {_canon(a, b)}
        if len(b) == 3 and 1 <= len(a) <= 3 and not a.startswith("0"):
            values.add(_canon(a + b))
        return [frozenset(values)]
    if all(len(p) == 3 for p in parts[1:]) and len(parts[0]) <= 3:
        if len(set(seps)) == 1:
            return [frozenset({_canon("".join(parts))})]
    if len(set(seps)) == 2 and seps[-1] != seps[0] and len(set(seps[:-1])) == 1 and all(len(p) == 3 for p in parts[1:-1]):
        return [frozenset({_canon("".join(parts[:-1]), parts[-1])})]
    return [frozenset({_canon(p)}) for p in parts if p]


def _numbers(prose: str, english_times: bool) -> list[_Num]:
    text = _ZERO_MINUTES_RE.sub(" ", prose)
    pm_hours: dict[int, str] = {}
    if english_times:
        for m in _TIME_RE.finditer(text):
            hour = int(m.group(1))
            if 1 <= hour <= 12:
                if m.group(3).lower() == "p":
                    alt = hour + 12 if hour < 12 else 12
                else:
                    alt = 0 if hour == 12 else hour
                pm_hours[m.start(1)] = str(alt)
    n = max(len(text), 1)
    out: list[_Num] = []
    for m in _NUM_RE.finditer(text):
        token = m.group(0)
        digits = token[:-1] if m.group("k") else token
        for values in _interpret(digits):
            if m.start() in pm_hours and len(values) == 1:
                values = values | {pm_hours[m.start()]}
            if len(digits) == 4 and text[m.end(): m.end() + 1] == "s" and len(values) == 1:  # 1990s == 90s
                values = values | {_canon(digits[2:])}
            if m.group("k"):  # 10k == 10,000
                values = values | {_canon(str(int(float(v) * 1000))) for v in values if float(v) * 1000 == int(float(v) * 1000)}
            out.append(_Num(token, values, m.start() / n))
    return out


def _to_roman(n: int) -> str:
    table = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
             (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = []
    for value, sym in table:
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _match_numbers(src: list[_Num], tgt: list[_Num]) -> tuple[list[_Num], list[_Num]]:
    """Greedy multiset matching on candidate values; returns (unmatched source, unmatched translation)."""
    free = list(range(len(tgt)))
    missing: list[_Num] = []
    for s in sorted(src, key=lambda x: len(x.values)):
        best = None
        for j in free:
            if s.values & tgt[j].values and (best is None or len(tgt[j].values) < len(tgt[best].values)):
                best = j
        if best is None:
            missing.append(s)
        else:
            free.remove(best)
    return missing, [tgt[j] for j in free]


def _spelled(text: str, lang: str) -> set[str]:
    table = _NUMBER_WORDS.get(lang)
    if not table:
        return set()
    return {str(table[w]) for w in _TOKEN_RE.findall(text.lower()) if w in table}


# ----------------------------------------------------------------- repetition
def _max_runs(tokens: list[str]) -> tuple[tuple[int, str], tuple[int, str]]:
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


def _collapse_runs(tokens: list[str]) -> list[str]:
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


def _sentence_counts(text: str) -> Counter:
    return Counter(
        s for s in (_norm(x) for x in _sentences(text)) if len(s.split()) >= REPEAT_SENTENCE_MIN_WORDS
    )


def _char_run(text: str) -> int:
    best = 0
    for m in re.finditer(r"(\S{1,6}?)\1{%d,}" % (REPEAT_CHAR_MIN_RUN - 1), text):
        best = max(best, len(m.group(0)) // len(m.group(1)))
    return best


# ---------------------------------------------------------------------- check
class TranslationQA:
    """Checks machine translations; build once (the lingua detector is slow to build), reuse for many rows."""

    def __init__(self, languages: Sequence[str], neighbours: bool = True):
        """``languages``: ISO codes at hand; ``neighbours`` also lets the detector know NEIGHBOUR_LANGUAGES."""
        self.languages = [get_language(code).code for code in languages]
        detect = list(self.languages)
        if neighbours:
            detect += [n for code in self.languages for n in NEIGHBOUR_LANGUAGES.get(code, ()) if n not in detect]
        self._detector, self._codes = lingua_detector(detect)
        self._lingua: dict[str, object] = {code: member for member, code in self._codes.items()}
        self._cache: dict[str, list[tuple[str, float]]] = {}

    # -- language ID ------------------------------------------------------
    def _confidences(self, text: str) -> list[tuple[str, float]]:
        hit = self._cache.get(text)
        if hit is None:
            values = self._detector.compute_language_confidence_values(text)
            hit = [(self._codes[v.language], v.value) for v in values]
            if len(self._cache) > 50000:
                self._cache.clear()
            self._cache[text] = hit
        return hit

    def _prefetch(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t and t not in self._cache))
        if not todo or self._detector is None:
            return
        for text, values in zip(todo, self._detector.compute_language_confidence_values_in_parallel(todo)):
            self._cache[text] = [(self._codes[v.language], v.value) for v in values]

    def _can_detect(self, *codes: str) -> bool:
        return self._detector is not None and all(c in self._lingua for c in codes)

    # -- public API -------------------------------------------------------
    def check(self, source: str, translation: str, target_lang: str, source_lang: str = "en") -> QAResult:
        """Flag one translation of ``source`` (in ``source_lang``) into ``target_lang``."""
        tgt, src_lang = get_language(target_lang).code, get_language(source_lang).code
        if tgt not in self.languages or src_lang not in self.languages:
            raise ValueError(f"language not given to TranslationQA: {tgt if tgt not in self.languages else src_lang}")
        return self._check(source, translation, tgt, src_lang)

    def check_many(self, rows: Iterable[tuple[str, str, str]], source_lang: str = "en") -> list[QAResult]:
        """Check (source, translation, target_lang) rows; language ID is batched across rows."""
        rows = list(rows)
        self._prefetch([_lid_text(_protected_spans(t)[1]) for _, t, _ in rows])
        return [self.check(s, t, lang, source_lang) for s, t, lang in rows]

    # -- the checks -------------------------------------------------------
    def _check(self, source: str, translation: str, tgt: str, src_lang: str) -> QAResult:
        ev: dict[str, str] = {}
        s_spans, s_prose = _protected_spans(source)
        t_prose = _protected_spans(translation)[1]
        s_words = _words(s_prose)
        expected = EXPECTED_LENGTH_RATIO.get(tgt, 1.0) / EXPECTED_LENGTH_RATIO.get(src_lang, 1.0)
        s_len = _measure(s_prose)
        translatable = (
            len(s_words) >= MIN_TRANSLATABLE_WORDS and not _is_title_like(s_words) and tgt != src_lang
        )

        # repetition first: it changes how lengths are read
        t_tokens = _norm(t_prose).split()
        s_tokens = _norm(s_prose).split()
        rep = self._repetition(source, translation, s_prose, t_prose, s_tokens, t_tokens)
        if rep:
            ev["repetition"] = rep
            seen, kept = set(), []
            for sent in _sentences(t_prose):
                key = _norm(sent)
                if key not in seen:
                    seen.add(key)
                    kept.append(key)
            t_len = len(" ".join(_collapse_runs(" ".join(kept).split())))
        else:
            t_len = _measure(t_prose)
        ratio = (t_len / s_len) / expected if s_len else 1.0

        # untranslated / wrong language
        if translatable:
            copied = self._copied(s_prose, t_prose)
            if copied:
                ev["untranslated"] = copied
        if tgt != src_lang and self._can_detect(tgt, src_lang):
            self._language(s_prose, t_prose, s_words, tgt, src_lang, translatable, ev)

        # truncation
        trunc = self._truncated(source, translation, s_prose, t_prose, s_len, ratio, tgt, rep)
        if trunc:
            ev["truncated"] = trunc
        cut = min(1.0, ratio) - 0.1 if trunc else 2.0  # source share that made it into the translation

        # code / placeholders
        missing_code = []
        for start, _, item in s_spans:
            if translation.count(item) < source.count(item) and start / max(len(source), 1) < cut:
                if item not in missing_code and not (trunc and _cut_inside(item, translation)):
                    missing_code.append(item)
        if missing_code:
            ev["code_altered"] = "not kept verbatim: " + _short(missing_code)

        # hallucinated additions (before numbers: extra numbers in added text are not reported twice)
        hallu = self._hallucinated(source, translation, s_prose, t_prose, s_len, t_len, ratio, expected, rep)
        if hallu:
            ev["hallucinated_addition"] = hallu

        nums = self._numbers(s_prose, t_prose, tgt, src_lang, cut, ignore_extra=bool(hallu or rep))
        if nums:
            ev["number_mismatch"] = nums

        flags = [f for f in QA_FLAGS if f in ev]
        return QAResult(flags, {f: ev[f] for f in flags})

    def _copied(self, s_prose: str, t_prose: str) -> str:
        a, b = _norm(s_prose), _norm(t_prose)
        if a == b:
            return "translation identical to source"
        sa, sb = a.split(), b.split()
        matcher = difflib.SequenceMatcher(None, sa, sb, autojunk=False)
        if (matcher.real_quick_ratio() >= NEAR_IDENTICAL_RATIO and matcher.quick_ratio() >= NEAR_IDENTICAL_RATIO
                and matcher.ratio() >= NEAR_IDENTICAL_RATIO):
            return f"translation nearly identical to source ({matcher.ratio():.0%} of words)"
        return ""

    def _language(self, s_prose, t_prose, s_words, tgt, src_lang, translatable, ev) -> None:
        lid = _lid_text(t_prose)
        n_words = _word_count(lid)
        if n_words >= LID_MIN_WORDS:
            conf = self._confidences(lid)
            top, value = conf[0]
            target_conf = dict(conf).get(tgt, 0.0)
            if top == src_lang and value >= UNTRANSLATED_CONFIDENCE and translatable and "untranslated" not in ev:
                ev["untranslated"] = f"detected as {top} ({value:.2f}), not {tgt}"
            elif top not in (tgt, src_lang) and (
                value >= WRONG_LANGUAGE_CONFIDENCE
                or (n_words >= WRONG_LANGUAGE_LONG_WORDS and value - target_conf >= WRONG_LANGUAGE_LONG_MARGIN)
                or target_conf <= WRONG_LANGUAGE_MAX_TARGET_CONFIDENCE
            ):
                ev["wrong_language"] = f"detected as {top} ({value:.2f}), {tgt} only {target_conf:.2f}"
        # mixed output: judge long sentences/lines one by one
        segments = [seg for seg in (_lid_text(x) for x in _sentences(t_prose)) if _word_count(seg) >= SEGMENT_MIN_WORDS]
        if len(segments) < 2 and not (segments and n_words > _word_count(segments[0]) + 2):
            return
        source_vocab = {w.lower() for w in s_words}
        for seg in segments:
            if "untranslated" in ev and "wrong_language" in ev:
                break
            seg_conf = self._confidences(seg)
            top, value = seg_conf[0]
            if top == tgt:
                continue
            if (top == src_lang and dict(seg_conf).get(tgt, 0.0) <= SEGMENT_COPY_MAX_TARGET_CONFIDENCE
                    and translatable and "untranslated" not in ev):
                seg_words = [w.lower() for w in _words(seg)]
                new = sum(1 for w in seg_words if w not in source_vocab) / max(len(seg_words), 1)
                if new <= SEGMENT_MAX_NEW_WORDS:
                    ev["untranslated"] = f"sentence left in {top}: {_short([seg], 1, 50)}"
            elif top not in (tgt, src_lang) and value >= SEGMENT_CONFIDENCE and "wrong_language" not in ev:
                ev["wrong_language"] = f"sentence in {top} ({value:.2f}): {_short([seg], 1, 50)}"

    def _truncated(self, source, translation, s_prose, t_prose, s_len, ratio, tgt, rep) -> str:
        if source.count("```") % 2 == 0 and translation.count("```") % 2 == 1:
            return "code block left open"
        if not _TOKEN_RE.search(translation) and _TOKEN_RE.search(source):
            return "empty translation"
        long_enough = s_len >= RATIO_MIN_CHARS
        if long_enough and ratio < TRUNCATED_RATIO:
            return f"{ratio:.0%} of the expected length"
        s_items, t_items = len(_LIST_ITEM_RE.findall(s_prose)), len(_LIST_ITEM_RE.findall(t_prose))
        if s_items >= 2 and t_items < s_items and not rep:
            return f"{t_items} list items, source has {s_items}"
        strong, why = _ends_mid_sentence(translation, tgt)
        source_strong, _ = _ends_mid_sentence(source, "en")
        if (strong and not source_strong and _ends_terminal(source) and len(_words(s_prose)) >= MIN_TRANSLATABLE_WORDS
                and not (rep and ratio >= TRUNCATED_SOFT_RATIO)):  # a loop at the end of complete content: repetition only
            return f"{why}; source ends with a full sentence"
        if why and _ends_terminal(source) and long_enough and ratio < TRUNCATED_SOFT_RATIO:
            return f"{why} and {ratio:.0%} of the expected length"
        if long_enough and ratio < TRUNCATED_LINES_RATIO:
            sp, tp = _paragraphs(s_prose), _paragraphs(t_prose)
            if tp < sp:
                return f"{tp} paragraphs, source has {sp} ({ratio:.0%} of the expected length)"
            sl, tl = _lines(s_prose), _lines(t_prose)
            if tl < sl:
                return f"{tl} lines, source has {sl} ({ratio:.0%} of the expected length)"
        return ""

    def _hallucinated(self, source, translation, s_prose, t_prose, s_len, t_len, ratio, expected, rep) -> str:
        m = _PREFIX_RE.search(translation)
        if m and not _PREFIX_RE.search(source):
            return f"preamble not in source: {_short([m.group(0).strip()], 1)}"
        m = _NOTE_RE.search(translation)
        if m and not _NOTE_RE.search(source):
            return f"note not in source: {_short([m.group(0).strip(' (*')], 1)}"
        if rep:
            return ""
        s_sentences, t_sentences = len(_sentences(s_prose)), len(_sentences(t_prose))
        more_units = t_sentences > s_sentences or _lines(t_prose) > _lines(s_prose)
        limit = HALLUCINATED_RATIO if more_units else HALLUCINATED_RATIO_SAME_SENTENCES
        if s_len and t_len > s_len * expected * limit + HALLUCINATED_SLACK_CHARS:
            return f"{ratio:.0%} of the expected length"
        s_tags, t_tags = _HASHTAG_RE.findall(source), _HASHTAG_RE.findall(translation)
        if len(t_tags) > len(s_tags):
            return "hashtags not in source: " + _short(t_tags)
        s_items, t_items = len(_LIST_ITEM_RE.findall(s_prose)), len(_LIST_ITEM_RE.findall(t_prose))
        if s_items >= 1 and t_items > s_items:
            return f"{t_items} list items, source has {s_items}"
        if ratio >= HALLUCINATED_EXTRA_RATIO and s_len:
            s_sent = [x for x in _sentences(s_prose)]
            t_sent = [x for x in _sentences(t_prose) if len(_TOKEN_RE.findall(x)) >= EXTRA_SENTENCE_MIN_WORDS]
            if len(t_sent) > len(s_sent):
                return f"{len(t_sent)} sentences, source has {len(s_sent)} ({ratio:.0%} of the expected length)"
            if _lines(t_prose) > _lines(s_prose):
                return f"{_lines(t_prose)} lines, source has {_lines(s_prose)}"
        return ""

    def _numbers(self, s_prose, t_prose, tgt, src_lang, cut, ignore_extra) -> str:
        src = _numbers(s_prose, english_times=src_lang == "en")
        tgt_nums = _numbers(t_prose, english_times=tgt == "en")
        missing, extra = _match_numbers(src, tgt_nums)
        if missing:
            spelled = _spelled(t_prose, tgt)
            romans = {m.group(1) for m in _ROMAN_RE.finditer(t_prose)}
            kept = []
            for num in missing:
                ints = {v for v in num.values if v.isdigit()}
                if num.pos >= cut or ints & spelled:
                    continue
                if any(0 < int(v) < 4000 and _to_roman(int(v)) in romans for v in ints):
                    continue
                kept.append(num)
            missing = kept
        if extra and not ignore_extra:
            # an extra copy of a number the source has is restructuring ("24/7" -> "24 h/24, 7 j/7"), not an error
            known = _spelled(s_prose, src_lang).union(*(n.values for n in src))
            extra = [n for n in extra if not (n.values & known)]
        else:
            extra = []
        parts = []
        if missing:
            parts.append("in source, not in translation: " + _short([n.surface for n in missing], 5, 20))
        if extra:
            parts.append("in translation, not in source: " + _short([n.surface for n in extra], 5, 20))
        return "numbers " + "; ".join(parts) if parts else ""

    def _repetition(self, source, translation, s_prose, t_prose, s_tokens, t_tokens) -> str:
        (tw, word), (tn, ngram) = _max_runs(t_tokens)
        (sw, _), (sn, _) = _max_runs(s_tokens)
        source_run = max(sw, sn)  # "please, please, please" may become "por favor, por favor, por favor"
        if tw >= REPEAT_MIN_RUN_WORD and tw > source_run:
            return f"'{word}' repeated {tw} times in a row"
        if tn >= REPEAT_MIN_RUN_NGRAM and tn > source_run:
            return f"'{_short([ngram], 1)}' repeated {tn} times in a row"
        if source_run == 1 and max(tw, tn) == 2:
            for sentence in _sentences(t_prose):  # within one sentence: a restatement across sentences is not a stutter
                (dw, word), (dn, ngram) = _max_runs(_norm(sentence).split())
                if dw == 2 and len(word) >= DOUBLED_MIN_LETTERS and word.isalpha():
                    return f"'{word}' doubled"
                if dn == 2 and sum(c.isalpha() for c in ngram) >= DOUBLED_MIN_LETTERS + 3:
                    return f"'{_short([ngram], 1)}' doubled"
        t_counts, s_counts = _sentence_counts(t_prose), _sentence_counts(s_prose)
        if t_counts:
            sent, count = t_counts.most_common(1)[0]
            if count >= REPEAT_SENTENCE_MIN_COUNT and count > max(s_counts.values(), default=1):
                return f"sentence repeated {count} times: {_short([sent], 1)}"
        # list items / lines repeated more than in the source
        t_lines = Counter(_norm(x) for x in t_prose.splitlines() if _norm(x))
        s_lines = Counter(_norm(x) for x in s_prose.splitlines() if _norm(x))
        if t_lines:
            line, count = t_lines.most_common(1)[0]
            if count >= REPEAT_LINE_MIN_COUNT and count > max(s_lines.values(), default=1):
                return f"line repeated {count} times: {_short([line], 1)}"
        tc, sc = _char_run(translation), _char_run(source)
        if tc >= REPEAT_CHAR_MIN_RUN and tc > sc:
            return f"characters repeated {tc} times in a row"
        return ""
