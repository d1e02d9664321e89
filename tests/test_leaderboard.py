"""Leaderboard: reproduction of the published just-eval numbers, formats, filters, CIs, imports.

The reproduction imports the real published judgement files from ../shared (read in place) and
checks ``bench leaderboard --format json --na-as-five`` against just-eval's published table.
Everything else runs on small synthetic stores built here.
"""
from __future__ import annotations

import glob
import json
import statistics
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from baselines.leaderboard.cli import leaderboard
from baselines.judging.results_cli import results
from bench.cli import cli

SHARED = Path(__file__).resolve().parents[2] / "shared"
JUST_EVAL = SHARED / "data" / "just-eval-instruct"
INSTRUCTIONS = JUST_EVAL / "just_eval_instruct.jsonl"
SAFETY_FILES = sorted(glob.glob(str(JUST_EVAL / "judgements" / "safety" / "*.json")))
TURBO_FILES = sorted(glob.glob(str(JUST_EVAL / "judgements" / "multi-aspect" / "gpt-4-turbo.gpt-3.5-turbo-0301.*.json")))
TURBO = "gpt-4-1106-preview"
CHATGPT = "gpt-3.5-turbo-0613"
ASPECTS5 = ("helpfulness", "clarity", "factuality", "depth", "engagement")

cli.add_command(results)
cli.add_command(leaderboard)


def need_shared() -> None:
    if not INSTRUCTIONS.exists() or len(SAFETY_FILES) != 7 or len(TURBO_FILES) != 10:
        pytest.skip(f"published just-eval judgements not found under {JUST_EVAL} (../shared is absent)")


def invoke(workspace: Path, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--workspace", str(workspace), *args])
    if ok:
        assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result


def board(workspace: Path, *args: str) -> list[dict]:
    return json.loads(invoke(workspace, "leaderboard", "--format", "json", *args).stdout)


def half_up(value: float, places: str = "0.01") -> str:
    return str(Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def find(rows: list[dict], **keys) -> dict:
    matches = [r for r in rows if all(r.get(k) == v for k, v in keys.items())]
    assert len(matches) == 1, (keys, matches)
    return matches[0]


# -- synthetic just-eval files -----------------------------------------------------------------

def je_item(item_id, output, scores: dict, *, judge="judge-x", generator="runs//model-a.json",
            literal_strings=True, instruction=None):
    mode = "score_safety" if list(scores) == ["safety"] else "score_multi"
    parsed = {a: {"reason": f"because {a}", "score": str(s)} for a, s in scores.items()}
    config = {"mode": mode, "gpt": judge, "max_words": -1}
    return {"id": item_id, "input": instruction or f"instruction {item_id}", "output_cand": output,
            "generator_cand": generator, "eval_config": repr(config) if literal_strings else config,
            "prompt": "...", "result": json.dumps(parsed), "parsed_result": repr(parsed) if literal_strings else parsed}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def synthetic_file(path: Path, n=6, *, na_every=3, **kw) -> Path:
    items = []
    for i in range(n):
        scores = {a: ("N/A" if a == "factuality" and i % na_every == 0 else 1 + (i + k) % 5)
                  for k, a in enumerate(ASPECTS5)}
        items.append(je_item(i, " ".join(["word"] * (i + 1)), scores, **kw))
    return write_json(path, items)


def counts(workspace: Path) -> tuple[int, int, int]:
    from bench.store import Store

    store = Store(workspace / "bench.duckdb")
    try:
        return tuple(store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("responses", "judgements", "runs"))
    finally:
        store.close()


# -- the published reproduction ----------------------------------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    need_shared()
    ws = tmp_path_factory.mktemp("published-ws")
    invoke(ws, "results", "import-just-eval", "--source", str(INSTRUCTIONS), *SAFETY_FILES, *TURBO_FILES)
    return ws


def test_reproduces_published_just_eval_numbers(published):
    rows = board(published, "--na-as-five")
    safety = {  # just-eval's published safety column (judge gpt-3.5-turbo-0613)
        "gpt-4-0613": "4.97", "gpt-3.5-turbo-0301": "4.94", "Llama-2-7b-chat-hf": "5.00",
        "vicuna-7b-v1.5": "4.60", "Mistral-7B-Instruct-v0.1": "4.75",
    }
    for model, expected in safety.items():
        row = find(rows, model=model, judge=CHATGPT)
        assert half_up(row["safety"]) == expected, (model, row["safety"])
        assert row["n"] == 200 and row["missing_rate"] == 0.0
    assert find(rows, model="Mistral-7B-Instruct-v0.1", judge=CHATGPT)["safety"] == pytest.approx(4.745)

    turbo = find(rows, model="gpt-3.5-turbo-0301", judge=TURBO, method="published", language="en")
    expected = {"helpfulness": "4.61", "clarity": "4.91", "factuality": "4.57", "depth": "3.42",
                "engagement": "3.46", "safety": "4.88"}
    assert {a: half_up(turbo[a]) for a in expected} == expected
    assert turbo["safety"] == pytest.approx(4.875)  # 4.88 only with half-up rounding
    assert turbo["factuality"] == pytest.approx(4.56625) and turbo["depth"] == pytest.approx(3.4175)
    assert turbo["overall"] == pytest.approx(sum(turbo[a] for a in ASPECTS5) / 5)
    assert half_up(turbo["length"], "0.1") == "154.0"
    # length = mean len(output.split()) over the 800 regular items
    regular = [it for f in TURBO_FILES if ".general." in f for it in json.loads(Path(f).read_text())]
    assert len(regular) == 800
    assert turbo["length"] == pytest.approx(statistics.mean(len(it["output_cand"].split()) for it in regular))
    assert turbo["n"] == 1000 and turbo["missing_rate"] == 0.0


def test_na_missing_by_default_differs_from_na_as_five(published):
    default = find(board(published, "--judge", TURBO, "--no-ci"), model="gpt-3.5-turbo-0301")
    five = find(board(published, "--judge", TURBO, "--no-ci", "--na-as-five"), model="gpt-3.5-turbo-0301")
    assert half_up(default["factuality"]) == "4.54" and half_up(default["depth"]) == "3.41"
    assert five["factuality"] > default["factuality"] and five["depth"] > default["depth"]
    for aspect in ("helpfulness", "clarity", "engagement", "safety"):  # no N/A there
        assert five[aspect] == default[aspect]
    assert default["missing_rate"] == pytest.approx(43 / 4200)  # 39 factuality + 4 depth N/A of 4,200 cells
    assert five["missing_rate"] == 0.0


def test_filters_and_grouping(published):
    instructions = [json.loads(line) for line in INSTRUCTIONS.read_text().splitlines() if line.strip()]
    regular = [r for r in instructions if r["category"] == "regular"]

    def n_for(*args):
        return find(board(published, "--judge", TURBO, "--no-ci", *args), model="gpt-3.5-turbo-0301")["n"]

    assert n_for("--difficulty", "hard") == sum(r["difficulty"] == "hard" for r in regular)
    assert n_for("--task", "coding") == sum("coding" in r["task"] for r in regular)
    assert n_for("--topic", "stem") == sum("stem" in r["topic"] for r in regular)
    assert n_for("--source", "lima") == sum(r["dataset"] == "lima" for r in instructions)
    assert n_for("--category", "safety") == 200
    assert n_for("--task", "coding", "--task", "math") == sum(bool({"coding", "math"} & set(r["task"])) for r in regular)
    by_task = board(published, "--judge", TURBO, "--no-ci", "--by", "task")
    info = find(by_task, task="info-seek")
    assert info["n"] == sum("info-seek" in r["task"] for r in regular)
    assert find(by_task, task=None)["n"] == 200  # safety items have no task
    by_source = board(published, "--judge", TURBO, "--no-ci", "--by", "source")
    assert sum(r["n"] for r in by_source) == 1000
    safety_only = find(board(published, "--judge", TURBO, "--no-ci", "--category", "safety"), model="gpt-3.5-turbo-0301")
    assert safety_only["helpfulness"] is None and safety_only["overall"] == safety_only["safety"]
    # user values are parameters: a hostile value just matches nothing
    assert board(published, "--no-ci", "--source", "x'; DROP TABLE responses; --") == []
    assert len(board(published, "--no-ci")) == 8


def test_cis_contain_point_estimates(published):
    rows = board(published, "--na-as-five")
    checked = 0
    for row in rows:
        for col in (*ASPECTS5, "safety", "overall"):
            if row[col] is None:
                assert row[f"{col}_ci"] is None
                continue
            low, high = row[f"{col}_ci"]
            assert low - 1e-12 <= row[col] <= high + 1e-12, (row["model"], col, row[col], low, high)
            checked += 1
    assert checked == 7 * 2 + 7  # safety + overall for the 7 safety rows, 7 columns for the GPT-4-turbo row
    assert rows == board(published, "--na-as-five")  # seeded: identical on a rerun


def test_paired_comparison_same_method(published):
    out = invoke(published, "leaderboard", "compare", "--model", "gpt-3.5-turbo-0301", "--language", "en",
                 "--a", "published", "--b", "published", "--format", "json", "--resamples", "2000").stdout
    res = json.loads(out)
    assert res["judge"] == TURBO and res["n"] == 800
    assert res["diff"] == 0.0 and res["ci"] == [0.0, 0.0] and res["p_value"] == pytest.approx(1.0)
    text = invoke(published, "leaderboard", "compare", "--model", "gpt-3.5-turbo-0301", "--language", "en",
                  "--a", "published", "--b", "published", "--aspect", "safety", "--judge", CHATGPT).stdout
    assert "diff +0.000" in text and "p = 1.0000" in text


def test_export_judgements_is_deterministic(published, tmp_path):
    import pyarrow.parquet as pq

    from baselines.leaderboard.export import export_judgements, export_schema
    from bench.store import Store

    store = Store(published / "bench.duckdb")
    try:
        first = export_judgements(store, tmp_path / "a")
        second = export_judgements(store, tmp_path / "b")
    finally:
        store.close()
    assert first.read_bytes() == second.read_bytes()
    table = pq.read_table(first)
    assert table.schema.equals(export_schema())
    assert table.num_rows == 7 * 200 + 1000  # one row per response and judge
    rows = table.to_pylist()
    keys = [(r["model"], r["method"], r["lang"], int(r["id"]), r["judge"]) for r in rows]
    assert keys == sorted(keys)
    turbo = [r for r in rows if r["judge"] == TURBO and r["id"] == "0"][0]
    assert turbo["helpfulness_score"] is not None and turbo["helpfulness_reason"] and turbo["safety_score"] is None


def test_plot_files(published, tmp_path):
    out = tmp_path / "board.png"
    invoke(published, "leaderboard", "--no-ci", "--plot", str(out), "--format", "csv")
    for path in (out, tmp_path / "board_errors.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


# -- synthetic stores --------------------------------------------------------------------------

def test_every_format_renders_and_escapes(tmp_path):
    ws = tmp_path / "ws"
    evil = '<script>alert("x")</script> & co_{1}|%'
    f = synthetic_file(tmp_path / "evil.json", judge="j<b>")
    invoke(ws, "results", "import-just-eval", str(f), "--model", evil)
    outputs = {}
    for fmt in ("table", "markdown", "csv", "json", "latex", "html"):
        target = tmp_path / f"board.{fmt}"
        invoke(ws, "leaderboard", "--format", fmt, "--out", str(target))
        outputs[fmt] = target.read_text(encoding="utf-8")
        assert outputs[fmt].strip()
    page = outputs["html"]
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co_{1}|%" in page
    assert page.startswith("<!DOCTYPE html>") and "±" in page
    rows = json.loads(outputs["json"])
    assert isinstance(rows, list) and rows[0]["model"] == evil and rows[0]["judge"] == "j<b>"
    assert isinstance(rows[0]["helpfulness_ci"], list) and len(rows[0]["helpfulness_ci"]) == 2
    assert r"\&lt;" not in outputs["latex"] and r"co\_\{1\}\textbar{}\%" in outputs["latex"]
    assert "\\toprule" in outputs["latex"] and "\\bottomrule" in outputs["latex"]
    assert r"co\_{1}\|%" in outputs["markdown"] and "<script>" not in outputs["markdown"]
    assert "&lt;script&gt;" in outputs["markdown"] and "j&lt;b&gt;" in outputs["markdown"]
    assert outputs["csv"].splitlines()[0].startswith("model,method,language,judge,helpfulness")
    assert "±" in outputs["table"] and evil[:20] in outputs["table"]
    # stdout without --out, too
    assert "Helpf." in invoke(ws, "leaderboard").stdout


def test_reimport_is_idempotent_and_keeps_metadata(tmp_path):
    ws = tmp_path / "ws"
    f = synthetic_file(tmp_path / "run.json")
    source = write_json(tmp_path / "src.json", [{"id": i, "instruction": f"instruction {i}", "dataset": "lima",
                                                  "category": "regular", "task": ["math"], "topic": ["stem"],
                                                  "difficulty": "hard"} for i in range(6)])
    invoke(ws, "results", "import-just-eval", "--source", str(source), str(f))
    first = board(ws)
    n_resp, n_judg, _ = counts(ws)
    assert (n_resp, n_judg) == (6, 30)
    invoke(ws, "results", "import-just-eval", str(f))  # again, without --source
    invoke(ws, "results", "import-just-eval", str(f), "--source", str(source))
    assert counts(ws)[:2] == (6, 30)
    assert board(ws) == first
    assert find(board(ws, "--difficulty", "hard"), model="model-a")["n"] == 6


def test_foreign_format_fails_in_one_line_and_writes_nothing(tmp_path, capsys):
    from bench.cli import main

    ws = tmp_path / "ws"
    good = synthetic_file(tmp_path / "good.json")
    items = [je_item(i, "out", {"safety": 5}) for i in range(5)]
    del items[3]["result"]
    bad_field = write_json(tmp_path / "bad_field.json", items)
    cases = [
        (write_json(tmp_path / "object.json", {"data": items}), ["object.json", "JSON list"]),
        (bad_field, ["bad_field.json", "record index 3", "field 'result'"]),
        (write_json(tmp_path / "bad_config.json", [dict(je_item(0, "o", {"safety": 5}), eval_config="{'mode': ")]),
         ["bad_config.json", "record index 0", "field 'eval_config'"]),
        (write_json(tmp_path / "bad_mode.json", [je_item(0, "o", {"safety": 5}) | {"eval_config": {"mode": "pairwise"}}]),
         ["record index 0", "field 'eval_config.mode'"]),
        (write_json(tmp_path / "alpaca.json", [{"instruction": "x", "output": "y"}]),
         ["record index 0", "field 'id'"]),
    ]
    for path, needles in cases:
        with pytest.raises(SystemExit) as exc:
            main(["--workspace", str(ws), "results", "import-just-eval", str(good), str(path)])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        for needle in needles:
            assert needle in err, (needle, err)
        assert not ws.exists()  # nothing written: not even the workspace, nor the valid file before it


def test_parse_fallback_na_and_inferred_category(tmp_path):
    ws = tmp_path / "ws"
    items = [je_item(800 + i, "I cannot help with that.", {"safety": s}) for i, s in enumerate((5, 4, "N/A"))]
    items[0]["parsed_result"] = "not a dict at all"  # falls back to parsing the raw judge text
    items[1]["parsed_result"] = None
    f = write_json(tmp_path / "safety.json", items)
    report = json.loads(invoke(ws, "results", "import-just-eval", str(f), "--model", "m", "--json").stdout)
    assert report["files"][0]["parsed_from_result"] == 2 and report["files"][0]["not_applicable"] == 1
    row = find(board(ws, "--by", "category"), model="m")
    assert row["category"] == "safety" and row["safety"] == pytest.approx(4.5) and row["missing_rate"] == pytest.approx(1 / 3)
    assert find(board(ws, "--na-as-five"), model="m")["safety"] == pytest.approx(14 / 3)


def test_conflicting_output_is_refused(tmp_path):
    ws = tmp_path / "ws"
    invoke(ws, "results", "import-just-eval", str(synthetic_file(tmp_path / "a.json")))
    items = json.loads((tmp_path / "a.json").read_text())
    items[2]["output_cand"] = "a different answer"
    result = invoke(ws, "results", "import-just-eval", str(write_json(tmp_path / "b.json", items)), ok=False)
    assert result.exit_code != 0 and "record index 2" in str(result.exception)
    assert "output_cand" in str(result.exception)


def _insert(store, responses, judgements=(), checks=()):
    import pyarrow as pa

    with store.transaction() as con:
        for table, rows in (("responses", responses), ("judgements", judgements), ("critical_error_checks", checks)):
            if rows:
                data = pa.Table.from_pylist(list(rows))
                con.register("_t", data)
                con.execute(f"INSERT INTO {table} ({', '.join(data.column_names)}) SELECT * FROM _t")
                con.unregister("_t")


def _synthetic_store(path: Path, methods=("zero-shot", "urial"), n=40):
    from bench.ids import response_id, run_key
    from bench.store import Store

    store = Store(path)
    responses, judgements = [], []
    for m_index, method in enumerate(methods):
        key = run_key(model="tiny", method=method)
        for i in range(n):
            rid = response_id(key, i, "fr")
            output = "mot\u3000mot\xa0mot\x0bmot  \n mot\x1cmot" if i == 0 else " ".join(["w"] * (i + 1))
            responses.append({"response_id": rid, "run_key": key, "model": "tiny", "method": method, "lang": "fr",
                              "item_id": str(i), "instruction": "q", "category": "regular", "output": output})
            for a in ASPECTS5:
                score = float(1 + (i * 7 + len(a)) % 4) + (1.0 if m_index == 1 else 0.0)
                judgements.append({"response_id": rid, "judge": "j", "protocol": "multi-aspect", "aspect": a,
                                   "score": score, "raw_score": str(score)})
    _insert(store, responses, judgements)
    return store, responses


def test_paired_test_detects_a_shift_and_word_count_matches_python(tmp_path):
    from baselines.leaderboard.paired import paired_test
    from baselines.leaderboard.queries import leaderboard_rows

    store, responses = _synthetic_store(tmp_path / "s.duckdb")
    try:
        res = paired_test(store, "tiny", "fr", "urial", "zero-shot", resamples=2000)
        assert res["n"] == 40 and res["diff"] == pytest.approx(1.0) and res["ci"] == pytest.approx([1.0, 1.0])
        assert res["p_value"] < 0.01
        same = paired_test(store, "tiny", "fr", "urial", "urial", aspect="depth")
        assert same["diff"] == 0.0 and same["p_value"] == pytest.approx(1.0)
        rows = leaderboard_rows(store, filters={"method": "zero-shot"})
        expected = statistics.mean(len(r["output"].split()) for r in responses if r["method"] == "zero-shot")
        assert rows[0]["length"] == pytest.approx(expected)
        assert rows[0]["overall"] == pytest.approx(sum(rows[0][a] for a in ASPECTS5) / 5)
    finally:
        store.close()


def _two_language_store(path: Path, gaps: dict[str, float], n: int = 30, seed: int = 3,
                        sides=(("tiny", "zero-shot"), ("tiny", "urial"))):
    """Side B (``sides[1]``) = side A + gap + noise in each language of ``gaps`` (default: model 'tiny',
    urial vs zero-shot)."""
    import numpy as np

    from bench.ids import response_id, run_key
    from bench.store import Store

    rng = np.random.default_rng(seed)
    store = Store(path)
    responses, judgements = [], []
    for lang, gap in gaps.items():
        base = rng.integers(1, 4, size=n).astype(float)
        for (model, method), shift in zip(sides, (0.0, gap)):
            key = run_key(model=model, method=method)
            noise = rng.normal(0, 0.3, size=n)
            for i in range(n):
                rid = response_id(key, i, lang)
                responses.append({"response_id": rid, "run_key": key, "model": model, "method": method,
                                  "lang": lang, "item_id": str(i), "instruction": "q", "category": "regular",
                                  "output": "w w"})
                for a in ASPECTS5:
                    score = float(base[i] + shift + noise[i])
                    judgements.append({"response_id": rid, "judge": "j", "protocol": "multi-aspect", "aspect": a,
                                       "score": score, "raw_score": str(score)})
    _insert(store, responses, judgements)
    return store


def test_gap_test_finds_a_wider_gap_in_another_language(tmp_path):
    from baselines.leaderboard.paired import gap_test, paired_test
    from bench.errors import BenchError

    store = _two_language_store(tmp_path / "s.duckdb", {"en": 0.3, "fr": 1.3})
    try:
        res = gap_test(store, "tiny", "fr", "en", "urial", "zero-shot", resamples=4000)
        fr = paired_test(store, "tiny", "fr", "urial", "zero-shot", resamples=4000)
        en = paired_test(store, "tiny", "en", "urial", "zero-shot", resamples=4000)
        assert res["n"] == 30 and res["judge"] == "j"
        assert res["gap"] == pytest.approx(fr["diff"]) and res["base_gap"] == pytest.approx(en["diff"])
        assert res["diff"] == pytest.approx(fr["diff"] - en["diff"])
        assert 0.6 < res["diff"] < 1.4 and res["ci"][0] > 0 and res["p_value"] < 0.01
        with pytest.raises(BenchError, match="not with itself"):
            gap_test(store, "tiny", "fr", "fr", "urial", "zero-shot")
        with pytest.raises(BenchError, match="in both fr and es"):
            gap_test(store, "tiny", "fr", "es", "urial", "zero-shot")
    finally:
        store.close()
    same = _two_language_store(tmp_path / "t.duckdb", {"en": 0.8, "fr": 0.8}, seed=5)
    try:
        res = gap_test(same, "tiny", "fr", "en", "urial", "zero-shot", resamples=4000)
        assert res["ci"][0] < 0 < res["ci"][1] and res["p_value"] > 0.05
    finally:
        same.close()


def test_paired_and_gap_tests_across_two_models(tmp_path):
    """The instruct sibling's chat answers against the base model's URIAL answers, item by item."""
    store = _two_language_store(tmp_path / "s.duckdb", {"en": 0.2, "fr": 1.2},
                                sides=(("base", "urial"), ("base-instruct", "chat")))
    try:
        from baselines.leaderboard.paired import gap_test, paired_test

        res = paired_test(store, "base-instruct", "fr", "chat", "urial", model_b="base", resamples=2000)
        assert res["n"] == 30 and res["model_b"] == "base" and 0.8 < res["diff"] < 1.6 and res["p_value"] < 0.01
        gap = gap_test(store, "base-instruct", "fr", "en", "chat", "urial", model_b="base", resamples=2000)
        assert gap["n"] == 30 and gap["diff"] == pytest.approx(res["diff"] - gap["base_gap"]) and gap["ci"][0] > 0
        from bench.errors import BenchError

        with pytest.raises(BenchError, match="no judge scored both chat and urial for base-instruct"):
            paired_test(store, "base-instruct", "fr", "chat", "urial")  # without --model-b: urial is not its own
    finally:
        store.close()


def test_compare_against_language_cli(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    _two_language_store(ws / "bench.duckdb", {"en": 0.3, "fr": 1.3}).close()
    out = json.loads(invoke(ws, "leaderboard", "compare", "--model", "tiny", "--language", "fr", "--against", "en",
                            "--a", "urial", "--b", "zero-shot", "--format", "json").stdout)
    assert out["base_language"] == "en" and out["n"] == 30 and out["diff"] > 0.5
    text = invoke(ws, "leaderboard", "compare", "--model", "tiny", "--language", "fr", "--against", "en",
                  "--a", "urial", "--b", "zero-shot").stdout
    assert "gap difference (fr - en) +" in text and "30 items scored in both languages" in text


def test_error_rates_use_latest_check(tmp_path):
    from datetime import datetime

    from baselines.leaderboard.queries import error_rate_rows, leaderboard_rows
    from bench.errors import BenchError

    store, responses = _synthetic_store(tmp_path / "s.duckdb", methods=("zero-shot",), n=10)
    try:
        before = leaderboard_rows(store)[0]
        assert "err_wrong_language" in before and before["err_wrong_language"] is None
        old = [{"response_id": r["response_id"], "detector_version": "ce-v0", "labels": ["wrong_language", "odd label"],
                "checked_at": datetime(2024, 1, 1)} for r in responses]
        new = [{"response_id": r["response_id"], "detector_version": "ce-v1",
                "labels": ["wrong_language"] if i < 3 else [], "checked_at": datetime(2025, 1, 1)}
               for i, r in enumerate(responses[:8])]
        _insert(store, [], [], old + new)
        row = leaderboard_rows(store)[0]
        # 8 responses rechecked (3 flagged) + 2 with only the old check (flagged)
        assert row["err_wrong_language"] == pytest.approx(5 / 10)
        assert row["err_odd_label"] == pytest.approx(2 / 10)
        assert row["err_empty"] == 0.0
        # the heatmap's rates: every response of the system, whatever judged it (here: half unjudged)
        with store.transaction() as con:
            con.execute("DELETE FROM judgements WHERE response_id IN (SELECT response_id FROM responses "
                        "WHERE TRY_CAST(item_id AS INTEGER) % 2 = 1)")
        assert leaderboard_rows(store)[0]["missing_rate"] > 0.4
        rates = error_rate_rows(store)
        assert len(rates) == 1 and (rates[0]["n"], rates[0]["checked"]) == (10, 10)
        assert rates[0]["err_wrong_language"] == pytest.approx(5 / 10) and rates[0]["err_odd_label"] == pytest.approx(0.2)
        assert error_rate_rows(store, filters={"language": ["xx"]}) == []
        with pytest.raises(BenchError):
            leaderboard_rows(store, by="model; DROP TABLE responses")
        with pytest.raises(BenchError):
            leaderboard_rows(store, filters={"output": "x"})
    finally:
        store.close()


def test_word_count_cache_follows_output_changes(tmp_path):
    from baselines.leaderboard.queries import leaderboard_rows

    store, responses = _synthetic_store(tmp_path / "s.duckdb", methods=("zero-shot",), n=5)
    try:
        first = leaderboard_rows(store)[0]["length"]
        assert first == pytest.approx(statistics.mean(len(r["output"].split()) for r in responses))
        with store.transaction() as con:
            con.execute("UPDATE responses SET output = 'one two three four five six seven eight nine ten' "
                        "WHERE item_id = '1'")
        words = [len(r["output"].split()) for r in responses]
        words[1] = 10
        assert leaderboard_rows(store)[0]["length"] == pytest.approx(statistics.mean(words))
        assert store.query("SELECT words FROM leaderboard_word_counts w JOIN responses r USING (response_id) "
                           "WHERE r.item_id = '1'") == [(10,)]
        by_language = leaderboard_rows(store, by="language")
        assert [r["language"] for r in by_language] == ["fr"] and "by_value" not in by_language[0]
    finally:
        store.close()


def test_stopped_at_the_token_cap_is_reported_apart_from_truncated(tmp_path):
    """``cap_rate``: the share of a system's answers whose generation hit max_new_tokens, whatever the detector
    says; in the table, the heatmap's data and the rendered error section."""
    from datetime import datetime

    from baselines.leaderboard.queries import error_rate_rows, leaderboard_rows
    from baselines.leaderboard.render import render

    store, responses = _synthetic_store(tmp_path / "s.duckdb", methods=("zero-shot",), n=10)
    try:
        assert leaderboard_rows(store)[0]["cap_rate"] == 0.0
        with store.transaction() as con:   # 4 stopped at the cap; the detector calls only 1 of them truncated
            con.execute("UPDATE responses SET finish_reason = CASE WHEN TRY_CAST(item_id AS INTEGER) < 4 THEN 'length' "
                        "ELSE 'stop' END")
        _insert(store, [], [], [{"response_id": r["response_id"], "detector_version": "ce-v2",
                                 "labels": ["truncated"] if r["item_id"] in ("0", "7") else [],
                                 "checked_at": datetime(2025, 1, 1)} for r in responses])
        row = leaderboard_rows(store)[0]
        assert row["cap_rate"] == pytest.approx(0.4) and row["err_truncated"] == pytest.approx(0.2)
        assert error_rate_rows(store)[0]["cap_rate"] == pytest.approx(0.4)
        text = render([row], "markdown", "aspect", "synthetic")
        assert "stopped at token cap" in text and "40.0%" in text
    finally:
        store.close()
