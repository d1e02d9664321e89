"""``wrong_language``: the answer is wholly or mostly not in the instruction's language (unless the
instruction asked for a language or a translation). Judged on the answer's dominant script, on
marker words of Romance neighbours lingua is not asked about, and on lingua's confidences over the
bounded prose samples the orchestrator prepared.
"""
from __future__ import annotations

import re

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding

_SCRIPT_OF_LANG = {"ru": "cyrillic", "uk": "cyrillic", "ar": "arabic", "zh": "han", "ja": "han", "ko": "hangul",
                   "hi": "devanagari"}


# Romance neighbours that a detector restricted to the study languages cannot name: a few words that
# exist in them but not in French or Spanish (a Spanish prompt answered in Portuguese is a classic drift).
_SIBLING_MARKERS = {
    "pt": frozenset("não também você vocês muito muitos muita uma umas com são isso esse essa pela pelo sua seu ao aos "
                    "até então já é ou melhor maneira fazer começar".split()),
    "it": frozenset("gli della dello degli delle che per è anche questo questa molto più perché nel nella alla dalla "
                    "ogni tutti sono essere modo migliore imparare lingua".split()),
    "ca": frozenset("amb però és els dels als aquest aquesta molt també perquè seva pel pels tenir".split()),
}
# The orchestrator adds lingua confidences for these neighbours (a second detector over them, French and Spanish) to
# the samples of French and Spanish answers, under their codes, with SIBLING_OWN: that detector's French/Spanish one.
SIBLINGS = ("fr", "es")
SIBLING_LANGUAGES = ("pt", "it", "ca")
_SIBLING_CHECK = {lang: SIBLING_LANGUAGES for lang in SIBLINGS}
SIBLING_OWN = "_own"
SIBLING_MIN_DISTINCT_WORDS = 20  # the samples judged must hold this many different words
SIBLING_CONFIDENCE = 0.8  # a sample reads as a neighbour at this confidence, its own language's at most 0.15


# A short sample (under 150 letters) is judged only with this many distinct words of two letters or more.
SHORT_MIN_DISTINCT_WORDS = 4
_WORD_RE = re.compile(r"[^\W\d_]{2,}")


def _sibling_language(text: str, lang: str, known: tuple[str, ...]) -> tuple[str, float] | None:
    words = re.findall(r"\w+", text.lower())
    if len(words) < 12:
        return None
    for sib in _SIBLING_CHECK.get(lang, ()):
        if sib in known:
            continue
        found = [w for w in words if w in _SIBLING_MARKERS[sib]]
        hits = len(found)
        if len(set(found)) >= 3 and hits / len(words) >= 0.08:  # three different words: a loop repeats one
            return sib, hits / len(words)
    return None


def _sibling_samples(samples: list[str], confs: list[dict[str, float]], lang: str) -> tuple[str, float] | None:
    """The neighbour most of the prose reads as (lingua confidences the orchestrator added), with the share of it."""
    total = 0
    wrong: dict[str, int] = {}
    for text, conf in zip(samples, confs):
        letters = sum(map(str.isalpha, text))
        if letters < 20 or (letters < 150 and len(set(_WORD_RE.findall(text.lower()))) < SHORT_MIN_DISTINCT_WORDS):
            continue
        total += letters
        top = max(SIBLING_LANGUAGES, key=lambda c: conf.get(c, 0.0))
        if conf.get(top, 0.0) >= SIBLING_CONFIDENCE and conf.get(SIBLING_OWN, 1.0) <= 0.15:
            wrong[top] = wrong.get(top, 0) + letters
    if not total or not wrong or len(set(_WORD_RE.findall(" ".join(samples).lower()))) < SIBLING_MIN_DISTINCT_WORDS:
        return None  # (a loop of one sentence says little about its language)
    top = max(wrong, key=wrong.get)
    return (top, wrong[top] / total) if wrong[top] >= 0.5 * total else None


def detect(ctx: AnswerContext) -> Finding | None:
    """The answer's script or its sampled prose shows another language than ``ctx.lang``."""
    if ctx.is_empty or ctx.instruction_features.language_exempt:
        return None
    lang, samples, script, confs = ctx.lang, ctx.samples, ctx.script, ctx.confs
    expected_script = _SCRIPT_OF_LANG.get(lang, "latin")
    if script is not None and script != expected_script and script != "other":
        return Finding("wrong_language", 0.95, None, f"answer is mostly in {script} script, expected {lang}")
    if not samples:
        return None
    sib = _sibling_language(" ".join(samples), lang, ctx.languages)
    if sib is not None:
        return Finding("wrong_language", 0.8, None,
                       f"reads as {sib[0]} ({sib[1]:.0%} of words are {sib[0]}-only), expected {lang}")
    if not confs:
        return None
    sibling = _sibling_samples(samples, confs, lang)
    if sibling is not None:
        return Finding("wrong_language", 0.8, None,
                       f"{sibling[1]:.0%} of the sampled prose reads as {sibling[0]} (lingua), expected {lang}")
    total = wrong = 0.0
    others: dict[str, float] = {}
    for text, conf in zip(samples, confs):
        letters = sum(map(str.isalpha, text))
        if letters < 20:
            continue
        total += letters
        conf = {code: value for code, value in conf.items() if code in ctx.languages}  # (not the neighbours)
        if not conf:
            continue
        top = max(conf, key=conf.get)
        if letters < 150 and len(set(_WORD_RE.findall(text.lower()))) < SHORT_MIN_DISTINCT_WORDS:
            continue  # "C++ : points / html : points": too few words to tell a language
        need = 0.75 if letters >= 150 else 0.8
        if top != lang and conf[top] >= need and conf.get(lang, 0.0) <= 0.15:
            wrong += letters
            others[top] = others.get(top, 0.0) + letters * conf[top]
    if total < 20 or wrong / total < 0.5:
        return None
    other = max(others, key=others.get)
    frac = wrong / total
    score = min(0.99, 0.45 + 0.5 * frac * (others[other] / wrong))
    return Finding("wrong_language", score, None,
                   f"{frac:.0%} of the sampled prose reads as {other}, expected {lang}")
