"""One distinct judge prompt of a run (:class:`JudgeJob`) and how its parsed answer is judged and stored.

Responses with identical judge prompts share one job. Its state (best parse so far, repairs, token
counts) round-trips through the ``judge_calls.parsed`` JSON, so a killed run resumes where it was.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from bench.openai_client import ChatResult
from baselines.judging.parse import ERR_NOT_APPLICABLE, AspectScore, ParsedJudgement, repair_prompt
from baselines.judging.prob_scoring import ScoreDistribution, ScoredResult, parsed_from_scores


def unreadable_aspects(parsed: ParsedJudgement) -> list[str]:
    """Aspects without a usable score (N/A is an answer, not a parse failure)."""
    return [a for a, s in parsed.aspects.items() if s.score is None and s.error != ERR_NOT_APPLICABLE]


def needs_repair(parsed: ParsedJudgement) -> bool:
    """True while a score is missing (the contract asks for numbers, not N/A)."""
    return any(s.score is None for s in parsed.aspects.values())  # the contract asks for numbers, not N/A


def parse_quality(parsed: ParsedJudgement) -> tuple[int, int]:
    """``(valid scores, N/A answers)``: the better of two parses of one item is the larger."""
    valid = sum(s.score is not None for s in parsed.aspects.values())
    na = sum(s.score is None and s.error == ERR_NOT_APPLICABLE for s in parsed.aspects.values())
    return valid, na


def _parsed_to_json(parsed: ParsedJudgement) -> dict[str, Any]:
    return {"aspects": {a: asdict(s) for a, s in parsed.aspects.items()}, "error": parsed.error,
            "method": parsed.method}


def _parsed_from_json(obj: Mapping[str, Any], aspects: Sequence[str]) -> ParsedJudgement:
    stored = obj["aspects"]
    return ParsedJudgement({a: AspectScore(**stored[a]) for a in aspects}, obj.get("error"), obj.get("method"))


@dataclass
class JudgeJob:
    """One distinct judge prompt (responses with identical prompts share it)."""

    prompt_hash: str
    protocol: str
    aspects: tuple[str, ...]
    messages: list[dict]
    responses: list[dict[str, Any]]
    raw: str | None = None  # the judge's first answer
    parsed: ParsedJudgement | None = None  # the best parse so far
    source: str = "original"  # which answer the parse comes from: original | repair-<n>
    last_raw: str | None = None  # the answer the next repair quotes
    repairs: list[dict[str, Any]] = field(default_factory=list)  # {raw, used, error}
    scores: dict[str, ScoreDistribution | None] | None = None  # probability scoring: per aspect
    attempts: int = 0
    prior_rounds: int = 0  # judging rounds this prompt had before this run's (missing scores re-asked)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    run_prompt_tokens: int = 0  # tokens paid by this run (not by an earlier one)
    run_completion_tokens: int = 0

    @property
    def response_id(self) -> str:
        return self.responses[0]["response_id"]

    def repair_messages(self) -> list[dict]:
        assert self.last_raw is not None
        return self.messages + [{"role": "assistant", "content": self.last_raw},
                                {"role": "user", "content": repair_prompt(self.last_raw, self.aspects)}]

    def state_json(self) -> dict[str, Any]:
        assert self.parsed is not None
        state = {**_parsed_to_json(self.parsed), "source": self.source, "repairs": self.repairs,
                 "last_raw": self.last_raw}
        if self.scores is not None:
            state["distributions"] = {a: None if d is None else d.to_json() for a, d in self.scores.items()}
        return state

    def take_scores(self, result: ScoredResult) -> None:
        """A probability-scored answer: the distributions, and the expected scores as the parse."""
        self.add(result)  # type: ignore[arg-type]
        self.scores = {a: result.scores.get(a) for a in self.aspects}
        self.parsed = parsed_from_scores(self.scores, self.aspects)
        self.source = "probs"

    def restore(self, row: Mapping[str, Any]) -> None:
        """Load a judge_calls row (a finished answer, or one awaiting its repair)."""
        state = json.loads(row["parsed"]) if isinstance(row["parsed"], str) else row["parsed"]
        self.raw = row["raw"]
        self.parsed = _parsed_from_json(state, self.aspects)
        self.source = state.get("source", "original")
        if state.get("distributions") is not None:
            dists = state["distributions"]
            self.scores = {a: None if dists[a] is None else ScoreDistribution.from_json(dists[a]) for a in self.aspects}
        self.repairs = list(state.get("repairs") or [])
        self.last_raw = state.get("last_raw") or row["raw"]
        self.attempts = int(row["attempts"] or 0)
        self.prompt_tokens = int(row["prompt_tokens"] or 0)
        self.completion_tokens = int(row["completion_tokens"] or 0)

    def add(self, result: ChatResult) -> None:
        self.attempts += result.attempts
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.run_prompt_tokens += result.prompt_tokens
        self.run_completion_tokens += result.completion_tokens




def score_columns(job: JudgeJob, aspect: str) -> list[Any]:
    """``judgements`` columns scoring, score_distribution, score_argmax, score_entropy, score_mass of one aspect."""
    if job.scores is None:
        return ["text", None, None, None, None]
    dist = job.scores.get(aspect)
    if dist is None:
        return ["probs", None, None, None, None]
    return ["probs", list(dist.probs), dist.argmax, dist.entropy, dist.mass]


def restore_job(job: JudgeJob, row: Mapping[str, Any]) -> bool:
    """Load a cached judge_calls row into ``job``; False (and ``job`` reset) when it cannot be read."""
    try:
        job.restore(row)
        return True
    except (KeyError, TypeError, ValueError):
        job.raw = job.parsed = job.last_raw = job.scores = None
        job.repairs, job.attempts, job.prompt_tokens, job.completion_tokens = [], 0, 0, 0
        return False
