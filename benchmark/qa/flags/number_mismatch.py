"""``number_mismatch``: numbers of the source missing from the translation, or new ones in it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.qa.features import short
from benchmark.qa.numbers import extract_numbers, match_numbers, roman_numerals, spelled_numbers, to_roman

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext


def check(ctx: QAContext) -> str:
    """Unmatched numbers, both ways, after normalisation (spelled-out and Roman forms count as kept).

    Numbers lost in a truncated tail count as ``truncated`` only; extra numbers are not reported when
    ``hallucinated_addition`` or ``repetition`` fires, nor when they repeat a number of the source.
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
            if num.pos >= ctx.kept_share or ints & spelled:
                continue
            if any(0 < int(v) < 4000 and to_roman(int(v)) in romans for v in ints):
                continue
            kept.append(num)
        missing = kept
    if extra and not (ctx.verdict("hallucinated_addition") or ctx.verdict("repetition")):
        # an extra copy of a number the source has is restructuring ("24/7" -> "24 h/24, 7 j/7"), not an error
        known = spelled_numbers(s_prose, src_lang).union(*(n.values for n in src))
        extra = [n for n in extra if not (n.values & known)]
    else:
        extra = []
    parts = []
    if missing:
        parts.append("in source, not in translation: " + short([n.surface for n in missing], 5, 20))
    if extra:
        parts.append("in translation, not in source: " + short([n.surface for n in extra], 5, 20))
    return "numbers " + "; ".join(parts) if parts else ""
