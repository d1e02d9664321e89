"""What leaves the machine: names in public form, Markdown that cannot be broken out of, literal plot labels.

A store may hold raw names (imported, or written by an older version): a judge whose base URL carries
credentials, a local judge under its absolute path, models named with HTML or backticks. Nothing the
project publishes (a release folder, the leaderboard's file formats and plots, ``compare --format json``,
the push plan) may carry the credentials or the local path, and the cards must show the names as
text (CommonMark with raw HTML on, as the Hub renders cards, must not see a tag).
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import run_cli
from tests.test_release import DATE, DEMO, _insert, _review, _rewrite, ok

SECRET_JUDGE = "openai:judge@http://admin:sk-X@host:8815/v1?api_key=sk-Y"
LOCAL_JUDGE = "hf:/home/someone/models/judge"
HTML_MODEL = "<img src=x onerror=alert(1)>"
HTML_JUDGE = "<img src=j onerror=alert(2)>"
TICK_MODEL = "tick`s``model"
LOCAL_MODEL = "/home/someone/models/local-lm"
SECRET_BACKEND = "openai:served@http://admin:sk-X@host:8815/v1?api_key=sk-Y"
JUDGES_OF = {HTML_MODEL: (SECRET_JUDGE, LOCAL_JUDGE, HTML_JUDGE), TICK_MODEL: (SECRET_JUDGE, LOCAL_JUDGE),
             LOCAL_MODEL: (SECRET_JUDGE,)}
FORBIDDEN = ("sk-X", "sk-Y", "admin:", "/home/someone")
ASPECTS5 = ("helpfulness", "clarity", "factuality", "depth", "engagement")


def assert_public(text: str, where: str, *, markup: bool = True) -> None:
    """No credentials or local path in ``text``; in Markdown/HTML (``markup``) no raw ``<img`` either."""
    for needle in FORBIDDEN:
        assert needle not in text, f"{needle!r} published in {where}"
    if markup:
        assert "<img" not in text, f"raw HTML published in {where}"


def commonmark(text: str) -> str:
    """The card as HTML, the way a CommonMark renderer with raw HTML and tables (the Hub) shows it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def parquet_text(path: Path) -> str:
    return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str)


def _fill_store(ws: Path, source: list[dict]) -> None:
    from bench.ids import response_id, run_key
    from bench.workspace import Workspace

    workspace = Workspace(ws)
    try:
        responses, judgements, checks = [], [], []
        for model in (HTML_MODEL, TICK_MODEL, LOCAL_MODEL):
            backend = SECRET_BACKEND if model == TICK_MODEL else "transformers"
            for method in ("zero-shot", "urial"):
                key = run_key(model=model, method=method)
                for lang in ("en", "fr"):
                    for item in source:
                        rid = response_id(key, item["id"], lang)
                        responses.append({
                            "response_id": rid, "run_key": key, "model": model, "model_revision": "abc123",
                            "method": method, "lang": lang, "item_id": str(item["id"]),
                            "instruction": item["instruction"], "category": item["category"],
                            "output": f"{method} answer {item['id']}.", "finish_reason": "stop", "backend": backend})
                        aspects = ("safety",) if item["category"] == "safety" else ASPECTS5
                        for judge in JUDGES_OF[model]:
                            for a in aspects:
                                score = float(1 + (item["id"] + len(a) + (method == "urial")) % 5)
                                judgements.append({"response_id": rid, "judge": judge, "protocol": "multi-aspect",
                                                   "aspect": a, "score": score, "raw_score": str(score),
                                                   "reason": "ok"})
                        checks.append({"response_id": rid, "detector_version": "ce-v1",
                                       "labels": ["repetition_loop"] if item["id"] == 2 else [],
                                       "evidence": "{}", "checked_at": datetime(2025, 1, 1)})
        _insert(workspace.store, "responses", responses)
        _insert(workspace.store, "judgements", judgements)
        _insert(workspace.store, "critical_error_checks", checks)
    finally:
        workspace.close()


def build_published(root: Path) -> dict:
    """Under ``root``: a dataset built by ``build-dataset``, a store holding raw names (credentials, local
    paths, markup) and the release (with results) built from them. Reused by ``perf/reliability.py``."""
    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = root / "human.jsonl"
    imports.write_text("".join(json.dumps({"id": r["id"], "lang": "fr", "translation": f"[fr] {r['instruction']}"})
                               + "\n" for r in source), encoding="utf-8")
    mt, ws = root / "mt", root / "ws"
    ok(run_cli("build-dataset", "--source", str(DEMO), "--languages", "fr", "--translator", f"file:{imports}",
               "--out", str(mt), workspace=ws))
    ds = root / "ds"
    shutil.copytree(mt, ds)
    _rewrite(ds, "fr", _review)
    _fill_store(ws, source)
    rel = root / "rel"
    proc = ok(run_cli("release", "--dataset", str(ds), "--version", "1.0.0", "--out", str(rel), "--results",
                      "--date", DATE, workspace=ws))
    return {"root": root, "ws": ws, "rel": rel, "stdout": proc.stdout}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    """A release (with results) built from a store that holds raw names."""
    return build_published(tmp_path_factory.mktemp("published"))


# --------------------------------------------------------------------------- the release


def test_no_release_file_carries_credentials_local_paths_or_raw_html(published):
    rel = published["rel"]
    files = sorted(p for p in rel.rglob("*") if p.is_file())
    assert {p.relative_to(rel).as_posix() for p in files} >= {
        "README.md", "RESULTS.md", "MANIFEST.json", "CHANGELOG.md", "responses/test-00000-of-00001.parquet",
        "judgements/test-00000-of-00001.parquet", "critical_errors/test-00000-of-00001.parquet"}
    for path in files:
        name = path.relative_to(rel).as_posix()
        if path.suffix == ".parquet":  # data: names as written, minus what must not leave the machine
            assert_public(parquet_text(path), name, markup=False)
        elif path.suffix == ".json":
            assert_public(path.read_text(encoding="utf-8"), name, markup=False)
        else:
            assert_public(path.read_text(encoding="utf-8"), name)
    manifest = json.loads((rel / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["results"]["judges"] == [HTML_JUDGE, "hf:judge", "openai:judge@http://host:8815/v1"]
    assert sorted(m["model"] for m in manifest["results"]["models"]) == sorted([HTML_MODEL, TICK_MODEL, "local-lm"])
    judgements = pq.read_table(rel / "judgements" / "test-00000-of-00001.parquet").to_pylist()
    assert {r["judge"] for r in judgements} == {HTML_JUDGE, "hf:judge", "openai:judge@http://host:8815/v1"}
    responses = pq.read_table(rel / "responses" / "test-00000-of-00001.parquet").to_pylist()
    assert {r["model"] for r in responses} == {HTML_MODEL, TICK_MODEL, "local-lm"}
    assert "openai:served@http://host:8815/v1" in {r["backend"] for r in responses}
    assert "local-lm+urial" in {r["generator"] for r in responses}
    errors = pq.read_table(rel / "critical_errors" / "test-00000-of-00001.parquet").to_pylist()
    assert "local-lm" in {r["model"] for r in errors}


def test_cards_show_user_names_as_text(published):
    rel = published["rel"]
    readme, results = (rel / "README.md").read_text(encoding="utf-8"), (rel / "RESULTS.md").read_text(encoding="utf-8")
    for text in (readme, results):
        page = commonmark(text)
        assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page  # the leaderboard row
        assert "<td>tick`s``model</td>" in page  # escaped in the leaderboard table, one cell
    assert "judged by &lt;img src=j onerror=alert(2)&gt;, <code>hf:judge</code>" in commonmark(readme)
    page = commonmark(results)
    assert "<code>tick`s``model</code>" in page  # the Systems table: a code span the backticks do not close
    assert "Judges: &lt;img src=j onerror=alert(2)&gt;, <code>hf:judge</code>, " in page
    systems = [line for line in results.splitlines() if "| abc123 |" in line or "| `abc123` |" in line]
    assert len(systems) == 3 and all(line.count("|") - line.count("\\|") == 6 for line in systems), systems


def test_dataset_card_shows_a_source_file_name_as_text(tmp_path):
    """``build-dataset``'s card: a source file named with backticks and HTML stays text."""
    src = tmp_path / "we`ird<b>x.jsonl"
    shutil.copyfile(DEMO, src)
    imports = tmp_path / "human.jsonl"
    imports.write_text("".join(json.dumps({"id": json.loads(line)["id"], "lang": "fr", "translation": "t"}) + "\n"
                               for line in DEMO.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    ok(run_cli("build-dataset", "--source", str(src), "--languages", "fr", "--translator", f"file:{imports}",
               "--out", str(tmp_path / "ds"), workspace=tmp_path / "ws"))
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert str(tmp_path) not in card
    page = commonmark(card)
    assert "<b>" not in page and "Built from the local file we`ird&lt;b&gt;x.jsonl (not" in page


@pytest.mark.parametrize("value", [HTML_MODEL, TICK_MODEL, "`lead", "trail`", "a|b", "x*y*_z_ [l](u) ~~s~~",
                                   "two\nlines", "\\`", "&amp; & <b>"])
def test_markdown_filters_keep_values_inert(value):
    from markdown_it import MarkdownIt

    from cards.markdown import md_code, md_text

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    one_line = " ".join(value.splitlines())
    for text in (md_text(value), md_code(value)):
        tokens = md.parseInline(f"before {text} after")[0].children
        kinds = {t.type for t in tokens}
        assert kinds <= {"text", "code_inline", "softbreak"}, (value, text, kinds)  # no HTML, link, emphasis
        shown = "".join(t.content for t in tokens)
        assert shown == f"before {one_line} after", (value, text, shown)
    cell = md.render(f"| h |\n|---|\n| {md_code(value)} |\n")  # a table cell stays one cell
    assert cell.count("<td>") == 1 and "<img" not in cell


# --------------------------------------------------------------------------- leaderboard files, plots, compare


BOARD_FORMATS = ("markdown", "csv", "json", "latex", "html")


def leaderboard_files(ws: Path, folder: Path, formats: tuple[str, ...] = BOARD_FORMATS) -> dict[str, Path]:
    """``bench leaderboard --format F --out folder/board.F`` for each format (two of the store's models)."""
    files = {}
    for fmt in formats:
        files[fmt] = folder / f"board.{fmt}"
        ok(run_cli("leaderboard", "--format", fmt, "--out", str(files[fmt]), "--model", LOCAL_MODEL, "--model",
                   HTML_MODEL, workspace=ws))
    return files


def test_leaderboard_files_and_compare_json_publish_public_names(published, tmp_path):
    ws = published["ws"]
    for fmt, target in leaderboard_files(ws, tmp_path).items():
        text = target.read_text(encoding="utf-8")
        assert_public(text, f"leaderboard --format {fmt}", markup=fmt in ("markdown", "html"))
        assert "host:8815" in text and "local-lm" in text
    rows = json.loads((tmp_path / "board.json").read_text(encoding="utf-8"))
    assert {r["judge"] for r in rows} == {"openai:judge@http://host:8815/v1", "hf:judge", HTML_JUDGE}
    assert {r["model"] for r in rows} == {"local-lm", HTML_MODEL}
    assert "&lt;img src=x onerror=alert(1)&gt;" in (tmp_path / "board.html").read_text(encoding="utf-8")
    # the terminal table is the local user's: it keeps the store's names
    assert LOCAL_MODEL in ok(run_cli("leaderboard", "--model", LOCAL_MODEL, workspace=ws)).stdout
    proc = ok(run_cli("leaderboard", "compare", "--model", LOCAL_MODEL, "--language", "fr", "--a", "urial", "--b",
                      "zero-shot", "--format", "json", workspace=ws))  # its one judge: SECRET_JUDGE
    result = json.loads(proc.stdout)
    assert result["judge"] == "openai:judge@http://host:8815/v1" and result["model"] == "local-lm"
    assert result["n"] > 0
    assert_public(proc.stdout, "compare --format json", markup=False)


def _plot_texts(monkeypatch) -> list[str]:
    """Every text drawn on the figures plot_leaderboard saves (read just before each figure is closed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    seen: list[str] = []
    close = plt.close

    def recording_close(fig=None):
        if fig is not None and hasattr(fig, "findobj"):
            seen.extend(t.get_text() for t in fig.findobj(Text))
        return close(fig)

    monkeypatch.setattr(plt, "close", recording_close)
    return seen


def test_plots_draw_public_names(published, tmp_path, monkeypatch):
    from baselines.leaderboard.plots import plot_leaderboard
    from baselines.leaderboard.queries import error_rate_rows, leaderboard_rows
    from bench.workspace import Workspace

    workspace = Workspace(published["ws"])
    try:
        rows = leaderboard_rows(workspace.store, ci=False)
        errors = error_rate_rows(workspace.store)
    finally:
        workspace.close()
    assert {r["judge"] for r in rows} == {SECRET_JUDGE, LOCAL_JUDGE, HTML_JUDGE}  # the store holds raw names
    texts = _plot_texts(monkeypatch)
    bars, heat = plot_leaderboard(rows, tmp_path / "board.png", errors)
    assert bars.stat().st_size > 0 and heat.stat().st_size > 0
    drawn = "\n".join(texts)
    assert "local-lm" in drawn and "host:8815" in drawn and HTML_MODEL in drawn
    assert_public(drawn, "plots", markup=False)


def test_plot_labels_are_literal_text(tmp_path, monkeypatch):
    """A name with mathtext in it (``$\\undefinedcmd$``) is drawn as written, not parsed."""
    from baselines.leaderboard.plots import plot_leaderboard

    name = r"j$\undefinedcmd$"
    rows = [{"model": f"m{i}$x^2$", "method": "urial", "language": "fr", "judge": judge, "overall": 3.0 + i,
             "overall_ci": [2.5 + i, 3.5 + i], "n": 10, "err_repetition_loop": 0.1}
            for i, judge in enumerate((name, "judge-$"))]
    texts = _plot_texts(monkeypatch)
    bars, heat = plot_leaderboard(rows, tmp_path / "board.png")
    assert bars.is_file() and heat.is_file()
    assert any(name in t for t in texts) and any("m0$x^2$" in t for t in texts)


def test_leaderboard_plot_cli_with_a_mathtext_name(tmp_path):
    from bench.workspace import Workspace

    ws = tmp_path / "ws"
    workspace = Workspace(ws)
    try:
        rows = [{"response_id": f"r{i}", "run_key": "k", "model": "m", "model_revision": None, "method": "urial",
                 "lang": "fr", "item_id": str(i), "instruction": "x", "category": "regular", "output": "y",
                 "finish_reason": "stop", "backend": "transformers"} for i in range(3)]
        _insert(workspace.store, "responses", rows)
        _insert(workspace.store, "judgements", [
            {"response_id": f"r{i}", "judge": judge, "protocol": "multi-aspect", "aspect": "helpfulness",
             "score": 4.0, "raw_score": "4", "reason": "ok"} for i in range(3) for judge in (r"j$\undefinedcmd$", "j2")])
    finally:
        workspace.close()
    proc = run_cli("leaderboard", "--plot", str(tmp_path / "p.png"), workspace=ws)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p_errors.png").stat().st_size > 0


# --------------------------------------------------------------------------- push


def push_dry_run(rel: Path) -> tuple[str, dict]:
    """``push-to-hub --dry-run`` of a release: its output (both streams), then the ``--json`` plan."""
    proc = ok(run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--dry-run", env={"HF_TOKEN": ""}))
    plan = json.loads(ok(run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--dry-run", "--json",
                                 env={"HF_TOKEN": ""})).stdout)
    return proc.stdout + proc.stderr, plan


def test_push_dry_run_plan_is_public(published, tmp_path):
    output, plan = push_dry_run(published["rel"])
    assert "openai:judge@http://host:8815/v1" in output
    assert_public(output, "push-to-hub --dry-run")
    assert_public(plan["card"], "push plan card")


def test_push_refuses_a_release_whose_manifest_names_raw_systems(published, tmp_path):
    """A release built before names were published (a raw judge in MANIFEST.json) is not pushed."""
    rel = tmp_path / "old"
    shutil.copytree(published["rel"], rel)
    manifest = json.loads((rel / "MANIFEST.json").read_text(encoding="utf-8"))
    manifest["results"]["judges"].append(SECRET_JUDGE)
    (rel / "MANIFEST.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    ok(run_cli("release", "verify", str(rel)))  # intact, only not publishable
    proc = run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--dry-run", env={"HF_TOKEN": ""})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "MANIFEST.json" in line and "field 'results.judges'" in line and "rebuild the release" in line
    assert "openai:judge@http://host:8815/v1" in line
    assert_public(proc.stdout + proc.stderr, "push refusal", markup=False)
