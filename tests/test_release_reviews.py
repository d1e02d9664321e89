"""Per-reviewer provenance of the translation review (issue 18), without a server: what pull stores
(``translation_reviews``) becomes the release's ``reviews`` config, and the card states coverage and
agreement. The real-stack path (push, reviewers answering, pull, release) is in tests/test_annotation.py.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotation import reviews
from annotation.agreement import krippendorff_alpha, undefined_reason
from annotation.translations import make_record
from bench.errors import InputError
from bench.workspace import Workspace
from benchmark.dataset_dir import PARQUET_NAME
from tests.test_annotation import _write_dataset
from tests.test_release import _rewrite

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_reviewers_are_offered_the_machine_translation_and_nothing_pre_ticked():
    # a row an earlier pull post-edited, with a QA flag: the suggestion is still the MT, no label suggested
    record = make_record({"id": 1, "source_instruction": "Hello", "machine_translation": "Bonjour",
                          "instruction": "Salut (édité par A)", "qa_flags": ["untranslated"],
                          "qa_evidence": '{"untranslated": "ratio 0.9"}'})
    assert [(s.question_name, s.value) for s in record.suggestions] == [("post_edit", "Bonjour")]
    assert record.fields["qa"] == "untranslated: ratio 0.9" and record.fields["translation"] == "Bonjour"


def _dataset(tmp_path: Path, skip_item: int | None = None) -> Path:
    """fr rows all reviewed (item 0 post-edited), every review in the store but ``skip_item``'s."""
    ds = _write_dataset(tmp_path / "ds", langs=("fr",))

    def review(row):
        row["review_status"] = "post_edited" if row["id"] == 0 else "approved"
        row["reviewers"] = 2
        return row

    _rewrite(ds, "fr", review)
    return ds


def _store(ws: Path, decisions: dict[tuple[int, str], str], skip_item: int | None = None) -> list[dict]:
    rows = [{"review_set": "ds-translation", "lang": "fr", "item_id": str(i), "annotator": who,
             "rating": 5 if who == "ann-a" else 4, "decision": decisions.get((i, who), "approved"),
             "post_edit": f"texte {i} de {who}", "errors": ["fluency"] if (i, who) == (0, "ann-a") else [],
             "machine_translation": f"mt {i}", "source": "bench/ds-translation-fr", "submitted_at": WHEN}
            for i in range(10) if i != skip_item for who in ("ann-a", "ann-b")]
    w = Workspace(ws)
    assert reviews.save(w.store, rows) == len(rows)
    reviews.save(w.store, rows[:2])          # pulling again upserts: no duplicates
    w.close()
    return rows


def test_release_exports_every_review_and_the_card_states_coverage_and_agreement(tmp_path):
    from release.assemble import build_release
    from release.verify import verify_release

    ds = _dataset(tmp_path)
    stored = _store(tmp_path / "ws", {(0, "ann-a"): "post_edited", (1, "ann-b"): "rejected"})
    rel = tmp_path / "rel"
    report = build_release(ds, rel, "1.0.0", ws=Workspace(tmp_path / "ws"), date="2026-01-02")
    assert report.configs["reviews"] == 20 and report.notes == []
    table = pq.read_table(rel / "reviews" / PARQUET_NAME).to_pylist()
    assert len(table) == len(stored) == 20
    first = table[0]
    assert (first["id"], first["lang"], first["reviewer"], first["rating"], first["decision"], first["error_labels"],
            first["post_edit"], first["submitted_at"]) == (0, "fr", "ann-a", 5, "post_edited", ["fluency"],
                                                           "texte 0 de ann-a", WHEN)
    assert [(r["id"], r["reviewer"]) for r in table[:3]] == [(0, "ann-a"), (0, "ann-b"), (1, "ann-a")]

    decisions = [["approved" if (i, w) not in {(0, "ann-a"), (1, "ann-b")} else ("post_edited" if i == 0 else "rejected")
                  for w in ("ann-a", "ann-b")] for i in range(10)]
    alpha = krippendorff_alpha(decisions, "nominal")
    rating = krippendorff_alpha([[5, 4]] * 10, "ordinal")
    card = (rel / "README.md").read_text(encoding="utf-8")
    assert "Reviewers: ann-a, ann-b." in card and "`reviews`" in card
    assert f"| fr | 10 | 10 | 100.0% | 20 | 2 | 10 | {alpha:.3f} | 0.800 | {rating:.3f} | 0.900 |" in card
    manifest_reviews = verify_release(rel)["configs"]["reviews"]
    assert manifest_reviews == 20
    import json

    per = json.loads((rel / "MANIFEST.json").read_text())["review"]["per_reviewer"]
    assert per["rows"] == 20 and per["languages"]["fr"]["items_with_2plus_reviews"] == 10
    assert per["languages"]["fr"]["decision_alpha_nominal"] == round(alpha, 3)


def test_the_card_says_why_alpha_is_undefined_when_every_reviewer_agrees(tmp_path):
    from release.assemble import build_release

    ds = _dataset(tmp_path)
    _store(tmp_path / "ws", {(0, "ann-a"): "post_edited", (0, "ann-b"): "post_edited"})
    build_release(ds, tmp_path / "rel", "1.0.0", ws=Workspace(tmp_path / "ws"), date="2026-01-02")
    card = (tmp_path / "rel" / "README.md").read_text(encoding="utf-8")
    # every item: both reviewers gave the same decision, but there is variation across items -> alpha defined
    assert "| fr | 10 | 10 | 100.0% | 20 | 2 | 10 | 1.000 | 1.000 |" in card
    assert undefined_reason([["approved", "approved"], ["approved", "approved"]]) == (
        "undefined: every review gave the same value (approved), all reviewers agree")
    assert undefined_reason([["approved"]]) == "no item has two or more reviews"
    ds2 = _write_dataset(tmp_path / "two" / "ds", langs=("fr",))
    _rewrite(ds2, "fr", lambda r: {**r, "review_status": "approved", "reviewers": 2})
    _store(tmp_path / "two" / "ws", {})
    build_release(ds2, tmp_path / "two" / "rel", "1.0.0", ws=Workspace(tmp_path / "two" / "ws"), date="2026-01-02")
    card2 = (tmp_path / "two" / "rel" / "README.md").read_text(encoding="utf-8")
    assert ("| – (undefined: every review gave the same value (approved), all reviewers agree) | 1.000 |") in card2


def test_a_reviewed_row_without_its_stored_reviews_is_one_clear_error(tmp_path):
    from release.assemble import build_release

    ds = _dataset(tmp_path)
    _store(tmp_path / "ws", {}, skip_item=3)
    with pytest.raises(InputError) as err:
        build_release(ds, tmp_path / "rel", "1.0.0", ws=Workspace(tmp_path / "ws"), date="2026-01-02")
    text = str(err.value)
    assert "bench.duckdb" in text and "fr/3" in text and "translation_reviews" in text and "no stored review" in text
    assert not (tmp_path / "rel").exists()


def test_without_stored_reviews_the_release_says_so(tmp_path):
    from release.assemble import build_release

    ds = _dataset(tmp_path)
    report = build_release(ds, tmp_path / "rel", "1.0.0", ws=Workspace(tmp_path / "empty-ws"), date="2026-01-02")
    assert "reviews" not in report.configs
    assert report.notes and "no per-reviewer reviews of review set 'ds-translation'" in report.notes[0]
    card = (tmp_path / "rel" / "README.md").read_text(encoding="utf-8")
    assert "Per-reviewer reviews: not included in this release" in card
    assert not (tmp_path / "empty-ws" / "bench.duckdb").exists()      # the release never creates a store
