"""Paired comparisons of two methods (or two models' answers) on the items both were scored on.

:func:`paired_test`: method A vs B in one language (mean difference, 95% paired bootstrap
interval, two-sided sign-flip permutation p-value); :func:`gap_test`: does the A - B gap differ
between two languages over the same items. Per item the score is the aspect's, or for
``overall`` the mean of the item's regular-aspect scores; N/A counts as in the leaderboard
(:data:`baselines.leaderboard.queries.VALUE_SQL`). Every value travels as a SQL parameter.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from baselines.leaderboard.queries import VALUE_SQL
from baselines.leaderboard.resampling import DEFAULT_SEED, paired_stats
from bench.errors import BenchError
from bench.vocabulary import ASPECTS, REGULAR_ASPECTS

# Paired comparisons: side A is ($model, $a), side B is ($model_b, $b) (the same model for two
# methods, or e.g. an instruct model's chat answers against its base model's URIAL answers).
_PAIR_FILTER = "((r.model = $model AND r.method = $a) OR (r.model = $model_b AND r.method = $b))"
_PAIRED_JUDGES_SQL = f"""
SELECT j.judge, COUNT(DISTINCT (r.model, r.method)) AS sides
FROM responses r JOIN judgements j USING (response_id)
WHERE r.lang = $lang AND {_PAIR_FILTER}
  AND CASE WHEN $aspect = 'overall' THEN j.aspect IN ({", ".join(f"'{a}'" for a in REGULAR_ASPECTS)}) ELSE j.aspect = $aspect END
GROUP BY j.judge ORDER BY j.judge
"""

_PAIRED_SQL = f"""
WITH v AS (
    SELECT r.item_id, r.model, r.method, j.aspect, {VALUE_SQL} AS value
    FROM responses r JOIN judgements j USING (response_id)
    WHERE r.lang = $lang AND j.judge = $judge AND {_PAIR_FILTER}
),
per AS (
    SELECT item_id, model, method,
           CASE WHEN $aspect = 'overall'
                THEN AVG(value) FILTER (WHERE aspect IN ({", ".join(f"'{a}'" for a in REGULAR_ASPECTS)}))
                ELSE AVG(value) FILTER (WHERE aspect = $aspect) END AS value
    FROM v GROUP BY item_id, model, method
)
SELECT a.item_id, a.value AS value_a, b.value AS value_b
FROM per a JOIN per b USING (item_id)
WHERE a.model = $model AND a.method = $a AND b.model = $model_b AND b.method = $b
  AND a.value IS NOT NULL AND b.value IS NOT NULL
ORDER BY TRY_CAST(a.item_id AS BIGINT) NULLS LAST, a.item_id
"""


def _pick_judge(store, model: str, model_b: str, langs: Sequence[str], method_a: str, method_b: str,
                aspect: str) -> str:
    """The one judge that scored both sides in every language of ``langs`` (else a BenchError)."""
    need = 1 if (model, method_a) == (model_b, method_b) else 2
    usable: set[str] | None = None
    for lang in langs:
        judges = store.query(_PAIRED_JUDGES_SQL, {"model": model, "model_b": model_b, "lang": lang, "a": method_a,
                                                    "b": method_b, "aspect": aspect})
        found = {j for j, sides in judges if sides >= need}
        usable = found if usable is None else usable & found
    if not usable:
        where = f"({langs[0]})" if len(langs) == 1 else f"in both {' and '.join(langs)}"
        raise BenchError(f"no judge scored both {_sides(model, method_a, model_b, method_b)} for {model} {where}")
    if len(usable) > 1:
        raise BenchError(f"several judges scored {model} ({', '.join(langs)}): {', '.join(sorted(usable))}; "
                         "pass --judge")
    return next(iter(usable))


def _paired_values(store, model: str, model_b: str, lang: str, method_a: str, method_b: str, aspect: str,
                   judge: str, na_as_five: bool) -> dict[str, tuple[float, float]]:
    """item id -> (A's value, B's value) over the items both sides have a value for."""
    rows = store.query(_PAIRED_SQL, {"model": model, "model_b": model_b, "lang": lang, "a": method_a,
                                     "b": method_b, "judge": judge, "aspect": aspect, "na_as_five": bool(na_as_five)})
    return {str(item): (float(a), float(b)) for item, a, b in rows}


def _sides(model: str, method_a: str, model_b: str, method_b: str) -> str:
    return f"{method_a} and {method_b}" if model == model_b else f"{model} {method_a} and {model_b} {method_b}"


def paired_test(store, model: str, lang: str, method_a: str, method_b: str, aspect: str = "overall", *,
                judge: str | None = None, na_as_five: bool = False, resamples: int = 10_000,
                seed: int = DEFAULT_SEED, model_b: str | None = None) -> dict[str, Any]:
    """Method A vs B for one model (B: ``model_b``'s answers when given) and language over the
    items both have a score for.

    Per item the score is the aspect's (``overall``: mean of the item's regular-aspect scores).
    ``diff`` = mean(A) - mean(B); ``ci`` = 95% paired bootstrap interval of the diff; ``p_value``
    = two-sided sign-flip permutation test of mean diff = 0 (``resamples`` random flips).
    """
    if aspect not in (*ASPECTS, "overall"):
        raise BenchError(f"unknown aspect '{aspect}' (use overall, {', '.join(ASPECTS)})")
    model_b = model_b or model
    judge = judge or _pick_judge(store, model, model_b, [lang], method_a, method_b, aspect)
    values = _paired_values(store, model, model_b, lang, method_a, method_b, aspect, judge, na_as_five)
    result: dict[str, Any] = {"model": model, "model_b": model_b, "language": lang, "method_a": method_a,
                              "method_b": method_b, "aspect": aspect, "judge": judge, "n": len(values)}
    if not values:
        return {**result, "mean_a": None, "mean_b": None, "diff": None, "ci": None, "p_value": None}
    a = np.array([v[0] for v in values.values()], dtype=np.float64)
    b = np.array([v[1] for v in values.values()], dtype=np.float64)
    diff, ci, p_value = paired_stats(a - b, resamples, seed)
    return {**result, "mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": diff, "ci": ci,
            "p_value": p_value}


def gap_test(store, model: str, lang: str, base_lang: str, method_a: str, method_b: str, aspect: str = "overall",
             *, judge: str | None = None, na_as_five: bool = False, resamples: int = 10_000,
             seed: int = DEFAULT_SEED, model_b: str | None = None) -> dict[str, Any]:
    """Does the A - B gap differ between ``lang`` and ``base_lang`` (e.g. "the gap grows in French")?

    Items are aligned by id across languages (the dataset's configs share ids). Per item present in
    all four cells, ``d = (A - B in lang) - (A - B in base_lang)``; ``diff`` = mean(d), ``ci`` its 95%
    paired bootstrap interval, ``p_value`` a two-sided sign-flip permutation test of mean(d) = 0.
    ``gap`` and ``base_gap`` are the mean A - B in each language over those same items.
    """
    if aspect not in (*ASPECTS, "overall"):
        raise BenchError(f"unknown aspect '{aspect}' (use overall, {', '.join(ASPECTS)})")
    if lang == base_lang:
        raise BenchError(f"compare a language with another one, not with itself ('{lang}')")
    model_b = model_b or model
    judge = judge or _pick_judge(store, model, model_b, [lang, base_lang], method_a, method_b, aspect)
    here = _paired_values(store, model, model_b, lang, method_a, method_b, aspect, judge, na_as_five)
    there = _paired_values(store, model, model_b, base_lang, method_a, method_b, aspect, judge, na_as_five)
    items = sorted(set(here) & set(there))
    result: dict[str, Any] = {"model": model, "model_b": model_b, "language": lang, "base_language": base_lang,
                              "method_a": method_a, "method_b": method_b, "aspect": aspect, "judge": judge,
                              "n": len(items)}
    if not items:
        return {**result, "gap": None, "base_gap": None, "diff": None, "ci": None, "p_value": None}
    gap = np.array([here[i][0] - here[i][1] for i in items], dtype=np.float64)
    base = np.array([there[i][0] - there[i][1] for i in items], dtype=np.float64)
    diff, ci, p_value = paired_stats(gap - base, resamples, seed)
    return {**result, "gap": float(gap.mean()), "base_gap": float(base.mean()), "diff": diff, "ci": ci,
            "p_value": p_value}
