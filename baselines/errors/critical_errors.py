"""Rule-based detectors of critical errors in model answers (EN / FR / ES and other Latin-script languages).

Six labels (``bench.vocabulary.ERROR_LABELS``), each a failure that makes an answer unusable whatever its
other qualities; one detector module per label in :mod:`baselines.errors.detectors`, run from its
``DETECTORS`` table by :class:`CriticalErrorDetector`. Precision matters as much as recall: refrains, long
varied lists, tables, intended code, LaTeX, loanwords, quoted titles, translation requests and one-word
answers are not errors.

One lingua detector restricted to the study languages is built once per :class:`CriticalErrorDetector`;
language identification runs on a bounded sample of the text (head + middle + tail), so the cost per
answer is bounded whatever its length. ``detect_many`` batches lingua calls over both cores, then runs
the rules of a large batch in worker processes (forked, so they share the built detector; one per core).
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Callable, Iterable, Sequence

from bench.label_scores import evaluation_report
from bench.vocabulary import ERROR_LABELS as LABELS
from baselines.errors.answer_context import AnswerContext
from baselines.errors.detectors import DETECTORS
from baselines.errors.detectors.wrong_language import SIBLING_LANGUAGES, SIBLING_OWN, SIBLINGS
from baselines.errors.finding import THRESHOLD, Finding
from baselines.errors.language_samples import language_samples, obviously_in

__all__ = ["DETECTOR_VERSION", "LABELS", "THRESHOLD", "CriticalErrorDetector", "Finding", "evaluate",
           "findings_to_record"]

DETECTOR_VERSION = "ce-v5"  # v2: structure-based code and truncation checks, template loops; v3: dev rounds 2-3; v4: round 4 (issue 14); v5: round 6
PARALLEL_MIN_ROWS = 256  # a smaller batch runs in this process: forking costs more than it saves
_BATCH: tuple = ()  # (detector, jobs): what a forked worker reads, set by the parent just before it forks


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class CriticalErrorDetector:
    """Detects the six critical-error labels; build once, reuse for many answers."""

    version = DETECTOR_VERSION

    def __init__(self, languages: Sequence[str] = ("en", "fr", "es"), workers: int | None = None):
        """``workers``: processes for the rules of a large batch (default: one per available core; 1 = none)."""
        from bench.languages import get_language, lingua_detector

        self.languages = tuple(get_language(code).code for code in languages)
        self.workers = max(1, workers if workers is not None else available_cores())
        self._detector, self._by_member = lingua_detector(self.languages)
        self._siblings: tuple | None = None  # built on first need (_add_siblings)

    # -- public API -------------------------------------------------------------------------
    def detect(self, instruction: str, output: str, lang: str, finish_reason: str | None = None) -> list[Finding]:
        """All findings (score >= THRESHOLD) for one answer, in LABELS order."""
        return self.detect_many([(instruction, output, lang, finish_reason)])[0]

    def detect_many(self, rows: Iterable[Sequence]) -> list[list[Finding]]:
        """Findings for many ``(instruction, output, lang[, finish_reason])`` rows; lingua runs batched."""
        rows = [tuple(r) for r in rows]
        jobs = [(r[1], self._check_lang(r[2]), self._detector is not None) for r in rows]
        prepared = self._map(_prepare_range, jobs)  # language samples, and which need no lingua
        flat = [s for samples, _, _ in prepared for s in samples]
        flat_confs: list[dict[str, float]] = [{} for _ in flat]
        if self._detector is not None and flat:
            plain = [ok for _, _, known in prepared for ok in known]
            codes = [code for (_, code, _), (samples, _, _) in zip(jobs, prepared) for _ in samples]
            todo = []
            for k, (ok, code) in enumerate(zip(plain, codes)):
                if ok:
                    flat_confs[k] = {code: 1.0}
                else:
                    todo.append(k)
            if todo:
                values = self._detector.compute_language_confidence_values_in_parallel([flat[k] for k in todo])
                for k, v in zip(todo, values):
                    flat_confs[k] = self._to_dict(v)
                self._add_siblings(flat, flat_confs, [k for k in todo if codes[k] in SIBLINGS])
        jobs, k = [], 0
        for row, (samples, script, _) in zip(rows, prepared):
            confs = flat_confs[k:k + len(samples)]
            k += len(samples)
            fr = row[3] if len(row) > 3 else None
            jobs.append((row[0], row[1], row[2], fr, samples, script, confs))
        return self._map(_detect_range, jobs)

    # -- internals ----------------------------------------------------------------------------
    def _map(self, fn: Callable[[tuple[int, int]], list], jobs: list[tuple]) -> list:
        """``fn`` over ``jobs``, in order: in this process, or over forked workers for a large batch (they inherit
        the detector and the jobs, so nothing is sent to them). Without ``fork`` everything runs here."""
        global _BATCH
        workers = min(self.workers, len(jobs) // (PARALLEL_MIN_ROWS // 2))  # half a minimum batch per worker at least
        _BATCH = (self, jobs)
        try:
            if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
                return fn((0, len(jobs)))
            size = -(-len(jobs) // (workers * 4))  # four chunks per worker: a slow chunk does not hold the others up
            bounds = [(start, min(start + size, len(jobs))) for start in range(0, len(jobs), size)]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                return [out for part in pool.map(fn, bounds, chunksize=1) for out in part]
        finally:
            _BATCH = ()

    def _add_siblings(self, flat: list[str], flat_confs: list[dict[str, float]], todo: list[int]) -> None:
        """Confidences for the Romance neighbours the study languages are mistaken for (Portuguese, Italian,
        Catalan), from a second lingua detector over them and French and Spanish, added under their codes to the
        samples of French and Spanish answers that lingua was asked about (function words did not settle them).
        Kept apart from the main detector: naming them there spreads its confidences over six languages."""
        if not todo:
            return
        if self._siblings is None:
            from bench.languages import lingua_detector

            self._siblings = lingua_detector(("fr", "es", *SIBLING_LANGUAGES))
        detector, by_member = self._siblings
        values = detector.compute_language_confidence_values_in_parallel([flat[k] for k in todo])
        for k, v in zip(todo, values):
            confs = self._to_dict(v, by_member)
            flat_confs[k].update({code: confs.get(code, 0.0) for code in SIBLING_LANGUAGES})
            flat_confs[k][SIBLING_OWN] = max(confs.get("fr", 0.0), confs.get("es", 0.0))

    def _to_dict(self, values, by_member: dict | None = None) -> dict[str, float]:
        """Lingua's confidence values as ISO code -> value (``by_member``: another detector's member map)."""
        by_member = by_member or self._by_member
        return {by_member[cv.language]: cv.value for cv in values}

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


def _prepare_range(bounds: tuple[int, int]) -> list[tuple[list[str], str | None, list[bool]]]:
    """Language-ID inputs of the batch's answers ``start:end``: samples, script, and which samples are plainly
    in the answer's language (no lingua needed: the sample itself, or all samples together, settles it)."""
    _, jobs = _BATCH
    out = []
    for output, code, with_lingua in jobs[bounds[0]:bounds[1]]:
        samples, script = language_samples(output)
        whole = with_lingua and obviously_in(" ".join(samples), code)
        out.append((samples, script, [whole or (with_lingua and obviously_in(s, code)) for s in samples]))
    return out


def _detect_range(bounds: tuple[int, int]) -> list[list[Finding]]:
    """The findings of the batch's prepared jobs ``start:end``."""
    detector, jobs = _BATCH
    return [detector._detect(*job) for job in jobs[bounds[0]:bounds[1]]]


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
