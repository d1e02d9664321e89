"""Run the critical-error detectors over every response in the store (feeds the leaderboard).

Responses already checked by the current DETECTOR_VERSION are skipped, and each chunk is
committed on its own, so a rerun or an interrupted scan redoes nothing.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from bench.progress import progress_task
from bench.workspace import Workspace
from baselines.errors.critical_errors import DETECTOR_VERSION, CriticalErrorDetector

CHUNK = 500


@dataclass
class ScanReport:
    checked: int = 0
    already_checked: int = 0
    label_counts: Counter = field(default_factory=Counter)


def answer_finish_reason(output: str, raw_output: str | None, finish_reason: str | None) -> str | None:
    """Why the stored *answer* ends: a generation that hit its token limit but whose answer was cut
    earlier by the method's cleaning (URIAL's ``# Query`` stop, a zero-shot frame's next turn) ends
    where the model stopped answering (``stop``), not at the limit."""
    if finish_reason == "length" and raw_output and len(output.strip()) < len(raw_output.strip()) \
            and raw_output.strip().startswith(output.strip()[:50]):
        return "stop"
    return finish_reason


def reviewed_version(judge_name: str) -> str:
    """The ``detector_version`` of checks whose uncertain findings ``judge_name`` reviewed (a second opinion):
    kept apart from the rules' own checks, and the latest check of a response on the leaderboard."""
    from baselines.errors.second_opinion import QUESTION_VERSION

    return f"{DETECTOR_VERSION}+{QUESTION_VERSION}:{judge_name}"


def scan_store(ws: Workspace, languages: list[str] | None = None, *, version: str = DETECTOR_VERSION,
               review: Callable[[list[tuple], list], list] | None = None) -> ScanReport:
    """Detect critical errors for every response not yet checked under ``version`` (optionally only some
    languages). ``review``: a second opinion applied to each chunk's findings before they are stored
    (``version`` then names it: :func:`reviewed_version`)."""
    store = ws.store
    where, params = "", [version]
    if languages:
        where, params = "AND r.lang IN (SELECT unnest(?::VARCHAR[]))", params + [list(languages)]
    todo = store.query(
        "SELECT r.response_id, r.instruction, r.output, r.lang, r.finish_reason, r.raw_output FROM responses r "
        "LEFT JOIN critical_error_checks c ON c.response_id = r.response_id AND c.detector_version = ? "
        f"WHERE c.response_id IS NULL {where} ORDER BY r.response_id", params)
    report = ScanReport(already_checked=store.query(
        "SELECT count(*) FROM critical_error_checks WHERE detector_version = ?", [version])[0][0])
    if not todo:
        return report
    detector = CriticalErrorDetector(sorted({"en", *(row[3] for row in todo)}))
    with progress_task("critical errors", total=len(todo), unit="responses") as advance:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start:start + CHUNK]
            items = [(r[1], r[2], r[3], answer_finish_reason(r[2], r[5], r[4])) for r in chunk]
            findings = detector.detect_many(items)
            if review is not None:
                findings = review(items, findings)
            rows = []
            for r, found in zip(chunk, findings):
                labels = [f.label for f in found]
                report.label_counts.update(labels)
                rows.append([r[0], version, labels, json.dumps([f.to_dict() for f in found], ensure_ascii=False)])
            with store.transaction() as con:
                con.executemany("INSERT OR REPLACE INTO critical_error_checks (response_id, detector_version, labels, "
                                "evidence) VALUES (?, ?, ?, ?)", rows)
            report.checked += len(chunk)
            advance(len(chunk))
    return report
