"""``repetition``: the translation loops (repeated words, n-grams, sentences, lines or characters)."""
from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from bench.text_similarity import near_identical
from benchmark.qa.evidence import HEURISTIC, Evidence
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
# A sentence/line that starts another one of this many words and covers this share of it (a loop whose last
# copy is cut: "Je voudrais un café\nJe voudrais un") counts as a repeat of it.
VARIANT_MIN_WORDS = 4
VARIANT_MIN_SHARE = 0.8
# A phrase of 2+ words joined to itself by a conjunction ("los amigos y los amigos") loops when the source
# joins no phrase to itself; single words are left out ("encore et encore", "más y más" are idioms).
COORDINATED_MIN_WORDS = 2
_CONJUNCTIONS = frozenset("and or et ou y o e u und oder".split())
# A label opening a line ("French: ...", "Q: ...") is not part of the sentence compared.
_LINE_LABEL_RE = re.compile(r"^\W*[^\W\d_]{1,20}\s?[:：]\s*")
# Two sentences in a row, each of this many words or more, this similar (difflib ratio of their words: the
# same question asked twice in other words), when no two sentences in a row of the source are.
RESTATED_MIN_WORDS = 4
RESTATED_SIMILARITY = 0.75
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
                    len(word) >= DOUBLED_MIN_LETTERS or len(word) >= 2 and ctx.tgt in ("fr", "es")) and \
                    re.search(rf"(?i)\b{re.escape(word)}\s+{re.escape(word)}\b", sentence):  # not "sous-sous-"
                return Evidence(f"'{word}' doubled", HEURISTIC)
            if dn == 2 and sum(c.isalpha() for c in ngram) >= DOUBLED_MIN_LETTERS + (0 if ctx.tgt in ("fr", "es") else 3):
                return Evidence(f"'{short([ngram], 1)}' doubled", HEURISTIC)
    coordinated = _coordinated_copy(ctx.t_tokens)
    if coordinated and not _coordinated_copy(ctx.s_tokens, 1):
        return Evidence(f"'{short([coordinated], 1)}' joined to itself", HEURISTIC)
    t_counts, s_counts = _sentence_counts(t_prose), _sentence_counts(s_prose)
    if t_counts:
        sent, count = t_counts.most_common(1)[0]
        if count >= REPEAT_SENTENCE_MIN_COUNT and count > max(s_counts.values(), default=1):
            return f"sentence repeated {count} times: {short([sent], 1)}"
    restated = _restated(t_prose)
    if restated and not _restated(s_prose):
        return Evidence(f"sentence restated: {short([restated], 1)}", HEURISTIC)
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
    """Sentences/lines (labels removed) of 3+ words; a cut copy of an earlier one (``_variant_of``) counts as it."""
    counts: Counter = Counter()
    by_head: dict[tuple[str, ...], list[str]] = {}
    for raw in sentences(text):
        key = norm(_LINE_LABEL_RE.sub("", raw, count=1))
        toks = key.split()
        if len(toks) < REPEAT_SENTENCE_MIN_WORDS:
            continue
        head = tuple(toks[:VARIANT_MIN_WORDS])
        earlier = by_head.setdefault(head, [])
        same = next((k for k in earlier if _variant_of(toks, k.split())), None) if len(toks) >= VARIANT_MIN_WORDS else None
        if same is None:
            earlier.append(key)
            same = key
        counts[same] += 1
    return counts


def _restated(text: str) -> str:
    """A sentence near-identical to the one before it (RESTATED_SIMILARITY), else ""."""
    previous: list[str] = []
    for raw in sentences(text):
        words = norm(_LINE_LABEL_RE.sub("", raw, count=1)).split()
        if len(words) >= RESTATED_MIN_WORDS and len(previous) >= RESTATED_MIN_WORDS and \
                near_identical(previous, words, RESTATED_SIMILARITY):
            return " ".join(words)
        previous = words
    return ""


def _variant_of(a: list[str], b: list[str]) -> bool:
    """``a`` and ``b`` are the same sentence, or the shorter starts the longer and covers most of it."""
    short_, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return long_[: len(short_)] == short_ and len(short_) >= VARIANT_MIN_SHARE * len(long_)


def _coordinated_copy(tokens: list[str], min_words: int = COORDINATED_MIN_WORDS) -> str:
    """A phrase of ``min_words`` to 4 words followed by a conjunction and the same phrase: the phrase, else ""."""
    for i, tok in enumerate(tokens):
        if tok not in _CONJUNCTIONS:
            continue
        for n in range(min_words, 5):
            if i - n >= 0 and tokens[i - n: i] == tokens[i + 1: i + 1 + n]:
                return " ".join(tokens[i - n: i])
    return ""


def _char_run(text: str) -> int:
    best = 0
    for m in re.finditer(r"(\S{1,6}?)\1{%d,}" % (REPEAT_CHAR_MIN_RUN - 1), text):
        best = max(best, len(m.group(0)) // len(m.group(1)))
    return best

