"""``untranslated``: the translation is the source text, or is detected as (or keeps a sentence in) its language."""
from __future__ import annotations

import difflib
import re
import unicodedata
from typing import TYPE_CHECKING

from benchmark.qa.evidence import HEURISTIC, Evidence
from benchmark.qa.features import TOKEN_RE, is_title_like, norm, short, words
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
# A run of this many source words copied in order into the translation, identified as the source
# language, is English left in (part of a sentence: "... desventajas of working at a startup").
COPIED_RUN_MIN_WORDS = 4

# Quoted material of the source (a text to correct, a title): copying it is not leaving it untranslated.
# Code punctuation, markup and colons: a copied run stops there.
_BREAK_RE = re.compile(r"[{}()\[\];=<>:|]")
_SOURCE_QUOTE_RE = re.compile(r"«[^»]*»|[“”„][^“”„\n]*[“”]|\"[^\"]*\"|(?<![\w'’])['‘][^'‘’\n]+['’](?![\w'’])")


def check(ctx: QAContext) -> str:
    """Copied (identical or nearly), detected as the source language, one sentence or a run of words copied
    from the source; quoted text and a task's input paragraph of the source may stay in its language."""
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
            return Evidence(f"detected as {top} ({value:.2f}), not {tgt}", value)
    source_vocab = {w.lower() for w in ctx.s_words}
    for seg in ctx.t_segments:
        seg_conf = dict(ctx.confidences(seg))
        top = src_lang  # a sentence of source words: the source language needs only to beat the target's
        if (seg_conf.get(src_lang, 0.0) > seg_conf.get(tgt, 0.0)
                and seg_conf.get(tgt, 0.0) <= SEGMENT_COPY_MAX_TARGET_CONFIDENCE):
            seg_words = [w.lower() for w in words(seg)]
            new = sum(1 for w in seg_words if w not in source_vocab) / max(len(seg_words), 1)
            if new <= SEGMENT_MAX_NEW_WORDS and not _task_input(ctx.s_prose, seg):
                return Evidence(f"sentence left in {top}: {short([seg], 1, 50)}", HEURISTIC)
    return _copied_run(ctx)


def _task_input(s_prose: str, segment: str) -> bool:
    """``segment`` is quoted in the source, or lies in a paragraph after the first (the text a task works on)."""
    key = norm(segment)
    if any(key in norm(q) for q in _SOURCE_QUOTE_RE.findall(s_prose)):
        return True
    return any(key in norm(p) for p in re.split(r"\n\s*\n", s_prose)[1:])


def _gloss(t_prose: str, text: str, size: int) -> bool:
    """``text`` is all a parenthesis of the translation holds: the English term glossing its translation
    ("un ataque de intermediario (man-in-the-middle)")."""
    key = norm(text)
    return any(key in norm(g) and len(TOKEN_RE.findall(g)) <= size + 1 for g in re.findall(r"\(([^()\n]{1,80})\)", t_prose))


def _copied_run(ctx: QAContext) -> str:
    """The longest run of source words copied in order, not a title, a quote, code or the task's input text,
    that language ID reads as the source language: evidence naming it, else ""."""
    s_tok: list[str] = []
    for chunk in _BREAK_RE.split(_SOURCE_QUOTE_RE.sub(" | ", unicodedata.normalize("NFKC", ctx.s_prose))):
        s_tok += TOKEN_RE.findall(chunk) + ["|"]  # a run never crosses a quote, code punctuation or a colon
    t_tok = TOKEN_RE.findall(unicodedata.normalize("NFKC", ctx.t_prose))
    matcher = difflib.SequenceMatcher(None, [w.lower() for w in s_tok], [w.lower() for w in t_tok], autojunk=False)
    for block in sorted(matcher.get_matching_blocks(), key=lambda b: -b.size):
        if block.size < COPIED_RUN_MIN_WORDS:
            break
        run = s_tok[block.a: block.a + block.size]
        text = " ".join(run)
        if (is_title_like(words(text)) or _task_input(ctx.s_prose, text)
                or sum(w.isalpha() for w in run) < COPIED_RUN_MIN_WORDS or _gloss(ctx.t_prose, text, block.size)):
            continue
        conf = dict(ctx.confidences(text)) if ctx.detectable else {ctx.src_lang: 1.0}
        top = ctx.src_lang  # source words in the source's order: its language needs only to beat the target's
        if conf.get(ctx.src_lang, 0.0) > conf.get(ctx.tgt, 0.0):
            return Evidence(f"{block.size} words left in {top}, no translation: {short([text], 1, 50)}", HEURISTIC)
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
