"""``code_altered``: code, URLs, e-mails, placeholders, formulas, identifiers, paths or language names changed."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from benchmark.qa.evidence import FIRM, HEURISTIC, Evidence
from benchmark.qa.features import short

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext


def check(ctx: QAContext) -> str:
    """Protected spans found fewer times in the translation than in the source.

    Spans in a truncated tail, or the one the translation stops inside, count as ``truncated`` only; a formula or
    identifier where only a number changed ("O(1)" -> "O(n)") counts as ``number_mismatch`` only.
    """
    source, translation = ctx.source, ctx.translation
    missing: list[str] = []
    for start, _, item in ctx.s_spans:
        if translation.count(item) < source.count(item) and start / max(len(source), 1) < ctx.kept_share:
            if item not in missing and not (ctx.verdict("truncated") and _cut_inside(item, translation)):
                missing.append(item)
    # formulas, identifiers, paths and language names in the prose: cut ones count as truncated only
    cut = ctx.translation.rstrip()[-12:] if ctx.verdict("truncated") else None
    prose = [item for item in ctx.prose_missing
             if cut is None or ctx.s_prose.find(item) / max(len(ctx.s_prose), 1) < ctx.kept_share]
    if prose and ctx.verdict("hallucinated_addition"):  # a name in added text is the addition's, not changed code
        prose = [item for item in prose if not item.endswith(" (not in source)")]
    if prose and ctx.verdict("number_mismatch"):  # "O(1)" -> "O(n)", "top-5" -> "top 10": only a number changed
        prose = [item for item in prose if not _number_changed(item, translation)]
    parts = ["not kept verbatim: " + short(missing)] if missing else []
    if prose:
        parts.append("no counterpart in the translation: " + short(prose))
    # code, URLs and placeholders not kept verbatim are firm; names and identifiers read in the prose are not
    return Evidence("; ".join(parts), FIRM if missing else HEURISTIC) if parts else ""


def _number_changed(item: str, translation: str) -> bool:
    """``item`` has a number, and the translation has it with another value in the number's place."""
    if not any(ch.isdigit() for ch in item):
        return False
    pattern = re.sub(r"\\?-", r"[-\\s]", re.sub(r"\d+(?:\\?[.,]\d+)*", r"[\\w.,]+", re.escape(item)))
    return re.search(pattern, translation) is not None


def _cut_inside(item: str, translation: str) -> bool:
    """The translation stops inside ``item`` (it ends with a prefix of it)."""
    head = item[: min(12, len(item))]
    pos = translation.rfind(head)
    tail = translation[pos:].rstrip() if pos >= 0 else ""
    return bool(tail) and item.startswith(tail)

