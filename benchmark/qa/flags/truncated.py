"""``truncated``: the translation stops early (short, cut mid-sentence, fewer list items/paragraphs/lines)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from benchmark.qa.evidence import HEURISTIC, Evidence, margin_score
from benchmark.qa.features import (
    LIST_ITEM_RE,
    MIN_TRANSLATABLE_WORDS,
    TOKEN_RE,
    ends_mid_sentence,
    ends_terminal,
    ends_with_question,
    enumerations,
    lines,
    measure,
    paragraphs,
    sentences,
    short,
)

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# Length ratios (characters of words) are only judged when the source prose has this many characters.
RATIO_MIN_CHARS = 25
# Translation shorter than this share of its expected length is truncated, whatever its ending.
TRUNCATED_RATIO = 0.45
# Translation ending mid-sentence is truncated when shorter than this share of its expected length.
TRUNCATED_SOFT_RATIO = 0.80
# Fewer lines than the source is truncation when shorter than this share of the expected length. On the dev
# translations (2026-12-06, 983 items) all 10 with fewer lines under their expected length were truncated; the one
# clean translation with a line fewer (two sentences joined) is at 1.01. Fewer paragraphs (blank-line blocks) is
# truncation at any length: all 7 dev translations with fewer paragraphs than their source were truncated.
TRUNCATED_LINES_RATIO = 1.0

# Fewer sentences than the source is truncation when shorter than this share of the expected length.
# Calibrated on the written en->fr/es dev items: translations that merge two sentences stay >= 1.0, ones
# that drop the last sentence or question are <= 0.83 (en->fr clean median 1.21x the source's characters,
# en->es 1.16x, both ~1.05 of EXPECTED_LENGTH_RATIO).
TRUNCATED_SENTENCES_RATIO = 0.90
# As many sentences as the source, the last one under this share of its source sentence's expected length (the
# others at TRUNCATED_SENTENCES_RATIO or more): the end of the last sentence is missing.
LAST_SENTENCE_RATIO = 0.65
LAST_SENTENCE_MIN_CHARS = 80  # judged only on a source sentence this long (characters of words)
# Hashtags closing a translation (an addition) explain a missing final full stop.
_HASHTAG_RE = re.compile(r"(?<!\S)#[^\W\d_]\w*")
# Fewer sentences and fewer questions than the source (the question dropped) when under this share.
TRUNCATED_QUESTION_RATIO = 1.0


def check(ctx: QAContext) -> str:
    """Open code block, empty, far too short, list items lost, or cut mid-sentence / short with lines lost.

    Read with ``repetition``: a loop inflates the length, and one at the end of complete content is not a cut.
    """
    source, translation, s_prose, t_prose = ctx.source, ctx.translation, ctx.s_prose, ctx.t_prose
    if _fence_lines(source) % 2 == 0 and _fence_lines(translation) % 2 == 1:
        return "code block left open"
    if not TOKEN_RE.search(translation) and TOKEN_RE.search(source):
        return "empty translation"
    ratio, rep = ctx.ratio, ctx.verdict("repetition")
    long_enough = ctx.s_len >= RATIO_MIN_CHARS
    if long_enough and ratio < TRUNCATED_RATIO:
        return Evidence(f"{ratio:.0%} of the expected length", margin_score(TRUNCATED_RATIO - ratio, 0.25))
    s_items, t_items = len(LIST_ITEM_RE.findall(s_prose)), len(LIST_ITEM_RE.findall(t_prose))
    if s_items >= 2 and t_items < s_items and not rep:
        return f"{t_items} list items, source has {s_items}"
    s_enum, t_enum = enumerations(s_prose, ctx.src_lang), enumerations(t_prose, ctx.tgt)
    if s_enum and len(s_enum) == len(t_enum) and sum(t_enum) == sum(s_enum) - 1:
        return Evidence(f"an enumeration has one item fewer than the source's ({short(map(str, t_enum))} items, "
                        f"source {short(map(str, s_enum))})", HEURISTIC)
    strong, why = ends_mid_sentence(translation, ctx.tgt)
    source_strong, _ = ends_mid_sentence(source, "en")
    if (strong and not source_strong and ends_terminal(source) and len(ctx.s_words) >= MIN_TRANSLATABLE_WORDS
            and not (rep and ratio >= TRUNCATED_SOFT_RATIO)):  # a loop at the end of complete content: repetition only
        return f"{why}; source ends with a full sentence"
    if why and ends_terminal(source) and long_enough and ratio < TRUNCATED_SOFT_RATIO:
        return Evidence(f"{why} and {ratio:.0%} of the expected length", HEURISTIC)
    last_line = translation.rstrip().rsplit("\n", 1)[-1]
    if (why and ends_terminal(source) and translation.rstrip()[-1:].isalpha() and not rep and ratio < 1.0
            and not _HASHTAG_RE.search(last_line) and len(ctx.s_words) >= MIN_TRANSLATABLE_WORDS
            and not ctx.verdict("untranslated")):  # a copy of the source is not cut
        return Evidence("ends on a word with no final punctuation; source ends with a full sentence", HEURISTIC)
    lost = _lost_sentences(s_prose, t_prose, ratio) if long_enough else ""
    if lost:
        return lost
    if (long_enough and ratio < TRUNCATED_SOFT_RATIO and ends_with_question(s_prose) and "?" not in t_prose
            and "¿" not in t_prose):
        return Evidence(f"the source's question has no counterpart ({ratio:.0%} of the expected length)", HEURISTIC)
    clause = _short_last_sentence(ctx) if long_enough and ratio < TRUNCATED_SENTENCES_RATIO and not rep else ""
    if clause:
        return clause
    tail = _lost_tail(ctx) if long_enough and ratio < TRUNCATED_SOFT_RATIO else ""
    if tail:
        return tail
    sp, tp = paragraphs(s_prose), paragraphs(t_prose)
    if long_enough and tp < sp and not rep:  # translators keep paragraphs: a lost one is an omission at any length
        return Evidence(f"{tp} paragraphs, source has {sp} ({ratio:.0%} of the expected length)", HEURISTIC)
    if long_enough and ratio < TRUNCATED_LINES_RATIO:
        sl, tl = lines(s_prose), lines(t_prose)
        if tl < sl:
            return Evidence(f"{tl} lines, source has {sl} ({ratio:.0%} of the expected length)", HEURISTIC)
    return ""


def _fence_lines(text: str) -> int:
    """Lines that open or close a fenced code block (backticks inside a line are not fences)."""
    return sum(1 for line in text.splitlines() if line.lstrip().startswith("```"))


def _lost_sentences(s_prose: str, t_prose: str, ratio: float) -> str:
    """Fewer sentences than the source and short (or the source's question missing): what has no counterpart."""
    ss, ts = len(sentences(s_prose)), len(sentences(t_prose))
    if ts >= ss:
        return ""
    sq, tq = s_prose.count("?"), t_prose.count("?")
    if sq == tq and ends_with_question(s_prose) and ends_with_question(t_prose):
        return ""  # the closing question is there: a sentence left out before it is an omission, not a cut
    if sq > tq and ratio < TRUNCATED_QUESTION_RATIO:
        return f"{ts} sentences, source has {ss}; {sq - tq} question(s) with no counterpart ({ratio:.0%} of the expected length)"
    if ratio < TRUNCATED_SENTENCES_RATIO:
        return Evidence(f"{ts} sentences, source has {ss}; {ss - ts} with no counterpart ({ratio:.0%} of the expected "
                        "length)", margin_score(TRUNCATED_SENTENCES_RATIO - ratio, 0.3))
    return ""


def _short_last_sentence(ctx: QAContext) -> str:
    """As many sentences as the source (two or more), but the last one far shorter than its source sentence while
    the others keep their length: the end of the source's last sentence is missing."""
    ss, ts = sentences(ctx.s_prose), sentences(ctx.t_prose)
    if len(ss) != len(ts) or len(ss) < 2:
        return ""
    s_head, t_head = sum(map(measure, ss[:-1])), sum(map(measure, ts[:-1]))
    s_last, t_last = measure(ss[-1]), measure(ts[-1])
    if not s_head or s_last < LAST_SENTENCE_MIN_CHARS:
        return ""  # a short sentence's length says little ("Can you identify any bug?" -> "¿Ves algún bug?")
    head_ratio = t_head / s_head / ctx.expected
    last_ratio = t_last / s_last / ctx.expected
    if last_ratio < LAST_SENTENCE_RATIO and head_ratio >= TRUNCATED_SENTENCES_RATIO:
        return Evidence(f"the last sentence is {last_ratio:.0%} of its source sentence's expected length, the others "
                        f"{head_ratio:.0%}", HEURISTIC)
    return ""


def _lost_tail(ctx: QAContext) -> str:
    """Short, and every formula/identifier of the source with no counterpart lies past the share of the source
    the translation's length covers: the end of the source is missing."""
    missing = ctx.prose_missing
    if not missing:
        return ""
    s_prose = ctx.s_prose
    starts = [s_prose.find(item) for item in missing]
    if min(starts) < 0 or min(starts) / max(len(s_prose), 1) < ctx.ratio:
        return ""
    return Evidence(f"source ends with {short(missing, 3)}, not in the translation ({ctx.ratio:.0%} of the expected "
                    "length)", HEURISTIC)
