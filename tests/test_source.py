"""Source loading and validation: every bad input is one line naming file, record and field."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.errors import InputError
from benchmark.source import load_source
from tests.helpers import need_shared, run_cli


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_real_source_loads_and_keeps_fields():
    src = load_source(str(need_shared()))
    assert len(src.records) == 1000
    assert [r["id"] for r in src.records] == list(range(1000))
    first = src.records[0]
    assert set(first) >= {"id", "instruction", "source_id", "dataset", "category", "task", "topic", "difficulty"}
    assert src.records[850]["category"] == "safety" and src.records[850]["task"] is None
    assert load_source(str(need_shared())).key == src.key  # stable content hash


def test_limit_keeps_first_records(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{"id": i, "instruction": f"Q{i}"} for i in range(5)])
    assert [r["id"] for r in load_source(str(path), limit=2).records] == [0, 1]


@pytest.mark.parametrize("rows, record, field", [
    ([{"id": 1, "instruction": "a"}, {"id": 1, "instruction": "b"}], "line 2", "id"),
    ([{"id": 1, "instruction": "a"}, {"instruction": "b"}], "line 2", "id"),
    ([{"id": 1, "instruction": "  "}], "line 1", "instruction"),
    ([{"id": 1}], "line 1", "instruction"),
    ([{"id": 1, "instruction": 5}], "line 1", "instruction"),
    ([{"id": [1], "instruction": "a"}], "line 1", "id"),
    ([{"id": 1, "instruction": "a"}, {"id": "x", "instruction": "b"}], "line 2", "id"),
    ([{"id": 1, "instruction": "a", "task": "coding"}], "line 1", "task"),
    ([{"id": 1, "instruction": "a", "category": 3}], "line 1", "category"),
])
def test_bad_records_name_file_record_field(tmp_path, rows, record, field):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as err:
        load_source(str(path))
    msg = str(err.value)
    assert str(path) in msg and record in msg and f"'{field}'" in msg and "\n" not in msg


def test_truncated_and_non_utf8_and_empty(tmp_path):
    trunc = tmp_path / "t.jsonl"
    trunc.write_text('{"id": 1, "instruction": "a"}\n{"id": 2, "instruc', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: invalid JSON"):
        load_source(str(trunc))
    latin = tmp_path / "l.jsonl"
    latin.write_bytes('{"id": 1, "instruction": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="line 1: not valid UTF-8"):
        load_source(str(latin))
    empty = tmp_path / "e.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no records"):
        load_source(str(empty))


def test_json_and_parquet_sources(tmp_path):
    rows = [{"id": "a", "instruction": "Hello"}, {"id": "b", "instruction": "World"}]
    js = tmp_path / "s.json"
    js.write_text(json.dumps(rows), encoding="utf-8")
    assert [r["id"] for r in load_source(str(js)).records] == ["a", "b"]
    pq_path = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist(rows), pq_path)
    assert len(load_source(str(pq_path)).records) == 2
    no_col = tmp_path / "n.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": 1, "text": "x"}]), no_col)
    with pytest.raises(InputError, match=r"row 0: field 'instruction': missing"):
        load_source(str(no_col))


def test_missing_file_and_offline_hub(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_source(str(tmp_path / "nope.jsonl"))
    # a Hub id that cannot be fetched offline: one line naming the dataset, nothing written
    proc = run_cli("build-dataset", "--source", "someone/not-a-dataset-here", "--translator", "hf:x", "--out",
                   str(tmp_path / "out"), workspace=tmp_path / "ws")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "someone/not-a-dataset-here: cannot load Hub dataset" in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "ws").exists()
