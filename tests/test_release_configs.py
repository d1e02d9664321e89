"""A release covers every configuration its dataset declares (issue 17, item 5).

The dataset folder's card (``README.md`` ``configs:``) and ``build_info.json`` (its translated
``languages``) declare the language configs; ``bench release`` stops with one line naming what is
missing when a declared config's parquet is gone, unless ``--languages`` picks a subset on purpose.
``bench release verify`` checks that the manifest's ``languages``, its configs, the card's
``language`` list and the data files on disk agree.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.hashing import sha256_file
from benchmark.dataset_dir import PARQUET_NAME
from tests.helpers import REPO, run_cli, run_main

DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"


def build_dataset(root: Path) -> Path:
    """``root/ds``: a dataset folder built by ``bench build-dataset`` (en source, fr and es by the file:
    translator). Reused by ``perf/reliability.py``."""
    source = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    imports = root / "human.jsonl"
    imports.write_text("".join(json.dumps({"id": r["id"], "lang": lang, "translation": f"[{lang}] {r['instruction']}"})
                               + "\n" for r in source for lang in ("fr", "es")), encoding="utf-8")
    out = root / "ds"
    proc = run_cli("build-dataset", "--source", str(DEMO), "--languages", "fr,es", "--translator", f"file:{imports}",
                   "--out", str(out), workspace=root / "ws")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A dataset folder built by ``bench build-dataset`` (en source, fr and es by the file: translator)."""
    return build_dataset(tmp_path_factory.mktemp("release_configs"))


def _copy(built: Path, tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    shutil.copytree(built, ds)
    return ds


def _release(ds: Path, tmp_path: Path, *extra: str):
    return run_main("--workspace", str(tmp_path / "ws"), "release", "--dataset", str(ds), "--version", "1.0.0",
                    "--out", str(tmp_path / "rel"), "--allow-unreviewed", "--date", "2025-03-01", *extra)


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    return lines[0]


def test_built_dataset_declares_its_configs(built):
    from release.dataset_check import check_dataset, declared_languages

    info = json.loads((built / "build_info.json").read_text(encoding="utf-8"))
    assert sorted(declared_languages(built, info)) == ["en", "es", "fr"]
    assert check_dataset(built).languages == ["en", "fr", "es"]


def test_a_deleted_language_stops_the_release(built, tmp_path):
    ds = _copy(built, tmp_path)
    shutil.rmtree(ds / "fr")
    line = _error_line(_release(ds, tmp_path))
    assert f"{ds / 'README.md'}: " in line
    assert "field 'configs[1]'" in line
    assert f"declares the 'fr' config but fr/{PARQUET_NAME} is not in the dataset folder" in line
    assert "--languages" in line
    assert not (tmp_path / "rel").exists() and not (tmp_path / "ws").exists()
    assert not any(p.name.startswith(".rel.staging") for p in tmp_path.iterdir())


def test_build_info_declares_the_languages_when_the_card_is_gone(built, tmp_path):
    ds = _copy(built, tmp_path)
    (ds / "README.md").unlink()
    shutil.rmtree(ds / "es")
    line = _error_line(_release(ds, tmp_path))
    assert f"{ds / 'build_info.json'}: " in line and "field 'languages[1]'" in line and "'es' config" in line
    assert not (tmp_path / "rel").exists()


def test_every_missing_config_is_named(built, tmp_path):
    ds = _copy(built, tmp_path)
    shutil.rmtree(ds / "fr")
    shutil.rmtree(ds / "es")
    line = _error_line(_release(ds, tmp_path))
    assert "'fr' config" in line and "also missing: es" in line


def test_languages_picks_a_subset_on_purpose_and_verify_agrees(built, tmp_path):
    ds = _copy(built, tmp_path)
    shutil.rmtree(ds / "fr")
    result = _release(ds, tmp_path, "--languages", "en,es")
    assert result.exit_code == 0, result.output
    rel = tmp_path / "rel"
    manifest = json.loads((rel / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["languages"] == ["en", "es"] and sorted(manifest["configs"]) == ["en", "es"]
    verified = run_main("release", "verify", str(rel))
    assert verified.exit_code == 0 and verified.stdout.startswith("OK: release 1.0.0"), verified.output


def _forge(rel: Path, drop: str) -> None:
    """Remove a language from a release folder the way a careless copy would: its folder, its files and
    configs entries and its card config go, the manifest's ``languages`` and the card's ``language`` stay."""
    from cards.validate import card_metadata

    shutil.rmtree(rel / drop)
    manifest_path = rel / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    card = (rel / "README.md").read_text(encoding="utf-8")
    block = f"- config_name: {drop}\n  data_files:\n  - split: test\n    path: {drop}/test-*.parquet\n"
    assert block in card
    (rel / "README.md").write_text(card.replace(block, ""), encoding="utf-8")
    assert drop not in [c["config_name"] for c in card_metadata((rel / "README.md").read_text())["configs"]]
    del manifest["configs"][drop]
    del manifest["files"][f"{drop}/{PARQUET_NAME}"]
    manifest["files"]["README.md"] = {"sha256": sha256_file(rel / "README.md"),
                                      "size": (rel / "README.md").stat().st_size}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def test_verify_names_a_language_the_release_lost(built, tmp_path):
    from release.verify import release_problems

    assert _release(built, tmp_path).exit_code == 0
    rel = tmp_path / "rel"
    _forge(rel, "fr")
    assert release_problems(rel) == ["MANIFEST.json: languages lists 'fr' but configs has no 'fr' config"]
    line = _error_line(run_main("release", "verify", str(rel)))
    assert "languages lists 'fr'" in line


def test_verify_checks_the_card_languages_and_unlisted_data_files(built, tmp_path):
    from release.verify import release_problems

    assert _release(built, tmp_path).exit_code == 0
    rel = tmp_path / "rel"
    _forge(rel, "fr")
    manifest_path = rel / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["languages"] = ["en", "es"]  # the manifest agrees now; the card still says fr
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    problems = release_problems(rel)
    assert problems == ["README.md: language ['en', 'fr', 'es'] differs from MANIFEST.json languages ['en', 'es']"]

    # a data file listed in files (so its hash checks out) but in no config is not released as a config
    (rel / "fr").mkdir()
    shutil.copy(built / "fr" / PARQUET_NAME, rel / "fr" / PARQUET_NAME)
    manifest["files"][f"fr/{PARQUET_NAME}"] = {"sha256": sha256_file(rel / "fr" / PARQUET_NAME),
                                               "size": (rel / "fr" / PARQUET_NAME).stat().st_size}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    assert f"fr/{PARQUET_NAME}: a data file that no config in MANIFEST.json names" in release_problems(rel)
