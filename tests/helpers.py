"""Small helpers shared by tests: paths to ../shared and running the real CLI."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_SOURCE = SHARED / "data" / "just-eval-instruct" / "just_eval_instruct.jsonl"


def need_shared(path: Path = SHARED_SOURCE) -> Path:
    """Skip the test with a clear message when ../shared (reference data) is absent."""
    if not path.exists():
        pytest.skip(f"reference data not found at {path} (../shared is absent)")
    return path


def run_cli(*args: str, workspace: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``bench`` in a subprocess exactly as a user would."""
    full_env = {**os.environ, "BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", **(env or {})}
    cmd = [sys.executable, "-m", "bench.cli"]
    if workspace is not None:
        cmd += ["--workspace", str(workspace)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO)


@dataclass
class MainResult:
    """What :func:`run_main` saw: the exit code and both streams."""
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_main(*args: str) -> MainResult:
    """Run ``bench`` in this process through ``bench.cli.main`` (the console script's code path:
    user errors become one ``error:`` line and exit code 2), capturing stdout and stderr."""
    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return MainResult(code, out.getvalue(), err.getvalue())
