"""Bounded prose samples of an answer for language identification, its dominant script, and a
function-word shortcut that settles most samples without calling lingua.
"""
from __future__ import annotations

import json
import re

from baselines.errors.text_features import script_of

_STRIP_FOR_LANG = [
    re.compile(r"```.*?(?:```|\Z)", re.S),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+"),
    re.compile(r"«[^»\n]{0,200}»|“[^”\n]{0,200}”|\"[^\"\n]{0,200}\"|„[^“\n]{0,200}“|\*\*[^*\n]{1,120}\*\*|"
               r"\*[^*\n]{1,120}\*|_[^_\n]{1,120}_"),  # quotes, bold names and italic titles
    re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-Þ][\w'’-]*"),  # capitalised words: names, titles, sentence starts
    re.compile(r"[#|>*_~\d]+"),
]


def _cut(text: str, start: int, end: int) -> str:
    """text[start:end] widened to word boundaries."""
    if start > 0:
        sp = text.find(" ", start)
        start = sp + 1 if 0 <= sp < start + 40 else start
    if end < len(text):
        sp = text.rfind(" ", start, end)
        end = sp if sp > start else end
    return text[start:end]


# Identifiers joined by underscores (snake_case names, a command's arguments): code, not prose.
_IDENTIFIER_RE = re.compile(r"\S*[^\W_]_[^\W_]\S*")


def _clean_for_language(text: str) -> str:
    """Prose only: no code, identifiers, URLs, quoted titles, capitalised names, markup or digits."""
    cleaned = _IDENTIFIER_RE.sub(" ", text) if "_" in text else text
    if "`" in cleaned:
        cleaned = _STRIP_FOR_LANG[1].sub(" ", _STRIP_FOR_LANG[0].sub(" ", cleaned))
    if "http" in cleaned or "www." in cleaned or "@" in cleaned:
        cleaned = _STRIP_FOR_LANG[2].sub(" ", cleaned)
    if any(q in cleaned for q in '«“"„*_'):
        cleaned = _STRIP_FOR_LANG[3].sub(" ", cleaned)
    unquoted = " ".join(_STRIP_FOR_LANG[5].sub(" ", _STRIP_FOR_LANG[4].sub(" ", cleaned)).split())
    if sum(map(str.isalpha, unquoted[:300])) >= 25:
        return unquoted
    words = cleaned.split()
    if sum(1 for w in words if w[:1].isupper()) * 2 > len(words):
        return unquoted  # mostly names and titles (a list of books, people): no prose to identify
    return " ".join(_STRIP_FOR_LANG[5].sub(" ", cleaned).split())


# Longer prose is sampled by this many windows of WINDOW characters, evenly spaced from its start to its end: each
# stands for the same share of the answer, so an answer that switches language after its first paragraph is
# judged on how much of it switched (a head window larger than the others weighed the opening too much).
WINDOWS = 4
WINDOW = 200


def _starts(n: int, size: int) -> list[int]:
    """Where WINDOWS windows of ``size`` characters start, evenly spaced over ``n`` characters."""
    return sorted({round(i * (n - size) / (WINDOWS - 1)) for i in range(WINDOWS)})


def _spread(text: str) -> list[str]:
    """WINDOWS windows of WINDOW characters evenly spaced over ``text`` (word boundaries)."""
    return [w for w in (_cut(text, a, a + WINDOW) for a in _starts(len(text), WINDOW)) if w.strip()]


def _json_prose(output: str) -> str | None:
    """The string values (three words or more) of an answer that is one JSON document: its prose. None otherwise."""
    text = output.strip()
    if text[:1] not in "{[" or text[-1:] not in "}]":
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    values: list[str] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str) and len(item.split()) >= 3:
            values.append(item.rstrip(".") + ".")
    return " ".join(values)


def language_samples(output: str) -> tuple[list[str], str | None]:
    """Bounded samples of the prose of ``output`` for language identification, plus its dominant script.

    Short answers give one sample; longer ones give WINDOWS evenly spaced windows (cleaned of code, URLs, quotes
    and capitalised names first), so the cost is bounded whatever the length.
    """
    script = None
    sample_for_script = output[:1500]
    if not sample_for_script.isascii():
        counts: dict[str, int] = {}
        for ch in sample_for_script:
            if ch.isalpha():
                sc = script_of(ch)
                counts[sc] = counts.get(sc, 0) + 1
        total = sum(counts.values())
        if total >= 6:
            top = max(counts, key=counts.get)
            if counts[top] >= 0.5 * total:
                script = top
    prose = _json_prose(output)  # an answer delivered as JSON: its language is that of its string values
    if prose is not None:
        output = prose
    if len(output) <= 1200:
        text = _clean_for_language(output)
        if len(text) <= 550:
            return ([text] if text else []), script
        return _spread(text), script
    if "```" in output:  # code fences must be stripped as a whole before cutting windows
        output = _STRIP_FOR_LANG[0].sub(" ", output)
        if len(output) <= 1200:
            text = _clean_for_language(output)
            if len(text) <= 550:
                return ([text] if text else []), script
            return _spread(text), script
    samples = []
    for a in _starts(len(output), 2 * WINDOW):  # clean a raw window twice the size, then keep WINDOW characters of its prose
        text = _clean_for_language(output[a:a + 2 * WINDOW])
        if text:
            samples.append(_cut(text, 0, WINDOW) if len(text) > WINDOW else text)
    return samples, script


# Function words found in one study language only: a sample full of its own language's function words and
# (almost) none of the others' is settled without calling lingua (most answers are in the expected language).
_OWN_WORDS = {
    "en": frozenset("the and of to is that with for you it are this be have was can will your or an as at by from they "
                    "we their which has not but if would should could been were these those what when how there into "
                    "about also more than other some such its our may my she his her them so do does like just all "
                    "any each one".split()),
    "fr": frozenset("le les des du est et une dans pour pas sur avec ce cette ces qui sont au aux je vous il ils elle "
                    "elles nous mais ou leur leurs votre vos notre nos être avoir fait peut plus très aussi comme tout "
                    "tous ont était sa ses mon ma mes cela ça où donc entre chaque même bien sans lorsque ainsi "
                    "l qu c".split()),
    "es": frozenset("el los las y del una por con para es su sus lo como más pero al está están muy también hay ha "
                    "han puede pueden ser estar cuando donde porque sobre sin este esta estos estas tiene tienen uno "
                    "unos unas mi".split()),
}
_WORD_RE = re.compile(r"\w+")


def obviously_in(sample: str, lang: str) -> bool:
    """True when function words alone show that ``sample`` is in ``lang`` (en, fr or es)."""
    own_words = _OWN_WORDS.get(lang)
    if own_words is None:
        return False
    words = _WORD_RE.findall(sample.lower())
    n = len(words)
    if n < 15:
        return False
    own = sum(1 for w in words if w in own_words)
    if own < 0.15 * n:
        return False
    limit = 0.03 * n
    return all(sum(1 for w in words if w in other_words) <= limit
               for code, other_words in _OWN_WORDS.items() if code != lang)
