"""Reliability: kill-safety, fault injection, malformed inputs, secrets and the untrusted-text audit.

Runs the test harnesses of ``tests/`` outside pytest and sums what they tried and what went wrong:

1. malformed inputs: every case of ``tests/data/malformed/cases.yaml`` through ``bench.cli.main``
   (exit 2, one line naming file/record/field, nothing written);
2. kill loops: ``build-dataset`` (``tests.test_build._kill_and_resume``, tiny local causal LM on the
   shared Just-Eval source; skipped without ``../shared``), ``baselines run`` (tiny chat LM) and
   ``baselines judge`` (scripted judge behind a loopback server) are SIGKILLed at seeded random moments
   and resumed, then compared with uninterrupted runs (``tests/test_kill_safety.py``);
3. fault injection: ``build-dataset --translator openai:...`` through the CLI and the judge, behind
   a server answering ~20% of requests with 429 (with/without Retry-After), 500, 503, dropped
   connections, hangs, malformed/truncated JSON;
4. secrets: every command with sentinel HF/OpenAI/Argilla tokens set, outputs and files searched;
5. the static audit of ``tests/test_untrusted.py`` (shell, eval, SQL interpolation, remote code).

Default: 2 kills per command (a few minutes on 2 CPU cores). ``--full``: 20 kills per command and
``train-dpo`` in the secrets run. Target: every count zero except what was tried (``kills``,
``faults_injected``, ``malformed_files``).

Last line: one JSON object (``kills``, ``lost``, ``duplicated``, ``faults_injected``,
``items_unaccounted``, ``malformed_files``, ``tracebacks``, ``secret_leaks`` first).

    python perf/reliability.py [--full] [--kills N] [--seed 0] [--only malformed,kill,fault,secrets,audit]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BENCH_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PARTS = ("malformed", "kill", "fault", "secrets", "audit")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_malformed(tmp: Path) -> dict:
    from tests.test_malformed import is_traceback, load_cases, problems, run_case

    cases = load_cases()
    failed, tracebacks = [], 0
    for n, case in enumerate(cases):
        outcome = run_case(case, tmp / f"case-{n}")
        tracebacks += is_traceback(outcome)
        if problems(case, outcome):
            failed.append(f"{case['file']}: {problems(case, outcome)}")
    for line in failed[:20]:
        log(f"  malformed: {line}")
    return {"malformed_files": len(cases), "malformed_failed": len(failed), "tracebacks": tracebacks}


def run_kills(tmp: Path, kills: int, seed: int, models: dict[str, Path]):
    from tests.helpers import SHARED_SOURCE
    from tests.test_kill_safety import Tally, build_kill_suite, judge_kill_suite, run_kill_suite

    total = Tally()
    suites = [("baselines judge", lambda root: judge_kill_suite(root, target_kills=kills, seed=seed + 3)),
              ("baselines run", lambda root: run_kill_suite(root, models["chat"], target_kills=kills, seed=seed + 2))]
    if SHARED_SOURCE.exists():
        suites.insert(0, ("build-dataset", lambda root: build_kill_suite(
            root, f"llm:{models['base']}", target_kills=kills, seed=seed + 1, limit=60 if kills <= 5 else 200)))
    else:
        log(f"  kill: build-dataset skipped ({SHARED_SOURCE} is absent)")
    per_command = {}
    for name, suite in suites:
        started = time.perf_counter()
        root = tmp / name.replace(" ", "-")
        root.mkdir(parents=True)
        try:
            tally = suite(root)
        except AssertionError as exc:  # a harness assertion (e.g. _kill_and_resume's) is a failure to count
            tally = Tally(lost=1, notes=[f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion failed'}"])
        total.add(tally)
        per_command[name] = {"kills": tally.kills, "seconds": round(time.perf_counter() - started, 1),
                             **tally.problems()}
        log(f"  kill {name}: {per_command[name]}")
        for note in tally.notes[:10]:
            log(f"    {note}")
    return total, per_command


def run_faults(tmp: Path, seed: int):
    from tests.test_kill_safety import Tally, build_dataset_fault_suite, judge_fault_suite

    total = Tally()
    for name, suite in (("build-dataset openai", build_dataset_fault_suite), ("judge", judge_fault_suite)):
        root = tmp / name.replace(" ", "-")
        root.mkdir(parents=True)
        tally = suite(root, seed=seed + 5)
        total.add(tally)
        log(f"  faults {name}: {tally.faults_injected} injected, problems {tally.problems()}")
        for note in tally.notes[:10]:
            log(f"    {note}")
    return total


def add_losses(figures: dict, extra: dict, tally) -> None:
    """Add a kill or fault run's lost / duplicated / unaccounted items (and repeats, half-written rows)."""
    for name in ("lost", "duplicated", "items_unaccounted"):
        figures[name] += getattr(tally, name)
    for name in ("repeated", "half_written"):
        extra[name] = extra.get(name, 0) + getattr(tally, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="20 kills per command; train-dpo in the secrets run.")
    parser.add_argument("--kills", type=int, default=None, help="Kills per command (default 2, --full 20).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=",".join(PARTS), help=f"Comma-separated parts: {', '.join(PARTS)}.")
    args = parser.parse_args()
    kills = args.kills if args.kills is not None else (20 if args.full else 2)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    figures: dict = {"kills": 0, "lost": 0, "duplicated": 0, "faults_injected": 0, "items_unaccounted": 0,
                     "malformed_files": 0, "tracebacks": 0, "secret_leaks": 0}
    extra: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp_name:
        tmp = Path(tmp_name)
        models: dict[str, Path] = {}
        if "kill" in parts or ("secrets" in parts and args.full):
            from bench.testing.tiny_models import build_tiny_causal_lm

            log("building tiny models ...")
            models["chat"] = Path(build_tiny_causal_lm(tmp / "models" / "chat", chat_template=True))
            models["base"] = Path(build_tiny_causal_lm(tmp / "models" / "base", chat_template=False))
        if "malformed" in parts:
            t0 = time.perf_counter()
            result = run_malformed(tmp / "malformed")
            figures["malformed_files"] = result["malformed_files"]
            figures["tracebacks"] += result["tracebacks"]
            extra["malformed_failed"] = result["malformed_failed"]
            log(f"malformed: {result} ({time.perf_counter() - t0:.1f}s)")
        if "kill" in parts:
            t0 = time.perf_counter()
            tally, per_command = run_kills(tmp / "kill", kills, args.seed, models)
            figures["kills"] += tally.kills
            add_losses(figures, extra, tally)
            extra["kills_after_progress"] = tally.kills_after_progress
            extra["kills_per_command"] = {k: v["kills"] for k, v in per_command.items()}
            log(f"kill: {tally.kills} kills ({time.perf_counter() - t0:.1f}s)")
        if "fault" in parts:
            t0 = time.perf_counter()
            tally = run_faults(tmp / "fault", args.seed)
            figures["faults_injected"] += tally.faults_injected
            add_losses(figures, extra, tally)
            log(f"fault: {tally.faults_injected} faults injected ({time.perf_counter() - t0:.1f}s)")
        if "secrets" in parts:
            from tests.test_secrets import run_every_command

            t0 = time.perf_counter()
            (tmp / "secrets").mkdir()
            result = run_every_command(tmp / "secrets", dpo_model=models.get("base") if args.full else None)
            figures["secret_leaks"] = len(result["leaks"])
            figures["tracebacks"] += sum("Traceback" in p.stderr for label, p in result["procs"] if "debug" not in label)
            extra["secret_commands"] = result["commands"]
            extra["command_failures"] = len(result["failures"])
            for line in result["leaks"][:10] + result["failures"][:10]:
                log(f"  secrets: {line}")
            log(f"secrets: {result['commands']} commands, {result['files']} files searched "
                f"({time.perf_counter() - t0:.1f}s)")
        if "audit" in parts:
            from tests.test_untrusted import audit

            violations = audit()
            extra["audit_violations"] = len(violations)
            for line in violations[:10]:
                log(f"  audit: {line}")
    figures.update(extra)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
