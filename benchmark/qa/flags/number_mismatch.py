"""``number_mismatch``: numbers of the source missing from the translation, or new ones in it."""
from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import TYPE_CHECKING

from benchmark.qa.align import fold_formula, formulas
from benchmark.qa.calendar_names import calendar_names
from benchmark.qa.evidence import FIRM, HEURISTIC, Evidence
from benchmark.qa.features import sentences, short
from benchmark.qa.numbers import (
    Number,
    extract_numbers,
    float_values,
    match_numbers,
    roman_numerals,
    spelled_numbers,
    to_roman,
    word_numbers,
)
from benchmark.qa.units import conversions, unconverted

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# A number with the sign written before it, in a formula without spacing ("-9" of "4x^3-9x-14").
_SIGNED_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
# This many consecutive extra integers in a looping translation are the loop counting, not changed numbers.
COUNTING_LOOP_MIN = 3


def check(ctx: QAContext) -> str:
    """Unmatched numbers, both ways, after normalisation (spelled-out and Roman forms count as kept).

    Numbers lost in a truncated tail are both ``truncated`` and ``number_mismatch``; extra numbers are not reported when
    ``repetition`` fires, nor when they repeat a number of the source (a number in added text is both
    ``hallucinated_addition`` and ``number_mismatch``). Number words, units and formulas: ``_words_and_units``.
    """
    s_prose, t_prose, tgt, src_lang = ctx.s_prose, ctx.t_prose, ctx.tgt, ctx.src_lang
    src = extract_numbers(s_prose, english_times=src_lang == "en")
    tgt_nums = extract_numbers(t_prose, english_times=tgt == "en")
    missing, extra = match_numbers(src, tgt_nums)
    if missing:
        spelled = spelled_numbers(t_prose, tgt)
        romans = roman_numerals(t_prose)
        kept = []
        for num in missing:
            ints = {v for v in num.values if v.isdigit()}
            if ints & spelled:
                continue
            if any(0 < int(v) < 4000 and to_roman(int(v)) in romans for v in ints):
                continue
            kept.append(num)
        missing = kept
    if extra:
        # an extra copy of a number the source has is restructuring ("24/7" -> "24 h/24, 7 j/7"), not an error
        known = spelled_numbers(s_prose, src_lang).union(*(n.values for n in src))
        extra = [n for n in extra if not (n.values & known)]
        if ctx.verdict("repetition"):
            extra = _outside_loop(extra, t_prose)
    if missing or extra:  # a quantity converted with its value (3 miles -> 4,8 km, 625 pence -> 6,25 £)
        src_done, tgt_done = conversions(s_prose, t_prose)
        missing = [n for n in missing if not float_values(n) & src_done]
        extra = [n for n in extra if not float_values(n) & tgt_done]
    parts = _words_and_units(ctx, src, tgt_nums)
    if not (missing or extra or parts):
        swapped = _swapped(s_prose, t_prose, src_lang, tgt)
        if swapped:
            parts.append(swapped)
    firm = bool(missing or extra)  # digits that changed; number words, units and names are read from form
    if missing:
        parts.append("in source, not in translation: " + short([n.surface for n in missing], 5, 20))
    if extra:
        parts.append("in translation, not in source: " + short([n.surface for n in extra], 5, 20))
    return Evidence("numbers " + "; ".join(parts), FIRM if firm else HEURISTIC) if parts else ""


def _swapped(s_prose: str, t_prose: str, src_lang: str, tgt: str) -> str:
    """Two numbers of a sentence that trade places ("6 got off and 8 got on" -> "8 bajaron y subieron 6"): the
    sentences aligned one to one (same count), each holding the same two or more numbers in another order."""
    s_sent, t_sent = sentences(s_prose), sentences(t_prose)
    if len(s_sent) != len(t_sent):
        return ""
    for a, b in zip(s_sent, t_sent):
        na = [sorted(n.values)[0] for n in extract_numbers(a, english_times=src_lang == "en")]
        nb = [sorted(n.values)[0] for n in extract_numbers(b, english_times=tgt == "en")]
        if len(na) >= 2 and len(set(na)) == len(na) and sorted(na) == sorted(nb) and na != nb:
            return f"numbers in another order: {', '.join(na)} -> {', '.join(nb)}"
    return ""


def _outside_loop(extra: list[Number], t_prose: str) -> list[Number]:
    """Extra numbers a loop does not explain: none when they count up (1, 2, 3...), else those written once."""
    ints = sorted({int(n.surface) for n in extra if n.surface.isdigit()})
    if len(ints) >= COUNTING_LOOP_MIN and ints == list(range(ints[0], ints[0] + len(ints))):
        return []
    return [n for n in extra if len(re.findall(r"(?<![\d.,])" + re.escape(n.surface) + r"(?![\d])", t_prose)) == 1]


def _words_and_units(ctx: QAContext, src: list[Number], tgt_nums: list[Number]) -> list[str]:
    """Number words with no counterpart (digits or words) in the other text, units converted without
    their quantity, and signed numbers of a formula that changed."""
    # a counterpart may be written in any language at hand (text kept in English, a third language)
    langs = dict.fromkeys((ctx.src_lang, ctx.tgt, *ctx.lid.languages))
    s_all = set().union(*(word_numbers(ctx.s_prose, lang, strict=False) for lang in langs), *(n.values for n in src))
    t_all = set().union(*(word_numbers(ctx.t_prose, lang, strict=False) for lang in langs),
                        *(n.values for n in tgt_nums))
    added = sorted(word_numbers(ctx.t_prose, ctx.tgt, strict=True) - s_all, key=int)
    lost = sorted(word_numbers(ctx.s_prose, ctx.src_lang, strict=True) - t_all, key=int)
    if ctx.verdict("truncated"):
        lost = []
    parts = []
    if lost:
        parts.append("in source (as a word), not in translation: " + short(lost, 5, 20))
    if added:
        parts.append("in translation (as a word), not in source: " + short(added, 5, 20))
    converted = unconverted(ctx.s_prose, ctx.t_prose)
    if converted:
        parts.append("unit changed, quantity kept: " + short(converted, 3, 30))
    dates = _calendar_changes(ctx)
    if dates:
        parts.append(dates)
    signs = _formula_signs(ctx)
    if signs:
        parts.append("signed numbers of a formula changed: " + signs)
    return parts


def _calendar_changes(ctx: QAContext) -> str:
    """Month or weekday names that differ between source and translation (lost ones only when not truncated)."""
    # as for number words, a counterpart may be written in any language at hand (text kept in English)
    langs = dict.fromkeys((ctx.src_lang, ctx.tgt, *ctx.lid.languages))
    source = set().union(*(calendar_names(ctx.s_prose, lang) for lang in langs))
    translation = set().union(*(calendar_names(ctx.t_prose, lang) for lang in langs))
    lost, added = source - translation, translation - source  # a repeated name is no change
    if ctx.verdict("truncated"):
        lost = set()
    if not (lost or added):
        return ""
    def names(keys: set) -> str:
        return ", ".join(f"{kind} {index}" for kind, index in sorted(keys)) or "-"
    return f"of the calendar changed (months, weekdays): source has {names(lost)}, translation {names(added)}"


def _formula_signs(ctx: QAContext) -> str:
    """A source formula with no counterpart whose closest translation formula has other signed numbers."""
    t_formulas = formulas(ctx.t_prose)
    folded = fold_formula(ctx.t_prose)
    for formula in formulas(ctx.s_prose):
        if fold_formula(formula) in folded or not t_formulas:
            continue
        closest = max(t_formulas, key=lambda t: difflib.SequenceMatcher(None, formula, t).ratio())
        if Counter(_SIGNED_RE.findall(fold_formula(formula))) != Counter(_SIGNED_RE.findall(fold_formula(closest))):
            return f"{short([formula], 1)} -> {short([closest], 1)}"
    return ""
