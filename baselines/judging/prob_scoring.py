"""Scores read from a local judge's next-token distribution (``--scoring probs``): no text, nothing to parse.

For each item and aspect, the judge's chat prompt (the same system and user messages as the text path,
:func:`baselines.judging.prompts.build_judge_messages`) is rendered with the generation prompt, and an
assistant-side prefix that ends where the score digit comes is appended: ``templates/score-prefix.txt``
with the aspect filled in, ``{"helpfulness": {"score":``, then one space -- the start of the JSON answer
the system message asks for. Its keys are English in every prompt language (the FR and ES contracts say
so), so one prefix serves en, fr and es. The probabilities (softmax over the whole vocabulary) of the
score tokens at that position are read: every single-token spelling of a digit ("4", " 4") counts for
it, and the five are normalised so the stored distribution sums to 1. Also stored: ``mass``, what the
five digits had before normalising (low = the judge wanted to write something else), the expected score
``sum(k * p_k)`` (``judgements.score``), the argmax (the most probable score, the lower one on a tie) and
the entropy in nats (0 = certain, ln 5 = 1.609 = uniform).

An OpenAI-compatible judge (``openai:``, ``--scoring probs``) is asked the same way where the server allows it:
the prefix is sent as an assistant message to continue (``continue_final_message``, as vLLM serves it) with
``logprobs`` and ``top_logprobs``, and :func:`distribution_from_logprobs` reads the digits among the top
alternatives (their mass is then what the top alternatives hold, a lower bound of the full one).

Change :data:`SCORING_VERSION` whenever the prefix or the computation changes: it enters the cache key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Mapping, Sequence

from bench.errors import BenchError
from baselines.judging.parse import AspectScore, ParsedJudgement
from baselines.judging.prompts import TEMPLATES_DIR

SCORING_VERSION = "probs-v1"
SCORING_MODES = ("probs", "text")  # what a backend may use; "auto" picks the backend's default
SCORES = (1, 2, 3, 4, 5)
ERR_NO_MASS = "no probability on the score tokens"
_DIGITS = {str(k) for k in SCORES}


@cache
def score_prefix(aspect: str) -> str:
    """The assistant-side text after which the judge's next token is the score of ``aspect`` (no trailing space)."""
    text = (TEMPLATES_DIR / "score-prefix.txt").read_text(encoding="utf-8").strip("\n")
    if "<aspect>" not in text:
        raise BenchError(f"judge template {TEMPLATES_DIR / 'score-prefix.txt'}: no <aspect> placeholder")
    return text.replace("<aspect>", aspect)


def resolve_scoring(requested: str, supported: Sequence[str], default: str, backend: str) -> str:
    """The scoring mode a backend uses: ``auto`` -> its default; a mode it cannot do fails in one line."""
    if requested == "auto":
        return default
    if requested not in supported:
        raise BenchError(f"judge {backend}: scoring '{requested}' is not available for this backend "
                         f"(available: {', '.join(supported)}, or auto)")
    return requested


@dataclass(frozen=True)
class ScoreDistribution:
    """P(score = 1..5) of one aspect (sums to 1) and the mass the five score tokens had before normalising."""

    probs: tuple[float, ...]
    mass: float

    @classmethod
    def from_raw(cls, raw: Sequence[float]) -> "ScoreDistribution | None":
        """Normalise the raw probabilities of the scores 1..5; None when they carry no (finite) mass."""
        values = [float(v) for v in raw]
        mass = math.fsum(values)
        if len(values) != len(SCORES) or not math.isfinite(mass) or mass <= 0:
            return None
        return cls(tuple(v / mass for v in values), mass)

    @property
    def expected(self) -> float:
        return math.fsum(k * p for k, p in zip(SCORES, self.probs))

    @property
    def argmax(self) -> int:
        return SCORES[max(range(len(SCORES)), key=lambda i: (self.probs[i], -i))]

    @property
    def entropy(self) -> float:
        """Shannon entropy in nats."""
        return max(0.0, -math.fsum(p * math.log(p) for p in self.probs if p > 0))

    def to_json(self) -> dict[str, Any]:
        return {"probs": list(self.probs), "mass": self.mass}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "ScoreDistribution":
        return cls(tuple(float(p) for p in obj["probs"]), float(obj["mass"]))


@dataclass
class ScoredResult:
    """A judge's answer read from probabilities: per aspect a distribution (None: no mass on the digits)."""

    scores: dict[str, ScoreDistribution | None]
    prompt_tokens: int
    completion_tokens: int = 0
    attempts: int = 1
    latency_s: float = 0.0


def parsed_from_scores(scores: Mapping[str, ScoreDistribution | None], aspects: Sequence[str]) -> ParsedJudgement:
    """The judgement of a probability-scored item: the expected score per aspect (never a parse error)."""
    out = {}
    for aspect in aspects:
        dist = scores.get(aspect)
        out[aspect] = (AspectScore(None, None, None, ERR_NO_MASS) if dist is None
                       else AspectScore(dist.expected, None, None, None))
    return ParsedJudgement(out, None, "probs")


def digit_token_ids(tokenizer: Any) -> dict[int, list[int]]:
    """Per score 1..5, every single token that spells it ("4", " 4", "Ġ4", "▁4"); fails in one line when one has none."""
    found: dict[int, set[int]] = {k: set() for k in SCORES}
    for token, idx in tokenizer.get_vocab().items():
        bare = token.replace("Ġ", "").replace("▁", "").strip()
        if bare in _DIGITS and len(token) <= 3:
            if tokenizer.decode([idx], clean_up_tokenization_spaces=False).strip() == bare:
                found[int(bare)].add(int(idx))
    missing = [str(k) for k, ids in found.items() if not ids]
    if missing:
        raise BenchError(f"probability scoring: the digit(s) {', '.join(missing)} are not a single token of this "
                         "judge's tokenizer; use --scoring text")
    return {k: sorted(ids) for k, ids in found.items()}


class ScoreTokens:
    """How one tokenizer writes the score position: per aspect the token ids appended to the rendered prompt,
    and per score the ids that spell it.

    ``encode`` turns rendered chat text into ids; ``probe`` is a rendered chat (generation prompt included).
    The prefix is tokenized as it follows a rendered prompt, and the space before the digit goes where the
    tokenizer puts it: at the end of the prefix when digits are tokens of their own ("score", ":", " ",
    "4"), or in the digit's token (" 4"). A digit that is not then exactly one token fails in one line."""

    def __init__(self, tokenizer: Any, encode: Callable[[str], list[int]], probe: str, aspects: Sequence[str]):
        self.digits = digit_token_ids(tokenizer)
        self.flat = [i for k in SCORES for i in self.digits[k]]  # the ids whose probabilities are read
        base = encode(probe)
        self.suffixes: dict[str, list[int]] = {}
        for aspect in aspects:
            self.suffixes[aspect] = self._suffix(encode, probe, base, score_prefix(aspect))

    def _suffix(self, encode: Callable[[str], list[int]], probe: str, base: list[int], prefix: str) -> list[int]:
        for head, tail in ((prefix + " ", ""), (prefix, " ")):
            head_ids = encode(probe + head)
            ok = True
            for k in SCORES:
                full = encode(probe + head + tail + str(k))
                if full[:-1] != head_ids or full[-1] not in self.digits[k]:
                    ok = False
                    break
            if ok:
                if head_ids[:len(base)] == base:
                    return head_ids[len(base):]
                return encode(head)  # the prefix merges with the prompt's last token: tokenized alone
        raise BenchError(f"probability scoring: after {prefix!r} the scores 1-5 are not single tokens of this "
                         "judge's tokenizer; use --scoring text")

    def distributions(self, rows: Sequence[Sequence[float]]) -> list[ScoreDistribution | None]:
        """Per aspect row of probabilities (in the order of :attr:`flat`): the distribution over 1..5."""
        out = []
        for row in rows:
            values, i = [], 0
            for k in SCORES:
                n = len(self.digits[k])
                values.append(math.fsum(row[i:i + n]))
                i += n
            out.append(ScoreDistribution.from_raw(values))
        return out

    def fingerprint(self) -> dict[str, Any]:
        """What decides the scored position (enters the cache key with :data:`SCORING_VERSION`)."""
        return {"version": SCORING_VERSION, "suffixes": self.suffixes, "digits": self.digits}


def distribution_from_logprobs(tokens: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> ScoreDistribution | None:
    """The score distribution from a server's per-token top logprobs (an OpenAI-compatible judge asked to continue
    the score prefix): the first generated token's alternatives that spell a digit 1-5 (" 4" and "4" both count),
    or, when the first token is whitespace (a tokenizer that writes the space apart), the second token's. None
    when no digit is among them."""
    for position, (token, top) in enumerate(tokens[:2]):
        raw = [0.0] * len(SCORES)
        for text, logprob in top:
            bare = text.strip()
            if bare in _DIGITS and math.isfinite(logprob):
                raw[int(bare) - 1] += math.exp(logprob)
        if any(raw):
            return ScoreDistribution.from_raw(raw)
        if position == 0 and token.strip():
            return None  # the judge wrote something other than a space: no score digit in sight
    return None


__all__ = [
    "ERR_NO_MASS", "SCORES", "SCORING_MODES", "SCORING_VERSION", "ScoreDistribution", "ScoreTokens", "ScoredResult",
    "digit_token_ids", "distribution_from_logprobs", "parsed_from_scores", "resolve_scoring", "score_prefix",
]
