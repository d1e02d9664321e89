"""Robust parsing of LLM-judge output into per-aspect scores.

The judge is asked for a JSON object ``{"<aspect>": {"reason": "...", "score": 1-5}, ...}``
(see :mod:`baselines.judging.prompts`). Real judges wrap it in code fences or prose, leave
trailing commas, answer with Python-style single-quoted dicts, forget to escape quotes inside
reasons, write scores as strings ("4", "4/5", "N/A"), capitalise keys or stop mid-object.

:func:`parse_judgement` tries, in order, and keeps the candidate that yields the most valid
scores: strict JSON (whole text, fenced blocks, every object in the text), Python literals,
a lenient hand-written parser (single quotes, trailing commas, unescaped quotes, missing
commas, truncation), then a per-aspect regular expression for aspects still missing. Finding
and reading the candidate objects is :mod:`baselines.judging.json_extract`; this module
normalises scores, locates the aspects in a candidate and picks the best one.

A score that is missing or unreadable is ``None`` with an ``error`` saying why; it is never
turned into 5 or 0. ``N/A`` stays visible: ``raw_score`` keeps the judge's text ("N/A"),
``score`` is ``None`` and ``error`` is ``"not applicable"`` (a compatibility layer may count
it as 5, as just-eval did; that is not decided here).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from baselines.judging.json_extract import python_candidates, strict_candidates, top_level_spans
from bench.vocabulary import REGULAR_ASPECTS as MULTI_ASPECTS, SAFETY_ASPECTS

SCORE_MIN, SCORE_MAX = 1.0, 5.0

# Per-aspect error strings (stored in judgements.error).
ERR_MISSING = "missing"
ERR_NOT_APPLICABLE = "not applicable"
ERR_UNPARSEABLE = "unparseable judge output"

_SCORE_KEYS = ("score", "rating", "grade", "value", "points")
_REASON_KEYS = ("reason", "rationale", "explanation", "justification", "comment", "reasoning", "feedback")
_NA_WORDS = {"n/a", "na", "n.a.", "n.a", "not applicable", "not-applicable", "nonapplicable", "inapplicable"}
_MISSING_WORDS = {"", "none", "null", "nil", "-", "--", "?", "tbd", "unknown"}


@dataclass
class AspectScore:
    score: float | None
    raw_score: str | None
    reason: str | None
    error: str | None


@dataclass
class ParsedJudgement:
    aspects: dict[str, AspectScore]
    error: str | None  # set when the text could not be parsed at all (every aspect is then missing)
    method: str | None = field(default=None, compare=False)  # json | python | lenient | regex (+ "+regex")

    def scores(self) -> dict[str, float | None]:
        return {name: a.score for name, a in self.aspects.items()}

    @property
    def complete(self) -> bool:
        """True when every aspect has a valid score."""
        return all(a.score is not None for a in self.aspects.values())


# --------------------------------------------------------------------------- scores

_NUM = r"[-+]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_SCORE_RE = re.compile(
    rf"^(?P<num>{_NUM})\s*(?:(?:/|out\s+of|of|sur|de)\s*(?P<den>{_NUM}))?(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_LABEL_RE = re.compile(r"^(?:score|rating|note|puntuaci[oó]n|grade)\s*[:=]?\s*", re.IGNORECASE)


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, default=str)


def _to_float(text: str) -> float:
    return float(text.replace(",", "."))


def _check_range(x: float, raw: str) -> tuple[float | None, str | None]:
    if not math.isfinite(x):
        return None, f"not a number: {raw!r}"
    if x < SCORE_MIN or x > SCORE_MAX:
        return None, f"out of range: {raw!r}"
    return float(x), None


def parse_score(value: Any) -> tuple[float | None, str | None]:
    """Return ``(score, error)`` for one score as the judge wrote it.

    ``"5"`` -> ``(5.0, None)``, ``4`` -> ``(4.0, None)``, ``"4/5"`` -> ``(4.0, None)``,
    ``"N/A"`` -> ``(None, "not applicable")``; missing, out-of-range (outside 1-5) or garbage
    values give ``None`` with an error. Nothing is ever defaulted to 5 or 0.
    """
    if value is None:
        return None, ERR_MISSING
    if isinstance(value, bool):
        return None, f"not a number: {value!r}"
    if isinstance(value, (int, float)):
        return _check_range(float(value), str(value))
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return parse_score(value[0])
    if not isinstance(value, str):
        return None, f"not a number: {_raw_text(value)!r}"
    raw = value.strip()
    text = raw
    # Strip wrappers the judge may keep from a template: [4], "4", **4**, (4)
    for _ in range(3):
        stripped = text.strip().strip("*_`").strip()
        if len(stripped) >= 2 and stripped[0] + stripped[-1] in ("[]", "()", "{}", '""', "''", "<>"):
            stripped = stripped[1:-1].strip()
        if stripped == text:
            break
        text = stripped
    low = text.lower()
    if low in _NA_WORDS or low.rstrip(".") in _NA_WORDS or low.startswith(("n/a", "not applicable")):
        return None, ERR_NOT_APPLICABLE
    if low.rstrip(".") in _MISSING_WORDS:
        return None, ERR_MISSING
    text = _LABEL_RE.sub("", text)
    m = _SCORE_RE.match(text)
    if not m:
        return None, f"not a number: {raw!r}"
    rest = m.group("rest")
    if re.search(r"\d", rest):
        return None, f"ambiguous score: {raw!r}"
    if rest and rest[0].isalnum():
        return None, f"not a number: {raw!r}"  # e.g. "4th" / "3x"
    try:
        num = _to_float(m.group("num"))
    except ValueError:  # pragma: no cover - the regex only lets numbers through
        return None, f"not a number: {raw!r}"
    den = m.group("den")
    if den is not None:
        try:
            d = _to_float(den)
        except ValueError:  # pragma: no cover
            return None, f"not a number: {raw!r}"
        if d != SCORE_MAX:
            return None, f"unexpected scale: {raw!r}"
    return _check_range(num, raw)


# --------------------------------------------------------------------------- aspects in a parsed object

def _norm_key(key: Any) -> str:
    return re.sub(r"[\s_*`\-]+", "", str(key)).lower()


def _lookup(mapping: dict, names: Sequence[str], prefix: bool = False) -> tuple[bool, Any]:
    wanted = tuple(_norm_key(n) for n in names)
    hit = [v for k, v in mapping.items() if _norm_key(k) in wanted]
    if not hit and prefix:  # "Score (1-5)" -> score, but an exact "score" key wins
        hit = [v for k, v in mapping.items() if _norm_key(k).startswith(wanted)]
    if not hit:
        return False, None
    return True, hit[-1]


def _as_aspect_map(obj: Any, aspects: Sequence[str], depth: int = 0) -> dict[str, Any]:
    """Find the aspect values inside a parsed object (case-insensitive keys, wrappers, lists)."""
    found: dict[str, Any] = {}
    if isinstance(obj, list):
        # [{"aspect": "helpfulness", "score": 4, "reason": ...}, ...] or [{...aspects...}]
        for item in obj:
            if not isinstance(item, dict):
                continue
            ok, name = _lookup(item, ("aspect", "name", "criterion", "dimension"))
            if ok and isinstance(name, str) and _norm_key(name) in {_norm_key(a) for a in aspects}:
                aspect = next(a for a in aspects if _norm_key(a) == _norm_key(name))
                found[aspect] = item
            else:
                for k, v in _as_aspect_map(item, aspects, depth + 1).items():
                    found.setdefault(k, v)
        return found
    if not isinstance(obj, dict):
        return found
    for aspect in aspects:
        ok, val = _lookup(obj, (aspect,))
        if ok:
            found[aspect] = val
    if found or depth >= 3:
        return found
    # Wrapped: {"scores": {...}} / {"evaluation": {...}}
    best: dict[str, Any] = {}
    for val in obj.values():
        if isinstance(val, (dict, list)):
            sub = _as_aspect_map(val, aspects, depth + 1)
            if len(sub) > len(best):
                best = sub
    if best:
        return best
    # A single aspect written without its wrapper: {"reason": ..., "score": ...}
    if len(aspects) == 1 and _lookup(obj, _SCORE_KEYS, prefix=True)[0]:
        return {aspects[0]: obj}
    return found


def _aspect_from_value(val: Any) -> AspectScore:
    if isinstance(val, dict):
        has_score, raw = _lookup(val, _SCORE_KEYS, prefix=True)
        has_reason, reason = _lookup(val, _REASON_KEYS, prefix=True)
        if not has_score and not has_reason and len(val) == 1:
            # {"helpfulness": {"4": "reason"}} is too odd to guess; report it
            return AspectScore(None, _raw_text(val), None, f"not a number: {_raw_text(val)!r}")
    elif isinstance(val, list) and len(val) == 2 and isinstance(val[0], str) and not isinstance(val[1], str):
        raw, reason, has_score = val[1], val[0], True  # ["reason", 4]
    else:
        raw, reason, has_score = val, None, True
    if reason is not None and not isinstance(reason, str):
        reason = json.dumps(reason, ensure_ascii=False, default=str)
    score, err = parse_score(raw) if has_score else (None, ERR_MISSING)
    return AspectScore(score=score, raw_score=_raw_text(raw), reason=reason, error=err)


def _quality(found: dict[str, AspectScore]) -> tuple[int, int]:
    valid = sum(1 for a in found.values() if a.score is not None or a.error == ERR_NOT_APPLICABLE)
    return valid, len(found)


# --------------------------------------------------------------------------- regex fallback

def _regex_aspect(text: str, aspect: str, aspects: Sequence[str]) -> AspectScore | None:
    """Last resort: ``"aspect": {"reason": "...", "score": ...}`` (either order) or ``"aspect": 4``."""
    name = re.escape(aspect).replace(r"\ ", r"[\s_]*")
    key = re.compile(rf"""["']\**{name}\**["']\s*:\s*""", re.IGNORECASE)
    others = [re.escape(a) for a in aspects if _norm_key(a) != _norm_key(aspect)]
    next_key = re.compile(rf"""["'](?:{'|'.join(others)})["']\s*:""", re.IGNORECASE) if others else None
    result: AspectScore | None = None
    for m in key.finditer(text):
        body_start = m.end()
        stop = next_key.search(text, body_start) if next_key else None
        body = text[body_start: stop.start() if stop else len(text)]
        if body.lstrip().startswith("{"):
            sm = re.search(r"""["']?(?:score|rating)["']?\s*:\s*("[^"\n]*"|'[^'\n]*'|[^,}\n]+)""", body, re.IGNORECASE)
            rm = re.search(
                r"""["']?(?:reason|rationale|explanation)["']?\s*:\s*(["'])(.*?)\1\s*(?=,\s*["']?\w+["']?\s*:|\s*["']\w+["']\s*:|,?\s*\}|\s*$)""",
                body, re.IGNORECASE | re.DOTALL)
            if not sm and not rm:
                continue
            raw = sm.group(1).strip() if sm else None
            if raw is not None and len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
                raw = raw[1:-1]
            reason = None
            if rm:
                reason = rm.group(2)
                try:
                    reason = json.loads('"' + reason.replace('\n', '\\n') + '"') if rm.group(1) == '"' else reason
                except ValueError:
                    pass
            score, err = parse_score(raw) if raw is not None else (None, ERR_MISSING)
            cand = AspectScore(score, raw, reason, err)
        else:
            vm = re.match(r"""\s*("[^"\n]{0,20}"|'[^'\n]{0,20}'|[^,}\n]{1,20})""", body)
            if not vm:
                continue
            raw = vm.group(1).strip().strip("\"'")
            score, err = parse_score(raw)
            if score is None and err != ERR_NOT_APPLICABLE:
                continue  # "factuality": the word in a sentence, not a score
            cand = AspectScore(score, raw, None, err)
        # The judge's last readable word wins (template echoes come first).
        if result is None or cand.score is not None or cand.error == ERR_NOT_APPLICABLE \
                or (result.score is None and result.error != ERR_NOT_APPLICABLE):
            result = cand
    return result


# --------------------------------------------------------------------------- public API

def parse_judgement(text: str, aspects: Sequence[str]) -> ParsedJudgement:
    """Parse one judge reply into one :class:`AspectScore` per requested aspect.

    ``error`` is set only when no requested aspect could be read at all; then every aspect
    has ``score=None``. Aspects absent from an otherwise readable reply get error ``"missing"``.
    """
    aspects = tuple(aspects)
    if not aspects:
        raise ValueError("parse_judgement needs at least one aspect")

    def failed(why: str) -> ParsedJudgement:
        return ParsedJudgement({a: AspectScore(None, None, None, ERR_UNPARSEABLE) for a in aspects}, why, None)

    if text is None or not isinstance(text, str) or not text.strip():
        return failed("empty judge output")

    best: dict[str, AspectScore] = {}
    best_q = (0, 0)
    method: str | None = None

    def consider(objs: list[Any], how: str) -> bool:
        """Keep the best object of this stage if it beats the earlier (stricter) stages."""
        nonlocal best, best_q, method
        stage: dict[str, AspectScore] = {}
        stage_q = (0, 0)
        for obj in objs:
            found = {a: _aspect_from_value(v) for a, v in _as_aspect_map(obj, aspects).items()}
            q = _quality(found)
            if q >= stage_q and q[1] > 0:  # ties: the later object wins (template echoes come first)
                stage, stage_q = found, q
        if stage_q > best_q:
            best, best_q, method = stage, stage_q, how
        return best_q[0] == len(aspects)

    done = consider(strict_candidates(text), "json")
    if not done and "{" in text:
        spans = top_level_spans(text)
        done = consider(python_candidates(text, spans), "python")
        if not done:
            done = consider([v for *_, v in spans], "lenient")

    result = dict(best)
    if not done:
        used_regex = False
        for a in aspects:
            cur = result.get(a)
            if cur is not None and (cur.score is not None or cur.error == ERR_NOT_APPLICABLE):
                continue
            rx = _regex_aspect(text, a, aspects)
            if rx is not None and (cur is None or rx.score is not None or rx.error == ERR_NOT_APPLICABLE):
                result[a] = rx
                used_regex = True
        if used_regex:
            method = "regex" if method is None else f"{method}+regex"

    if not result:
        if "{" not in text:
            return failed("no JSON object in judge output")
        return failed(f"could not read any of the aspects {', '.join(aspects)} from judge output")
    aspects_out = {a: result.get(a) or AspectScore(None, None, None, ERR_MISSING) for a in aspects}
    return ParsedJudgement(aspects_out, None, method)


def repair_prompt(raw: str, aspects: Sequence[str]) -> str:
    """Follow-up message asking the judge to re-emit only valid JSON in the contract."""
    aspects = tuple(aspects)
    parsed = parse_judgement(raw, aspects)
    problems = []
    if parsed.error:
        problems.append(parsed.error)
    else:
        for name, a in parsed.aspects.items():
            if a.score is None:
                problems.append(f'"{name}": {a.error}' + (f" (you wrote {a.raw_score!r})" if a.raw_score else ""))
    template = "{\n" + ",\n".join(
        f'  "{a}": {{"reason": "<one or two sentences>", "score": <integer from 1 to 5>}}' for a in aspects
    ) + "\n}"
    shown = raw if len(raw) <= 6000 else raw[:6000] + "\n[... cut ...]"
    lines = [
        "Your previous reply could not be read as the JSON object that was requested.",
    ]
    if problems:
        lines.append("Problems found: " + "; ".join(problems) + ".")
    lines += [
        "",
        "Your previous reply was:",
        "<<<",
        shown,
        ">>>",
        "",
        "Re-emit your evaluation as ONE valid JSON object and nothing else: no prose before or after, "
        "no code fences, no comments, no trailing commas. Use double quotes for every key and string, "
        "and escape any double quote inside a reason as \\\". Keep the same assessments as before.",
        f"The object must have exactly these keys: {', '.join(aspects)}. Each value is an object with "
        '"reason" (a short string) and "score" (an integer from 1 to 5, written as a number; '
        "not a fraction, not a range, not N/A).",
        "",
        template,
    ]
    return "\n".join(lines)


__all__ = [
    "MULTI_ASPECTS", "SAFETY_ASPECTS", "AspectScore", "ParsedJudgement",
    "parse_judgement", "parse_score", "repair_prompt",
    "ERR_MISSING", "ERR_NOT_APPLICABLE", "ERR_UNPARSEABLE",
]
