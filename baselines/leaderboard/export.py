"""The ``judgements`` parquet (``bench results export-judgements``, a release's ``judgements`` config):
one row per response and judge, fixed schema, deterministic bytes; model and judge names in public form
(:func:`bench.public_names.public_name`: no local paths, no credentials)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.public_names import public_name
from bench.vocabulary import ASPECTS

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

EXPORT_PARQUET_NAME = "test-00000-of-00001.parquet"


def export_schema() -> Any:
    """The pyarrow schema of the export (one score and reason column pair per aspect)."""
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
    for row in rows:  # the file is published (a release's judgements config): public names only
        row["model"], row["judge"] = public_name(row["model"]), public_name(row["judge"])
    schema = export_schema()
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
    target = Path(out_dir) / "judgements" / EXPORT_PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    return target
