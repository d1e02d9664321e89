"""What one judge run did (:class:`JudgeReport`, every count in responses) and how it stops (:class:`JudgeStopped`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.errors import BenchError


@dataclass
class JudgeReport:
    """What one run did (every count is in responses)."""

    judge: str
    run_id: str | None = None
    scoring: str | None = None  # text | probs: how the scores were read
    selected: int = 0  # responses never judged by this judge, or with a missing score to re-ask (filters, limit)
    judged: int = 0  # judgements written this run (including from_cache)
    from_cache: int = 0  # ... of which came from judge_calls without a request
    failed: int = 0  # request failed after retries (retried by the next run)
    parse_failures: int = 0  # judged responses with at least one unreadable score (after repair)
    parse_failure_rate: float = 0.0  # parse_failures / judged
    repairs: int = 0  # repair requests sent (items)
    scored: int = 0  # judged responses with at least one usable score
    retried: int = 0  # responses re-sent because a score was missing (of selected)
    exhausted: int = 0  # responses with a missing score left alone: max_attempts rounds used (not selected)
    requests: int = 0  # HTTP attempts (OpenAI backend) or generations (local backend)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0
    stopped: str | None = None  # why the run stopped early, if it did
    notes: list[str] = field(default_factory=list)  # e.g. judgements adopted from older names of the judge

    @property
    def unfinished(self) -> int:
        return self.selected - self.judged - self.failed

    @property
    def items_per_s(self) -> float:
        return (self.judged + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unfinished"] = self.unfinished
        out["items_per_s"] = round(self.items_per_s, 3)
        return out


class JudgeStopped(BenchError):
    """The run stopped (credentials refused, a failure rate past its threshold) or produced no usable score."""

    def __init__(self, message: str, report: JudgeReport):
        super().__init__(message)
        self.report = report


__all__ = ["JudgeReport", "JudgeStopped"]
