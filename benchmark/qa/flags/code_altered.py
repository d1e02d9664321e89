"""``code_altered``: code, URLs, e-mails or placeholders of the source are not kept verbatim."""
from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.qa.features import short

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext


def check(ctx: QAContext) -> str:
    """Protected spans found fewer times in the translation than in the source.

    Spans in a truncated tail, or the one the translation stops inside, count as ``truncated`` only.
    """
    source, translation = ctx.source, ctx.translation
    missing: list[str] = []
    for start, _, item in ctx.s_spans:
        if translation.count(item) < source.count(item) and start / max(len(source), 1) < ctx.kept_share:
            if item not in missing and not (ctx.verdict("truncated") and _cut_inside(item, translation)):
                missing.append(item)
    return "not kept verbatim: " + short(missing) if missing else ""


def _cut_inside(item: str, translation: str) -> bool:
    """The translation stops inside ``item`` (it ends with a prefix of it)."""
    head = item[: min(12, len(item))]
    pos = translation.rfind(head)
    tail = translation[pos:].rstrip() if pos >= 0 else ""
    return bool(tail) and item.startswith(tail)

