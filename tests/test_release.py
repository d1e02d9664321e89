"""Release assembly, verification, cards and push-to-hub (against a loopback fake Hub).

The tiny pipeline: ``bench build-dataset`` with the ``file:`` translator over the 10 demo
instructions (as in test_build), reviews applied to the fr/es configs, synthetic responses,
judgements and critical-error checks in the workspace store, then ``bench release``.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.errors import InputError
from benchmark.dataset_dir import PARQUET_NAME, read_config, write_config
from tests.helpers import REPO, run_cli

DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"
SENTINEL = "hf_SENTINELtoken0123456789abcdefXYZ"
DATE = "2025-03-01"
ASPECTS5 = ("helpfulness", "clarity", "factuality", "depth", "engagement")


def ok(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def one_line_error(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rewrite(ds: Path, lang: str, change) -> None:
    schema = pq.read_schema(ds / lang / PARQUET_NAME).remove_metadata()
    rows = read_config(ds, lang)
    write_config(ds, lang, [change(dict(r)) for r in rows], schema)


def _review(row: dict) -> dict:
    """fr: id 0 post-edited, id 1 rejected (reviewer text discarded), others approved; es: id 3 post-edited."""
    lang, rid = row["lang"], row["id"]
    if lang == "fr" and rid == 0:
        row.update(instruction="Donnez trois façons simples de garder le basilic frais.", review_status="post_edited")
    elif lang == "fr" and rid == 1:
        row.update(instruction="texte rejeté", review_status="rejected")
    elif lang == "es" and rid == 3:
        row.update(instruction=f"[es revisado] {row['machine_translation']}", review_status="post_edited")
    else:
        row["review_status"] = "approved"
    return row


def _insert(store, table: str, rows: list[dict]) -> None:
    data = pa.Table.from_pylist(rows)
    with store.transaction() as con:
        con.register("_t", data)
        con.execute(f"INSERT INTO {table} ({', '.join(data.column_names)}) SELECT * FROM _t")
        con.unregister("_t")


def _fill_store(ws: Path, source: list[dict]) -> None:
    from bench.ids import response_id, run_key
    from bench.workspace import Workspace

    workspace = Workspace(ws)
    store = workspace.store
    try:
        responses, judgements, checks = [], [], []
        for method in ("zero-shot", "urial"):
            key = run_key(model="tiny-lm", method=method)
            for lang in ("en", "fr", "es"):
                for item in source:
                    rid = response_id(key, item["id"], lang)
                    responses.append({
                        "response_id": rid, "run_key": key, "model": "tiny-lm", "model_revision": "abc123",
                        "method": method, "lang": lang, "item_id": str(item["id"]), "instruction": item["instruction"],
                        "category": item["category"], "output": f"{method} answer {item['id']} in {lang}.",
                        "finish_reason": "stop", "backend": "transformers"})
                    aspects = ("safety",) if item["category"] == "safety" else ASPECTS5
                    for a in aspects:
                        score = float(1 + (item["id"] + len(a) + (method == "urial")) % 5)
                        judgements.append({"response_id": rid, "judge": "judge-x", "protocol": "multi-aspect",
                                           "aspect": a, "score": score, "raw_score": str(score), "reason": "ok"})
                    checks.append({"response_id": rid, "detector_version": "ce-v1",
                                   "labels": ["repetition_loop"] if item["id"] == 2 else [],
                                   "evidence": json.dumps({"repetition_loop": "x x x"} if item["id"] == 2 else {}),
                                   "checked_at": datetime(2025, 1, 1)})
        _insert(store, "responses", responses)
        _insert(store, "judgements", judgements)
        _insert(store, "critical_error_checks", checks)
        from baselines.judging.provenance import record_judge_settings

        record_judge_settings(store, "judge-x", {"backend": "hf", "model": "/home/ana/models/judge-x.gguf",
                                                 "fingerprint": "sha256:ab12", "dtype": "bfloat16", "device": "cuda",
                                                 "prompt_version": "bench-judge-v1", "scoring": "probs"}, "run-1")
    finally:
        workspace.close()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("release")
    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = root / "human.jsonl"
    imports.write_text("".join(json.dumps({"id": r["id"], "lang": lang, "translation": f"[{lang}] {r['instruction']}"})
                               + "\n" for r in source for lang in ("fr", "es")), encoding="utf-8")
    mt, ws = root / "mt", root / "ws"
    ok(run_cli("build-dataset", "--source", str(DEMO), "--languages", "fr,es", "--translator", f"file:{imports}",
               "--out", str(mt), workspace=ws))
    ds = root / "ds"
    shutil.copytree(mt, ds)
    for lang in ("fr", "es"):
        _rewrite(ds, lang, _review)
    _fill_store(ws, source)
    review_info = root / "review.json"
    review_info.write_text(json.dumps({"reviewers": ["ana", "luis"],
                                       "agreement": {"metric": "Krippendorff's alpha", "value": 0.8, "items": 4}}))
    rel = root / "rel"
    proc = ok(run_cli("release", "--dataset", str(ds), "--version", "1.0.0", "--out", str(rel), "--results",
                      "--date", DATE, "--review-info", str(review_info), workspace=ws))
    return {"root": root, "source": source, "mt": mt, "ds": ds, "ws": ws, "rel": rel, "review_info": review_info,
            "stdout": proc.stdout}


# --------------------------------------------------------------------------- release contents


def test_every_config_loads_with_datasets_and_uses_reviewed_text(pipeline, tmp_path):
    import datasets

    rel = pipeline["rel"]
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    assert list(manifest["configs"]) == sorted(["en", "fr", "es", "responses", "judgements", "critical_errors"])
    loaded = {}
    for config, entry in manifest["configs"].items():
        ds = datasets.load_dataset(str(rel), config, split="test", cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == entry["rows"] > 0
        loaded[config] = ds
    n = len(pipeline["source"])
    assert [loaded[lang].num_rows for lang in ("en", "fr", "es")] == [n, n, n]
    assert loaded["responses"].num_rows == 2 * 3 * n and loaded["critical_errors"].num_rows == 2 * 3 * n
    assert loaded["judgements"].num_rows == 2 * 3 * n
    fr = {r["id"]: r for r in loaded["fr"]}
    assert fr[0]["instruction"] == "Donnez trois façons simples de garder le basilic frais."
    assert fr[0]["machine_translation"].startswith("[fr] ")
    assert fr[1]["review_status"] == "rejected" and fr[1]["instruction"] == fr[1]["machine_translation"]
    assert fr[2]["review_status"] == "approved" and fr[2]["instruction"] == fr[2]["machine_translation"]
    assert {r["id"]: r["instruction"] for r in loaded["es"]}[3].startswith("[es revisado] ")
    assert loaded["en"]["id"] == loaded["fr"]["id"] == loaded["es"]["id"] == [r["id"] for r in pipeline["source"]]
    assert loaded["fr"].features == loaded["es"].features == loaded["en"].features
    resp = loaded["responses"][0]
    assert {"id", "instruction", "output", "generator"} <= set(resp) and resp["generator"] == "tiny-lm+urial"
    errors = [r for r in loaded["critical_errors"] if r["labels"]]
    assert len(errors) == 6 and all(json.loads(r["evidence"]) == {"repetition_loop": "x x x"} for r in errors)
    assert set(loaded["critical_errors"][0]) == {"response_id", "model", "method", "lang", "id", "labels", "evidence",
                                                 "detector_version"}
    # loading wrote nothing into the release: it still verifies
    ok(run_cli("release", "verify", str(rel)))


def test_manifest_records_provenance_and_review_statistics(pipeline):
    manifest = json.loads((pipeline["rel"] / "MANIFEST.json").read_text())
    assert manifest["version"] == "1.0.0" and manifest["date"] == DATE and manifest["languages"] == ["en", "fr", "es"]
    assert manifest["source"]["name"] == "demo_instructions.jsonl" and manifest["source"]["key"]
    assert manifest["translator"]["spec"] == "file:human.jsonl" and manifest["translator"]["key"].startswith("file:")
    assert manifest["results"]["judges"] == ["judge-x"] and manifest["results"]["detector_versions"] == ["ce-v1"]
    assert {"python", "bench", "datasets", "duckdb"} <= set(manifest["versions"]["release"])
    fr = manifest["review"]["languages"]["fr"]
    assert (fr["post_edited"], fr["rejected"], fr["approved"], fr["machine"], fr["coverage"]) == (1, 1, 8, 0, 1.0)
    assert manifest["review"]["reviewers"] == ["ana", "luis"]
    assert manifest["qa"]["fr"]["flagged_rows"] >= 0 and "untranslated" in manifest["qa"]["fr"]
    assert manifest["allow_unreviewed"] is False
    assert set(manifest["files"]) == set(files_of(pipeline["rel"])) - {"MANIFEST.json"}
    assert "release 1.0.0 (2025-03-01) written to" in pipeline["stdout"]


def test_cards_parse_and_validate_offline(pipeline):
    from huggingface_hub import DatasetCard

    from cards.validate import card_problems

    rel = pipeline["rel"]
    card = DatasetCard.load(rel / "README.md")
    meta = card.data.to_dict()
    assert card_problems(meta, root=rel) == []
    assert meta["license"] == "mit" and meta["language"] == ["en", "fr", "es"]
    assert meta["task_categories"] == ["text-generation"] and meta["size_categories"] == ["n<1K"]
    assert "source_datasets" not in meta  # a local instruction file is not claimed to be a Hub dataset
    assert meta["pretty_name"] == "Multilingual Just-Eval-Instruct"
    assert [c["config_name"] for c in meta["configs"]] == ["en", "fr", "es", "responses", "judgements",
                                                           "critical_errors"]
    assert meta["configs"][1]["data_files"] == [{"split": "test", "path": "fr/test-*.parquet"}]
    text = card.text
    for needle in ("2503.01611", "2312.01552", "Lin, Bill Yuchen", "Ponce, David", "Reviewers: ana, luis",
                   "Krippendorff's alpha = 0.800 on 4 items", "| fr | 10 | 0 | 1 | 8 | 1 | 100.0% |",
                   "1 row: filter on", "## Known limitations", "**Just-Eval leaderboard**", "| tiny-lm | urial |"):
        assert needle in text, needle
    assert "unreviewed translations" not in text
    assert "local file `demo_instructions.jsonl` (not a published dataset)" in text
    assert "Multilingual version of [Just-Eval-Instruct]" not in text
    assert str(REPO) not in (rel / "README.md").read_text() + (rel / "MANIFEST.json").read_text()  # no local paths
    results = DatasetCard.load(rel / "RESULTS.md")
    assert card_problems(results.data.to_dict(), root=rel) == []
    assert [c["config_name"] for c in results.data.configs] == ["responses", "judgements", "critical_errors"]
    assert "| `tiny-lm` | `abc123` | urial, zero-shot | en, es, fr | 60 |" in results.text
    assert "**Just-Eval leaderboard**" in results.text and "repetition loop" in results.text
    # the judge's provenance (issue 15): its settings, the model file by its name only
    assert ("- `judge-x`: backend `hf`; device `cuda`; dtype `bfloat16`; fingerprint `sha256:ab12`; model "
            "`judge-x.gguf`; prompt\\_version `bench-judge-v1`; scoring `probs`") in results.text
    assert "/home/ana" not in (rel / "RESULTS.md").read_text()
    changelog = (rel / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n\n## 1.0.0 — 2025-03-01\n")
    assert "fr 100.0% (post_edited 1, approved 8, rejected 1, unreviewed 0)" in changelog


def test_declared_source_dataset_goes_to_the_card(pipeline, tmp_path):
    from huggingface_hub import DatasetCard

    rel = tmp_path / "rel"
    args = ["release", "--dataset", str(pipeline["ds"]), "--version", "1.0.0", "--out", str(rel), "--date", DATE]
    bad = run_cli(*args, "--source-dataset", "not a hub id", workspace=pipeline["ws"])
    assert bad.returncode == 2 and "--source-dataset 'not a hub id'" in bad.stderr and not rel.exists()
    ok(run_cli(*args, "--source-dataset", "re-align/just-eval-instruct", workspace=pipeline["ws"]))
    card = DatasetCard.load(rel / "README.md")
    assert card.data.to_dict()["source_datasets"] == ["re-align/just-eval-instruct"]
    assert "Multilingual version of [Just-Eval-Instruct](https://huggingface.co/datasets/re-align/just-eval-instruct)" \
        in card.text
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    assert manifest["source"]["dataset"] == "re-align/just-eval-instruct"


def test_provenance_names():
    from bench.public_names import public_name
    from cards.provenance import hub_dataset_id

    assert hub_dataset_id("re-align/just-eval-instruct") == "re-align/just-eval-instruct"
    assert hub_dataset_id(str(DEMO)) is None and hub_dataset_id("data/x.jsonl") is None
    assert hub_dataset_id("just-eval-instruct") is None and hub_dataset_id(None) is None
    assert public_name("llm:/home/ana/models/gemma.gguf") == "llm:gemma.gguf"
    assert public_name("/home/ana/data/src.jsonl") == "src.jsonl"
    assert public_name("hf:Helsinki-NLP/opus-mt-en-fr") == "hf:Helsinki-NLP/opus-mt-en-fr"
    assert public_name("openai:gpt-4o@https://api.example/v1") == "openai:gpt-4o@https://api.example/v1"


def test_two_builds_are_byte_identical(pipeline, tmp_path):
    from bench.workspace import Workspace
    from release.assemble import build_release

    again = tmp_path / "again"
    ws = Workspace(pipeline["ws"])
    try:
        build_release(pipeline["ds"], again, "1.0.0", ws=ws, results=True, date=DATE,
                      review_info=pipeline["review_info"])
    finally:
        ws.close()
    first, second = files_of(pipeline["rel"]), files_of(again)
    assert sorted(first) == sorted(second)
    parquet = [name for name in first if name.endswith(".parquet")]
    assert len(parquet) == 6
    for name in first:
        assert first[name] == second[name], name


# --------------------------------------------------------------------------- verify


def test_verify_checks_every_sha256(pipeline, tmp_path):
    rel = tmp_path / "rel"
    shutil.copytree(pipeline["rel"], rel)
    proc = ok(run_cli("release", "verify", str(rel)))
    assert proc.stdout.startswith("OK: release 1.0.0") and "7 files" not in proc.stdout

    target = rel / "fr" / PARQUET_NAME
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    proc = run_cli("release", "verify", str(rel))
    assert proc.returncode == 2
    assert f"fr/{PARQUET_NAME}: SHA-256 differs from MANIFEST.json" in one_line_error(proc)

    shutil.rmtree(rel)
    shutil.copytree(pipeline["rel"], rel)
    (rel / "extra.txt").write_text("x")
    (rel / "es" / PARQUET_NAME).unlink()
    from release.verify import release_problems

    problems = release_problems(rel)
    assert f"es/{PARQUET_NAME}: listed in MANIFEST.json but missing" in problems
    assert "extra.txt: not listed in MANIFEST.json" in problems


# --------------------------------------------------------------------------- validation


def _bad_dataset(pipeline, tmp_path, case: str) -> Path:
    ds = tmp_path / "bad"
    shutil.copytree(pipeline["ds"], ds)
    if case == "misaligned":
        schema = pq.read_schema(ds / "es" / PARQUET_NAME).remove_metadata()
        write_config(ds, "es", [r for r in read_config(ds, "es") if r["id"] != 3], schema)
    elif case == "empty":
        _rewrite(ds, "fr", lambda r: {**r, "instruction": "  "} if r["id"] == 4 else r)
    elif case == "schema":
        table = pq.read_table(ds / "es" / PARQUET_NAME)
        pq.write_table(table.append_column("extra", pa.array(["x"] * table.num_rows)), ds / "es" / PARQUET_NAME)
    elif case == "status":
        _rewrite(ds, "fr", lambda r: {**r, "review_status": "done"} if r["id"] == 5 else r)
    return ds


@pytest.mark.parametrize("case, expected", [
    ("misaligned", ("es", "record 3", "field 'id'", "aligned")),
    ("empty", ("fr", "record 4", "field 'instruction'", "empty instruction")),
    ("schema", ("es", "field 'extra'", "schemas must be identical")),
    ("status", ("fr", "record 5", "field 'review_status'", "unknown review_status")),
])
def test_validation_fails_before_anything_is_written(pipeline, tmp_path, case, expected):
    from release.assemble import build_release

    ds = _bad_dataset(pipeline, tmp_path, case)
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        build_release(ds, out, "1.0.0", date=DATE)
    message = str(info.value)
    for needle in expected:
        assert needle in message, message
    assert f"{expected[0]}/{PARQUET_NAME}" in message
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_unreviewed_rows_need_the_flag_and_the_card_says_so(pipeline, tmp_path):
    out = tmp_path / "rel"
    proc = run_cli("release", "--dataset", str(pipeline["mt"]), "--version", "0.1.0", "--out", str(out))
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "20 translated rows are unreviewed" in line and "--allow-unreviewed" in line and len(
        proc.stderr.strip().splitlines()) == 1
    assert not out.exists()

    proc = ok(run_cli("release", "--dataset", str(pipeline["mt"]), "--version", "0.1.0", "--out", str(out),
                      "--allow-unreviewed", "--date", DATE))
    assert "unreviewed rows (--allow-unreviewed, said in the card): fr 10, es 10" in proc.stdout
    card = (out / "README.md").read_text()
    assert "Warning — unreviewed translations." in card and "20 translated rows" in card
    assert "--allow-unreviewed" in card
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["allow_unreviewed"] is True and "responses" not in manifest["configs"]
    assert "Released with --allow-unreviewed: 20 unreviewed rows" in (out / "CHANGELOG.md").read_text()
    ok(run_cli("release", "verify", str(out)))


def test_next_release_continues_the_changelog(pipeline, tmp_path):
    from bench.errors import BenchError
    from release.assemble import build_release

    out = tmp_path / "rel-1.1.0"
    build_release(pipeline["ds"], out, "1.1.0", previous=pipeline["rel"], notes="Card wording.", date="2025-04-01",
                  languages=["en", "fr"])
    changelog = (out / "CHANGELOG.md").read_text()
    assert changelog.index("## 1.1.0 — 2025-04-01") < changelog.index("## 1.0.0 — 2025-03-01")
    assert ("- Since 1.0.0: `critical_errors` removed; `es` removed; `judgements` removed; `responses` removed; "
            "unchanged: `en`, `fr`.") in changelog
    assert "- Notes: Card wording." in changelog
    with pytest.raises(BenchError, match="must be greater than the previous release 1.0.0"):
        build_release(pipeline["ds"], tmp_path / "x", "1.0.0", previous=pipeline["rel"], date=DATE)
    with pytest.raises(BenchError, match="bad --version"):
        build_release(pipeline["ds"], tmp_path / "x", "1.0", date=DATE)


# --------------------------------------------------------------------------- offline card validation


GOOD = {"pretty_name": "X", "license": "mit", "language": ["en", "fr"], "task_categories": ["text-generation"],
        "size_categories": ["n<1K"], "configs": [{"config_name": "en", "data_files": [{"split": "test",
                                                                                          "path": "en/*.parquet"}]}]}


@pytest.mark.parametrize("change, field", [
    ({"license": "MIT-ish"}, "license"),
    ({"license": None}, "license"),
    ({"language": ["english"]}, "language"),
    ({"language": ["fra"]}, "language"),
    ({"task_categories": ["chatbot"]}, "task_categories"),
    ({"size_categories": ["n<2K"]}, "size_categories"),
    ({"pretty_name": 3}, "pretty_name"),
    ({"configs": [{"config_name": "en"}]}, "configs[0]"),
    ({"configs": [{"config_name": "en", "data_files": [{"split": "test"}]}]}, "configs[0].data_files[0].path"),
    ({"configs": [{"config_name": "en", "data_files": [{"split": "te st", "path": "a"}]}]},
     "configs[0].data_files[0].split"),
    ({"configs": [{"config_name": "en", "data_files": "a"}, {"config_name": "en", "data_files": "b"}]},
     "configs[1].config_name"),
    ({"configs": "en"}, "configs"),
    ({"multilinguality": ["bilingual"]}, "multilinguality"),
])
def test_validator_rejects_bad_metadata(change, field):
    from cards.validate import card_problems

    assert card_problems(GOOD) == []
    problems = card_problems({**GOOD, **change})
    assert problems and any(p.startswith(f"{field}:") for p in problems), problems


def test_validator_checks_data_files_exist_and_size_buckets(tmp_path):
    from cards.validate import SIZE_CATEGORIES, card_problems, check_card, size_category

    assert [size_category(n) for n in (0, 999, 1000, 3000, 10**6, 10**12)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "1M<n<10M", "n>1T"]
    assert all(size_category(10 ** k) in SIZE_CATEGORIES for k in range(14))
    assert card_problems(GOOD, root=tmp_path) == ["configs[0].data_files: no file matches 'en/*.parquet'"]
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit\nlanguage: [xx]\n---\n# x\n")
    with pytest.raises(InputError, match="README.md: field 'language': 'xx' is not a known ISO 639-1"):
        check_card(card, required=())


# --------------------------------------------------------------------------- push


def _hub_env(hub, tmp_path: Path, token: str | None = SENTINEL) -> dict[str, str]:
    home = tmp_path / "hf-home"
    home.mkdir(exist_ok=True)
    return {"HF_TOKEN": token or "", "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(home),
            "HF_HUB_DISABLE_TELEMETRY": "1"}


def _assert_token_never_leaked(hub, outputs: list[str], folders: list[Path]) -> None:
    for text in outputs:
        assert SENTINEL not in text
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path
    for call in hub.calls:
        assert SENTINEL.encode() not in call.body, call.path
        assert SENTINEL not in call.path and SENTINEL not in json.dumps(call.query)
        for key, value in call.headers.items():
            if key != "authorization":
                assert SENTINEL not in value, key


def test_dry_run_lists_files_sizes_and_card_without_network(pipeline, tmp_path):
    from tests.hub_server import FakeHub

    rel = pipeline["rel"]
    with FakeHub(token=SENTINEL) as hub:
        proc = ok(run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--dry-run",
                          env=_hub_env(hub, tmp_path)))
        assert hub.calls == []
    out = proc.stdout
    assert "dry run: nothing is uploaded" in out and "token: found" in out and "then tag v1.0.0" in out
    for name, data in files_of(rel).items():
        assert f"  {name}" in out and f"{len(data)} B" in out
    assert (rel / "README.md").read_text().strip() in out
    assert SENTINEL not in proc.stdout + proc.stderr


def test_push_one_commit_with_retries_and_no_token_leak(pipeline, tmp_path):
    from tests.hub_server import FakeHub

    rel = pipeline["rel"]
    with FakeHub(token=SENTINEL) as hub:
        hub.fail("create_repo", "503")
        hub.fail("preupload", "503")
        hub.fail("commit", "drop_after")  # the commit lands but its reply is lost
        hub.fail("tag", "502")
        env = _hub_env(hub, tmp_path)
        proc = ok(run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--private", "--retry-wait", "0",
                          env=env))
        repo = hub.repos["org/just-eval-ml"]
        assert repo.private
        assert len(repo.commits) == 2  # the initial commit + exactly one release commit
        head = repo.branches["main"]
        assert repo.tags == {"v1.0.0": head}
        assert repo.commits[head].title.startswith("Release 1.0.0 (manifest ")
        remote = repo.commits[head].files
        local = files_of(rel)
        assert {k: v for k, v in remote.items() if k != ".gitattributes"} == local
        assert len(hub.calls_to("commit")) == 1 and len(hub.calls_to("tag")) == 2
        writes = [c for c in hub.calls if c.route in ("create_repo", "preupload", "commit", "tag")]
        assert writes and all(c.headers.get("authorization") == f"Bearer {SENTINEL}" for c in writes)
        assert f"org/just-eval-ml@main: committed {len(local)} files" in proc.stdout and "tagged v1.0.0" in proc.stdout
        assert "but the commit had landed" in proc.stderr
        _assert_token_never_leaked(hub, [proc.stdout, proc.stderr], [rel, tmp_path, pipeline["ws"]])

        # the same version again: refused before anything changes
        before = hub.state("org/just-eval-ml")
        again = run_cli("push-to-hub", str(rel), "--repo-id", "org/just-eval-ml", "--retry-wait", "0", env=env)
        assert "tag v1.0.0 already exists" in one_line_error(again) and hub.state("org/just-eval-ml") == before


def test_failed_push_leaves_remote_unchanged_and_says_what_to_rerun(pipeline, tmp_path):
    from tests.hub_server import FakeHub

    rel = pipeline["rel"]
    with FakeHub(token=SENTINEL) as hub:
        hub.create_repo("org/ds")
        before = hub.state("org/ds")
        hub.fail("commit", "500", times=2)
        env = _hub_env(hub, tmp_path)
        args = ("push-to-hub", str(rel), "--repo-id", "org/ds", "--retries", "1", "--retry-wait", "0")
        proc = run_cli(*args, env=env)
        assert proc.returncode == 2
        line = one_line_error(proc)
        assert "failed at create_commit" in line and "500" in line
        assert "nothing was committed: the remote is unchanged" in line
        assert f"rerun: bench push-to-hub {rel} --repo-id org/ds" in line
        assert hub.state("org/ds") == before
        proc2 = ok(run_cli(*args, env=env))
        assert len(hub.repos["org/ds"].commits) == 2 and "tagged v1.0.0" in proc2.stdout
        _assert_token_never_leaked(hub, [proc.stdout, proc.stderr, proc2.stdout, proc2.stderr], [rel, tmp_path])


def test_failed_tag_rerun_only_adds_the_tag(pipeline, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from release.push import PushError, push_release
    from tests.hub_server import FakeHub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    rel = pipeline["rel"]
    with FakeHub(token=SENTINEL) as hub:
        hub.fail("tag", "403")
        with pytest.raises(PushError) as info:
            push_release(rel, "org/ds", token=SENTINEL, endpoint=hub.url, retry_wait=0)
        assert "is committed" in str(info.value) and "only adds the tag" in str(info.value)
        assert SENTINEL not in str(info.value)
        repo = hub.repos["org/ds"]
        assert len(repo.commits) == 2 and repo.tags == {}
        result = push_release(rel, "org/ds", token=SENTINEL, endpoint=hub.url, retry_wait=0)
        assert result.noop and len(repo.commits) == 2 and repo.tags == {"v1.0.0": repo.branches["main"]}


def test_push_to_a_branch_and_missing_token(pipeline, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from release.push import push_release
    from tests.hub_server import FakeHub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with FakeHub(token=SENTINEL) as hub:
        result = push_release(pipeline["rel"], "org/ds", revision="release", tag="v1.0.0-rc", token=SENTINEL,
                              endpoint=hub.url, retry_wait=0)
        repo = hub.repos["org/ds"]
        assert repo.branches["release"] == result.commit != repo.branches["main"]
        assert repo.tags == {"v1.0.0-rc": result.commit}
        proc = run_cli("push-to-hub", str(pipeline["rel"]), "--repo-id", "org/other",
                       env=_hub_env(hub, tmp_path, token=None))
        assert "no Hugging Face token" in one_line_error(proc) and "org/other" not in hub.repos
        bad = run_cli("push-to-hub", str(pipeline["rel"]), "--repo-id", "not-a-repo-id", "--dry-run")
        assert "bad --repo-id" in one_line_error(bad)


def test_review_info_from_an_annotate_pull_report(tmp_path):
    from release.review_info import load_review_info

    report = {"languages": [
        {"lang": "fr", "annotators": ["ana", "luis"], "agreement": {
            "items_with_2plus_reviews": 12, "decision_alpha_nominal": 0.7512, "decision_percent_agreement": 0.9,
            "rating_alpha_ordinal": None}},
        {"lang": "es", "annotators": ["marta"], "agreement": {"items_with_2plus_reviews": 0}}],
        "rule": "majority decision"}
    path = tmp_path / "pull.json"
    path.write_text(json.dumps(report))
    info = load_review_info(path)
    assert info["reviewers"] == ["ana", "luis", "marta"] and info["rule"] == "majority decision"
    assert info["agreement"] == ("fr: decision Krippendorff's alpha (nominal) 0.751, decision percent agreement 0.900 "
                                 "on 12 items reviewed by two or more people; es: no item reviewed by two or more people")
    path.write_text(json.dumps({"reviewers": "ana"}))
    with pytest.raises(InputError, match="field 'reviewers'"):
        load_review_info(path)


def test_results_card_reports_agreement_with_a_reference_judge(pipeline, tmp_path):
    """--agreement-reference: the results card gets each released judge's agreement with the reference
    (bench results agreement); without --results, or with an unknown reference, one-line errors."""
    from bench.workspace import Workspace

    ws = tmp_path / "ws"
    shutil.copytree(pipeline["ws"], ws)
    workspace = Workspace(ws)
    try:
        rows = workspace.store.query_dicts("SELECT response_id, protocol, aspect, score FROM judgements "
                                           "WHERE judge = 'judge-x'")
        _insert(workspace.store, "judgements", [
            {"response_id": r["response_id"], "judge": "gpt-ref", "protocol": r["protocol"], "aspect": r["aspect"],
             "score": float(min(5.0, r["score"] + (1 if i % 3 == 0 else 0))), "raw_score": "x", "reason": "ref"}
            for i, r in enumerate(rows)])
    finally:
        workspace.close()
    rel = tmp_path / "rel"
    args = ["release", "--dataset", str(pipeline["ds"]), "--version", "1.0.0", "--date", DATE]
    ok(run_cli(*args, "--out", str(rel), "--results", "--agreement-reference", "gpt-ref", workspace=ws))
    card = (rel / "RESULTS.md").read_text(encoding="utf-8")
    section = card.split("## Judge agreement", 1)[1].split("## Known limitations", 1)[0]
    assert "Agreement of judge-x with gpt-ref" in section and "Spearman" in section and "| helpfulness |" in section
    no_results = run_cli(*args, "--out", str(tmp_path / "r2"), "--agreement-reference", "gpt-ref", workspace=ws)
    assert no_results.returncode == 2 and "--agreement-reference goes with --results" in no_results.stderr
    unknown = run_cli(*args, "--out", str(tmp_path / "r3"), "--results", "--agreement-reference", "nobody", workspace=ws)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
