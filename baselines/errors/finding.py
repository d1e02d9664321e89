"""``Finding``: one critical error found in one answer (label, score, span, evidence), and the report threshold."""
from __future__ import annotations

from dataclasses import asdict, dataclass

THRESHOLD = 0.5  # a Finding is reported when its score reaches this value


@dataclass
class Finding:
    """A critical error: its label, score in [0, 1], character span in the answer (or None) and evidence."""

    label: str
    score: float
    span: tuple[int, int] | None
    evidence: str

    def to_dict(self) -> dict:
        """JSON-ready: span as a list, score rounded to 3 decimals."""
        out = asdict(self)
        out["span"] = list(self.span) if self.span is not None else None
        out["score"] = round(float(self.score), 3)
        return out
