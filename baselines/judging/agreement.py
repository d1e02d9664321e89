"""Agreement of one judge in the store with a reference judge (``bench results agreement``).

Both are judge names of the ``judgements`` table: an LLM judge, a published just-eval judge, or human
ratings stored under a reference name. A *cell* is one response × one aspect that both scored (score
not NULL: N/A and unparsed scores are left out). Per aspect, over the cells in common:

- cell agreement (:func:`~baselines.judging.agreement_stats.score_agreement`): Spearman, Kendall τ-b,
  mean absolute difference, exact and ±1 agreement;
- pairwise preference accuracy over answers to the same item and language from different systems;
- system-level Spearman / Kendall of per-system means; a *system* is one model × method × language (a
  leaderboard row), and needs ≥ 3 of them;
- length bias: Spearman of score vs answer words (``len(output.split())``), judge and reference;
- self-preference: when the judge's name contains the family of judged models (``gpt`` in
  ``gpt-4-1106-preview``), the judge's gap family − others against the reference's gap.

Language bias is computed over *all* of a judge's cells (not only those in common): for answers of the
same model, method and item judged in English and in another language, the mean score difference
other − English per aspect, for the judge and for the reference side by side.

Every figure carries its ``n``. Bad input (an unknown judge or reference, no cells in common, fewer
than ``min_items`` responses in common) raises :class:`bench.errors.BenchError` naming it. All values
travel as SQL parameters.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from baselines.judging.agreement_stats import (judge_families, length_bias, model_family, pairwise_agreement,
                                               score_agreement, self_preference, system_agreement)
from bench.errors import BenchError
from bench.vocabulary import ASPECTS

DEFAULT_MIN_ITEMS = 10
ENGLISH = "en"

_JUDGES_SQL = "SELECT judge, COUNT(DISTINCT response_id) AS responses FROM judgements GROUP BY judge ORDER BY judge"

_COMMON_CELLS_SQL = """
SELECT r.response_id, r.model, r.method, r.lang, r.item_id, a.aspect,
       a.score AS judge_score, b.score AS reference_score
FROM judgements a
JOIN judgements b ON b.response_id = a.response_id AND b.aspect = a.aspect
JOIN responses r ON r.response_id = a.response_id
WHERE a.judge = $judge AND b.judge = $reference AND a.score IS NOT NULL AND b.score IS NOT NULL
ORDER BY a.aspect, r.item_id, r.lang, r.model, r.method, r.response_id
"""

_COMMON_OUTPUTS_SQL = """
SELECT r.response_id, r.output FROM responses r
WHERE r.response_id IN (SELECT a.response_id FROM judgements a
                        JOIN judgements b ON b.response_id = a.response_id AND b.aspect = a.aspect
                        WHERE a.judge = $judge AND b.judge = $reference
                          AND a.score IS NOT NULL AND b.score IS NOT NULL)
"""

# Per aspect and non-English language: mean (score in that language − score in English) over the answers
# of the same model, method and item (several runs of one system are averaged first).
_LANGUAGE_BIAS_SQL = """
WITH cells AS (
    SELECT r.model, r.method, r.item_id, r.lang, j.aspect, AVG(j.score) AS score
    FROM judgements j JOIN responses r ON r.response_id = j.response_id
    WHERE j.judge = $judge AND j.score IS NOT NULL
    GROUP BY ALL
)
SELECT o.aspect, o.lang, AVG(o.score - e.score) AS mean_diff, COUNT(*) AS n
FROM cells o JOIN cells e
  ON e.model = o.model AND e.method = o.method AND e.item_id = o.item_id AND e.aspect = o.aspect
WHERE e.lang = $english AND o.lang <> $english
GROUP BY ALL
ORDER BY o.aspect, o.lang
"""


def store_judges(store) -> dict[str, int]:
    """Judge name → number of responses it judged."""
    return {row[0]: int(row[1]) for row in store.query(_JUDGES_SQL)}


def _check_known(role: str, name: str, judges: dict[str, int]) -> None:
    if name not in judges:
        known = ", ".join(f"'{j}'" for j in list(judges)[:12]) or "none"
        more = f" and {len(judges) - 12} more" if len(judges) > 12 else ""
        raise BenchError(f"unknown {role} '{name}': no judgements by it in the store (judges: {known}{more})")


def _order_aspects(found: Sequence[str]) -> list[str]:
    known = [a for a in ASPECTS if a in found]
    return known + sorted(set(found) - set(known))


def load_cells(store, judge: str, reference: str) -> dict[str, np.ndarray]:
    """The cells both scored, as aligned arrays (``response_id``, ``model``, ``method``, ``lang``,
    ``item_id``, ``aspect``, ``judge``, ``reference``, ``words``)."""
    params = {"judge": judge, "reference": reference}
    rows = store.query(_COMMON_CELLS_SQL, params)
    words = {rid: len(output.split()) for rid, output in store.query(_COMMON_OUTPUTS_SQL, params)}
    cols = list(zip(*rows)) if rows else [()] * 8
    names = ("response_id", "model", "method", "lang", "item_id", "aspect")
    cells = {name: np.asarray(col, dtype=object) for name, col in zip(names, cols)}
    cells["judge"] = np.asarray(cols[6], dtype=float)
    cells["reference"] = np.asarray(cols[7], dtype=float)
    cells["words"] = np.asarray([words[rid] for rid in cells["response_id"]], dtype=float)
    return cells


def language_bias(store, judge: str, aspects: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``[{aspect, lang, mean_diff, n}]``: the judge's mean score in ``lang`` minus English on the same
    model × method × item, over all its cells."""
    rows = store.query_dicts(_LANGUAGE_BIAS_SQL, {"judge": judge, "english": ENGLISH})
    return [{"aspect": r["aspect"], "lang": r["lang"], "mean_diff": float(r["mean_diff"]), "n": int(r["n"])}
            for r in rows if aspects is None or r["aspect"] in aspects]


def _systems(cells: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
    return np.asarray([f"{m} | {me} | {lang}" for m, me, lang in
                       zip(cells["model"][mask], cells["method"][mask], cells["lang"][mask])], dtype=object)


def _aspect_row(cells: dict[str, np.ndarray], aspect: str, families: Sequence[str]) -> dict[str, Any]:
    mask = cells["aspect"] == aspect
    j, r = cells["judge"][mask], cells["reference"][mask]
    systems = _systems(cells, mask)
    groups = [f"{i}\x1f{lang}" for i, lang in zip(cells["item_id"][mask], cells["lang"][mask])]
    row: dict[str, Any] = {"aspect": aspect, **score_agreement(j, r),
                           "pairwise": pairwise_agreement(groups, systems, j, r),
                           "system": system_agreement(systems, j, r),
                           "length": length_bias(cells["words"][mask], j, r)}
    own_family = np.asarray([model_family(m) for m in cells["model"][mask]], dtype=object)
    row["self_preference"] = {f: self_preference(own_family == f, j, r) for f in families}
    return row


def agreement_report(store, judge: str, reference: str, aspects: Sequence[str] | None = None,
                     min_items: int = DEFAULT_MIN_ITEMS) -> dict[str, Any]:
    """Agreement of ``judge`` with ``reference`` (see the module docstring) as one JSON-ready dict:
    ``judge``, ``reference``, ``items`` (responses in common), ``cells``, ``judge_responses``,
    ``reference_responses``, ``aspects`` (one row per aspect), ``families`` (for self-preference, empty
    when n/a), ``language_bias`` (rows with the judge's and the reference's figures)."""
    if judge == reference:
        raise BenchError(f"judge '{judge}' is also the reference: name two different judges")
    judges = store_judges(store)
    _check_known("judge", judge, judges)
    _check_known("reference", reference, judges)
    cells = load_cells(store, judge, reference)
    wanted = list(aspects) if aspects else None
    if wanted is not None:
        keep = np.isin(cells["aspect"].astype(str), wanted)
        cells = {k: v[keep] for k, v in cells.items()}
    where = f" on {', '.join(wanted)}" if wanted else ""
    items = len(set(cells["response_id"].tolist()))
    if items == 0:
        raise BenchError(f"judge '{judge}' and reference '{reference}' have no scored items in common{where}")
    if items < min_items:
        raise BenchError(f"judge '{judge}' has only {items} scored item(s) in common with reference "
                         f"'{reference}'{where} (need at least {min_items}; see --min-items)")
    families = judge_families(judge, sorted(set(cells["model"].tolist())))
    found = _order_aspects(sorted(set(cells["aspect"].tolist())))
    judge_lang = {(b["aspect"], b["lang"]): b for b in language_bias(store, judge, found)}
    ref_lang = {(b["aspect"], b["lang"]): b for b in language_bias(store, reference, found)}
    lang_rows = []
    for key in sorted(set(judge_lang) | set(ref_lang), key=lambda k: (found.index(k[0]), k[1])):
        jb, rb = judge_lang.get(key, {}), ref_lang.get(key, {})
        lang_rows.append({"aspect": key[0], "lang": key[1],
                          "judge": jb.get("mean_diff"), "judge_n": jb.get("n", 0),
                          "reference": rb.get("mean_diff"), "reference_n": rb.get("n", 0)})
    return {"judge": judge, "reference": reference, "items": items, "cells": int(len(cells["aspect"])),
            "judge_responses": judges[judge], "reference_responses": judges[reference], "min_items": min_items,
            "aspects": [_aspect_row(cells, a, families) for a in found], "families": families,
            "language_bias": lang_rows}
