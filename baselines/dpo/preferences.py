"""DPO preference pairs from judged responses in the store.

For every (item, language) with at least two responses scored by the same judge on every
requested aspect, the response with the best mean score is ``chosen`` and the one with the
worst mean score is ``rejected``; the pair is kept when ``best - worst >= min_margin`` (and
> 0). Responses with a missing score (no judgement row, or ``score`` NULL) on any requested
aspect are left out; so are empty outputs. The prompt is the instruction in that language
(``responses.instruction``). Ties are broken by model, method and response id, so the
output is deterministic.

Output: JSONL, one pair a line, sorted by language then item id (numeric ids numerically):
``prompt``, ``chosen``, ``rejected``, ``lang``, ``item_id``, ``chosen_model``,
``rejected_model``, ``margin`` (+ ``chosen_score``, ``rejected_score``, ``judge``).
This is exactly the local-file format :func:`baselines.dpo.preference_files.load_preferences` reads.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from bench.atomic import atomic_open
from bench.errors import BenchError
from bench.vocabulary import REGULAR_ASPECTS as ASPECTS


@dataclass
class PreferenceStats:
    judge: str | None = None
    groups: int = 0                 # (item, lang) with >= 1 fully scored response
    pairs: int = 0
    single_response: int = 0        # groups with fewer than 2 fully scored responses
    below_margin: int = 0           # best - worst < min_margin (or no difference at all)
    same_output: int = 0            # best and worst answers are the same text
    incomplete_responses: int = 0   # responses left out for a missing aspect score
    languages: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _item_key(item_id: str) -> tuple[int, int | str]:
    return (0, int(item_id)) if item_id.isdigit() else (1, item_id)


def judges_in_store(store: Any, aspects: Sequence[str] = ASPECTS) -> list[str]:
    aspects = list(aspects)
    rows = store.query(f"SELECT DISTINCT judge FROM judgements WHERE aspect IN ({_placeholders(aspects)}) "
                       "ORDER BY judge", aspects)
    return [r[0] for r in rows]


def collect_preferences(store: Any, *, judge: str | None = None, languages: Sequence[str] | None = None,
                        min_margin: float = 1.0, aspects: Sequence[str] = ASPECTS,
                        methods: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], PreferenceStats]:
    """The pairs (sorted) and counts of what was skipped; see the module docstring."""
    aspects = list(dict.fromkeys(aspects))
    if not aspects:
        raise BenchError("no aspects given")
    if min_margin < 0:
        raise BenchError(f"min_margin must be >= 0, got {min_margin}")
    if judge is None:
        judges = judges_in_store(store, aspects)
        if len(judges) > 1:
            raise BenchError(f"the store holds scores from {len(judges)} judges ({', '.join(judges)}); "
                             "choose one with --judge")
        judge = judges[0] if judges else None
    stats = PreferenceStats(judge=judge)
    if judge is None:
        return [], stats

    where = ["j.judge = ?", f"j.aspect IN ({_placeholders(aspects)})"]
    params: list[Any] = [judge, *aspects]
    if languages:
        where.append(f"r.lang IN ({_placeholders(languages)})")
        params.extend(languages)
    if methods:
        where.append(f"r.method IN ({_placeholders(methods)})")
        params.extend(methods)
    sql = f"""
        SELECT r.response_id, r.item_id, r.lang, r.model, r.method, r.instruction, r.output,
               count(DISTINCT j.aspect) FILTER (WHERE j.score IS NOT NULL) AS n_scored,
               avg(j.score) AS mean_score
        FROM responses r
        JOIN judgements j ON j.response_id = r.response_id
        WHERE {' AND '.join(where)}
        GROUP BY r.response_id, r.item_id, r.lang, r.model, r.method, r.instruction, r.output
    """
    rows = store.query_dicts(sql, params)

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["n_scored"] < len(aspects) or row["mean_score"] is None:
            stats.incomplete_responses += 1
            continue
        if not (row["output"] or "").strip():
            stats.incomplete_responses += 1
            continue
        groups.setdefault((row["lang"], str(row["item_id"])), []).append(row)

    pairs: list[dict[str, Any]] = []
    for (lang, item_id) in sorted(groups, key=lambda k: (k[0], _item_key(k[1]))):
        candidates = groups[(lang, item_id)]
        stats.groups += 1
        if len(candidates) < 2:
            stats.single_response += 1
            continue
        tie = lambda r: (r["model"], r["method"], r["response_id"])  # noqa: E731
        best = sorted(candidates, key=lambda r: (-r["mean_score"], tie(r)))[0]
        worst = sorted((r for r in candidates if r is not best), key=lambda r: (r["mean_score"], tie(r)))[0]
        margin = float(best["mean_score"]) - float(worst["mean_score"])
        margin = round(margin, 9)
        if margin <= 0 or margin < min_margin:
            stats.below_margin += 1
            continue
        if best["output"].strip() == worst["output"].strip():
            stats.same_output += 1
            continue
        pairs.append({
            "prompt": best["instruction"],
            "chosen": best["output"],
            "rejected": worst["output"],
            "lang": lang,
            "item_id": item_id,
            "chosen_model": best["model"],
            "rejected_model": worst["model"],
            "margin": margin,
            "chosen_score": round(float(best["mean_score"]), 9),
            "rejected_score": round(float(worst["mean_score"]), 9),
            "judge": judge,
        })
        stats.languages[lang] = stats.languages.get(lang, 0) + 1
    stats.pairs = len(pairs)
    return pairs, stats


def write_preferences(pairs: Sequence[dict[str, Any]], out_path: str | os.PathLike) -> None:
    """JSONL, written atomically (readers see the old file or the whole new one)."""
    with atomic_open(out_path) as fh:
        for pair in pairs:
            fh.write(json.dumps(pair, ensure_ascii=False) + "\n")


def make_preferences(store: Any, out_path: str | os.PathLike, *, judge: str | None = None,
                     languages: Sequence[str] | None = None, min_margin: float = 1.0,
                     aspects: Sequence[str] = ASPECTS, methods: Sequence[str] | None = None,
                     stats: PreferenceStats | None = None) -> int:
    """Build DPO pairs from the judged responses in ``store``; write JSONL at ``out_path``; return the count.

    ``judge``: required when the store holds several judges. ``stats``: filled with the counts."""
    pairs, collected = collect_preferences(store, judge=judge, languages=languages, min_margin=min_margin,
                                           aspects=aspects, methods=methods)
    write_preferences(pairs, out_path)
    if stats is not None:
        for key, value in asdict(collected).items():
            setattr(stats, key, value)
    return len(pairs)
