"""``hallucinated_addition``: the translation adds content (a preamble, a note, an answer, hashtags, items)."""
from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from bench.languages import LANGUAGES
from benchmark.qa.evidence import HEURISTIC, Evidence, margin_score
from benchmark.qa.features import (
    LIST_ITEM_RE,
    TOKEN_RE,
    ends_mid_sentence,
    ends_terminal,
    enumerations,
    lines,
    sentences,
    short,
)

if TYPE_CHECKING:
    from benchmark.qa.context import QAContext

# Translation longer than this multiple of its expected length (plus the slack below) has additions.
HALLUCINATED_RATIO = 1.60
# Same, when the translation has no more sentences/lines than the source (acronyms, idioms expand legitimately).
HALLUCINATED_RATIO_SAME_SENTENCES = 2.0
# Characters of slack added to the expected length before HALLUCINATED_RATIO applies (short items vary a lot).
HALLUCINATED_SLACK_CHARS = 20
# Extra sentences/lines only count as additions when the translation is this much longer than expected.
HALLUCINATED_EXTRA_RATIO = 1.25
# An extra sentence needs this many words/numbers to count as added content.
EXTRA_SENTENCE_MIN_WORDS = 4

# A source that stops mid-sentence, translated into text this much longer than expected that ends with a
# complete sentence, has been completed (the task answered). Same value as HALLUCINATED_EXTRA_RATIO.
COMPLETED_RATIO = 1.25

# Hashtags (#word), compared in number with the source's.
_HASHTAG_RE = re.compile(r"(?<![\w&#/])#[^\W\d_][\w-]*")
# A translator's preamble ("Here is the translation:", "Sure!").
_PREFIX_RE = re.compile(
    r"^[\W_]*(?:"
    r"(?:here(?:'s| is) (?:the |a |my |your )?translation|voici (?:la |une |ma )?traduction"
    r"|aqu[ií] (?:est[aá] |tienes |tiene )?(?:la |una |mi )?traducci[oó]n|hier ist (?:die |eine |meine )?übersetzung"
    r"|ecco la traduzione|aqui est[aá] a tradu[cç][aã]o)"
    r"|(?:translation|translated text|traduction|traducci[oó]n|übersetzung|traduzione|tradu[cç][aã]o)"
    r"(?:\s+(?:en|al|in|ins|into|to|vers|au|a|auf)\s+\w+)?\s*[:：]"
    r"|(?:sure|certainly|of course|absolutely|bien s[uû]r|certainement|claro|por supuesto|desde luego"
    r"|natürlich|klar|gerne|certo)\s*[!,.]"
    r")",
    re.I,
)
# A translator's note or sign-off ("Note:", "Hope this helps").
_NOTE_RE = re.compile(
    r"(?:^|\n|\()\s*\**\s*(?:note|nota|remarque|anmerkung|hinweis|n\.\s?b\.)"
    r"(?:\s+(?:du traducteur|del traductor|des übersetzers|de traduction|de traducci[oó]n|on the translation))?\s*\**\s*[:：]"
    r"|hope (?:this|that|it) helps|j'esp[eè]re que (?:cela|ça|ceci) (?:vous |t'|t’)?aide"
    r"|espero que (?:esto |esta |te |le |les )*(?:ayude|sirva)|ich hoffe,? (?:das|dies|es) hilft",
    re.I,
)

# A line labelled with a language name ("French: ...", "Español:"), as a few-shot prompt's continuation writes.
_LANGUAGE_LABEL_RE = re.compile(
    r"^[ \t*_]*(?:" + "|".join(sorted({re.escape(n) for row in LANGUAGES.values() for n in (row.name, row.native)},
                                       key=len, reverse=True)) + r")[ \t*_]*[:：]",
    re.I | re.M,
)


def check(ctx: QAContext) -> str:
    """A preamble or note not in the source; unless ``repetition`` explains it: too long, or more hashtags,
    list items, sentences or lines than the source."""
    source, translation, s_prose, t_prose = ctx.source, ctx.translation, ctx.s_prose, ctx.t_prose
    m = _PREFIX_RE.search(translation)
    if m and not _PREFIX_RE.search(source):
        return f"preamble not in source: {short([m.group(0).strip()], 1)}"
    m = _NOTE_RE.search(translation)
    if m and not _NOTE_RE.search(source):
        return f"note not in source: {short([m.group(0).strip(' (*')], 1)}"
    m = _LANGUAGE_LABEL_RE.search(translation)
    if m and not _LANGUAGE_LABEL_RE.search(source):
        return f"language label not in source: {m.group(0).strip(' *_')}"
    added = _added_spans(ctx)
    if added:
        return "code, URLs or e-mails not in source: " + short(added, 2)
    names = [item for item in ctx.prose_missing if item.endswith(" (not in source)")]
    if names and len(names) == len(ctx.prose_missing) and len(names) >= 2:
        # only new names, none of the source's lost: examples the translation added ("..., comme TensorFlow ou PyTorch")
        return Evidence("names not in the source: " + short(n.removesuffix(" (not in source)") for n in names), HEURISTIC)
    if ctx.verdict("repetition"):
        return ""
    s_len, t_len, ratio, expected = ctx.s_len, ctx.t_len, ctx.ratio, ctx.expected
    s_sentences, t_sentences = len(sentences(s_prose)), len(sentences(t_prose))
    more_units = t_sentences > s_sentences or lines(t_prose) > lines(s_prose)
    limit = HALLUCINATED_RATIO if more_units else HALLUCINATED_RATIO_SAME_SENTENCES
    if s_len and t_len > s_len * expected * limit + HALLUCINATED_SLACK_CHARS:
        return Evidence(f"{ratio:.0%} of the expected length", margin_score(ratio - HALLUCINATED_RATIO, 1.0))
    if (ctx.ratio >= COMPLETED_RATIO and ends_mid_sentence(source, ctx.src_lang)[0]
            and not ends_mid_sentence(translation, ctx.tgt)[0] and ends_terminal(translation)):
        return f"source stops mid-sentence, translation completes it ({ratio:.0%} of the expected length)"
    s_enum, t_enum = enumerations(s_prose, ctx.src_lang), enumerations(t_prose, ctx.tgt)
    if s_enum and len(s_enum) == len(t_enum) and sum(t_enum) == sum(s_enum) + 1:
        return Evidence(f"an enumeration has one item more than the source's ({short(map(str, t_enum))} items, "
                        f"source {short(map(str, s_enum))})", HEURISTIC)
    s_tags, t_tags = _HASHTAG_RE.findall(source), _HASHTAG_RE.findall(translation)
    if len(t_tags) > len(s_tags):
        return "hashtags not in source: " + short(t_tags)
    s_items, t_items = len(LIST_ITEM_RE.findall(s_prose)), len(LIST_ITEM_RE.findall(t_prose))
    if s_items >= 1 and t_items > s_items:
        return f"{t_items} list items, source has {s_items}"
    if ratio >= HALLUCINATED_EXTRA_RATIO and s_len:
        s_sent = [x for x in sentences(s_prose)]
        t_sent = [x for x in sentences(t_prose) if len(TOKEN_RE.findall(x)) >= EXTRA_SENTENCE_MIN_WORDS]
        if len(t_sent) > len(s_sent):
            return Evidence(f"{len(t_sent)} sentences, source has {len(s_sent)} ({ratio:.0%} of the expected length)",
                            HEURISTIC)
        if lines(t_prose) > lines(s_prose):
            return Evidence(f"{lines(t_prose)} lines, source has {lines(s_prose)}", HEURISTIC)
    return ""


def _span_kind(text: str) -> str:
    """'code block', 'url', 'e-mail', or '' for the spans a translator may add or drop (inline code, placeholders)."""
    if text.startswith(("```", "~~~")):
        return "code block"
    if text.lower().startswith(("http://", "https://", "www.")):
        return "url"
    return "e-mail" if "@" in text and " " not in text else ""


def _added_spans(ctx: QAContext) -> list[str]:
    """Code blocks, URLs and e-mails of the translation beyond the source's count of that kind, whose content
    the source does not hold (a fence put around the source's own unfenced code is not an addition)."""
    have = Counter(_span_kind(text) for _, _, text in ctx.s_spans)
    seen: Counter = Counter()
    flat_source = "".join(ctx.source.split())
    added = []
    for _, _, text in ctx.t_spans:
        kind = _span_kind(text)
        if not kind:
            continue
        seen[kind] += 1
        body = text.split("\n", 1)[1].rsplit("\n", 1)[0] if kind == "code block" and "\n" in text else text
        flat = "".join(body.split())
        if seen[kind] > have[kind] and flat and flat not in flat_source:
            added.append(text.split("\n", 1)[0] if kind == "code block" else text)
    return added
