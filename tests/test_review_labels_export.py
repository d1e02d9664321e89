"""Human translation reviews as QA evaluation data (`bench annotate translations pull --to-eval`), without a
server: the reviews the pull stores (``translation_reviews``) become records of ``evaluation/translation_qa/``
that `bench qa evaluate` scores on the flags the reviewers could speak to. The server path is in
tests/test_annotation.py."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from annotation import reviews
from annotation.error_labels_export import append_records
from annotation.review_labels_export import JUDGED_FLAGS, reference_flags, reviewed_records
from bench.errors import InputError
from bench.label_scores import evaluation_report
from bench.workspace import Workspace
from benchmark.qa.cli import qa

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
SOURCES = {"fr": {"1": "Explain how photosynthesis works in plants.",
                  "2": "What does the command `git stash` do? Answer in two sentences.",
                  "3": "Name three rivers of Europe."}}


def _review(item: str, who: str, errors: list[str], mt: str, lang: str = "fr") -> dict:
    return {"review_set": "ds-translation", "lang": lang, "item_id": item, "annotator": who, "rating": 3,
            "decision": "approved", "post_edit": mt, "errors": errors, "machine_translation": mt,
            "source": "bench/ds-translation-fr", "submitted_at": WHEN}


@pytest.mark.parametrize("labels, flags, unjudged", [
    ([], [], ["repetition"]),
    (["untranslated"], ["untranslated"], ["repetition"]),
    (["omission", "fluency"], ["truncated"], ["repetition"]),
    (["addition", "accuracy"], ["hallucinated_addition"], ["repetition"]),
    (["code_format"], [], ["code_altered", "number_mismatch", "repetition"]),
    (["wrong_language", "code_format", "terminology"], ["wrong_language"],
     ["code_altered", "number_mismatch", "repetition"]),
])
def test_review_labels_map_to_flags_and_say_which_flags_are_judged(labels, flags, unjudged):
    got, judged = reference_flags(labels)
    assert got == flags
    assert sorted((set(JUDGED_FLAGS) | {"repetition"}) - set(judged)) == sorted(unjudged)


def test_reviews_become_records_by_majority_with_provenance(tmp_path):
    mt1 = "Explique comment fonctionne la photosynthèse chez les plantes."
    mt2 = "Que fait la commande `git cacher` ? Réponds en deux phrases."
    rows = [_review("1", "ann-a", ["omission"], mt1), _review("1", "ann-b", [], mt1), _review("1", "ann-c", [], mt1),
            _review("2", "ann-a", ["code_format"], mt2), _review("2", "ann-b", ["code_format", "fluency"], mt2),
            _review("3", "ann-a", [], "Nomme trois fleuves d'Europe."),
            _review("3", "ann-b", ["untranslated"], "Name three rivers of Europe."),  # pushed again, new MT
            _review("9", "ann-a", ["omission"], "texte sans source")]                 # not in the dataset: skipped
    ws = Workspace(tmp_path / "ws")
    try:
        reviews.save(ws.store, rows)
        records = reviewed_records(ws.store, "ds-translation", SOURCES, "dev")
    finally:
        ws.close()
    by_item = {}
    for r in records:
        by_item.setdefault(r["item_id"], []).append(r)
    assert sorted(by_item) == ["1", "2", "3"]
    (one,), (two,) = by_item["1"], by_item["2"]
    assert one["labels"] == [] and one["review_labels"] == [] and one["annotators"] == ["ann-a", "ann-b", "ann-c"]
    assert one["source"] == SOURCES["fr"]["1"] and one["translation"] == mt1 and one["made"] == "argilla"
    assert two["labels"] == [] and "code_altered" not in two["judged_flags"]
    assert two["review_labels"] == ["code_format", "fluency"]
    assert len(by_item["3"]) == 2 and len({r["id"] for r in by_item["3"]}) == 2  # one record per reviewed text
    assert [r["labels"] for r in by_item["3"] if r["translation"].startswith("Name")] == [["untranslated"]]

    out = tmp_path / "dev-argilla.jsonl"
    assert append_records(out, records) == (4, 0)
    assert append_records(out, records) == (0, 4)  # the file only grows


def test_qa_evaluate_counts_only_the_flags_a_record_is_judged_on(tmp_path):
    """The git-stash translation changes the command: the checker says code_altered. Reviewers who chose
    code_format cannot say whether that is code_altered or number_mismatch, so it counts neither way; the same
    item judged on every flag with no label would be a false positive."""
    mt = "Que fait la commande `git cacher` ? Réponds en deux phrases."
    base = {"source": SOURCES["fr"]["2"], "translation": mt, "target_lang": "fr", "labels": []}
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps(dict(base, judged_flags=[f for f in JUDGED_FLAGS
                                                       if f not in ("code_altered", "number_mismatch")])) + "\n",
                   encoding="utf-8")
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(dev), "--json", "--show-misses"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["flags"]["code_altered"]["fp"] == 0 and report["clean_false_alarm_rate"] == 0.0
    assert report["partly_judged_items"] == 1 and report["errors"] == []

    dev.write_text(json.dumps(base) + "\n", encoding="utf-8")
    report = json.loads(CliRunner().invoke(qa, ["evaluate", "--dev", str(dev), "--json"]).output)
    assert report["flags"]["code_altered"]["fp"] == 1 and report["clean_false_alarm_rate"] == 1.0


@pytest.mark.parametrize("judged, message", [
    ("truncated", "must be a list of flag names"),
    (["truncated", "typo"], "unknown flag 'typo'"),
    (["truncated"], "label 'untranslated' is not among the flags the record is judged on"),
])
def test_bad_judged_flags_are_one_line_naming_file_record_and_field(tmp_path, judged, message):
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"source": "Hello there.", "translation": "Hello there.", "target_lang": "fr",
                               "labels": ["untranslated"], "judged_flags": judged}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(dev)])
    assert isinstance(result.exception, InputError)
    text = str(result.exception)
    assert "\n" not in text and str(dev) in text and "line 1" in text and "field 'judged_flags'" in text
    assert message in text


def test_scopes_leave_unjudged_labels_out_of_every_figure():
    gold, pred = [["a"], [], []], [["a", "b"], ["b"], ["a"]]
    full = evaluation_report(gold, pred, ["a", "b"])
    assert full["labels"]["b"]["fp"] == 2 and full["clean_flagged_rate"] == 1.0
    cut = evaluation_report(gold, pred, ["a", "b"], scopes=[["a"], ["a"], None])
    assert cut["labels"]["b"]["fp"] == 0 and cut["labels"]["a"] == full["labels"]["a"]
    assert cut["clean_flagged_rate"] == 0.5 and cut["exact_match"] == round(2 / 3, 4)
    assert cut["confusion"]["none"]["b"] == 0
    with pytest.raises(ValueError, match="2 scopes for 3 items"):
        evaluation_report(gold, pred, ["a", "b"], scopes=[None, None])
