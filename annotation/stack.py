"""``bench annotate up/down/status``: the local Argilla stack (scripts/argilla_stack.sh) for a workspace.

Data, logs and pid files live in ``<workspace>/argilla/``; the server's virtual environment in
``<repo>/.argilla-venv`` (override: ARGILLA_SERVER_VENV). Everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from annotation.client import DEFAULT_API_URL, LOCAL_DEV_API_KEY, LOCAL_DEV_PASSWORD, LOCAL_DEV_USER
from bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "argilla_stack.sh"


def stack_dir(workspace_root: Path) -> Path:
    return Path(workspace_root).resolve() / "argilla"


def run_script(action: str, workspace_root: Path, capture: bool = False) -> subprocess.CompletedProcess:
    if not SCRIPT.exists():
        raise BenchError(f"{SCRIPT}: missing (the local stack needs a checkout of the bench repository)")
    env = {**os.environ, "ARGILLA_STACK_DIR": str(stack_dir(workspace_root)),
           "BENCH_WORKSPACE": str(Path(workspace_root).resolve())}
    return subprocess.run(["bash", str(SCRIPT), action], env=env, text=True, capture_output=capture)


def up(workspace_root: Path) -> str:
    proc = run_script("up", workspace_root)
    if proc.returncode != 0:
        raise BenchError(f"the local Argilla stack did not start (logs: {stack_dir(workspace_root) / 'logs'})")
    return login_message()


def login_message() -> str:
    return (f"Argilla is up at {DEFAULT_API_URL} (listening on 127.0.0.1 only)\n"
            f"  sign in: user '{LOCAL_DEV_USER}', password '{LOCAL_DEV_PASSWORD}'  (local dev owner: local use only)\n"
            f"  SDK / bench: --api-url {DEFAULT_API_URL}; the API key is Argilla's local dev key "
            f"'{LOCAL_DEV_API_KEY}' (local use only; it is the default of --api-key)\n"
            "  stop it with: bench annotate down")


def down(workspace_root: Path) -> None:
    proc = run_script("down", workspace_root)
    if proc.returncode != 0:
        raise BenchError("stopping the local Argilla stack failed")


def status(workspace_root: Path) -> tuple[bool, str]:
    proc = run_script("status", workspace_root, capture=True)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
