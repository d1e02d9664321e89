"""Run the speed scripts and write the one table the README links to: ``docs/performance.md``.

Every speed figure the project quotes comes from here, so the table cannot drift from the code:
each script of :data:`SCRIPTS` runs in a fresh process, its last line (one JSON object) is kept in
``docs/performance.json`` with the command, the date, the CPU count and the library versions, and
``docs/performance.md`` is rendered from that file. ``--only NAME,...`` reruns some scripts and keeps
the others' last results (each row says when it was measured).

    python perf/report.py [--only translate,generation] [--timeout 1800]
    make perf
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
JSON_OUT = REPO / "docs" / "performance.json"
MD_OUT = REPO / "docs" / "performance.md"


@dataclass(frozen=True)
class Script:
    name: str
    args: tuple[str, ...]
    compares: str
    target: str = ""


SCRIPTS: tuple[Script, ...] = (
    Script("translate", ("perf/translate.py",),
           "batched vs one-by-one translation; cold build vs cached rebuild; the full 1,000 x fr, es dataset "
           "rebuilt from the cache, with where its time goes",
           "full cached rebuild < 10 s"),
    Script("generation", ("perf/generation.py",),
           "batched vs one-at-a-time generation; URIAL prefix KV reuse vs full prefill (tiny Llama)",
           "prefix reuse >= 2x, identical outputs"),
    Script("generation-gemma", ("perf/generation.py", "--model", "{gemma}", "--dtype", "float32", "--cache-dir",
                                "demo-output/workspace/cache", "--prompts", "8", "--urial-prompts", "8",
                                "--new-tokens", "16", "--repeats", "1"),
           "the same on Gemma-3-270M (float32; sliding-window layers), when the demo models are installed",
           "prefix reuse >= 2x, identical outputs"),
    Script("store", ("perf/store.py",),
           "one store operation opening and closing the file (stages side by side) vs inside a held session"),
    Script("judge", ("perf/judge.py",),
           "concurrent vs sequential judge requests (loopback server); local probability scoring, batched with "
           "the judge's system prompt reused, vs one item at a time (target >= 3x); critical-error detector throughput"),
    Script("detectors", ("perf/detectors.py",), "critical-error detectors over the 7,000 shared answers",
           ">= 1,000 responses/s"),
    Script("argilla", ("perf/argilla.py",),
           "translation review at full size on the local Argilla stack (2,000 records): push, unchanged re-push, "
           "200 submitted reviews, pull and merge; skipped without a running stack (make argilla-up)",
           "push and pull each < 60 s; a re-push writes nothing"),
    Script("leaderboard", ("perf/leaderboard.py",),
           "full leaderboard over 1,000,000 judgement rows: DuckDB vs just-eval's loops over JSON files vs pandas",
           "< 1 s, >= 20x the JSON loops"),
    Script("reliability", ("perf/reliability.py", "--only", "fault,malformed,trust"),
           "injected server faults, malformed inputs and trust probes (published secrets, unescaped names, "
           "unhealed cells, silent exit 0): lost rows, half-written files, tracebacks", "all 0"),
)


def gemma_gguf() -> Path | None:
    """The demo's Gemma-3-270M GGUF (assembled by ``make demo``), if present."""
    path = REPO / "demo-output" / "models" / "gemma-3-270m-q4_k_m.gguf"
    return path if path.is_file() else None


def run_script(script: Script, timeout: int) -> dict[str, Any]:
    """Run one script; its record: command, date, seconds, and the figures of its last line (or an error)."""
    gemma = gemma_gguf()
    if "{gemma}" in script.args and gemma is None:
        return {"skipped": "demo-output/models/gemma-3-270m-q4_k_m.gguf not found (run `make demo` first)"}
    args = [a.replace("{gemma}", str(gemma)) for a in script.args]
    command = "python " + " ".join(a.replace(str(REPO) + os.sep, "") for a in args)
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": command, "error": f"timed out after {timeout} s"}
    record: dict[str, Any] = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "seconds": round(time.perf_counter() - started, 1)}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        record["figures"] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        record["error"] = f"exit {proc.returncode}: {tail[:300]}"
    return record


def machine() -> dict[str, Any]:
    from bench.store import library_versions

    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "versions": library_versions()}


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, separators=(", ", ": ")) + "`"
    return str(value).replace("|", "\\|")


def render(results: dict[str, Any]) -> str:
    """``docs/performance.md`` from the results file: one section per script, its figures as a table."""
    info = results.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items()))
    out = ["# Performance", "",
           "Written by `make perf` (`python perf/report.py`); do not edit by hand. Each script measures the "
           "baseline and the project in the same run; ratios first.", "",
           f"Machine: {info.get('cpus', '?')} CPUs ({info.get('machine', '?')}), Python {info.get('python', '?')}; "
           f"{versions}.", ""]
    for script in SCRIPTS:
        record = results.get("scripts", {}).get(script.name)
        out += [f"## {script.name}", "", script.compares + ("" if not script.target else f" (target: {script.target})."), ""]
        if record is None:
            out += ["Not measured yet.", ""]
            continue
        if "skipped" in record:
            out += [f"Skipped: {record['skipped']}.", ""]
            continue
        out += [f"`{record['command']}`, {record.get('date', '?')}, {record.get('seconds', '?')} s.", ""]
        if "error" in record:
            out += [f"**Failed:** {record['error']}", ""]
            continue
        out += ["| figure | value |", "|---|---|"]
        out += [f"| `{key}` | {_value(value)} |" for key, value in record["figures"].items()]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names (default: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per script")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or [s.name for s in SCRIPTS]
    unknown = sorted(set(names) - {s.name for s in SCRIPTS})
    if unknown:
        sys.exit(f"error: unknown script(s) {', '.join(unknown)}; known: {', '.join(s.name for s in SCRIPTS)}")
    from bench.atomic import write_text_atomic

    results = json.loads(JSON_OUT.read_text(encoding="utf-8")) if JSON_OUT.is_file() else {}
    results["machine"] = machine()
    for script in SCRIPTS:
        if script.name in names:
            print(f"perf: {script.name} ...", file=sys.stderr, flush=True)
            results.setdefault("scripts", {})[script.name] = run_script(script, args.timeout)
            write_text_atomic(JSON_OUT, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
            write_text_atomic(MD_OUT, render(results))
    failed = [n for n in names if "error" in results["scripts"][n]]
    print(json.dumps({"scripts": len(names), "failed": failed, "table": str(MD_OUT.relative_to(REPO))}))


if __name__ == "__main__":
    main()
