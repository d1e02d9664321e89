"""``wrong_language``: the translation (or one of its sentences) is in a third language."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from benchmark.qa.evidence import HEURISTIC, Evidence
from benchmark.qa.features import short
from benchmark.qa.language_id import LID_MIN_WORDS

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# Confidence of a third language (whole translation) that marks it as wrong_language.
WRONG_LANGUAGE_CONFIDENCE = 0.60
# A third language wins and the target gets at most this confidence: wrong_language whatever the winner's score.
WRONG_LANGUAGE_MAX_TARGET_CONFIDENCE = 0.05
# A translation of at most this many words needs the target at most SHORT_SEGMENT_MAX_TARGET besides a confident
# third language ("Que penses-tu de ChatGPT ?" reads as Catalan 0.66, French 0.18; on the dev translations the
# short third-language ones leave the target at 0.06 or less).
WRONG_LANGUAGE_SHORT_WORDS = 8
# From this many words on, a third language winning by a margin is enough for wrong_language...
WRONG_LANGUAGE_LONG_WORDS = 12
# ...that margin over the target's confidence.
WRONG_LANGUAGE_LONG_MARGIN = 0.20
# Confidence needed to flag a single sentence/line as a third language.
SEGMENT_CONFIDENCE = 0.90
# A sentence from SHORT_SEGMENT_MIN_WORDS words, SHORT_SEGMENT_MIN_LOWER of them lower-case (prose, not a list of
# names such as "Roma, Milano, Napoli."): a third language at this confidence, the target at most
# SHORT_SEGMENT_MAX_TARGET. On the dev translations (2026-12-06, 983 items) third-language sentences of three words
# or more reach 0.74 or more with the target at 0.10 or less; other sentences reach 0.39 at most, or leave the
# target 0.20 or more.
SHORT_SEGMENT_CONFIDENCE = 0.60
SHORT_SEGMENT_MAX_TARGET = 0.15
SHORT_SEGMENT_MIN_LOWER = 3
_WORD_RE = re.compile(r"[^\W\d_]+")


def check(ctx: QAContext) -> str:
    """A language other than target and source wins on the whole translation, or surely on one sentence."""
    if not ctx.detectable:
        return ""
    tgt, src_lang, n_words = ctx.tgt, ctx.src_lang, ctx.t_lid_words
    if n_words >= LID_MIN_WORDS:
        conf = ctx.confidences(ctx.t_lid)
        top, value = conf[0]
        target_conf = dict(conf).get(tgt, 0.0)
        if top not in (tgt, src_lang) and (
            (value >= WRONG_LANGUAGE_CONFIDENCE
             and (n_words > WRONG_LANGUAGE_SHORT_WORDS or target_conf <= SHORT_SEGMENT_MAX_TARGET))
            or (n_words >= WRONG_LANGUAGE_LONG_WORDS and value - target_conf >= WRONG_LANGUAGE_LONG_MARGIN)
            or target_conf <= WRONG_LANGUAGE_MAX_TARGET_CONFIDENCE
        ):
            return Evidence(f"detected as {top} ({value:.2f}), {tgt} only {target_conf:.2f}", value)
    for seg in ctx.t_segments:
        top, value = ctx.confidences(seg)[0]
        if top not in (tgt, src_lang) and value >= SEGMENT_CONFIDENCE:
            return Evidence(f"sentence in {top} ({value:.2f}): {short([seg], 1, 50)}", value)
    for seg in ctx.t_short_segments:
        if sum(1 for w in _WORD_RE.findall(seg) if w[0].islower()) < SHORT_SEGMENT_MIN_LOWER:
            continue
        conf = ctx.confidences(seg)
        top, value = conf[0]
        if top not in (tgt, src_lang) and value >= SHORT_SEGMENT_CONFIDENCE and \
                dict(conf).get(tgt, 0.0) <= SHORT_SEGMENT_MAX_TARGET:
            return Evidence(f"sentence in {top} ({value:.2f}): {short([seg], 1, 50)}", HEURISTIC)
    return ""
