"""The malformed-input corpus (tests/data/malformed): every bad file of every input the CLI takes.

``tests/data/malformed/cases.yaml`` lists, for each file, the command line to run and the substrings
the error must contain (the file name, then the record and the field where the problem has them).
Every case must

* exit with code 2 (a user error, not a crash),
* print exactly ONE line on stderr, starting with ``error:``, without a traceback (``--debug`` shows it),
* write nothing: no output file, no workspace (no store), nothing beside the inputs.

The cases run in-process through ``bench.cli.main`` (the same code path as the console script, fast);
``test_subprocess_equals_in_process`` checks a sample through the real ``python -m bench.cli``
subprocess, and ``test_every_case_through_the_real_cli`` (slow) runs them all that way.

The helpers (:func:`load_cases`, :func:`run_case`, :func:`problems`) are reused by
``perf/reliability.py``.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, run_cli

MALFORMED = REPO / "tests" / "data" / "malformed"
GOOD = MALFORMED / "_good"
DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"
MIN_FILES_PER_COMMAND = {"build-dataset": 40, "baselines-run": 15, "train-dpo": 15, "import-just-eval": 15,
                         "qa-translations": 8, "qa-evaluate": 4, "errors-detect": 8, "errors-evaluate": 4,
                         "release": 15, "release-verify": 6, "push-to-hub": 3, "annotate": 5}


def load_cases() -> list[dict[str, Any]]:
    return yaml.safe_load((MALFORMED / "cases.yaml").read_text(encoding="utf-8"))["cases"]


def case_id(case: dict[str, Any]) -> str:
    return case["file"]


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    ws: Path
    out: Path


def expand(case: dict[str, Any], tmp: Path) -> tuple[list[str], Path, Path]:
    """The full argv (with --workspace) of a case, its workspace and its output path.

    Folder inputs: ``{dir}`` is the case file's folder (a release folder holding a broken MANIFEST.json,
    a dataset folder holding a broken build_info.json), ``{dataset}`` the dataset folder of a case file
    ``<dataset>/<lang>/test-00000-of-00001.parquet`` (its grandparent; the case picks its config with
    ``--languages``)."""
    ws, out = tmp / "ws", tmp / "out" / "result"
    file = MALFORMED / case["file"]
    values = {"file": str(file), "out": str(out), "demo": str(DEMO), "good": str(GOOD), "dir": str(file.parent),
              "dataset": str(file.parent.parent)}
    args = [a.format(**values) for a in case["args"]]
    return ["--workspace", str(ws), *args], ws, out


def _env() -> dict[str, str]:
    return {"BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@contextlib.contextmanager
def _patched_env(values: dict[str, str], drop: tuple[str, ...] = ("BENCH_DEBUG", "BENCH_WORKSPACE")):
    saved = {k: os.environ.get(k) for k in (*values, *drop)}
    os.environ.update(values)
    for k in drop:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_case(case: dict[str, Any], tmp: Path, *, subprocess: bool = False, debug: bool = False) -> Outcome:
    """Run one case through ``bench.cli.main`` in this process (or the real CLI in a subprocess)."""
    argv, ws, out = expand(case, tmp)
    if debug:
        argv = ["--debug", *argv]
    if subprocess:
        proc = run_cli(*argv, env=_env(), timeout=120)
        return Outcome(proc.returncode, proc.stdout, proc.stderr, ws, out)
    from bench.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | None = 0
    with _patched_env(_env()), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Outcome(code, stdout.getvalue(), stderr.getvalue(), ws, out)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: (size, mtime_ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def problems(case: dict[str, Any], outcome: Outcome) -> list[str]:
    """What is wrong with a case's outcome (empty: the case passes)."""
    found: list[str] = []
    lines = outcome.stderr.strip().splitlines()
    if outcome.code != 2:
        found.append(f"exit code {outcome.code} (expected 2)")
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        found.append("traceback printed")
    if len(lines) != 1:
        found.append(f"{len(lines)} stderr lines (expected 1)")
    elif not lines[0].startswith("error: "):
        found.append("the line does not start with 'error: '")
    if outcome.stdout.strip():
        found.append(f"stdout not empty: {outcome.stdout.strip()[:200]!r}")
    message = lines[0] if len(lines) == 1 else outcome.stderr
    for needle in case["expect"]:
        if needle not in message:
            found.append(f"missing {needle!r}")
    if outcome.ws.exists():
        found.append("workspace created")
    if outcome.out.exists() or outcome.out.parent.exists():
        found.append("output written")
    return found


def is_traceback(outcome: Outcome) -> bool:
    """A crash rather than a user error: a traceback or the generic last-resort line (exit 1)."""
    return "Traceback" in outcome.stderr or outcome.code not in (0, 2)


# --------------------------------------------------------------------------- tests

CASES = load_cases()


@pytest.fixture(scope="module")
def corpus_snapshot():
    before = snapshot(MALFORMED)
    yield before
    assert snapshot(MALFORMED) == before, "a case wrote or changed files in tests/data/malformed"


def test_corpus_covers_every_input():
    on_disk = {str(p.relative_to(MALFORMED)) for p in MALFORMED.rglob("*")
               if p.is_file() and p.parts[len(MALFORMED.parts)] != "_good" and p.name != "cases.yaml"}
    listed = [c["file"] for c in CASES]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk, (set(listed) ^ on_disk)
    per_command: dict[str, int] = {}
    for name in listed:
        per_command[name.split("/")[0]] = per_command.get(name.split("/")[0], 0) + 1
    assert len(listed) >= 50
    for command, minimum in MIN_FILES_PER_COMMAND.items():
        assert per_command.get(command, 0) >= minimum, (command, per_command)
    kinds = " ".join(listed)
    for needle in ("duplicate", "missing_instruction", "empty_instruction", "not_utf8", "truncated", "empty",
                   "no_instruction_column.parquet", "unknown_key", "unknown_method", "missing_model",
                   "unknown_ids", "unknown_language", "foreign", "pref_"):
        assert needle in kinds, needle


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_malformed_case(case, tmp_path, corpus_snapshot):
    outcome = run_case(case, tmp_path)
    assert not problems(case, outcome), (problems(case, outcome), outcome.stderr[-2000:])


SAMPLE = ["build-dataset/source_duplicate_id.jsonl", "build-dataset/import_unknown_ids.jsonl",
          "build-dataset/source_no_instruction_column.parquet", "baselines-run/grid_unknown_method.yaml",
          "train-dpo/pref_missing_chosen.jsonl", "import-just-eval/foreign_qa_pairs.json",
          "qa-translations/not_utf8.jsonl", "errors-detect/truncated.jsonl",
          "release/review_info_pull_agreement_list.json", "release-verify/configs_list/MANIFEST.json",
          "annotate/dataset/de/test-00000-of-00001.parquet"]


def _case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["file"] == name)


@pytest.mark.parametrize("name", SAMPLE)
def test_subprocess_equals_in_process(name, tmp_path, corpus_snapshot):
    case = _case(name)
    inproc = run_case(case, tmp_path / "a")
    sub = run_case(case, tmp_path / "b", subprocess=True)
    assert not problems(case, sub), (problems(case, sub), sub.stderr)
    assert sub.code == inproc.code
    assert sub.stderr.replace(str(tmp_path / "b"), "TMP") == inproc.stderr.replace(str(tmp_path / "a"), "TMP")


@pytest.mark.parametrize("name", ["build-dataset/source_ids_mixed.jsonl", "baselines-run/grid_not_utf8.yaml",
                                  "import-just-eval/unknown_mode.json"])
def test_debug_flag_shows_the_traceback(name, tmp_path):
    case = _case(name)
    out = run_case(case, tmp_path, subprocess=True, debug=True)
    assert out.code == 2
    assert "Traceback (most recent call last)" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not out.ws.exists() and not out.out.exists()


def test_existing_store_is_left_unchanged(tmp_path):
    """A bad import into a workspace that already holds results changes nothing in it."""
    from bench.workspace import Workspace

    good = tmp_path / "good.json"
    shutil.copy(MALFORMED / "import-just-eval" / "duplicate_id.json", good)
    text = good.read_text(encoding="utf-8")
    import json

    good.write_text(json.dumps(json.loads(text)[:2]), encoding="utf-8")
    ws = tmp_path / "ws"
    proc = run_cli("--workspace", str(ws), "results", "import-just-eval", str(good), env=_env())
    assert proc.returncode == 0, proc.stderr

    def dump() -> dict[str, list]:
        w = Workspace(ws)
        try:
            return {t: sorted(map(repr, w.store.query(f"SELECT * FROM {t}")))
                    for t in ("runs", "responses", "judgements")}
        finally:
            w.close()

    before = dump()
    for name in ("import-just-eval/duplicate_id.json", "import-just-eval/foreign_alpaca_eval.json",
                 "import-just-eval/truncated.json"):
        proc = run_cli("--workspace", str(ws), "results", "import-just-eval", str(good), str(MALFORMED / name),
                       env=_env())
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert dump() == before


@pytest.mark.slow
def test_every_case_through_the_real_cli(tmp_path):
    failures = {}
    for n, case in enumerate(CASES):
        outcome = run_case(case, tmp_path / str(n), subprocess=True)
        if problems(case, outcome):
            failures[case["file"]] = (problems(case, outcome), outcome.stderr[-500:])
    assert not failures, failures


# --------------------------------------------------------------------------- the workspace (issue 17, item 7)

@pytest.mark.parametrize("case", [
    {"file": "_good", "args": ["baselines", "judge", "--judge", "nope:x"], "expect": ["bad judge SPEC 'nope:x'"]},
    {"file": "_good", "args": ["baselines", "judge", "--judge", "hf:/nowhere"],
     "expect": ["'/nowhere'", "no such file or folder"]},
], ids=["judge-bad-spec", "judge-missing-model"])
def test_failing_command_creates_no_workspace(case, tmp_path):
    """A command whose arguments fail validation stops before the store opens: no workspace folder."""
    outcome = run_case(case, tmp_path)
    assert not problems(case, outcome), (problems(case, outcome), outcome.stderr[-2000:])


def _good_inputs(tmp_path: Path) -> dict[str, Path]:
    """Valid inputs of build-dataset (file: translations of the demo) and baselines run (a grid on _good)."""
    import json

    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    translations = tmp_path / "fr.jsonl"
    translations.write_text("".join(json.dumps({"id": r["id"], "lang": "fr", "translation": f"[fr] {r['instruction']}"})
                                    + "\n" for r in rows), encoding="utf-8")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"dataset": str(GOOD / "dataset"), "languages": ["en", "fr"],
                                    "models": [{"name": "m", "path": "org/model", "kind": "base",
                                                "methods": ["zero-shot"]}]}), encoding="utf-8")
    return {"translations": translations, "grid": grid}


def good_command(command: str, tmp_path: Path) -> tuple[list[str], Path]:
    """A valid ``build-dataset`` or ``baselines-run`` command line (inputs under ``tmp_path``) and its output
    path. Reused by ``perf/reliability.py``."""
    inputs = _good_inputs(tmp_path)
    out = tmp_path / "out" / "result"
    args = (["build-dataset", "--source", str(DEMO), "--languages", "fr", "--translator",
             f"file:{inputs['translations']}", "--out", str(out)] if command == "build-dataset"
            else ["baselines", "run", "--config", str(inputs["grid"])])
    return args, out


@pytest.mark.parametrize("under", [False, True], ids=["file", "under-a-file"])
@pytest.mark.parametrize("command", ["build-dataset", "baselines-run"])
def test_workspace_that_is_a_file(command, under, tmp_path):
    """--workspace naming a file (or a folder inside a file): one line naming the path, before any work."""
    args, out = good_command(command, tmp_path)
    blocker = tmp_path / "ws-file"
    blocker.write_text("not a folder", encoding="utf-8")
    ws = blocker / "sub" if under else blocker
    from tests.helpers import run_main

    with _patched_env(_env()):
        result = run_main("--workspace", str(ws), *args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output[-2000:]
    expected = "cannot create the workspace folder" if under else "not a folder; the workspace must be a folder"
    assert lines[0].startswith(f"error: {ws}: ") and expected in lines[0], lines[0]
    assert blocker.read_text(encoding="utf-8") == "not a folder"
    assert not out.parent.exists()
