"""Month and weekday names of a text, in any language Babel (CLDR) knows, as language-free keys.

``calendar_names("dinner on Friday, 3 May", "en")`` and ``calendar_names("dîner vendredi 3 mai", "fr")`` both give
``Counter({("day", 5): 1, ("month", 5): 1})``, so a date whose month or day changed in translation shows up as
a difference. Abbreviated months count only next to a number ("Nov. 18, 2019", "Feb 2018", "18 févr."): alone, "Sun",
"Mar", "Sat" are words too; abbreviated weekdays are left out.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from babel.core import UnknownLocaleError
from babel.dates import get_day_names, get_month_names

# English names that are also common words: counted only next to a number or after a preposition ("in May").
_AMBIGUOUS = {"en": frozenset({"may", "march"})}
_DATE_PREPOSITION_RE = re.compile(r"(?i)\b(?:in|of|on|since|until|till|by|from|during|early|late|mid|before|after)\s+$")
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=None)
def _names(lang: str) -> tuple[dict[str, tuple[str, int]], bool]:
    """Lower-cased name (and weekday plural in -s) -> key, and whether the language capitalises the names."""
    try:
        months = get_month_names("wide", locale=lang)
        standalone = get_month_names("wide", context="stand-alone", locale=lang)
        days = get_day_names("wide", locale=lang)
        days_alone = get_day_names("wide", context="stand-alone", locale=lang)
    except (UnknownLocaleError, ValueError):
        return {}, False
    table: dict[str, tuple[str, int]] = {}
    for source in (months, standalone):
        for index, name in source.items():
            table[name.lower()] = ("month", int(index))
    for source in (days, days_alone):
        for index, name in source.items():
            table[name.lower()] = ("day", int(index))
            table.setdefault(name.lower() + "s", ("day", int(index)))
    capitalised = any(name[:1].isupper() for name in months.values())
    return table, capitalised


@lru_cache(maxsize=None)
def _abbreviated_months(lang: str) -> dict[str, int]:
    """Lower-cased abbreviated month name (no final dot) -> month number (CLDR)."""
    try:
        names = get_month_names("abbreviated", locale=lang)
    except (UnknownLocaleError, ValueError):
        return {}
    return {name.lower().rstrip("."): int(index) for index, name in names.items()}


def calendar_names(text: str, lang: str) -> Counter:
    """Counter of ("month" | "day", index) for the month and weekday names written in ``text``."""
    table, capitalised = _names(lang.split("-")[0])
    found: Counter = Counter()
    if not table:
        return found
    ambiguous = _AMBIGUOUS.get(lang, frozenset())
    for m in _WORD_RE.finditer(text):
        word = m.group(0)
        key = table.get(word.lower())
        if key is None:
            month = _abbreviated_months(lang.split("-")[0]).get(word.lower())
            if month is not None and (re.search(r"\d[ \t]*$", text[max(0, m.start() - 3): m.start()])
                                      or re.match(r"\.?[ \t]*\d", text[m.end(): m.end() + 3])):
                found[("month", month)] += 1  # "Nov. 18", "Feb 2018", "18 févr."
            continue
        before = text[: m.start()]
        sentence_start = not before.strip() or before.rstrip()[-1] in ".!?:\n"
        if capitalised and not word[:1].isupper():
            continue  # "march", "may": the verbs
        if not capitalised and word[:1].isupper() and not sentence_start:
            continue  # "Domingo", "Mars": a name, not the weekday or month
        if word.lower() in ambiguous:
            after = text[m.end(): m.end() + 4]
            if not (re.search(r"\d", before[-4:]) or re.match(r"\s*\d", after) or _DATE_PREPOSITION_RE.search(before)):
                continue
        found[key] += 1
    return found
