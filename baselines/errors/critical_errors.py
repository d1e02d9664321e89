"""Rule-based detectors of critical errors in model answers (EN / FR / ES and other Latin-script languages).

Six labels (``bench.vocabulary.ERROR_LABELS``), each a failure that makes an answer unusable whatever its
other qualities; one detector module per label in :mod:`baselines.errors.detectors`, run from its
``DETECTORS`` table by :class:`CriticalErrorDetector`. Precision matters as much as recall: refrains, long
varied lists, tables, intended code, LaTeX, loanwords, quoted titles, translation requests and one-word
answers are not errors.

One lingua detector restricted to the study languages is built once per :class:`CriticalErrorDetector`;
language identification runs on a bounded sample of the text (head + middle + tail), so the cost per
answer is bounded whatever its length. ``detect_many`` batches lingua calls over both cores.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

from bench.label_scores import evaluation_report
from bench.vocabulary import ERROR_LABELS as LABELS
from baselines.errors.answer_context import AnswerContext
from baselines.errors.detectors import DETECTORS
from baselines.errors.finding import THRESHOLD, Finding
from baselines.errors.language_samples import language_samples, obviously_in

__all__ = ["DETECTOR_VERSION", "LABELS", "THRESHOLD", "CriticalErrorDetector", "Finding", "evaluate",
           "findings_to_record"]

DETECTOR_VERSION = "ce-v4"  # v2: structure-based code and truncation checks, template loops; v3: dev rounds 2-3; v4: round 4 (issue 14)


class CriticalErrorDetector:
    """Detects the six critical-error labels; build once, reuse for many answers."""

    version = DETECTOR_VERSION

    def __init__(self, languages: Sequence[str] = ("en", "fr", "es")):
        from bench.languages import get_language, lingua_detector

        self.languages = tuple(get_language(code).code for code in languages)
        self._detector, self._by_member = lingua_detector(self.languages)

    # -- public API -------------------------------------------------------------------------
    def detect(self, instruction: str, output: str, lang: str, finish_reason: str | None = None) -> list[Finding]:
        """All findings (score >= THRESHOLD) for one answer, in LABELS order."""
        return self.detect_many([(instruction, output, lang, finish_reason)])[0]

    def detect_many(self, rows: Iterable[Sequence]) -> list[list[Finding]]:
        """Findings for many ``(instruction, output, lang[, finish_reason])`` rows; lingua runs batched."""
        rows = [tuple(r) for r in rows]
        codes = [self._check_lang(r[2]) for r in rows]
        prepared = [language_samples(r[1]) for r in rows]
        # an answer whose windows together are plainly in its language needs no lingua for any of them
        flat = [(s, code, whole) for (samples, _), code in zip(prepared, codes)
                for whole in [obviously_in(" ".join(samples), code)] for s in samples]
        flat_confs: list[dict[str, float]] = [{} for _ in flat]
        if self._detector is not None and flat:
            todo = []
            for k, (s, code, whole) in enumerate(flat):
                if whole or obviously_in(s, code):
                    flat_confs[k] = {code: 1.0}
                else:
                    todo.append(k)
            if todo:
                values = self._detector.compute_language_confidence_values_in_parallel([flat[k][0] for k in todo])
                for k, v in zip(todo, values):
                    flat_confs[k] = self._to_dict(v)
        out, k = [], 0
        for row, (samples, script) in zip(rows, prepared):
            confs = flat_confs[k:k + len(samples)]
            k += len(samples)
            fr = row[3] if len(row) > 3 else None
            out.append(self._detect(row[0], row[1], row[2], fr, samples, script, confs))
        return out

    # -- internals ----------------------------------------------------------------------------
    def _to_dict(self, values) -> dict[str, float]:
        return {self._by_member[cv.language]: cv.value for cv in values}

    def _check_lang(self, lang: str) -> str:
        code = (lang or "").strip().lower()
        if code not in self.languages:
            raise ValueError(f"language {lang!r} is not one of this detector's languages {list(self.languages)}")
        return code

    def _detect(self, instruction, output, lang, finish_reason, samples, script, confs) -> list[Finding]:
        ctx = AnswerContext(instruction, output, self._check_lang(lang), finish_reason, languages=self.languages,
                            samples=samples, script=script, confs=confs, detectors=DETECTORS)
        found = (ctx.finding(label) for label in DETECTORS)
        return [f for f in found if f is not None and f.score >= THRESHOLD]


def findings_to_record(findings: list[Finding]) -> dict:
    """The two fields the CLI adds to each line."""
    return {"critical_errors": [f.label for f in findings],
            "critical_error_evidence": [f.to_dict() for f in findings]}


def evaluate(records: Sequence[dict], detector: CriticalErrorDetector | None = None,
             review: Callable[[list[tuple], list[list[Finding]]], list[list[Finding]]] | None = None) -> dict:
    """Scores of the detectors on records carrying gold ``labels`` (:func:`bench.label_scores.evaluation_report`).

    Adds ``detector_version`` and ``errors``: ``(id, missed, spurious, evidence)`` of each item where the
    detectors and the labels disagree. ``review``: applied to the findings before scoring (a second opinion).
    """
    detector = detector or CriticalErrorDetector(sorted({r["lang"] for r in records} | {"en", "fr", "es"}))
    items = [(r["instruction"], r["output"], r["lang"], r.get("finish_reason")) for r in records]
    predictions = detector.detect_many(items)
    if review is not None:  # a second opinion on the uncertain findings (baselines.errors.second_opinion)
        predictions = review(items, predictions)
    gold = [set(rec["labels"]) for rec in records]
    pred = [{f.label for f in found} for found in predictions]
    errors = [(rec.get("id", "?"), sorted(g - p), sorted(p - g), {f.label: f.evidence for f in found})
              for rec, g, p, found in zip(records, gold, pred, predictions) if g != p]
    report = evaluation_report(gold, pred, LABELS)
    return {"detector_version": DETECTOR_VERSION, **report, "errors": errors}
