"""A QA flag's evidence: the reason string every check returns, with a score and where it lies.

``Evidence`` is a ``str`` (checks, tests and other flags read it as the reason they always were) that also
carries ``score`` (0-1: how sure the rule is) and ``span`` (characters of the translation, when the check
located what it found). Checks return a plain string for their firm rules (:data:`FIRM`); rules that judge a
measure against a threshold (length ratios, counts, language confidences) or read meaning from form
(a doubled word, a changed weekday) return ``Evidence`` with a lower score, so that a second opinion
(``bench qa translations --judge``) is asked about them first.
"""
from __future__ import annotations

import re

FIRM = 0.9  # the score of a plain-string verdict: verbatim or structural evidence
HEURISTIC = 0.7  # a rule that reads meaning from form; under the second opinion's ASK_BELOW (0.8)


class Evidence(str):
    """A flag's reason, with ``score`` in [0, 1] and ``span`` (start, end) in the translation or None."""

    score: float
    span: tuple[int, int] | None

    def __new__(cls, text: str, score: float = FIRM, span: tuple[int, int] | None = None) -> "Evidence":
        obj = super().__new__(cls, text)
        obj.score = max(0.0, min(1.0, float(score)))
        obj.span = span
        return obj


def margin_score(margin: float, scale: float) -> float:
    """0.55 just past a threshold, rising to 0.95 at ``scale`` beyond it."""
    return 0.55 + 0.4 * max(0.0, min(1.0, margin / scale))


_QUOTED_RE = re.compile(r"'([^']{2,})'|\"([^\"]{2,})\"")


def locate(translation: str, evidence: str) -> tuple[int, int] | None:
    """Where the evidence's quoted text, or the items it lists after a colon, first occur in the translation."""
    low = translation.lower()
    candidates = [a or b for a, b in _QUOTED_RE.findall(evidence)]
    if ":" in evidence:
        candidates += [part.strip(" .…'\"") for part in evidence.rsplit(":", 1)[1].split(",")]
    for item in candidates:
        item = item.rstrip("…").strip()
        if len(item) >= 2:
            pos = low.find(item.lower())
            if pos >= 0:
                return pos, pos + len(item)
    return None


def score_and_span(flag: str, evidence: str, translation: str) -> tuple[float, tuple[int, int] | None]:
    """The score and span of one verdict: its own when the check gave them, else FIRM and a located span
    (the translation's last characters for ``truncated``, whose evidence is where the text stops)."""
    score = getattr(evidence, "score", FIRM)
    span = getattr(evidence, "span", None)
    if span is None and flag == "truncated":
        end = len(translation.rstrip())
        span = (max(0, end - 40), end)
    elif span is None:
        span = locate(translation, evidence)
    return score, span
