"""`bench annotate ratings`: people rate answers on the judge's rubric, and the ratings become a reference
for `bench results agreement`. Pure logic on a real store; the push / rate / pull round trip against a real
Argilla server (marker ``argilla``, fixtures of tests/test_annotation.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation import ratings as ra
from annotation.agreement import krippendorff_alpha
from baselines.judging.agreement import agreement_report
from bench.errors import BenchError
from bench.workspace import Workspace
from tests.helpers import run_main
from tests.test_annotation import _cli_json, argilla_env, server  # noqa: F401 (the Argilla fixtures)

MODELS = ("gemma-base", "smol-chat")
# (item_id, category): 0-11 regular, 800-803 safety
ITEMS = [(str(i), "regular") for i in range(12)] + [(str(i), "safety") for i in range(800, 804)]


def make_workspace(root: Path) -> Workspace:
    """A store with one answer per model x language x item (en and fr)."""
    ws = Workspace(root)
    with ws.store.transaction() as con:
        for model in MODELS:
            for lang in ("en", "fr"):
                for item, category in ITEMS:
                    rid = f"{model}|{lang}|{item}"
                    con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, "
                                "instruction, category, output) VALUES (?, ?, ?, 'urial', ?, ?, ?, ?, ?)",
                                [rid, model, model, lang, item, f"question {item}", category,
                                 f"answer of {model} to {item} " * (1 + int(item) % 5)])
    return ws


def rating(rid: str, annotator: str, aspect: str, score: int) -> dict:
    return {"response_id": rid, "annotator": annotator, "aspect": aspect, "score": score, "source": "bench/test"}


# -- the rubric people see is the judge's ---------------------------------------------------------

def test_rubric_and_guidelines_come_from_the_judge_template():
    from baselines.judging.prompts import system_template

    defs, _ = ra.rubric("multi-aspect")
    assert list(defs) == ["helpfulness", "clarity", "factuality", "depth", "engagement"]
    template = system_template("multi-aspect", "en")
    for aspect, text in defs.items():
        assert f"- {aspect}: {text}" in template and text in ra.guidelines("multi-aspect")
    safety, _ = ra.rubric("safety")
    assert list(safety) == ["1", "2", "3", "4", "5"]
    assert "Language:" in ra.guidelines("multi-aspect") and "JSON" not in ra.guidelines("multi-aspect")
    assert "5 = fully safe" in ra.question_description("safety", "safety")


def test_item_sample_is_seeded_nested_and_keeps_every_system(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    small = ra.select_responses(ws, items=3, seed=7)
    large = ra.select_responses(ws, items=6, seed=7)
    items_small, items_large = {r["item_id"] for r in small}, {r["item_id"] for r in large}
    assert len(items_small) == 3 and len(items_large) == 6 and items_small < items_large
    assert len(small) == 3 * len(MODELS) * 2                      # every model and language for each item
    assert ra.select_responses(ws, items=3, seed=7) == small       # same seed, same sample
    only_fr = ra.select_responses(ws, languages=["fr"], models=["smol-chat"], items=4, seed=7)
    assert {(r["lang"], r["model"]) for r in only_fr} == {("fr", "smol-chat")} and len(only_fr) == 4


# -- storing ratings: the reference is the mean, refreshed on every pull ------------------------------

def test_store_ratings_writes_the_mean_as_the_reference_and_refreshes(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    rid, safe = "smol-chat|en|3", "smol-chat|fr|801"
    cells = ra.store_ratings(ws, [rating(rid, "ann", "helpfulness", 4), rating(rid, "bob", "helpfulness", 5),
                                  rating(rid, "ann", "depth", 2), rating(safe, "ann", "safety", 1)])
    assert cells == 3
    rows = {(r[0], r[1]): r[2:] for r in ws.store.query(
        "SELECT response_id, aspect, score, raw_score, protocol, scoring FROM judgements WHERE judge = 'human'")}
    assert rows[(rid, "helpfulness")] == (4.5, "4|5", "multi-aspect", "human")
    assert rows[(rid, "depth")] == (2.0, "2", "multi-aspect", "human")
    assert rows[(safe, "safety")] == (1.0, "1", "safety", "human")
    # a rater changes their mind: pulled again, the stored rating and the reference follow
    ra.store_ratings(ws, [rating(rid, "bob", "helpfulness", 3)])
    assert ws.store.query("SELECT score, raw_score FROM judgements WHERE judge = 'human' AND response_id = ? "
                          "AND aspect = 'helpfulness'", [rid]) == [(3.5, "3|4")]
    assert ws.store.query("SELECT COUNT(*) FROM rating_annotations")[0][0] == 4
    # a second reference name keeps its own ratings
    ra.store_ratings(ws, [rating(rid, "cy", "helpfulness", 1)], reference="experts")
    assert ws.store.query("SELECT score FROM judgements WHERE judge = 'experts'") == [(1.0,)]
    assert ws.store.query("SELECT score FROM judgements WHERE judge = 'human' AND response_id = ? AND "
                          "aspect = 'helpfulness'", [rid]) == [(3.5,)]


def test_bad_ratings_fail_in_one_line_naming_what(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(BenchError, match=r"gemma-base\|en\|1 by ann: depth = 6 is not in 1-5"):
        ra.store_ratings(ws, [rating("gemma-base|en|1", "ann", "depth", 6)])
    with pytest.raises(BenchError, match=r"1 rated response\(s\) are not in the store \(first: nowhere\)"):
        ra.store_ratings(ws, [rating("nowhere", "ann", "depth", 3)])
    with ws.store.transaction() as con:
        con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                    "VALUES ('gemma-base|en|1', 'gpt-4', 'multi-aspect', 'depth', 3)")
    with pytest.raises(BenchError, match="reference name 'gpt-4' is already a model judge .* choose another with --as"):
        ra.store_ratings(ws, [rating("gemma-base|en|2", "ann", "depth", 3)], reference="gpt-4")
    assert ws.store.query("SELECT COUNT(*) FROM rating_annotations")[0][0] == 0


def test_report_gives_the_raters_alpha_per_aspect(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    pairs = {"0": (5, 4), "1": (2, 2), "2": (3, 1), "4": (4, 5), "5": (1, 2)}
    ratings = []
    for item, (a, b) in pairs.items():
        rid = f"gemma-base|en|{item}"
        ratings += [rating(rid, "ann", "clarity", a), rating(rid, "bob", "clarity", b)]
    ratings.append(rating("gemma-base|en|6", "ann", "clarity", 5))    # one rater only: not pairable
    ra.store_ratings(ws, ratings)
    report = ra.ratings_report(ws)
    [clarity] = report["aspects"]
    expected = krippendorff_alpha([list(v) for v in pairs.values()], "ordinal")
    assert clarity == {"aspect": "clarity", "responses": 6, "ratings": 11, "mean": round(34 / 11, 3),
                       "responses_2plus": 5, "alpha_ordinal": round(expected, 3)}
    assert report["annotators"] == ["ann", "bob"]


def test_a_judge_is_measured_against_the_human_reference(tmp_path):
    """`bench results agreement --reference human`: a judge that orders answers like the raters gets
    Spearman 1; the CLI prints the table."""
    ws = make_workspace(tmp_path / "ws")
    ratings, judge_rows = [], []
    for n, (item, _category) in enumerate(ITEMS[:12]):
        for model in MODELS:
            rid = f"{model}|en|{item}"
            human = 1 + (n + (model == "smol-chat")) % 5
            ratings += [rating(rid, "ann", "helpfulness", human), rating(rid, "bob", "helpfulness", human)]
            judge_rows.append([rid, "llm-judge", "multi-aspect", "helpfulness", min(5.0, human + 0.3), "probs"])
    with ws.store.transaction() as con:
        con.executemany("INSERT INTO judgements (response_id, judge, protocol, aspect, score, scoring) "
                        "VALUES (?, ?, ?, ?, ?, ?)", judge_rows)
    ra.store_ratings(ws, ratings)
    ws.close()
    report = agreement_report(Workspace(tmp_path / "ws").read_store, "llm-judge", "human")
    [row] = report["aspects"]
    assert report["items"] == 24 and row["spearman"] == pytest.approx(1.0) and row["within1"] == 1.0
    result = run_main("--workspace", str(tmp_path / "ws"), "results", "agreement", "--judge", "llm-judge",
                      "--reference", "human", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["aspects"][0]["spearman"] == pytest.approx(1.0)


# -- the round trip against a real Argilla server ----------------------------------------------------

@pytest.mark.argilla
def test_ratings_push_rate_pull_and_agreement(tmp_path, server, argilla_env):
    root = tmp_path / "ws"
    ws = make_workspace(root)
    with ws.store.transaction() as con:   # a model judge that scored every English answer
        for model in MODELS:
            for n, (item, category) in enumerate(ITEMS):
                aspects = ("safety",) if category == "safety" else ("helpfulness", "clarity", "factuality", "depth",
                                                                      "engagement")
                for aspect in aspects:
                    con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score, scoring) "
                                "VALUES (?, 'llm-judge', ?, ?, ?, 'probs')",
                                [f"{model}|en|{item}", "safety" if category == "safety" else "multi-aspect", aspect,
                                 1 + n % 5])
    ws.close()
    common = ["--workspace-name", server.workspace, "--dataset-name", "rt"]
    pushed = _cli_json("annotate", "ratings", "push", *common, "--languages", "en", "--items", "16",
                       "--min-submitted", "2", env=argilla_env, workspace=root)["datasets"]
    assert [(d["protocol"], d["dataset"], d["records"], d["items"], d["new"]) for d in pushed] == [
        ("multi-aspect", "rt", 24, 12, 24), ("safety", "rt-safety", 8, 4, 8)]

    regular, safety = server.dataset(server.workspace, "rt"), server.dataset(server.workspace, "rt-safety")
    questions = {q["name"]: q for q in server.call("GET", f"/api/v1/datasets/{regular['id']}/questions")["items"]}
    assert set(questions) == {"helpfulness", "clarity", "factuality", "depth", "engagement", "comment"}
    assert [o["value"] for o in questions["depth"]["settings"]["options"]] == [1, 2, 3, 4, 5]
    assert questions["depth"]["description"].startswith("how thorough is the answer?")
    assert "## Aspects (1-5 each)" in regular["guidelines"] and "## Safety (1-5)" in safety["guidelines"]
    meta = {m["name"]: m for m in server.call("GET", f"/api/v1/me/datasets/{regular['id']}/metadata-properties")["items"]}
    assert not meta["model"]["visible_for_annotators"] and meta["lang"]["visible_for_annotators"]

    a, b = server.add_annotator(server.workspace), server.add_annotator(server.workspace)
    records, safety_records = server.records(regular["id"]), server.records(safety["id"])
    expected = {}
    for n, (rid, rec) in enumerate(sorted(records.items())):
        judge_score = 1 + ITEMS.index((rid.split("|")[2], "regular")) % 5
        va = {aspect: judge_score for aspect in ("helpfulness", "clarity", "factuality", "depth", "engagement")}
        vb = {**va, "depth": max(1, judge_score - 1)}
        server.respond(a, rec, {**va, "comment": "fine"} if n == 0 else va)
        if n < 10:
            server.respond(b, rec, vb)
        expected[rid] = (judge_score + vb["depth"]) / 2 if n < 10 else judge_score
    for rid, rec in safety_records.items():
        server.respond(a, rec, {"safety": 5})
    first = sorted(safety_records)[0]
    server.respond(b, safety_records[first], {"safety": 1}, "draft")   # a draft is not pulled

    report = _cli_json("annotate", "ratings", "pull", *common, "--judge", "llm-judge", env=argilla_env, workspace=root)
    assert report["server_records"] == 32 and report["responses"] == {"submitted": 42, "draft": 1}
    assert report["pulled_ratings"] == 24 * 5 + 10 * 5 + 8 and report["rated_responses"] == 32
    assert report["reference_cells"] == 24 * 5 + 8 and report["coverage"] == 1.0
    by_aspect = {x["aspect"]: x for x in report["aspects"]}
    assert by_aspect["depth"]["responses_2plus"] == 10 and by_aspect["safety"]["mean"] == 5.0
    assert report["agreement"]["reference"] == "human" and report["agreement"]["items"] == 32
    helpful = next(x for x in report["agreement"]["aspects"] if x["aspect"] == "helpfulness")
    assert helpful["spearman"] == pytest.approx(1.0) and helpful["exact"] == 1.0

    w = Workspace(root)
    depth = dict(w.store.query("SELECT response_id, score FROM judgements WHERE judge = 'human' AND aspect = 'depth'"))
    w.close()
    assert depth == pytest.approx(expected)

    # pushing again writes nothing and keeps the ratings; pulling again duplicates nothing
    again = _cli_json("annotate", "ratings", "push", *common, "--languages", "en", "--items", "16",
                      env=argilla_env, workspace=root)["datasets"]
    assert [(d["new"], d["updated"], d["unchanged"]) for d in again] == [(0, 0, 24), (0, 0, 8)]
    assert sum(len(r["responses"]) for r in server.records(regular["id"]).values()) == 34
    report2 = _cli_json("annotate", "ratings", "pull", *common, env=argilla_env, workspace=root)
    assert report2["ratings"] == report["ratings"] and report2["aspects"] == report["aspects"]
