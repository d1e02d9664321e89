"""Numbers in prose: extraction with canonical candidate values, multiset matching, spelled and Roman forms.

"236,000", "236 000" and "236.000" all read as 236000; "3 pm" also as 15; "10k" also as 10000;
"1990s" also as 90. Number words ("five", "cinq") and Roman numerals ("XXI") are looked up separately.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from benchmark.qa.features import TOKEN_RE

_NUM_RE = re.compile(r"\d+(?:(?:[.,]|[ \u00a0\u202f'’](?=\d{3}(?!\d)))\d+)*(?P<k>[kK](?![^\W\d_]))?")
_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?", re.I)
_ZERO_MINUTES_RE = re.compile(r"(?<=\d)(?::|\s?h\s?)00\b")
_LIST_NUMBER_RE = re.compile(r"^([ \t]*)\d{1,2}[.)](?=\s)", re.M)
_ROMAN_RE = re.compile(r"\b([IVXLCDM]+)(?:e|er|re|ème|º|\.º|\.)?(?![\w])")

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


# Number words that are numbers only (no article, "time", "second", "half" or homonym like "neuf" = new):
# a value of 2 or more written as one in one text and not at all in the other is a changed number.
_AMBIGUOUS = frozenset(
    "a an one single once twice first second half couple pair un une fois premier première second seconde "
    "moitié demi demie neuf uno una vez veces primer primero primera segundo segunda mitad medio media cuarto "
    "cuarta ein eine einen einem einer eins mal erste ersten erster erstes hälfte halb".split()
)
# Multiplicatives (double, triple...) read as their factor; plural forms accepted.
_MULTIPLICATIVES: dict[str, dict[str, int]] = {
    "en": {"double": 2, "twice": 2, "triple": 3, "thrice": 3, "quadruple": 4, "quintuple": 5},
    "fr": {"double": 2, "triple": 3, "quadruple": 4, "quintuple": 5},
    "es": {"doble": 2, "triple": 3, "cuádruple": 4, "quíntuple": 5},
    "de": {"doppelt": 2, "dreifach": 3, "vierfach": 4},
}
# Extra words whose value may stand for a number of the other text (never flagged themselves).
_LOOSE_WORDS: dict[str, dict[str, int]] = {"en": {"both": 2}, "fr": {}, "es": {"ambos": 2, "ambas": 2}}
_COMPOUND_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Percent written out: its "cent" is not 100.
_PERCENT_RE = re.compile(r"\b(?:pour\s?cent|por\s?ciento|por\s?cien)\b", re.I)


def word_numbers(text: str, lang: str, strict: bool) -> set[str]:
    """Values of the number words of ``text``: all of them, or (``strict``) unambiguous ones of 2 or more.

    A hyphenated compound ("fifty-two", "cinquante-deux") is one number: its parts are not numbers of their own
    (``strict``); otherwise parts and sum are all candidates."""
    table = _word_table(lang, strict)
    loose = _word_table(lang, False)
    out = set()
    for compound in _compounds(text):
        parts = compound.split("-")
        if len(parts) > 1 and all(p in loose for p in parts):
            if not strict:
                out.update(loose[p] for p in parts)
                out.add(str(sum(int(loose[p]) for p in parts)))
        else:
            out.update(table[p] for p in parts if p in table)
    return out


@lru_cache(maxsize=4096)
def _compounds(text: str) -> frozenset[str]:
    """Lower-cased words, hyphenated compounds kept whole."""
    return frozenset(_COMPOUND_RE.findall(_PERCENT_RE.sub(" % ", text.lower())))


@lru_cache(maxsize=64)
def _word_table(lang: str, strict: bool) -> dict[str, str]:
    """Number word (plural multiplicatives included) -> value as a digit string."""
    table = {**_NUMBER_WORDS.get(lang, {}), **_MULTIPLICATIVES.get(lang, {})}
    if not strict:
        table.update(_LOOSE_WORDS.get(lang, {}))
    table.update({w + "s": v for w, v in _MULTIPLICATIVES.get(lang, {}).items()})
    return {w: str(v) for w, v in table.items() if not strict or (w not in _AMBIGUOUS and v >= 2)}


@dataclass
class Number:
    """One number of a text: as written, its candidate canonical values, where it stands."""

    surface: str
    values: frozenset[str]
    pos: float  # relative position in the text (0..1)


def float_values(num: Number) -> set[float]:
    """The candidate values of ``num`` as floats (those that read as one)."""
    out = set()
    for v in num.values:
        try:
            out.add(float(v))
        except ValueError:
            continue
    return out


def _canon(int_part: str, frac: str | None = None) -> str:
    int_part = int_part.lstrip("0") or "0"
    return f"{int_part}.{frac}" if frac is not None else int_part


def interpret(token: str) -> list[frozenset[str]]:
    """Candidate canonical values of one numeric token; several numbers if it is a list/version."""
    if re.search(r"[ \u00a0\u202f'’]", token):
        groups = re.split(r"[ \u00a0\u202f'’]", token)
        if 1 <= len(groups[0].rstrip(".,").split(",")[-1].split(".")[-1]) <= 3 and all(
            len(g.split(",")[0].split(".")[0]) == 3 for g in groups[1:]
        ):
            token = "".join(groups)
        else:
            return [v for g in groups for v in interpret(g)]
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


def extract_numbers(prose: str, english_times: bool) -> list[Number]:
    """Numbers of ``prose`` in order; ``english_times`` also reads "3 pm" as 15. List numbering is structure,
    not a number: "1." opening a line is left out."""
    text = _ZERO_MINUTES_RE.sub(" ", _LIST_NUMBER_RE.sub(" ", prose))
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
    out: list[Number] = []
    for m in _NUM_RE.finditer(text):
        token = m.group(0)
        digits = token[:-1] if m.group("k") else token
        for values in interpret(digits):
            if m.start() in pm_hours and len(values) == 1:
                values = values | {pm_hours[m.start()]}
            if len(digits) == 4 and text[m.end(): m.end() + 1] == "s" and len(values) == 1:  # 1990s == 90s
                values = values | {_canon(digits[2:])}
            if m.group("k"):  # 10k == 10,000
                values = values | {_canon(str(int(float(v) * 1000))) for v in values if float(v) * 1000 == int(float(v) * 1000)}
            out.append(Number(token, values, m.start() / n))
    return out


def to_roman(n: int) -> str:
    """``n`` (1..3999) as a Roman numeral."""
    table = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
             (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = []
    for value, sym in table:
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def match_numbers(src: list[Number], tgt: list[Number]) -> tuple[list[Number], list[Number]]:
    """Greedy multiset matching on candidate values; returns (unmatched source, unmatched translation)."""
    free = list(range(len(tgt)))
    missing: list[Number] = []
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


def is_number_word(word: str) -> bool:
    """``word`` is a number word in one of the languages with a list ("tres", "cinquante", "seven")."""
    low = word.lower()
    return any(low in table for table in _NUMBER_WORDS.values())


def spelled_numbers(text: str, lang: str | None) -> set[str]:
    """Values (as digit strings) of the number words of ``text`` in ``lang`` (None: in every language with a list);
    empty for languages without a list."""
    tables = list(_NUMBER_WORDS.values()) if lang is None else [_NUMBER_WORDS.get(lang) or {}]
    tokens = TOKEN_RE.findall(text.lower())
    return {str(table[w]) for table in tables for w in tokens if w in table}


def roman_numerals(text: str) -> set[str]:
    """Roman numerals written in ``text`` ("XXI" of "XXIe siècle")."""
    return {m.group(1) for m in _ROMAN_RE.finditer(text)}
