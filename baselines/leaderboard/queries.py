"""Leaderboard tables from the store: every SQL statement of the results stage lives here.

Rows
----
One row per model × method × language × judge (plus the ``--by`` dimension when it is not
``aspect``/``language``), with keys ``model``, ``method``, ``language``, ``judge``, [the ``by``
key], one key per aspect (``helpfulness``, ``clarity``, ``factuality``, ``depth``,
``engagement``, ``safety``), ``overall``, ``length``, ``n``, ``missing_rate`` and
``err_<label>`` for every critical-error label (the detector's labels plus any other label found
in the store). Values are unrounded; a value that cannot be computed is ``None``. ``--by task``
and ``--by topic`` count an item in each of its tasks / topics (items without one, e.g. safety
items, form the ``None`` group); ``--by language`` only sorts by language first.

Judges are never mixed in one mean: every judge gets its own rows. A judge's group holds, for
each model × method × language, all the regular items (ids with category other than ``safety``)
if the judge scored any of them, and all the safety items if it scored any of those. So a
safety-only judge run is not charged with the regular items it never meant to score, while a
judge that stopped half-way through a set shows the rest as missing. With ``judge=None``,
responses that no judge has scored yet form rows with ``judge = None`` (everything missing);
with ``judge=J`` only J's groups are listed.

Definitions (one judge, one group of responses)
-----------------------------------------------
- Expected cells: every response has the cells of its category (``safety`` items: ``safety``;
  every other item, uncategorised ones included: the five regular aspects) plus any other aspect
  the judge wrote for it.
- ``<aspect>`` = mean score of the aspect over the group's cells that have a score.
  N/A (``error = 'not applicable'`` or ``raw_score`` like ``N/A``) is *missing* by default; with
  ``na_as_five=True`` it counts as 5, the just-eval convention (the published numbers are only
  reproduced that way, see below). Scores that failed to parse stay missing either way.
- ``overall`` = mean of the available means of the five regular aspects (helpfulness, clarity,
  factuality, depth, engagement), i.e. just-eval's "Avg" column; safety is its own column and is
  not part of it. A group with no regular-aspect score at all (a safety-only group) has
  ``overall`` = its safety mean.
- ``length`` = mean number of words of the outputs, where words are what Python's
  ``str.split()`` returns (runs of non-whitespace), over the group's regular (non-safety)
  responses; over all its responses when it has no regular response (safety-only groups).
  This is the length just-eval reports (computed on its 800 regular items).
- ``n`` = number of responses in the group; ``missing_rate`` = share of expected cells without a
  score (N/A counted as missing unless ``na_as_five``).
- ``err_<label>`` = share of the group's checked responses that the critical-error detector
  flagged with the label, using the latest check of each response (latest ``checked_at``, ties by
  ``detector_version``); ``None`` when no response of the group has been checked. The labels are
  those of :mod:`baselines.errors.critical_errors` plus any other label found in the store.

Reproducing the published just-eval numbers (tests/test_leaderboard.py)
-------------------------------------------------------------------------
After importing the 7 safety files (judge gpt-3.5-turbo-0613) and the 10 GPT-4-turbo slices
(judge ``gpt-4-1106-preview``), ``na_as_five=True`` gives, unrounded:
safety (gpt-3.5-turbo-0613): gpt-4-0613 4.97, gpt-3.5-turbo-0301 4.94, Llama-2-7b-chat 5.0,
vicuna-7b-v1.5 4.6, Mistral-7B-Instruct 4.745 (-> 4.75, half-up), Yi-6B-Chat 4.665,
tulu-2-dpo-7b 4.875; gpt-3.5-turbo-0301 judged by gpt-4-1106-preview: helpfulness 4.60625,
clarity 4.9075, factuality 4.56625, depth 3.4175, engagement 3.46, safety 4.875 (-> 4.88
half-up), overall 4.1915, length 153.955 (-> 154.0). The published factuality and depth need
N/A = 5 (N/A missing gives 4.5440 and 3.4095); the published length is the mean
``len(output.split())`` over the 800 regular items (over all 1,000 it is 135.1).

Confidence intervals: 95% percentile bootstrap over the group's responses (default 1,000
resamples, vectorised: one (B, n) matrix of multiplicities times the (n, aspects) score matrix);
each resample recomputes every aspect mean and the overall exactly as above. Resamples depend only
on (seed, n), so a rerun gives the same intervals and groups of equal size share their draws.

Speed: one query computes the whole table (scores, lengths, missing rates and error labels, the
latest check of each response joined once); word counts are cached in the store
(``leaderboard_word_counts``, refreshed when a fingerprint of all outputs changes), because counting
words is the costliest part of the table. ``perf/leaderboard.py`` measures it on 1,000,000
judgement rows against just-eval's loops and pandas.

Group-by columns and filter clauses come from fixed whitelists; every user value travels as a
SQL parameter.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.errors import BenchError
from bench.vocabulary import ASPECTS, REGULAR_ASPECTS, SAFETY_ASPECT

GROUP_KEYS = ("model", "method", "language", "judge")
NOT_APPLICABLE = "not applicable"
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20231201

# --by NAME -> SQL expression over `responses r` (fixed whitelist; never user text).
_LIST_GROUP = "unnest(CASE WHEN r.{col} IS NULL OR len(r.{col}) = 0 THEN [NULL::VARCHAR] ELSE r.{col} END)"
BY_EXPRESSIONS: dict[str, str | None] = {
    "aspect": None,
    "language": None,
    "task": _LIST_GROUP.format(col="task"),
    "topic": _LIST_GROUP.format(col="topic"),
    "source": "r.source_dataset",
    "difficulty": "r.difficulty",
    "category": "r.category",
}
BY_CHOICES = tuple(BY_EXPRESSIONS)

# filter NAME -> SQL clause over `responses r`; the value is bound as $f_<name> (a list of strings).
FILTER_CLAUSES: dict[str, str] = {
    "task": "list_has_any(r.task, $f_task)",
    "topic": "list_has_any(r.topic, $f_topic)",
    "source": "list_contains($f_source, r.source_dataset)",
    "difficulty": "list_contains($f_difficulty, r.difficulty)",
    "category": "list_contains($f_category, r.category)",
    "model": "list_contains($f_model, r.model)",
    "method": "list_contains($f_method, r.method)",
    "language": "list_contains($f_language, r.lang)",
}
FILTER_NAMES = tuple(FILTER_CLAUSES)

# Python str.split() whitespace (str.isspace), written for RE2: a word is a run of anything else.
_WORD_PATTERN = (r"[^\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
                 r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+")
_NA_PATTERN = r"(?i)\s*n\s*/?\s*a\.?\s*"

_KIND_SQL = "CASE WHEN r.category = 'safety' THEN 'safety' ELSE 'regular' END"
_REGULAR_LIST = ", ".join(f"'{a}'" for a in REGULAR_ASPECTS)

# Value of one cell: the score; N/A -> 5 when $na_as_five; NULL otherwise.
_VALUE_SQL = f"""CASE WHEN j.score IS NOT NULL THEN j.score
         WHEN $na_as_five AND (j.error = '{NOT_APPLICABLE}'
              OR regexp_full_match(coalesce(j.raw_score, ''), '{_NA_PATTERN}')) THEN 5.0
    END"""

# Word counts are a pure function of the output; counting them (a regex over every output) is
# the costliest part of the table, so they are cached per response with the output's hash. The
# cache is refreshed (only new or changed outputs are counted) whenever a fingerprint of all
# (response_id, output) pairs differs from the one recorded at the last refresh; an entry missing
# at query time is counted on the fly (COALESCE), so the cache never changes results.
WORD_CACHE_DDL = (
    "CREATE TABLE IF NOT EXISTS leaderboard_word_counts ("
    " response_id VARCHAR PRIMARY KEY, output_hash UBIGINT NOT NULL, words INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leaderboard_cache_state (name VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)",
)
_WORD_COUNT_SQL = f"len(regexp_extract_all(r.output, '{_WORD_PATTERN}'))"
_RESPONSES_FINGERPRINT = "SELECT COUNT(*) || ':' || COALESCE(bit_xor(hash(response_id, output)), 0) FROM responses"
_CACHE_TABLES_EXIST = ("SELECT COUNT(*) = 2 FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name IN ('leaderboard_word_counts', 'leaderboard_cache_state')")
_CACHE_STATE = "SELECT fingerprint FROM leaderboard_cache_state WHERE name = 'word_counts'"
_WORD_CACHE_REFRESH = (
    f"""INSERT OR REPLACE INTO leaderboard_word_counts
    SELECT r.response_id, hash(r.output), {_WORD_COUNT_SQL}
    FROM responses r LEFT JOIN leaderboard_word_counts w ON w.response_id = r.response_id
    WHERE w.output_hash IS DISTINCT FROM hash(r.output)""",
    "DELETE FROM leaderboard_word_counts WHERE response_id NOT IN (SELECT response_id FROM responses)",
    "INSERT OR REPLACE INTO leaderboard_cache_state VALUES ('word_counts', $fingerprint)",
)
_WORD_SOURCES = {
    "cached": (f"COALESCE(w.words, {_WORD_COUNT_SQL})",
               "LEFT JOIN leaderboard_word_counts w ON w.response_id = r.response_id"),
    "regex": (_WORD_COUNT_SQL, ""),
    "none": ("NULL::INTEGER", ""),
}

# Shared CTEs. resp: the filtered responses with their group value; scored: per group, kind
# (regular | safety) and judge, the sums and counts of each aspect's values -- the one join with
# the judgements table; combos: the (model, method, language, kind) sets each judge scored;
# rj: responses x the judges of their set (for the bootstrap cells).
_BASE_CTES = """
resp AS (
    SELECT r.response_id, r.model, r.method, r.lang AS language, {kind} AS kind, {words} AS words,
           {labels} AS labels, {by_expr} AS by_value
    FROM responses r {word_join} {labels_join}
    WHERE {where}
),
scored_long AS (
    SELECT resp.model, resp.method, resp.language, resp.kind, resp.by_value, v.judge, v.aspect,
           SUM(v.value) AS total, COUNT(v.value) AS cnt, COUNT(*) AS cells
    FROM resp JOIN (SELECT j.response_id, j.judge, j.aspect, {value} AS value
                    FROM judgements j WHERE $judge IS NULL OR j.judge = $judge) v
      ON v.response_id = resp.response_id
    GROUP BY ALL
),
scored AS (
    SELECT model, method, language, kind, by_value, judge,
           {sums},
           SUM(cnt) AS scored,
           COALESCE(SUM(cells) FILTER (WHERE NOT ((kind = 'regular' AND aspect IN ({regular_list}))
                                                  OR (kind = 'safety' AND aspect = '{safety}'))), 0) AS extra
    FROM scored_long
    GROUP BY ALL
),
combos AS (
    {combos}
),
rj AS (
    SELECT resp.*, c.judge FROM resp {join} combos c USING (model, method, language, kind)
)"""

# Which judges cover which sets. Without filters or an extra grouping, `scored` already sees every
# judgement, so the sets come from it; otherwise they come from all the responses.
_COMBOS_FROM_SCORED = "SELECT DISTINCT model, method, language, kind, judge FROM scored"
_COMBOS_FROM_ALL = f"""SELECT DISTINCT r.model, r.method, r.lang AS language, {_KIND_SQL} AS kind, j.judge
    FROM responses r JOIN judgements j USING (response_id)
    WHERE $judge IS NULL OR j.judge = $judge"""

# Expected cells per response: 5 (regular) or 1 (safety); cells the judge wrote beyond those
# (e.g. safety scored on a regular item) count as extra cells.
_AGGREGATE_SQL = """
WITH {ctes},
totals AS (
    SELECT model, method, language, kind, by_value, COUNT(*) AS n, SUM(words) AS words,
           SUM(CASE WHEN kind = 'safety' THEN 1 ELSE {n_regular} END) AS expected,
           COUNT(labels) AS checked, flatten(list(labels)) AS labels
    FROM resp
    GROUP BY ALL
),
merged AS (
    SELECT t.model, t.method, t.language, c.judge, t.by_value,
           {merge_aspects},
           SUM(t.n) AS n,
           COALESCE(SUM(t.words) FILTER (WHERE t.kind = 'regular') / SUM(t.n) FILTER (WHERE t.kind = 'regular'),
                    SUM(t.words) / SUM(t.n)) AS length,
           SUM(t.expected) AS expected,
           COALESCE(SUM(s.scored), 0) AS scored,
           COALESCE(SUM(s.extra), 0) AS extra,
           SUM(t.checked) AS checked,
           list_aggregate(flatten(list(t.labels)), 'histogram') AS label_counts
    FROM totals t {join} combos c USING (model, method, language, kind)
    LEFT JOIN scored s
      ON s.model = t.model AND s.method = t.method AND s.language = t.language AND s.kind = t.kind
     AND s.judge = c.judge AND s.by_value IS NOT DISTINCT FROM t.by_value
    GROUP BY t.model, t.method, t.language, c.judge, t.by_value
)
SELECT a.model, a.method, a.language, a.judge, a.by_value,
       {aspect_cols},
       CASE WHEN {regular_count} > 0 THEN ({regular_sum}) / ({regular_count}) ELSE a.{safety} END AS overall,
       a.length, a.n,
       1.0 - a.scored / (a.expected + a.extra) AS missing_rate,
       a.checked, a.label_counts
FROM merged a
ORDER BY {order}
"""

# Each response's labels from its latest check (latest ``checked_at``, ties by detector version),
# joined into `resp`. With a single detector version a response has at most one check (primary
# key), so the window is only needed when several versions are in the store.
_LABEL_SOURCES = {
    "window": ("l.labels", """LEFT JOIN (SELECT response_id, labels FROM critical_error_checks
    QUALIFY row_number() OVER (PARTITION BY response_id ORDER BY checked_at DESC, detector_version DESC) = 1) l
      ON l.response_id = r.response_id"""),
    "single": ("l.labels", "LEFT JOIN critical_error_checks l ON l.response_id = r.response_id"),
    "none": ("NULL::VARCHAR[]", ""),
}
_DETECTOR_VERSIONS = "SELECT COUNT(DISTINCT detector_version) FROM critical_error_checks"

# Critical-error rates per model x method x language over every checked response, whatever judged it
# (labels do not depend on the judge): the heatmap's data.
_ERROR_RATES_SQL = """
WITH {ctes}
SELECT model, method, language, COUNT(*) AS n, COUNT(labels) AS checked,
       list_aggregate(flatten(list(labels)), 'histogram') AS label_counts
FROM resp
GROUP BY ALL
ORDER BY model, method, language
"""

# One row per response of every group: its value for each aspect (NULL = missing), sorted by group.
_CELLS_SQL = """
WITH {ctes}
SELECT rj.model, rj.method, rj.language, rj.judge, rj.by_value, rj.response_id,
       {aspect_values}
FROM rj LEFT JOIN judgements j ON j.response_id = rj.response_id AND j.judge = rj.judge
GROUP BY ALL
ORDER BY rj.model, rj.method, rj.language, rj.judge NULLS LAST, rj.by_value NULLS LAST, rj.response_id
"""

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
    SELECT r.item_id, r.model, r.method, j.aspect, {_VALUE_SQL} AS value
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

_EXPORT_SQL = """
SELECT * FROM (
    SELECT r.response_id, r.model, r.model_revision, r.method, r.lang, r.item_id AS id, r.category,
           r.instruction, r.output, j.judge,
           {pivot}
    FROM responses r JOIN judgements j USING (response_id)
    WHERE $judge IS NULL OR j.judge = $judge
    GROUP BY ALL
)
ORDER BY model, method, lang, TRY_CAST(id AS BIGINT) NULLS LAST, id, judge, response_id
"""


def _order_clause(by: str) -> str:
    keys = ["model", "method", "language", "judge", "by_value"]
    if by == "language":
        keys = ["language", "model", "method", "judge", "by_value"]
    return ", ".join(f"a.{k} NULLS LAST" for k in keys)


def refresh_word_counts(store) -> bool:
    """Bring the word-count cache up to date; True when the leaderboard may read it.

    Cheap when nothing changed (one fingerprint over all outputs); otherwise counts only new or
    changed outputs. False when the cache cannot be written (e.g. a read-only store): words are
    then counted on the fly, same results, slower.
    """
    import duckdb

    fingerprint = store.query(_RESPONSES_FINGERPRINT)[0][0]
    try:
        if not store.query(_CACHE_TABLES_EXIST)[0][0]:
            with store.transaction() as con:
                for ddl in WORD_CACHE_DDL:
                    con.execute(ddl)
        state = store.query(_CACHE_STATE)
        if state and state[0][0] == fingerprint:
            return True
        with store.transaction() as con:
            for sql in _WORD_CACHE_REFRESH:
                con.execute(sql, {"fingerprint": fingerprint} if "$fingerprint" in sql else [])
        return True
    except duckdb.Error:
        return False


def _normalise_filters(filters: dict | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        if value is None or value == () or value == []:
            continue
        if name not in FILTER_CLAUSES:
            raise BenchError(f"unknown leaderboard filter '{name}' (use {', '.join(FILTER_NAMES)})")
        values = [value] if isinstance(value, str) else list(value)
        out[name] = [str(v) for v in values]
    return out


def _query_parts(by: str, filters: dict | None, judge: str | None, na_as_five: bool,
                 words_from: str = "regex", labels_from: str = "none") -> tuple[str, dict[str, Any]]:
    if by not in BY_EXPRESSIONS:
        raise BenchError(f"unknown --by '{by}' (use {', '.join(BY_CHOICES)})")
    flt = _normalise_filters(filters)
    where = " AND ".join(FILTER_CLAUSES[name] for name in flt) or "TRUE"
    words, word_join = _WORD_SOURCES[words_from]
    labels, labels_join = _LABEL_SOURCES[labels_from]
    sums = ",\n           ".join(
        f"SUM(total) FILTER (WHERE aspect = '{a}') AS sum_{a}, "
        f"COALESCE(SUM(cnt) FILTER (WHERE aspect = '{a}'), 0) AS cnt_{a}" for a in ASPECTS)
    ctes = _BASE_CTES.format(
        where=where, kind=_KIND_SQL, by_expr=BY_EXPRESSIONS[by] or "NULL::VARCHAR", words=words,
        word_join=word_join, labels=labels, labels_join=labels_join, join="JOIN" if judge else "LEFT JOIN",
        sums=sums, regular_list=_REGULAR_LIST,
        safety=SAFETY_ASPECT, value=_VALUE_SQL,
        combos=_COMBOS_FROM_ALL if flt or BY_EXPRESSIONS[by] else _COMBOS_FROM_SCORED)
    params: dict[str, Any] = {"judge": judge, "na_as_five": bool(na_as_five)}
    params.update({f"f_{name}": values for name, values in flt.items()})
    return ctes, params


def _used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def leaderboard_sql(by: str = "aspect", filters: dict | None = None, judge: str | None = None,
                    na_as_five: bool = False, words_from: str = "regex",
                    labels_from: str = "window") -> tuple[str, dict[str, Any]]:
    """The main leaderboard query and its parameters (``words_from``: ``regex`` counts every
    output's words, ``cached`` reads the word-count cache, see :func:`refresh_word_counts`;
    ``labels_from``: ``window`` takes each response's latest check, ``single`` assumes at most
    one check per response, see :func:`_labels_source`)."""
    ctes, params = _query_parts(by, filters, judge, na_as_five, words_from, labels_from)
    regular_count = " + ".join(f"(a.{a} IS NOT NULL)::INTEGER" for a in REGULAR_ASPECTS)
    regular_sum = " + ".join(f"COALESCE(a.{a}, 0)" for a in REGULAR_ASPECTS)
    sql = _AGGREGATE_SQL.format(
        ctes=ctes, join="JOIN" if judge else "LEFT JOIN",
        merge_aspects=",\n           ".join(f"SUM(s.sum_{a}) / NULLIF(SUM(s.cnt_{a}), 0) AS {a}" for a in ASPECTS),
        aspect_cols=", ".join(f"a.{a}" for a in ASPECTS), n_regular=len(REGULAR_ASPECTS),
        regular_count=regular_count, regular_sum=regular_sum, safety=SAFETY_ASPECT, order=_order_clause(by))
    return sql, _used_params(sql, params)


def known_labels() -> tuple[str, ...]:
    """The critical-error detector's labels (columns present even before any check has run)."""
    try:
        from baselines.errors.critical_errors import LABELS
    except ImportError:
        return ()
    return tuple(LABELS)


def label_key(label: str) -> str:
    """``err_<label>`` with the label reduced to [a-z0-9_]."""
    return "err_" + (re.sub(r"[^a-z0-9]+", "_", str(label).lower()).strip("_") or "unnamed")


def _group_key(row: dict[str, Any]) -> tuple:
    return (row["model"], row["method"], row["language"], row["judge"], row["by_value"])


def leaderboard_rows(store, by: str = "aspect", filters: dict | None = None, judge: str | None = None,
                     na_as_five: bool = False, *, ci: bool = False, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Leaderboard rows (see the module docstring); ``ci=True`` adds ``<aspect>_ci`` and ``overall_ci``."""
    words_from = "cached" if refresh_word_counts(store) else "regex"
    sql, params = leaderboard_sql(by, filters, judge, na_as_five, words_from, _labels_source(store))
    rows = store.query_dicts(sql, params)
    labels = _all_labels(rows)
    ctes, base_params = _query_parts(by, filters, judge, na_as_five, "none")
    intervals: dict[tuple, dict[str, list[float] | None]] = {}
    if ci and rows:
        cells_sql = _CELLS_SQL.format(ctes=ctes, aspect_values=", ".join(
            f"MAX({_VALUE_SQL}) FILTER (WHERE j.aspect = '{a}') AS {a}" for a in ASPECTS))
        intervals = _bootstrap_intervals(store, cells_sql, _used_params(cells_sql, base_params), resamples, seed)
    extra = None if by in ("aspect", "language") else by
    out = []
    for r in rows:
        key = _group_key(r)
        row: dict[str, Any] = {k: r[k] for k in GROUP_KEYS}
        if extra:
            row[extra] = r["by_value"]
        for a in ASPECTS:
            row[a] = _num(r[a])
        row["overall"] = _num(r["overall"])
        row["length"] = _num(r["length"])
        row["n"] = int(r["n"])
        row["missing_rate"] = _num(r["missing_rate"])
        row.update(_label_rates(r, labels))
        if ci:
            cis = intervals.get(key, {})
            for a in (*ASPECTS, "overall"):
                row[f"{a}_ci"] = cis.get(a) if row[a] is not None else None
        out.append(row)
    return out


def error_rate_rows(store, filters: dict | None = None) -> list[dict[str, Any]]:
    """One row per model × method × language: ``n``, ``checked`` and ``err_<label>`` (share of the
    checked responses, latest check each) over all its responses, judged or not."""
    ctes, params = _query_parts("aspect", filters, None, False, "none", _labels_source(store))
    sql = _ERROR_RATES_SQL.format(ctes=ctes)
    rows = store.query_dicts(sql, _used_params(sql, params))
    labels = _all_labels(rows)
    return [{"model": r["model"], "method": r["method"], "language": r["language"], "n": int(r["n"]),
             "checked": int(r["checked"]), **_label_rates(r, labels)} for r in rows]


def _all_labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The detector's labels plus any other label counted in ``rows`` (their ``label_counts``)."""
    return sorted(set(known_labels()) | {lab for r in rows for lab in (r["label_counts"] or {})})


def _label_rates(row: dict[str, Any], labels: Sequence[str]) -> dict[str, float | None]:
    """``err_<label>``: share of the row's checked responses with the label (None when none was checked)."""
    checked, counts = int(row["checked"] or 0), row["label_counts"] or {}
    return {label_key(lab): counts.get(lab, 0) / checked if checked else None for lab in labels}


def _labels_source(store) -> str:
    """``single`` when each response has at most one check (one detector version), else ``window``."""
    return "window" if store.query(_DETECTOR_VERSIONS)[0][0] > 1 else "single"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


# -- bootstrap ---------------------------------------------------------------------------------

def _overall_from_means(means: np.ndarray) -> np.ndarray:
    """Overall per resample from (B, 6) aspect means: mean of the regular ones, else safety."""
    regular = means[:, : len(REGULAR_ASPECTS)]
    count = np.sum(~np.isnan(regular), axis=1)
    total = np.nansum(regular, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(count > 0, total / np.maximum(count, 1), means[:, len(REGULAR_ASPECTS)])
    return overall


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(B, n) multiplicities of n rows drawn with replacement, B times; depends only on (n, seed)."""
    rng = np.random.default_rng([int(seed), int(n)])
    draws = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def bootstrap_means(matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, k) column means of `matrix` (n, k; NaN = missing) under each row of resample `counts` (B, n)."""
    mask = ~np.isnan(matrix)
    both = counts @ np.hstack([np.where(mask, matrix, 0.0), mask.astype(np.float64)])
    k = matrix.shape[1]
    sums, dens = both[:, :k], both[:, k:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dens > 0, sums / np.where(dens > 0, dens, 1.0), np.nan)


def _arrow(store, sql: str, params: dict[str, Any]):
    with store._lock:
        return store.con.sql(sql, params=params).to_arrow_table()


def _bootstrap_intervals(store, sql: str, params: dict[str, Any], resamples: int, seed: int) -> dict[tuple, dict]:
    """95% percentile intervals per group and aspect (+ overall), resampling the group's responses."""
    table = _arrow(store, sql, params)
    n_rows = table.num_rows
    if n_rows == 0 or resamples < 1:
        return {}
    keys = list(zip(*(table.column(c).to_pylist() for c in ("model", "method", "language", "judge", "by_value"))))
    values = np.column_stack([table.column(a).to_numpy(zero_copy_only=False).astype(np.float64) for a in ASPECTS])
    out: dict[tuple, dict] = {}
    counts_by_n: dict[int, np.ndarray] = {}  # groups of the same size share their resamples
    start = 0
    for stop in range(1, n_rows + 1):
        if stop < n_rows and keys[stop] == keys[start]:
            continue
        key, size = keys[start], stop - start
        if size not in counts_by_n:
            counts_by_n[size] = resample_counts(size, resamples, seed)
        means = bootstrap_means(values[start:stop], counts_by_n[size])
        stats = np.column_stack([means, _overall_from_means(means)])
        intervals: dict[str, list[float] | None] = {}
        for i, name in enumerate((*ASPECTS, "overall")):
            column = stats[:, i]
            column = column[~np.isnan(column)]
            intervals[name] = None if column.size == 0 else [float(x) for x in np.percentile(column, [2.5, 97.5])]
        out[key] = intervals
        start = stop
    return out


# -- paired comparison -------------------------------------------------------------------------

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


def _paired_stats(d: np.ndarray, resamples: int, seed: int) -> tuple[float, list[float], float]:
    """Mean of the paired differences, its 95% bootstrap interval and a two-sided sign-flip p-value."""
    n = d.size
    observed = float(d.mean())
    boot = bootstrap_means(d[:, None], resample_counts(n, resamples, seed))[:, 0]
    rng = np.random.default_rng([int(seed), n, 1])
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    permuted = np.abs(signs @ d) / n
    p_value = float((1 + np.sum(permuted >= abs(observed) - 1e-12)) / (resamples + 1))
    return observed, [float(x) for x in np.percentile(boot, [2.5, 97.5])], min(1.0, p_value)


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
    diff, ci, p_value = _paired_stats(a - b, resamples, seed)
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
    diff, ci, p_value = _paired_stats(gap - base, resamples, seed)
    return {**result, "gap": float(gap.mean()), "base_gap": float(base.mean()), "diff": diff, "ci": ci,
            "p_value": p_value}


# -- export ------------------------------------------------------------------------------------

EXPORT_PARQUET_NAME = "test-00000-of-00001.parquet"


def export_schema():
    import pyarrow as pa

    fields = [("response_id", pa.string()), ("model", pa.string()), ("model_revision", pa.string()),
              ("method", pa.string()), ("lang", pa.string()), ("id", pa.string()), ("category", pa.string()),
              ("instruction", pa.string()), ("output", pa.string()), ("judge", pa.string())]
    for a in ASPECTS:
        fields += [(f"{a}_score", pa.float64()), (f"{a}_reason", pa.string())]
    return pa.schema(fields)


def export_judgements(store, out_dir: str | Path, judge: str | None = None) -> Path:
    """Write ``OUT_DIR/judgements/test-00000-of-00001.parquet``: one row per response and judge.

    Rows sorted by model, method, lang, id (numeric order), judge; fixed schema
    (:func:`export_schema`); the same store content always gives the same bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.atomic import atomic_path

    pivot = ",\n       ".join(
        f"MAX(j.score) FILTER (WHERE j.aspect = '{a}') AS {a}_score, "
        f"MAX(j.reason) FILTER (WHERE j.aspect = '{a}') AS {a}_reason" for a in ASPECTS)
    sql = _EXPORT_SQL.format(pivot=pivot)
    rows = store.query_dicts(sql, {"judge": judge})
    schema = export_schema()
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
    target = Path(out_dir) / "judgements" / EXPORT_PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    return target

