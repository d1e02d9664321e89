"""`bench errors evaluate-intent`: the instruction-intent features scored on labelled instructions (the report's
arithmetic on a small file, references to shared instructions, one-line errors for bad files)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.errors.intent_evaluation import INTENT_LABELS, evaluate_intents, predicted_intents, read_intent_records
from bench.errors import InputError
from tests.helpers import SHARED, run_main


def write(path: Path, rows) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_labels_are_the_intent_features():
    assert INTENT_LABELS == ("code", "data", "markup", "computing", "math", "verse", "art", "language_exempt",
                             "about_prompts", "dialogue")


def test_report_counts_match_the_predictions(tmp_path):
    rows = [{"id": "a", "lang": "en", "instruction": "Write a Python function that reverses a list.", "labels": ["code"]},
            {"id": "b", "lang": "fr", "instruction": "Écris un poème sur la mer.", "labels": ["verse"]},
            {"id": "c", "lang": "es", "instruction": "¿Qué ropa llevo a una boda en la playa?", "labels": []},
            {"id": "d", "lang": "en", "instruction": "What should I cook tonight?", "labels": ["math"]}]
    records = read_intent_records(write(tmp_path / "i.jsonl", rows))
    report = evaluate_intents(records)
    predicted = [set(predicted_intents(r["instruction"])) for r in rows]
    for label in INTENT_LABELS:
        tp = sum(label in set(r["labels"]) and label in p for r, p in zip(rows, predicted))
        fp = sum(label not in set(r["labels"]) and label in p for r, p in zip(rows, predicted))
        assert (report["labels"][label]["tp"], report["labels"][label]["fp"]) == (tp, fp), label
    assert report["items"] == 4 and set(report["by_language"]) == {"en", "fr", "es"}
    assert {m["id"] for m in report["misses"]} == {r["id"] for r, p in zip(rows, predicted) if set(r["labels"]) != p}
    assert any(m["id"] == "d" and m["missed"] == ["math"] for m in report["misses"])  # a label nothing supports


def test_shared_instructions_are_read_in_place(tmp_path):
    if not (SHARED / "data" / "just-eval-instruct" / "just_eval_instruct.jsonl").is_file():
        pytest.skip("no ../shared")
    path = write(tmp_path / "i.jsonl", [{"id": "s", "lang": "en", "instruction_ref": 0, "labels": []}])
    [record] = read_intent_records(path, SHARED)
    assert record["instruction"].startswith("What are the names of some famous actors")


@pytest.mark.parametrize("row, field", [
    ({"id": "x", "lang": "en", "instruction": "Hi", "labels": ["poetry"]}, "labels"),
    ({"id": "x", "lang": "en", "instruction": "Hi", "labels": "code"}, "labels"),
    ({"id": "x", "lang": "de", "instruction": "Hallo", "labels": []}, "lang"),
    ({"id": "x", "lang": "en", "labels": []}, "instruction"),
    ({"id": "x", "lang": "en", "instruction_ref": "zero", "labels": []}, "instruction_ref"),
])
def test_bad_records_fail_in_one_line_naming_the_field(tmp_path, row, field):
    path = write(tmp_path / "bad.jsonl", [row])
    with pytest.raises(InputError) as err:
        read_intent_records(path, SHARED)
    assert "line 1" in str(err.value) and field in str(err.value) and "\n" not in str(err.value)


def test_cli_prints_the_table_and_json(tmp_path):
    path = write(tmp_path / "i.jsonl", [{"id": "a", "lang": "en", "instruction": "Draw a cat in ASCII art.",
                                         "labels": ["art"]}])
    result = run_main("errors", "evaluate-intent", path, "--json", "--show-misses")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["items"] == 1 and "misses" in report and "art" in report["labels"]
    table = run_main("errors", "evaluate-intent", path)
    assert table.exit_code == 0 and "macro-F1 by language" in table.stdout
