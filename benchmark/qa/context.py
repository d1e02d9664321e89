"""One source/translation pair under check: its features (each computed once, on first use) and flag verdicts.

Every flag check gets a ``QAContext`` and returns its evidence ("" when the flag does not fire). A check
that depends on another flag's verdict asks ``ctx.verdict(flag)``; that flag is checked then, once.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable, Mapping

from bench.instruction_features import instruction_features
from benchmark.qa.align import missing_counterparts
from benchmark.qa.features import (
    EXPECTED_LENGTH_RATIO,
    MIN_TRANSLATABLE_WORDS,
    collapse_runs,
    is_title_like,
    measure,
    norm,
    protected_spans,
    sentences,
    word_count,
    words,
)
from benchmark.qa.language_id import SHORT_SEGMENT_MIN_WORDS, LanguageID, lid_text, mixed_segments

# A flag check: evidence for the flag on one pair, "" when it does not fire.
CheckFn = Callable[["QAContext"], str]


class QAContext:
    """Source, translation and languages of one pair, the shared detector, and lazily computed features."""

    def __init__(self, source: str, translation: str, tgt: str, src_lang: str, lid: LanguageID,
                 checks: Mapping[str, CheckFn]):
        """``tgt``/``src_lang``: ISO codes; ``checks``: flag name -> check, for ``verdict``."""
        self.source, self.translation = source, translation
        self.tgt, self.src_lang = tgt, src_lang
        self.lid = lid
        self._checks = checks
        self._verdicts: dict[str, str | None] = {}

    # -- flag verdicts ------------------------------------------------------
    def verdict(self, flag: str) -> str:
        """Evidence for ``flag`` on this pair ("" when it does not fire); its check runs on first use only."""
        if flag not in self._verdicts:
            self._verdicts[flag] = None  # marks a check in progress: a dependency cycle fails loudly
            self._verdicts[flag] = self._checks[flag](self)
        found = self._verdicts[flag]
        if found is None:
            raise RuntimeError(f"QA flag checks depend on each other in a cycle through '{flag}'")
        return found

    # -- text ------------------------------------------------------------------
    @cached_property
    def _source_parts(self) -> tuple[list[tuple[int, int, str]], str]:
        return protected_spans(self.source)

    @property
    def s_spans(self) -> list[tuple[int, int, str]]:
        """Protected spans of the source (code, URLs, e-mails, placeholders) as (start, end, text)."""
        return self._source_parts[0]

    @property
    def s_prose(self) -> str:
        """The source without its protected spans."""
        return self._source_parts[1]

    @cached_property
    def _translation_parts(self) -> tuple[list[tuple[int, int, str]], str]:
        return protected_spans(self.translation)

    @property
    def t_spans(self) -> list[tuple[int, int, str]]:
        """Protected spans of the translation as (start, end, text)."""
        return self._translation_parts[0]

    @property
    def t_prose(self) -> str:
        """The translation without its protected spans."""
        return self._translation_parts[1]

    @cached_property
    def prose_missing(self) -> list[str]:
        """Formulas, identifiers and language names of the source prose with no counterpart in the translation."""
        intent = instruction_features(self.source)
        return missing_counterparts(self.s_prose, self.t_prose, literals=intent.code or intent.data,
                                    names=intent.code, t_lang=self.tgt)

    @cached_property
    def s_words(self) -> list[str]:
        """Words of the source prose."""
        return words(self.s_prose)

    @cached_property
    def s_tokens(self) -> list[str]:
        """Normalised tokens of the source prose."""
        return norm(self.s_prose).split()

    @cached_property
    def t_tokens(self) -> list[str]:
        """Normalised tokens of the translation prose."""
        return norm(self.t_prose).split()

    @cached_property
    def translatable(self) -> bool:
        """The source has enough words, is not a name/title, and the languages differ."""
        return (len(self.s_words) >= MIN_TRANSLATABLE_WORDS and not is_title_like(self.s_words)
                and self.tgt != self.src_lang)

    # -- lengths ---------------------------------------------------------------
    @cached_property
    def expected(self) -> float:
        """Expected translation length over source length for this language pair."""
        return EXPECTED_LENGTH_RATIO.get(self.tgt, 1.0) / EXPECTED_LENGTH_RATIO.get(self.src_lang, 1.0)

    @cached_property
    def s_len(self) -> int:
        """Length of the source prose (characters of words and numbers)."""
        return measure(self.s_prose)

    @cached_property
    def t_len(self) -> int:
        """Length of the translation prose; when ``repetition`` fires, with repeats kept once."""
        if not self.verdict("repetition"):
            return measure(self.t_prose)
        seen, kept = set(), []
        for sent in sentences(self.t_prose):
            key = norm(sent)
            if key not in seen:
                seen.add(key)
                kept.append(key)
        return len(" ".join(collapse_runs(" ".join(kept).split())))

    @cached_property
    def ratio(self) -> float:
        """Translation length over its expected length (1.0 when the source has no prose)."""
        return (self.t_len / self.s_len) / self.expected if self.s_len else 1.0

    @cached_property
    def kept_share(self) -> float:
        """Share of the source that made it into the translation: all (2.0) unless ``truncated`` fires."""
        return min(1.0, self.ratio) - 0.1 if self.verdict("truncated") else 2.0

    # -- language ID -----------------------------------------------------------
    @cached_property
    def detectable(self) -> bool:
        """The languages differ and the detector knows both."""
        return self.tgt != self.src_lang and self.lid.can_detect(self.tgt, self.src_lang)

    @cached_property
    def t_lid(self) -> str:
        """Translation prose as language ID sees it (quotes, digits and symbols removed)."""
        return lid_text(self.t_prose)

    @cached_property
    def t_lid_words(self) -> float:
        """Words in ``t_lid``."""
        return word_count(self.t_lid)

    @cached_property
    def t_segments(self) -> list[str]:
        """Sentences/lines of the translation to identify one by one (empty when not worth it)."""
        return mixed_segments(self.t_prose, self.t_lid_words)

    @cached_property
    def t_short_segments(self) -> list[str]:
        """Like ``t_segments``, from SHORT_SEGMENT_MIN_WORDS words on."""
        return mixed_segments(self.t_prose, self.t_lid_words, SHORT_SEGMENT_MIN_WORDS)

    def confidences(self, text: str) -> list[tuple[str, float]]:
        """(ISO code, confidence) pairs for ``text``, most likely first."""
        return self.lid.confidences(text)
