"""Judge agreement (``bench results agreement``): statistics on synthetic stores, a hand-computed
fixture, the real published just-eval judgements from ../shared, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines.judging.agreement import agreement_report
from baselines.judging.agreement_report import agreement_markdown, render_table
from bench.store import Store
from tests.helpers import SHARED, need_shared, run_main

JUDGEMENTS = SHARED / "data" / "just-eval-instruct" / "judgements"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_store(path: Path, cells) -> Store:
    """A store with one response per (model, lang, item) and the given judgements.

    ``cells``: iterable of (model, lang, item_id, output, {judge: {aspect: score}}).
    """
    store = Store(path / "bench.duckdb")
    with store.transaction() as con:
        for model, lang, item, output, scores in cells:
            rid = f"{model}|{lang}|{item}"
            con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                        "output) VALUES (?, ?, ?, 'chat', ?, ?, 'do it', ?)", [rid, model, model, lang, item, output])
            for judge, aspects in scores.items():
                for aspect, score in aspects.items():
                    con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                                "VALUES (?, ?, 'multi-aspect', ?, ?)", [rid, judge, aspect, score])
    return store


def aspect(report: dict, name: str) -> dict:
    return next(a for a in report["aspects"] if a["aspect"] == name)


# -- (a) a perfect copy agrees fully, a shuffled copy does not --------------------------------------

MODELS = ("gpt-small", "llama-base", "qwen-chat", "mistral-tiny")


def synthetic_cells(judge_scores: np.ndarray, ref_scores: np.ndarray, judge: str = "copy"):
    i = 0
    for item in range(100):
        for model in MODELS:
            yield (model, "en", f"item{item}", "word " * int(1 + ref_scores[i] * 3),
                   {"ref": {"helpfulness": float(ref_scores[i])}, judge: {"helpfulness": float(judge_scores[i])}})
            i += 1


@pytest.fixture
def reference_scores() -> np.ndarray:
    rng = np.random.default_rng(7)
    offsets = np.tile(np.arange(len(MODELS)), 100) * 0.5  # systems differ on average
    return np.clip(np.round(rng.normal(2.0, 1.2, 400) + offsets), 1, 5)


def test_perfect_copy_agrees_fully(tmp_path, reference_scores):
    store = make_store(tmp_path, synthetic_cells(reference_scores, reference_scores))
    row = aspect(agreement_report(store, "copy", "ref"), "helpfulness")
    assert row["n"] == 400
    assert row["spearman"] == pytest.approx(1.0) and row["kendall"] == pytest.approx(1.0)
    assert row["exact"] == 1.0 and row["within1"] == 1.0 and row["mad"] == 0.0
    assert row["pairwise"]["accuracy"] == 1.0 and row["pairwise"]["judge_ties"] == 0.0
    assert row["pairwise"]["pairs"] > 300
    assert row["system"]["systems"] == 4
    assert row["system"]["spearman"] == pytest.approx(1.0) and row["system"]["kendall"] == pytest.approx(1.0)
    # longer answers got higher reference scores: both sides show the same (perfect) length bias
    assert row["length"]["judge"] == pytest.approx(1.0) and row["length"]["reference"] == pytest.approx(1.0)


def test_shuffled_judge_does_not_agree(tmp_path, reference_scores):
    shuffled = np.random.default_rng(11).permutation(reference_scores)
    store = make_store(tmp_path, synthetic_cells(shuffled, reference_scores, judge="shuffled"))
    row = aspect(agreement_report(store, "shuffled", "ref"), "helpfulness")
    assert row["n"] == 400
    assert abs(row["spearman"]) < 0.15 and abs(row["kendall"]) < 0.15
    assert row["exact"] < 0.5 and row["pairwise"]["accuracy"] < 0.6
    assert abs(row["length"]["judge"]) < 0.15 and row["length"]["reference"] == pytest.approx(1.0)


# -- (b) a 12-cell fixture computed by hand ---------------------------------------------------------

# cell:        0  1  2  3  4  5  6  7  8  9 10 11
REF_12 = [1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5]
JUDGE_12 = [1, 2, 1, 2, 3, 3, 4, 3, 5, 4, 5, 5]
# Spearman = Pearson of average ranks.
#   ref ranks   R = 1.5 1.5 4 4 4 6.5 6.5 8.5 8.5 11 11 11
#   judge ranks J = 1.5 3.5 1.5 3.5 6 6 8.5 6 11 8.5 11 11      (both means 6.5)
#   sum (R-6.5)(J-6.5) = 25+15+12.5+7.5+1.25+0+0-1+9+9+20.25+20.25 = 118.75
#   sum (R-6.5)^2 = sum (J-6.5)^2 = 137.5          -> rho = 118.75 / 137.5 = 19/22
# Kendall tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)), n0 = 66 pairs
#   ties in ref: groups 2,3,2,2,3 -> n1 = 1+3+1+1+3 = 9; in judge: 2,2,3,2,3 -> n2 = 9
#   concordant per first cell 0..8: 9,8,7,7,5,4,3,3,0 -> C = 46; discordant (1,2),(6,7),(8,9) -> D = 3
#   tau-b = 43 / 57
# |judge - ref| = 0 1 1 0 1 0 1 1 1 1 0 0 -> mean 7/12, exact 5/12, within 1: 12/12
# Answers to one item (model a, model b): (0,6) ref prefers 6, judge too; (1,2) ref prefers 2, judge 1;
#   (3,4) ref tie; (5,7) ref prefers 7, judge tie; (8,9) ref prefers 9, judge 8; (10,11) ref tie
#   -> 4 pairs: accuracy 1/4, judge ties 1/4, opposite 2/4; 2 reference ties
PAIRS_12 = [(0, 6), (1, 2), (3, 4), (5, 7), (8, 9), (10, 11)]


def hand_fixture_cells():
    for item, (first, second) in enumerate(PAIRS_12):
        for model, cell in (("model-a", first), ("model-b", second)):
            yield (model, "en", f"q{item}", f"answer {cell}",
                   {"ref": {"depth": REF_12[cell]}, "judge": {"depth": JUDGE_12[cell]}})


def test_hand_computed_fixture(tmp_path):
    store = make_store(tmp_path, hand_fixture_cells())
    report = agreement_report(store, "judge", "ref")
    assert report["items"] == 12 and report["cells"] == 12
    row = aspect(report, "depth")
    assert row["spearman"] == pytest.approx(19 / 22, abs=1e-12)
    assert row["kendall"] == pytest.approx(43 / 57, abs=1e-12)
    assert row["mad"] == pytest.approx(7 / 12) and row["exact"] == pytest.approx(5 / 12) and row["within1"] == 1.0
    assert row["pairwise"] == {"pairs": 4, "accuracy": 0.25, "judge_ties": 0.25, "opposite": 0.5,
                               "reference_ties": 2}
    assert row["system"] == {"systems": 2, "spearman": None, "kendall": None, "note": "n/a (2 systems)"}
    text = render_table(report)
    assert "0.864" in text and "0.754" in text and "n/a (2 systems)" in text


def test_language_bias_and_self_preference(tmp_path):
    """The judge 'gpt-judge' gives its own family's answers +1 and French answers -1; the reference does not."""
    cells = []
    for item in range(12):
        for model in ("gpt-mini", "llama-small"):
            base = 1 + (item % 4)
            own = 1 if model == "gpt-mini" else 0
            cells.append((model, "en", f"i{item}", "x", {"ref": {"clarity": base}, "gpt-judge": {"clarity": base + own}}))
            if model == "llama-small":  # French answers: only the judge scores them, one point lower
                cells.append((model, "fr", f"i{item}", "x", {"gpt-judge": {"clarity": base - 1}}))
    store = make_store(tmp_path, cells)
    report = agreement_report(store, "gpt-judge", "ref")
    assert report["items"] == 24  # the French answers are not in common
    assert report["language_bias"] == [{"aspect": "clarity", "lang": "fr", "judge": -1.0, "judge_n": 12,
                                        "reference": None, "reference_n": 0}]
    assert report["families"] == ["gpt"]
    sp = aspect(report, "clarity")["self_preference"]["gpt"]
    assert sp["n_family"] == 12 and sp["n_other"] == 12
    assert sp["judge_gap"] == pytest.approx(1.0) and sp["reference_gap"] == pytest.approx(0.0)
    assert sp["difference"] == pytest.approx(1.0)
    md = agreement_markdown(store, "gpt-judge", "ref")
    assert "| fr - en | -1.000 | 12 | n/a | 0 |" in md and "| gpt | clarity | 12 | 12 | +1.000 | +0.000 | +1.000 |" in md


# -- (c) the published just-eval judgements through the CLI ------------------------------------------

def test_cli_on_published_just_eval_files(tmp_path):
    chatgpt = need_shared(JUDGEMENTS / "multi-aspect" / "example.0.score_multi.chatgpt.json")
    gpt4 = need_shared(JUDGEMENTS / "multi-aspect" / "example.0.score_multi.gpt-4.json")
    safety = need_shared(JUDGEMENTS / "safety" / "gpt-3.5-turbo-0301.json")
    turbo_safety = sorted((JUDGEMENTS / "multi-aspect").glob("gpt-4-turbo.gpt-3.5-turbo-0301.safety.*.json"))
    assert len(turbo_safety) == 2
    ws = str(tmp_path / "ws")
    imported = run_main("--workspace", ws, "results", "import-just-eval", str(chatgpt), str(gpt4), str(safety),
                        *map(str, turbo_safety))
    assert imported.exit_code == 0, imported.output

    # The same 6 Llama-2-7b-hf answers judged by gpt-4-0314 and by gpt-3.5-turbo-0613 (ChatGPT).
    # depth, ChatGPT (reference) 2 2 4 4 3 1 -> ranks 2.5 2.5 5.5 5.5 4 1
    #        GPT-4 (judge)       2 2 3 5 2 1 -> ranks 3 3 5 6 3 1        (both means 3.5)
    # rho = 15 / sqrt(16.5 * 15.5); tau-b: C = 11, D = 0, ties 2 (ref) and 3 (judge) of 15 pairs
    #   -> 11 / sqrt(13 * 12); |diff| 0 0 1 1 1 0 -> exact 0.5, within 1: 1.0, mean 0.5
    png = tmp_path / "agreement.png"
    result = run_main("--workspace", ws, "results", "agreement", "--judge", "gpt-4-0314",
                      "--reference", "gpt-3.5-turbo-0613", "--min-items", "5", "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert "Agreement of gpt-4-0314 with gpt-3.5-turbo-0613" in result.stdout
    assert "0.938" in result.stdout and "0.881" in result.stdout  # the depth row
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000

    as_json = run_main("--workspace", ws, "results", "agreement", "--judge", "gpt-4-0314",
                       "--reference", "gpt-3.5-turbo-0613", "--min-items", "5", "--aspect", "depth", "--json")
    report = json.loads(as_json.stdout)
    assert [a["aspect"] for a in report["aspects"]] == ["depth"]
    depth = report["aspects"][0]
    assert depth["n"] == 6
    assert depth["spearman"] == pytest.approx(15 / (16.5 * 15.5) ** 0.5, abs=1e-12)
    assert depth["kendall"] == pytest.approx(11 / (13 * 12) ** 0.5, abs=1e-12)
    assert (depth["exact"], depth["within1"], depth["mad"]) == (0.5, 1.0, 0.5)

    # Safety of gpt-3.5-turbo-0301's 200 safety answers: GPT-4-turbo against ChatGPT.
    safety_run = run_main("--workspace", ws, "results", "agreement", "--judge", "gpt-4-1106-preview",
                          "--reference", "gpt-3.5-turbo-0613", "--json")
    assert safety_run.exit_code == 0, safety_run.output
    row = json.loads(safety_run.stdout)["aspects"][0]
    pairs = {}
    for path in [safety, *turbo_safety]:
        for it in json.loads(Path(path).read_text(encoding="utf-8")):
            pairs.setdefault(str(it["id"]), []).append(it)
    assert row["aspect"] == "safety" and row["n"] == 200 == len(pairs)
    assert 0.5 < row["spearman"] <= 1.0 and 0.9 < row["within1"] <= 1.0


# -- (d) bad input -------------------------------------------------------------------------------------

def test_bad_input_one_line_naming_it(tmp_path):
    cells = [(m, "en", f"i{i}", "x", {"ref": {"depth": 1 + i % 5}, "judge": {"depth": 1 + i % 3}})
             for i in range(8) for m in ("a",)]
    cells += [("b", "en", f"i{i}", "x", {"other": {"depth": 3}}) for i in range(20)]
    make_store(tmp_path, cells).close()
    ws = str(tmp_path)

    def error(*args: str) -> str:
        result = run_main("--workspace", ws, "results", "agreement", *args)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        return lines[0]

    line = error("--judge", "judge", "--reference", "human-raters")
    assert "unknown reference 'human-raters'" in line and "'ref'" in line
    line = error("--judge", "nobody", "--reference", "ref")
    assert "unknown judge 'nobody'" in line
    line = error("--judge", "other", "--reference", "ref")
    assert "'other'" in line and "'ref'" in line and "no scored items in common" in line
    line = error("--judge", "judge", "--reference", "ref")
    assert "judge 'judge' has only 8 scored item(s) in common with reference 'ref'" in line
    assert "at least 10" in line
    assert run_main("--workspace", ws, "results", "agreement", "--judge", "judge", "--reference", "ref",
                    "--min-items", "8").exit_code == 0
