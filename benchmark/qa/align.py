"""Source/translation alignment of what must survive translation unchanged: formulas, identifiers, paths,
file names, LaTeX commands and programming-language names found in the prose (outside code spans).

Each finder returns items of the source; an item is aligned when the translation holds it verbatim
(case-insensitively, spacing ignored for formulas). What has no counterpart is reported by
``code_altered``.
"""
from __future__ import annotations

import re
from functools import lru_cache

# Characters stripped from both ends of a whitespace-separated token before it is judged.
_WRAP = "\"'«»“”‘’()[]{}<>*_,;:!?¿¡."
# Relations and powers: a run of maths tokens holding one of these is a formula.
_RELATION = set("=<>^≤≥≠≈")
# Unicode and ASCII spellings read alike in formulas.
_FORMULA_FOLD = str.maketrans({"−": "-", "×": "*", "·": "*", "∙": "*", "–": "-"})

# A maths token: numbers, variables (1-3 letters: x, 4z, sin), operators, brackets and powers.
_MATH_TOKEN_RE = re.compile(r"[\d.,]*[A-Za-z]{0,3}(?:[\d.,]*[-+*/^=<>≤≥≠≈|()\[\]!%²³]+[\d.,]*[A-Za-z]{0,3})*[\d.,]*")
# A function call (f(x), O(n), getnumber()) whose name is short or whose arguments are not a word.
_CALL_RE = re.compile(r"[A-Za-z_][\w.]*\([^()\s]*\)")
# A function name written with its call ("getnumber()", "print('hi')", "max(a,b)"): empty arguments or
# code-like ones; letters-only arguments are a plural in prose ("friend(s)") or a formula ("f(x)").
_CALL_NAME_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w+)\((?:\)|[^()\n]{0,60}?[\d_,.'\"=][^()\n]{0,60}?\))")
_ORDINAL_OR_UNIT_RE = re.compile(r"\d+(?:[.,]\d+)?[A-Za-z°%]{0,5}")

# Identifier shapes kept verbatim by a translator.
_IDENTIFIER_RES = (
    re.compile(r"(?:~|\.{1,2})?/[\w.~-]+(?:/[\w.~-]*)*|[\w.~-]+(?:/[\w.~-]+)*/[\w.~-]*\.\w{1,5}"),  # paths
    re.compile(r"[\w.~-]{2,}(?:/[\w.~-]+)*/"),  # a directory written with its slash: checkpoints/, src/utils/
    re.compile(r"[A-Za-z]:\\[\w\\. -]+"),  # Windows paths
    re.compile(r"[A-Za-z_][\w-]*\.(?:[a-z][a-z0-9]{0,4})"),  # file names, dotted names (main.py, os.path)
    re.compile(r"[A-Za-z]\w*_\w+"),  # snake_case
    re.compile(r"[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*"),  # camelCase, PascalCase with two humps
    re.compile(r"[A-Za-z]+\d[\w-]*|[A-Za-z]+-\d[\w-]*"),  # letters then digits: psycopg2, h1-b, GPT-4
    re.compile(r"\w+::\w+(?:::\w+)*|\w+->\w+"),  # std::string, a->b
    re.compile(r"\\[A-Za-z]+"),  # LaTeX commands
)


@lru_cache(maxsize=4096)
def formulas(prose: str) -> tuple[str, ...]:
    """Runs of maths tokens (x^3 - 4x^2 = 0, |x + 5| < 10, f(x) = ...) holding a relation, a power or a call.

    A run stops at sentence punctuation; a bare number/date is left to the number checks.
    """
    out: list[str] = []
    run: list[str] = []

    def close() -> None:
        if not run:
            return
        text = "".join(run)
        if _is_formula(text):
            out.append(" ".join(run))
        run.clear()

    for raw in prose.split():
        token = raw.rstrip(",;:?!")
        token = token[:-1] if token.endswith(".") and not re.search(r"\d\.$", token[-2:]) else token
        token = token.strip("\"'«»“”")
        if token and _MATH_TOKEN_RE.fullmatch(token) and not _is_word(token):
            run.append(token)
            if token != raw.strip("\"'«»“”"):  # punctuation after it ends the formula
                close()
        else:
            close()
    close()
    return tuple(out)


def _is_word(token: str) -> bool:
    """A plain word of 2-3 letters ("is", "the"), not a variable in a formula."""
    return token.isalpha() and len(token) >= 2 and not (token.isupper() and len(token) == 1)


def _is_formula(text: str) -> bool:
    if not any(c.isalpha() for c in text) and not _RELATION.intersection(text.replace("=", "")):
        return False  # numbers and dates ("24/7", "1+1=2" is numbers' business) unless a comparison
    if _RELATION.intersection(text) or _CALL_RE.search(text):
        return True
    return bool(re.search(r"\w[+*]\w", text)) and any(c.isalpha() for c in text)


def fold_formula(text: str) -> str:
    """``text`` without spacing, with Unicode operators and decimal commas read as ASCII."""
    text = re.sub(r"(?<=\d),(?=\d)", ".", text.translate(_FORMULA_FOLD))
    return re.sub(r"\s+", "", text).replace("<=", "≤").replace(">=", "≥").replace("!=", "≠")


def identifiers(prose: str) -> list[str]:
    """Paths, file and dotted names, snake/camel case, letters-with-digits, ``::`` names, LaTeX commands, the
    names of function calls."""
    out: list[str] = [m.group(1) for m in _CALL_NAME_RE.finditer(prose)]
    for raw in prose.split():
        token = raw.strip(_WRAP)
        if len(token) < 3 or _ORDINAL_OR_UNIT_RE.fullmatch(token) or "@" in token:
            continue
        if any(regex.fullmatch(token) for regex in _IDENTIFIER_RES) and not _abbreviation(token):
            out.append(token)
    return out


def _abbreviation(token: str) -> bool:
    """e.g, i.e, U.S, Dr.Who-like dotted abbreviations and a/b word pairs (and/or, he/she)."""
    if re.fullmatch(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{0,2}", token):
        return True
    return bool(re.fullmatch(r"[^\W\d_]+(?:/[^\W\d_]+)+", token)) and not token.startswith(("/", "~"))


@lru_cache(maxsize=1)
def _language_names() -> frozenset[str]:
    """Programming-language names pygments knows (C++, C#, SQL, Python...), one word each."""
    from pygments.lexers import get_all_lexers

    return frozenset(
        name for name, *_ in get_all_lexers()
        if name[0].isupper() and " " not in name and "/" not in name and "+" not in name[1:].rstrip("+")
    )


def language_names(text: str) -> list[str]:
    """Programming-language names of ``text`` (case kept), not counting a sentence's first word."""
    names = _language_names()
    out = []
    for m in re.finditer(r"(?<![\w#+])[A-Z][\w#+.-]*(?<!\.)", text):
        token = m.group(0)
        while token and token not in names and token[-1] in "+#.-":
            token = token[:-1]
        if token in names and not _sentence_start(text, m.start()):
            out.append(token)
    return out


_NAME_RE = re.compile(r"(?<![\w'’-])[A-Z][^\W\d_]{2,}(?![\w'’-])")


def _inner_names(text: str) -> list[str]:
    """Capitalised words of ``text`` that do not start a sentence (names: Cypress, Docker, Flask)."""
    return [m.group(0) for m in _NAME_RE.finditer(text) if not _sentence_start(text, m.start())]


@lru_cache(maxsize=1)
def _place_and_language_names() -> frozenset[str]:
    """English names of countries, regions and languages (CLDR, through Babel): names that translations translate."""
    from babel import Locale

    en = Locale("en")
    return frozenset(w for name in (*en.territories.values(), *en.languages.values()) for w in name.split())


def translated_names(s_prose: str, t_prose: str) -> list[str]:
    """Names of the source (capitalised inside a sentence) missing from the translation while the translation
    has as many new capitalised words in their place: a tool's name translated as a common word (Cypress ->
    Ciprés). Both sides must differ by the same count, so a name merely dropped or rephrased is not one; names of
    countries and languages are translated by right (Belgium -> Belgique)."""
    t_lower = t_prose.lower()
    s_lower = s_prose.lower()
    places = _place_and_language_names()
    gone = list(dict.fromkeys(n for n in _inner_names(s_prose) if n.lower() not in t_lower and n not in places))
    new = list(dict.fromkeys(n for n in _inner_names(t_prose) if n.lower() not in s_lower))
    return gone if gone and len(gone) == len(new) else []


def _sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\"'«“¿¡(*")
    return not before or before[-1] in ".!?:\n"


# a brace group holding code ("{ int number = 0}"): kept as written, spaces aside
_BRACE_CODE_RE = re.compile(r"\{[^{}\n]*[=;()][^{}\n]*\}")
# an operator standing alone in the prose ("what does the @ in python do", "the => arrow"): kept as written
_OPERATOR_RE = re.compile(r"(?<!\S)(@|=>|->|&&|\|\||::|\*\*|==|!=|<=|>=|\+=|-=|\+\+)(?!\S)")
# a string literal in straight double quotes (its content, up to 40 characters on one line)
_STRING_LITERAL_RE = re.compile(r'"([^"\n]{1,40})"')


def brace_code(prose: str) -> list[str]:
    """Brace groups of ``prose`` that hold code (an ``=``, ``;`` or parenthesis inside)."""
    return [m.group(0) for m in _BRACE_CODE_RE.finditer(prose)]


def string_literals(prose: str) -> list[str]:
    """Contents of straight double-quoted strings of ``prose``."""
    return [m.group(1) for m in _STRING_LITERAL_RE.finditer(prose)]


def _numbers_of(text: str, lang: str | None) -> set[str]:
    """Integers of ``text``, in digits or spelled out in ``lang`` (None: in any language numbers know)."""
    from benchmark.qa.numbers import spelled_numbers

    return set(re.findall(r"\d+", text)) | spelled_numbers(text, lang)


def missing_counterparts(s_prose: str, t_prose: str, literals: bool = False, names: bool = False,
                         t_lang: str | None = None) -> list[str]:
    """Formulas, identifiers and language names of the source prose with no counterpart in the translation;
    ``literals``: also the contents of string literals (a source about code or data); ``names``: also a tool's
    name translated as a word (a source about programming, see :func:`translated_names`); ``t_lang``: the
    translation's language, for its spelled-out numbers (None: any language)."""
    folded = fold_formula(t_prose)
    missing = [f for f in formulas(s_prose) if fold_formula(f) not in folded]
    t_spaceless = re.sub(r"\s+", "", t_prose)
    missing += [g for g in brace_code(s_prose) if re.sub(r"\s+", "", g) not in t_spaceless and g not in missing]
    missing += [op for op in dict.fromkeys(_OPERATOR_RE.findall(s_prose)) if op not in missing  # "(@)" keeps it
                and not re.search(rf"(?<!\w){re.escape(op)}(?!\w)", t_prose)]
    if literals:
        missing += [f'"{x}"' for x in string_literals(s_prose) if x not in t_prose and f'"{x}"' not in missing]
    t_tokens = {tok.strip(_WRAP).lower() for tok in t_prose.split()}
    t_lower = t_prose.lower()
    t_numbers = None
    for item in identifiers(s_prose):
        spaced = re.sub(r"(?<=[^\W\d_])-(?=\d)", " ", item.lower())  # "top-5" kept as "top 5"
        compound = re.fullmatch(r"[a-z]+-(\d+)", item)  # a word and a number ("top-5"): prose, the number must stay
        if compound:
            if t_numbers is None:
                t_numbers = _numbers_of(t_prose, t_lang)
            if compound.group(1) in t_numbers:
                continue
        if item.lower() not in t_tokens and item.lower() not in t_lower and spaced not in t_lower and item not in missing:
            if not any(item in f for f in missing):
                missing.append(item)
    s_tokens = {tok.strip(_WRAP).lower() for tok in s_prose.split()}
    s_lower = s_prose.lower()
    for item in identifiers(t_prose):  # an identifier the translation made up: a translated part ("std::cadena")
        if item.lower() not in s_tokens and item.lower() not in s_lower and not re.search(r"\d", item):
            missing.append(f"{item} (not in source)")
    if names:
        missing += [name for name in translated_names(s_prose, t_prose) if name not in missing]
    s_names, t_names = language_names(s_prose), language_names(t_prose)
    for name in s_names:
        if not re.search(r"(?<![\w#+])" + re.escape(name.lower()) + r"(?![\w#+])", t_lower):
            missing.append(name)
    for name in t_names:
        if not re.search(r"(?<![\w#+])" + re.escape(name.lower()) + r"(?![\w#+])", s_lower) and (
            len(name) > 1 or s_names
        ):
            missing.append(f"{name} (not in source)")
    return list(dict.fromkeys(missing))
