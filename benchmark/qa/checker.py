"""Quality flags for one machine translation of an instruction (pure Python + lingua).

Flags, in this order: untranslated, wrong_language, truncated, code_altered,
number_mismatch, hallucinated_addition, repetition. A problem that another flag
already explains is not reported twice: code lost in a truncated tail counts as
``truncated`` only, and length inflated by a loop as ``repetition`` only. A number lost
with a truncated tail or added with added text is a changed number too (LABELS.md).

Each flag's check lives in ``benchmark.qa.flags``; ``TranslationQA`` runs the table
``FLAG_CHECKS`` over one ``QAContext`` per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from bench.languages import get_language
from benchmark.qa.context import QAContext
from benchmark.qa.evidence import score_and_span
from benchmark.qa.features import protected_spans
from benchmark.qa.flags import FLAG_CHECKS
from benchmark.qa.language_id import LanguageID, lid_text

_CHECKS = dict(FLAG_CHECKS)


@dataclass
class QAResult:
    """Flags (in QA_FLAGS order) and, per flag, a short human-readable reason, a score in [0, 1] (how sure the
    rule is, see ``benchmark.qa.evidence``) and the character span in the translation it points at (or None)."""

    flags: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    spans: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"qa_flags": list(self.flags), "qa_evidence": {k: str(v) for k, v in self.evidence.items()},
                "qa_scores": {k: round(v, 3) for k, v in self.scores.items()},
                "qa_spans": {k: list(v) if v else None for k, v in self.spans.items()}}

    def without(self, flags: set[str]) -> "QAResult":
        """This result with ``flags`` dropped (a second opinion rejected them)."""
        keep = [f for f in self.flags if f not in flags]
        return QAResult(keep, {f: self.evidence[f] for f in keep}, {f: self.scores[f] for f in keep},
                        {f: self.spans[f] for f in keep})


class TranslationQA:
    """Checks machine translations; build once (the lingua detector is slow to build), reuse for many rows."""

    def __init__(self, languages: Sequence[str], neighbours: bool = True):
        """``languages``: ISO codes at hand; ``neighbours`` also lets the detector know NEIGHBOUR_LANGUAGES."""
        self.languages = [get_language(code).code for code in languages]
        self._lid = LanguageID(self.languages, neighbours)

    def check(self, source: str, translation: str, target_lang: str, source_lang: str = "en") -> QAResult:
        """Flag one translation of ``source`` (in ``source_lang``) into ``target_lang``."""
        tgt, src_lang = get_language(target_lang).code, get_language(source_lang).code
        if tgt not in self.languages or src_lang not in self.languages:
            raise ValueError(f"language not given to TranslationQA: {tgt if tgt not in self.languages else src_lang}")
        return self._check(source, translation, tgt, src_lang)

    def check_many(self, rows: Iterable[tuple[str, str, str]], source_lang: str = "en") -> list[QAResult]:
        """Check (source, translation, target_lang) rows; language ID is batched across rows."""
        rows = list(rows)
        self._lid.prefetch([lid_text(protected_spans(t)[1]) for _, t, _ in rows])
        return [self.check(s, t, lang, source_lang) for s, t, lang in rows]

    def _check(self, source: str, translation: str, tgt: str, src_lang: str) -> QAResult:
        ctx = QAContext(source, translation, tgt, src_lang, self._lid, _CHECKS)
        evidence = {flag: ctx.verdict(flag) for flag, _ in FLAG_CHECKS}
        flags = [flag for flag, found in evidence.items() if found]
        placed = {flag: score_and_span(flag, evidence[flag], translation) for flag in flags}
        return QAResult(flags, {flag: str(evidence[flag]) for flag in flags},
                        {flag: placed[flag][0] for flag in flags}, {flag: placed[flag][1] for flag in flags})
