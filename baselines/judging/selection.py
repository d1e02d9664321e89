"""Which stored responses a judge run takes (:func:`select_responses`).

Those this judge never judged, and -- when missing scores are retried -- those with a missing score
(unreadable; N/A is an answer) that had fewer than ``max_attempts`` judging rounds
(``judgements.rounds``; NULL in rows older than the column counts as 1).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from bench.errors import BenchError
from baselines.judging.parse import ERR_NOT_APPLICABLE
from baselines.run_filters import FILTER_FIELDS

MAX_ATTEMPTS = 3  # judging rounds per item when missing scores are retried


def _filter_sql(filters: Mapping[str, Sequence[str]] | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for key, values in (filters or {}).items():
        if key not in FILTER_FIELDS:
            raise BenchError(f"unknown run filter '{key}'")
        where.append(f"r.{key} IN ({', '.join('?' for _ in values)})")
        params += list(values)
    return where, params


# per response: the judging rounds so far and whether a score is missing (unreadable; N/A is an answer)
_PRIOR = ("LEFT JOIN (SELECT response_id, max(coalesce(rounds, 1)) AS rounds, "
          "bool_or(score IS NULL AND error IS DISTINCT FROM ?) AS missing FROM judgements WHERE judge = ? "
          "GROUP BY response_id) p ON p.response_id = r.response_id")


def select_responses(store: Any, judge: str, filters: Mapping[str, Sequence[str]] | None = None,
                     limit: int | None = None, *, retry_missing: bool = False,
                     max_attempts: int = MAX_ATTEMPTS) -> list[dict[str, Any]]:
    """Responses with no judgement yet from ``judge`` and, with ``retry_missing``, those with a missing
    score judged fewer than ``max_attempts`` rounds; stable order (run key, language, item).
    ``prior_rounds``: rounds judged so far (None when never judged)."""
    where, params = _filter_sql(filters)
    todo = "(p.response_id IS NULL OR (? AND p.missing AND p.rounds < ?))"
    sql = ("SELECT r.response_id, r.run_key, r.model, r.method, r.lang, r.item_id, r.instruction, r.output, "
           "r.category, p.rounds AS prior_rounds FROM responses r " + _PRIOR + " WHERE " +
           " AND ".join([todo, *where]) +
           " ORDER BY r.run_key, r.lang, TRY_CAST(r.item_id AS BIGINT) NULLS LAST, r.item_id, r.response_id")
    if limit is not None:
        if limit < 0:
            raise BenchError(f"limit must be >= 0, got {limit}")
        sql += f" LIMIT {int(limit)}"
    return store.query_dicts(sql, [ERR_NOT_APPLICABLE, judge, bool(retry_missing), int(max_attempts), *params])


def count_exhausted(store: Any, judge: str, filters: Mapping[str, Sequence[str]] | None,
                    max_attempts: int) -> int:
    """Responses with a missing score from ``judge`` that already had ``max_attempts`` judging rounds."""
    where, params = _filter_sql(filters)
    sql = ("SELECT count(*) FROM responses r " + _PRIOR + " WHERE " +
           " AND ".join(["p.missing AND p.rounds >= ?", *where]))
    return int(store.query(sql, [ERR_NOT_APPLICABLE, judge, int(max_attempts), *params])[0][0])


__all__ = ["MAX_ATTEMPTS", "count_exhausted", "select_responses"]
