"""`bench build-dataset` end to end through the real CLI, with real (tiny, local) models."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from benchmark.dataset_dir import read_config
from tests.helpers import REPO, need_shared, run_cli

DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"


def report_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cache_rows(workspace: Path) -> list[tuple]:
    con = duckdb.connect(str(workspace / "bench.duckdb"), read_only=True)
    try:
        return con.execute("SELECT translator_key, target_lang, segment_hash FROM translation_cache").fetchall()
    finally:
        con.close()


def test_file_translator_build_writes_aligned_hub_dataset(tmp_path):
    import datasets
    from huggingface_hub import DatasetCard

    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = tmp_path / "human.jsonl"
    imports.write_text("".join(
        json.dumps({"id": r["id"], "lang": lang, "translation": f"[{lang}] {r['instruction']}"}) + "\n"
        for r in source for lang in ("fr", "es")), encoding="utf-8")
    out, ws = tmp_path / "ds", tmp_path / "ws"
    proc = run_cli("build-dataset", "--source", str(DEMO), "--languages", "fr,es", "--translator",
                   f"file:{imports}", "--out", str(out), "--json", workspace=ws)
    report = report_of(proc)
    assert [lr["lang"] for lr in report["languages"]] == ["fr", "es"]
    for config in ("en", "fr", "es"):
        ds = datasets.load_dataset(str(out), config, split="test")
        assert ds.num_rows == len(source)
        assert ds["id"] == [r["id"] for r in source]
        assert set(ds["lang"]) == {config}
    fr = read_config(out, "fr")
    assert fr[0]["instruction"] == f"[fr] {source[0]['instruction']}"
    assert fr[0]["source_instruction"] == source[0]["instruction"]
    assert fr[0]["review_status"] == "machine" and fr[0]["translation_system"] == f"file:{imports.name}"
    assert read_config(out, "en")[0]["review_status"] == "source"
    assert fr[8]["category"] == "safety" and fr[8]["task"] is None
    card = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["en", "fr", "es"]


def test_bad_source_fails_before_writing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "instruction": "ok"}\n{"id": 1, "instruction": "dup"}\n', encoding="utf-8")
    proc = run_cli("build-dataset", "--source", str(bad), "--translator", "hf:/nowhere", "--out",
                   str(tmp_path / "out"), workspace=tmp_path / "ws")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.jsonl: record line 2: field 'id': duplicate id 1" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "ws").exists()


@pytest.mark.parametrize("spec", ["nope:x", "hf:", "llm"])
def test_bad_translator_spec(tmp_path, spec):
    proc = run_cli("build-dataset", "--source", str(DEMO), "--translator", spec, "--out", str(tmp_path / "o"),
                   workspace=tmp_path / "ws")
    assert proc.returncode == 2 and "bad translator SPEC" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_seq2seq_build_then_rebuild_hits_cache(tmp_path, tiny_m2m100_dir):
    source = need_shared()
    out, ws = tmp_path / "ds", tmp_path / "ws"
    args = ("build-dataset", "--source", str(source), "--limit", "40", "--languages", "fr,es", "--translator",
            f"hf:{tiny_m2m100_dir}", "--out", str(out), "--json", "--batch-size", "16")
    first = report_of(run_cli(*args, workspace=ws))
    assert all(lr["translated"] == lr["requests"] >= 40 for lr in first["languages"])
    second = report_of(run_cli(*args, workspace=ws))
    assert all(lr["translated"] == 0 and lr["from_cache"] == lr["requests"] for lr in second["languages"])
    rows = read_config(out, "es")
    assert [r["id"] for r in rows] == list(range(40))
    assert all(isinstance(r["qa_flags"], list) for r in rows)
    # code blocks and URLs of the source survive byte for byte
    for r in rows:
        for line in r["source_instruction"].splitlines():
            if line.startswith("```"):
                assert line in r["instruction"]


def _kill_and_resume(tmp_path: Path, spec: str, limit: int, kills: int, seed: int, batch_size: int = 8,
                     max_new_tokens: int = 32) -> None:
    source = need_shared()
    rng = random.Random(seed)
    ws = tmp_path / "ws"

    def build_args(out: Path) -> list[str]:
        return ["build-dataset", "--source", str(source), "--limit", str(limit), "--languages", "fr,es",
                "--translator", spec, "--out", str(out), "--batch-size", str(batch_size),
                "--max-new-tokens", str(max_new_tokens), "--json"]

    args = [sys.executable, "-m", "bench.cli", "--workspace", str(ws), *build_args(tmp_path / "ds")]
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1"}
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
        # the kill lands a random while after the store exists (imports take long on a loaded machine)
        deadline = time.monotonic() + 120
        while not (ws / "bench.duckdb").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(rng.uniform(1.0, 5.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
    assert killed >= 1, "the build finished before any kill: raise --limit"
    before = cache_rows(ws)
    assert len(before) == len(set(before))
    report = report_of(subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=900))
    after = cache_rows(ws)
    assert len(after) == len(set(after)), "duplicate cache rows"
    # the final run redid none of the finished work and translated only what was missing
    assert sum(lr["from_cache"] for lr in report["languages"]) == len(before)
    assert sum(lr["translated"] for lr in report["languages"]) == len(after) - len(before)
    # the result equals an uninterrupted build
    clean = tmp_path / "clean"
    report_of(run_cli(*build_args(clean / "ds"), workspace=clean / "ws"))
    for config in ("en", "fr", "es"):
        assert read_config(tmp_path / "ds", config) == read_config(clean / "ds", config)


def test_kill_midway_then_resume(tmp_path, tiny_base_lm_dir):
    _kill_and_resume(tmp_path, f"llm:{tiny_base_lm_dir}", limit=80, kills=2, seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["seq2seq", "causal"])
def test_full_source_builds_1000_aligned_rows(tmp_path, kind, tiny_m2m100_dir, tiny_base_lm_dir):
    source = need_shared()
    model = tiny_m2m100_dir if kind == "seq2seq" else tiny_base_lm_dir
    spec = f"{'hf' if kind == 'seq2seq' else 'llm'}:{model}"
    _kill_and_resume(tmp_path, spec, limit=1000, kills=3, seed=11, batch_size=32, max_new_tokens=24)
    for config in ("en", "fr", "es"):
        rows = read_config(tmp_path / "ds", config)
        assert len(rows) == 1000 and [r["id"] for r in rows] == list(range(1000))


def test_rebuild_keeps_merged_reviews(tmp_path):
    """Rebuilding a dataset folder keeps post-edits merged by `annotate translations pull`."""
    from benchmark.dataset_dir import PARQUET_NAME, dataset_schema, write_config

    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = tmp_path / "mt.jsonl"
    imports.write_text("".join(json.dumps({"id": r["id"], "lang": "fr", "translation": f"MT {r['id']}"}) + "\n"
                               for r in source), encoding="utf-8")
    out, ws = tmp_path / "ds", tmp_path / "ws"
    args = ("build-dataset", "--source", str(DEMO), "--languages", "fr", "--translator", f"file:{imports}",
            "--out", str(out))
    assert run_cli(*args, workspace=ws).returncode == 0
    rows = read_config(out, "fr")
    rows[2].update(instruction="Texte relu", review_status="post_edited", reviewers=2)
    write_config(out, "fr", rows, dataset_schema(source))
    assert (out / "fr" / PARQUET_NAME).exists()
    assert run_cli(*args, workspace=ws).returncode == 0
    again = read_config(out, "fr")
    assert again[2]["instruction"] == "Texte relu" and again[2]["review_status"] == "post_edited"
    assert again[2]["reviewers"] == 2 and again[2]["machine_translation"] == "MT 2"
    assert again[3]["review_status"] == "machine"


def test_cached_rebuild_writes_no_store_rows_and_reports_its_phases(tmp_path):
    """A rebuild from the cache finds every translation stored unchanged: it rewrites no row (each keeps the
    run that wrote it), and the report says where the time went."""
    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = tmp_path / "human.jsonl"
    imports.write_text("".join(json.dumps({"id": r["id"], "lang": "fr", "translation": f"[fr] {r['instruction']}"})
                               + "\n" for r in source), encoding="utf-8")
    out, ws = tmp_path / "ds", tmp_path / "ws"
    args = ("build-dataset", "--source", str(DEMO), "--languages", "fr", "--translator", f"file:{imports}",
            "--out", str(out), "--json")

    def stored_runs() -> set:
        con = duckdb.connect(str(ws / "bench.duckdb"), read_only=True)
        try:
            return set(con.execute("SELECT item_id, run_id FROM translations").fetchall())
        finally:
            con.close()

    first = report_of(run_cli(*args, workspace=ws))
    before = stored_runs()
    assert {run for _, run in before} == {first["run_id"]} and len(before) == len(source)
    second = report_of(run_cli(*args, workspace=ws))
    assert second["run_id"] != first["run_id"] and stored_runs() == before
    assert set(second["phase_seconds"]) == {"qa_setup", "translate", "qa", "rows", "store", "write"}
