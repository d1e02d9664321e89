"""``untranslated``: the translation is the source text, or is detected as (or keeps a sentence in) its language."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from benchmark.qa.features import norm, short, words
from benchmark.qa.language_id import LID_MIN_WORDS

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# Normalised word-sequence similarity at or above which a translation counts as a copy of the source.
NEAR_IDENTICAL_RATIO = 0.85
# Confidence of the source language (whole translation) that marks it as untranslated.
UNTRANSLATED_CONFIDENCE = 0.70
# A sentence detected as the source language, whose words all come from the source, is copied text
# when the target language gets at most this confidence.
SEGMENT_COPY_MAX_TARGET_CONFIDENCE = 0.20
# Share of a source-language sentence's words allowed to be absent from the source (copied-sentence test).
SEGMENT_MAX_NEW_WORDS = 0.10


def check(ctx: QAContext) -> str:
    """Copied (identical or nearly), detected as the source language, or one sentence copied from the source."""
    if not ctx.translatable:
        return ""
    copied = _copied(ctx.s_prose, ctx.t_prose)
    if copied:
        return copied
    if not ctx.detectable:
        return ""
    tgt, src_lang = ctx.tgt, ctx.src_lang
    if ctx.t_lid_words >= LID_MIN_WORDS:
        top, value = ctx.confidences(ctx.t_lid)[0]
        if top == src_lang and value >= UNTRANSLATED_CONFIDENCE:
            return f"detected as {top} ({value:.2f}), not {tgt}"
    source_vocab = {w.lower() for w in ctx.s_words}
    for seg in ctx.t_segments:
        seg_conf = ctx.confidences(seg)
        top = seg_conf[0][0]
        if top == src_lang and dict(seg_conf).get(tgt, 0.0) <= SEGMENT_COPY_MAX_TARGET_CONFIDENCE:
            seg_words = [w.lower() for w in words(seg)]
            new = sum(1 for w in seg_words if w not in source_vocab) / max(len(seg_words), 1)
            if new <= SEGMENT_MAX_NEW_WORDS:
                return f"sentence left in {top}: {short([seg], 1, 50)}"
    return ""


def _copied(s_prose: str, t_prose: str) -> str:
    a, b = norm(s_prose), norm(t_prose)
    if a == b:
        return "translation identical to source"
    sa, sb = a.split(), b.split()
    matcher = difflib.SequenceMatcher(None, sa, sb, autojunk=False)
    if (matcher.real_quick_ratio() >= NEAR_IDENTICAL_RATIO and matcher.quick_ratio() >= NEAR_IDENTICAL_RATIO
            and matcher.ratio() >= NEAR_IDENTICAL_RATIO):
        return f"translation nearly identical to source ({matcher.ratio():.0%} of words)"
    return ""
