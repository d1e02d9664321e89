"""Language identification for translation QA: the text lingua sees, a cached detector, mixed-output segments."""
from __future__ import annotations

import re
from typing import Sequence

from bench.languages import lingua_detector
from benchmark.qa.features import sentences, word_count

# Words (outside code, URLs, quotes) needed before language identification is trusted.
LID_MIN_WORDS = 4
# A sentence/line needs this many words to be judged on its own (mixed-language output).
SEGMENT_MIN_WORDS = 6
# Shorter sentences, from this many words, are judged too, with the stricter test of ``wrong_language``.
SHORT_SEGMENT_MIN_WORDS = 3
# Quoted spans up to this many words are treated as titles/citations and skipped by language ID.
QUOTE_MAX_WORDS = 12

# Close relatives added to the detector so that output in a neighbouring language (Portuguese or Catalan
# for Spanish, Dutch for German...) is recognised as wrong_language instead of passing as the target.
NEIGHBOUR_LANGUAGES: dict[str, tuple[str, ...]] = {
    "es": ("pt", "ca", "it"), "fr": ("it", "ca"), "de": ("nl",), "it": ("es", "fr"), "pt": ("es",),
    "ca": ("es", "fr"), "gl": ("pt", "es"), "nl": ("de",), "ro": ("it",), "ru": ("uk",), "uk": ("ru",),
    "sv": ("nl",),
}

# Widely used languages a translator slips into whatever the target (German for French, ...): always known
# to the detector beside the neighbours, so that a third language is recognised as one.
THIRD_LANGUAGES: tuple[str, ...] = ("de", "it", "pt")

# A parenthetical clause is judged apart from the sentence around it.
_PAREN_RE = re.compile(r"\s*[()]\s*")
_QUOTE_RE = re.compile(r"«[^»\n]*»|“[^”\n]*”|„[^“”\n]*[“”]|\"[^\"\n]*\"")


def lid_text(prose: str) -> str:
    """Prose for language ID: quoted titles/citations and digits removed."""
    def drop(m: re.Match) -> str:
        return " " if len(m.group(0).split()) <= QUOTE_MAX_WORDS else m.group(0)

    text = _QUOTE_RE.sub(drop, prose)
    text = re.sub(r"[\d#*_>|=+\-–—/\\\[\](){}<>~^$%@&]+", " ", text)
    return " ".join(text.split())


def mixed_segments(prose: str, lid_words: float, min_words: int = SEGMENT_MIN_WORDS) -> list[str]:
    """Sentences/lines long enough to be identified one by one, when the output may mix languages.

    Parenthetical clauses count as segments of their own. Empty unless there are two such segments, or one that leaves more than two words of ``prose``
    (``lid_words`` words in all) outside it.
    """
    parts = [p for x in sentences(prose) for p in _PAREN_RE.split(x)]
    segments = [seg for seg in (lid_text(x) for x in parts) if word_count(seg) >= min_words]
    if len(segments) < 2 and not (segments and lid_words > word_count(segments[0]) + 2):
        return []
    return segments


class LanguageID:
    """A lingua detector over some languages with a cache of confidences per text (slow to build: reuse)."""

    def __init__(self, languages: Sequence[str], neighbours: bool = True):
        """``languages``: ISO codes; ``neighbours`` also lets the detector know NEIGHBOUR_LANGUAGES."""
        self.languages: list[str] = list(languages)
        detect = list(languages)
        if neighbours:
            extra = [n for code in languages for n in NEIGHBOUR_LANGUAGES.get(code, ())] + list(THIRD_LANGUAGES)
            detect += [n for n in dict.fromkeys(extra) if n not in detect]
        self._detector, self._codes = lingua_detector(detect)
        self._lingua: dict[str, object] = {code: member for member, code in self._codes.items()}
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def confidences(self, text: str) -> list[tuple[str, float]]:
        """(ISO code, confidence) pairs, most likely first."""
        hit = self._cache.get(text)
        if hit is None:
            values = self._detector.compute_language_confidence_values(text)
            hit = [(self._codes[v.language], v.value) for v in values]
            if len(self._cache) > 50000:
                self._cache.clear()
            self._cache[text] = hit
        return hit

    def prefetch(self, texts: list[str]) -> None:
        """Compute the confidences of many texts in parallel into the cache."""
        todo = list(dict.fromkeys(t for t in texts if t and t not in self._cache))
        if not todo or self._detector is None:
            return
        for text, values in zip(todo, self._detector.compute_language_confidence_values_in_parallel(todo)):
            self._cache[text] = [(self._codes[v.language], v.value) for v in values]

    def can_detect(self, *codes: str) -> bool:
        """Whether the detector knows every one of ``codes``."""
        return self._detector is not None and all(c in self._lingua for c in codes)
