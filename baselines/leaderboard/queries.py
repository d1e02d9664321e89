"""Leaderboard tables from the store: the SQL of the results table, its rows and error rates.

Paired comparisons are :mod:`baselines.leaderboard.paired`, the interval arithmetic
:mod:`baselines.leaderboard.resampling`, the ``judgements`` parquet export
:mod:`baselines.leaderboard.export` and the text formats :mod:`baselines.leaderboard.render`.

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
- ``cap_rate`` = share of the group's responses whose generation stopped at the token cap
  (``finish_reason = 'length'``): a fact of the run's ``max_new_tokens``, reported apart from the
  detector's ``truncated`` (an answer cut at the cap may end on a complete sentence, and one that
  stopped on its own may still be cut).
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
from typing import Any, Sequence

from baselines.leaderboard.resampling import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_intervals
from bench.errors import BenchError
from bench.vocabulary import ASPECTS, REGULAR_ASPECTS, SAFETY_ASPECT

GROUP_KEYS = ("model", "method", "language", "judge")
NOT_APPLICABLE = "not applicable"

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

# Value of one cell: the score; N/A -> 5 when $na_as_five; NULL otherwise (also used by the paired tests).
VALUE_SQL = f"""CASE WHEN j.score IS NOT NULL THEN j.score
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
           {labels} AS labels, {by_expr} AS by_value, coalesce(r.finish_reason = 'length', FALSE) AS capped
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
           COUNT(labels) AS checked, flatten(list(labels)) AS labels, COUNT(*) FILTER (WHERE capped) AS capped
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
           SUM(t.checked) AS checked, SUM(t.capped) AS capped,
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
       a.capped / a.n AS cap_rate, a.checked, a.label_counts
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
       COUNT(*) FILTER (WHERE capped) / COUNT(*) AS cap_rate,
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
        safety=SAFETY_ASPECT, value=VALUE_SQL,
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
    cells = None
    with store.session():  # one state of the store, one open; released before the resampling
        words_from = "cached" if refresh_word_counts(store) else "regex"
        sql, params = leaderboard_sql(by, filters, judge, na_as_five, words_from, _labels_source(store))
        rows = store.query_dicts(sql, params)
        ctes, base_params = _query_parts(by, filters, judge, na_as_five, "none")
        if ci and rows:
            cells_sql = _CELLS_SQL.format(ctes=ctes, aspect_values=", ".join(
                f"MAX({VALUE_SQL}) FILTER (WHERE j.aspect = '{a}') AS {a}" for a in ASPECTS))
            cells = _arrow(store, cells_sql, _used_params(cells_sql, base_params))
    labels = _all_labels(rows)
    intervals: dict[tuple, dict[str, list[float] | None]] = (
        bootstrap_intervals(cells, resamples, seed) if cells is not None else {})
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
        row["cap_rate"] = _num(r["cap_rate"])
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
             "checked": int(r["checked"]), **_label_rates(r, labels), "cap_rate": _num(r["cap_rate"])}
            for r in rows]


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


def _arrow(store, sql: str, params: dict[str, Any]) -> Any:
    """The query's result as a pyarrow table (one read while the store is held)."""
    return store.arrow(sql, params)
