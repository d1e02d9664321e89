"""The shared precision / recall counting (bench.label_scores) and the reports built on it."""
from __future__ import annotations

import pytest

from bench.label_scores import label_scores, prf


def test_counts_per_label_and_micro_by_hand():
    gold = [{"a"}, {"a", "b"}, set(), {"b"}]
    pred = [{"a"}, {"a"}, {"b"}, {"c"}]  # "c" is not a scored label: ignored
    per, micro = label_scores(gold, pred, ["a", "b"])
    assert (per["a"]["tp"], per["a"]["fp"], per["a"]["fn"]) == (2, 0, 0)
    assert (per["b"]["tp"], per["b"]["fp"], per["b"]["fn"]) == (0, 1, 2)
    assert per["a"]["precision"] == 1.0 and per["a"]["recall"] == 1.0 and per["a"]["support"] == 2
    assert per["b"]["precision"] == 0.0 and per["b"]["recall"] == 0.0 and per["b"]["f1"] == 0.0
    assert (micro["tp"], micro["fp"], micro["fn"]) == (2, 1, 2)
    assert micro["precision"] == round(2 / 3, 4) and micro["recall"] == 0.5
    assert micro["f1"] == round(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), 4)


def test_undefined_ratios():
    assert prf(0, 0, 0)["precision"] == 0.0 and prf(0, 0, 0)["f1"] == 0.0
    none = prf(0, 0, 0, undefined=None)
    assert none["precision"] is None and none["recall"] is None and none["f1"] is None
    only_fn = prf(0, 0, 3, undefined=None)
    assert only_fn["precision"] is None and only_fn["recall"] == 0.0 and only_fn["f1"] is None
    assert prf(1, 2, 0, digits=3)["precision"] == 0.333


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="2 gold label sets for 1 predictions"):
        label_scores([{"a"}, set()], [{"a"}], ["a"])


def test_detector_report_scores_against_majority_labels(tmp_path):
    """annotation.errors.detector_report: the reference is the labels of at least half the annotators."""
    from annotation.errors import detector_report
    from baselines.errors.critical_errors import DETECTOR_VERSION
    from bench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    try:
        with ws.store.transaction() as con:
            con.executemany("INSERT INTO error_annotations (response_id, annotator, labels) VALUES (?, ?, ?)", [
                ("r1", "ann1", ["repetition_loop"]), ("r1", "ann2", ["repetition_loop", "empty"]),
                ("r2", "ann1", []), ("r2", "ann2", []), ("r2", "ann3", ["wrong_language"]),
                ("r3", "ann1", ["truncated"]),
            ])
            con.executemany("INSERT INTO critical_error_checks (response_id, detector_version, labels) VALUES (?, ?, ?)",
                            [("r1", DETECTOR_VERSION, ["repetition_loop"]), ("r2", DETECTOR_VERSION, ["wrong_language"]),
                             ("r3", DETECTOR_VERSION, [])])
        report = detector_report(ws)
    finally:
        ws.close()
    # references: r1 {repetition_loop, empty} (2 of 2 and 1 of 2), r2 {} (1 of 3), r3 {truncated}
    assert report["human_label_counts"] == {"empty": 1, "repetition_loop": 1, "truncated": 1}
    assert report["labels"]["repetition_loop"]["precision"] == 1.0
    assert report["labels"]["wrong_language"]["fp"] == 1 and report["labels"]["wrong_language"]["recall"] is None
    assert report["labels"]["empty"]["fn"] == 1 and report["labels"]["empty"]["precision"] is None
    assert report["labels"]["format_leak"] == {"precision": None, "recall": None, "f1": None, "support": 0,
                                               "tp": 0, "fp": 0, "fn": 0}
    assert (report["micro"]["tp"], report["micro"]["fp"], report["micro"]["fn"]) == (1, 1, 2)
    assert report["micro"]["precision"] == 0.5 and report["micro"]["recall"] == 0.333


def test_human_labels_become_evaluation_records_appended_once(tmp_path):
    """`annotate errors pull --to-eval`: labelled responses join the evaluation data with their provenance,
    the checkers' own reader accepts them, and a second pull appends nothing already there."""
    from annotation.error_labels_export import append_records, labelled_records
    from baselines.errors.cli import read_records
    from bench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    try:
        with ws.store.transaction() as con:
            for rid, out in (("r1", "Bonjour bonjour bonjour"), ("r2", "Une réponse complète.")):
                con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                            "output, finish_reason) VALUES (?, 'k', 'tiny', 'urial', 'fr', ?, 'Dis bonjour.', ?, 'stop')",
                            [rid, rid, out])
            con.executemany("INSERT INTO error_annotations (response_id, annotator, labels, source) VALUES (?, ?, ?, ?)", [
                ("r1", "ann1", ["repetition_loop"], "bench/critical-errors"),
                ("r1", "ann2", ["repetition_loop", "other"], "bench/critical-errors"),
                ("r2", "ann1", [], "bench/critical-errors"),
            ])
        records = labelled_records(ws, "dev")
    finally:
        ws.close()
    by_id = {r["id"]: r for r in records}
    assert by_id["argilla-r1"]["labels"] == ["repetition_loop"] and by_id["argilla-r2"]["labels"] == []
    assert by_id["argilla-r1"]["annotators"] == ["ann1", "ann2"] and by_id["argilla-r1"]["made"] == "argilla"
    assert by_id["argilla-r1"]["source"] == "bench/critical-errors" and by_id["argilla-r1"]["generator"] == "tiny (urial)"
    out = tmp_path / "dev-argilla.jsonl"
    assert append_records(out, records) == (2, 0)
    assert append_records(out, records) == (0, 2)
    rows = read_records(str(out), ("en", "fr", "es"), labelled=True)
    assert [r["labels"] for _, r in rows] == [["repetition_loop"], []]


def test_evaluation_report_macro_clean_rate_and_confusion():
    from bench.label_scores import evaluation_report

    report = evaluation_report([["a"], ["a", "b"], [], []], [["b"], ["a", "b"], ["a"], []], ["a", "b", "c"])
    assert report["macro"]["labels"] == 2  # 'c' has no gold support
    assert report["labels"]["a"]["recall"] == 0.5 and report["labels"]["b"]["precision"] == 0.5
    assert report["clean_items"] == 2 and report["clean_flagged_rate"] == 0.5
    assert report["confusion"]["a"]["b"] == 2 and report["confusion"]["none"]["a"] == 1
    assert report["confusion"]["none"]["none"] == 1 and report["exact_match"] == 0.5


def test_appending_to_a_file_that_is_not_evaluation_data_is_one_line_naming_it(tmp_path):
    from annotation.error_labels_export import append_records
    from bench.errors import InputError

    bad = tmp_path / "dev.jsonl"
    bad.write_text('{"id": "a"}\n{"labels": []}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"dev.jsonl: record line 2: field 'id': not a JSON evaluation record"):
        append_records(bad, [{"id": "b"}])
    assert bad.read_text(encoding="utf-8") == '{"id": "a"}\n{"labels": []}\n'  # nothing appended
