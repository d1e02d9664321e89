"""``repetition``: the translation loops (repeated words, n-grams, sentences, lines or characters)."""
from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from benchmark.qa.features import max_runs, norm, sentences, short

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# Consecutive repeats of one word that count as a degenerate loop ("la la la").
REPEAT_MIN_RUN_WORD = 3
# Consecutive repeats of an n-gram (n >= 2) that count as a degenerate loop.
REPEAT_MIN_RUN_NGRAM = 3
# A doubled word ("comment comment") this long (n-gram: 3 letters more) is a stutter when the source repeats
# nothing; in French and Spanish any doubled word of 2+ letters is ("de de", "como como").
DOUBLED_MIN_LETTERS = 5
# Short words that double legitimately (French reflexives: "nous nous levons", "vous vous trompez").
_GRAMMATICAL_DOUBLES = frozenset({"nous", "vous"})
# Sentences shorter than this (words) are ignored by the repeated-sentence test.
REPEAT_SENTENCE_MIN_WORDS = 3
# A sentence appearing this many times, more often than any sentence of the source, is repetition.
REPEAT_SENTENCE_MIN_COUNT = 2
# A line/list item appearing this many times, more often than in the source, is repetition.
REPEAT_LINE_MIN_COUNT = 3
# Character pattern (1-6 chars) repeated this many times in a row ("hahahaha", "!!!!!!!!").
REPEAT_CHAR_MIN_RUN = 8


def check(ctx: QAContext) -> str:
    """A run of repeats longer than any in the source, a doubled word within a sentence, or a sentence, line
    or character pattern repeated more often than in the source."""
    source, translation, s_prose, t_prose = ctx.source, ctx.translation, ctx.s_prose, ctx.t_prose
    (tw, word), (tn, ngram) = max_runs(ctx.t_tokens)
    (sw, _), (sn, _) = max_runs(ctx.s_tokens)
    source_run = max(sw, sn)  # "please, please, please" may become "por favor, por favor, por favor"
    if tw >= REPEAT_MIN_RUN_WORD and tw > source_run:
        return f"'{word}' repeated {tw} times in a row"
    if tn >= REPEAT_MIN_RUN_NGRAM and tn > source_run:
        return f"'{short([ngram], 1)}' repeated {tn} times in a row"
    if source_run == 1 and max(tw, tn) == 2:
        for sentence in sentences(t_prose):  # within one sentence: a restatement across sentences is not a stutter
            (dw, word), (dn, ngram) = max_runs(norm(sentence).split())
            if dw == 2 and word.isalpha() and word not in _GRAMMATICAL_DOUBLES and (
                    len(word) >= DOUBLED_MIN_LETTERS or len(word) >= 2 and ctx.tgt in ("fr", "es")):
                return f"'{word}' doubled"
            if dn == 2 and sum(c.isalpha() for c in ngram) >= DOUBLED_MIN_LETTERS + 3:
                return f"'{short([ngram], 1)}' doubled"
    t_counts, s_counts = _sentence_counts(t_prose), _sentence_counts(s_prose)
    if t_counts:
        sent, count = t_counts.most_common(1)[0]
        if count >= REPEAT_SENTENCE_MIN_COUNT and count > max(s_counts.values(), default=1):
            return f"sentence repeated {count} times: {short([sent], 1)}"
    # list items / lines repeated more than in the source
    t_lines = Counter(norm(x) for x in t_prose.splitlines() if norm(x))
    s_lines = Counter(norm(x) for x in s_prose.splitlines() if norm(x))
    if t_lines:
        line, count = t_lines.most_common(1)[0]
        if count >= REPEAT_LINE_MIN_COUNT and count > max(s_lines.values(), default=1):
            return f"line repeated {count} times: {short([line], 1)}"
    tc, sc = _char_run(translation), _char_run(source)
    if tc >= REPEAT_CHAR_MIN_RUN and tc > sc:
        return f"characters repeated {tc} times in a row"
    return ""


def _sentence_counts(text: str) -> Counter:
    return Counter(
        s for s in (norm(x) for x in sentences(text)) if len(s.split()) >= REPEAT_SENTENCE_MIN_WORDS
    )


def _char_run(text: str) -> int:
    best = 0
    for m in re.finditer(r"(\S{1,6}?)\1{%d,}" % (REPEAT_CHAR_MIN_RUN - 1), text):
        best = max(best, len(m.group(0)) // len(m.group(1)))
    return best

