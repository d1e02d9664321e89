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
5. trust boundaries (issue 17), through ``bench.cli.main`` and the real CLI with the helpers of
   ``tests/test_published_names.py``, ``tests/test_judge.py``, ``tests/test_release_configs.py`` and
   ``tests/test_malformed.py``: a release, leaderboard html/json/markdown files and the push dry-run plan
   built from a store holding credential, local-path and markup names (``published_secrets``: planted
   secrets found in them; ``unescaped_names``: raw ``<img`` tags and broken code spans in the cards
   rendered as CommonMark); a judge run stopped by the parse-failure threshold, rerun against the healed
   judge (``unhealed_cells``: score cells still missing); commands that must fail (``silent_exit0``: those
   that exited 0): the stopped judge run, all-N/A and all-401 judges, releases of a dataset missing a
   declared config, the overflow / mixed-type / deep-nesting / corrupt-parquet inputs and a
   ``--workspace`` that is a file. ``trust_problems``: other wrong outcomes (a bad error line, a probe whose
   setup broke, nothing planted), logged on stderr;
6. the static audit of ``tests/test_untrusted.py`` (shell, eval, SQL interpolation, remote code).

Default: 2 kills per command (a few minutes on 2 CPU cores). ``--full``: 20 kills per command and
``train-dpo`` in the secrets run. Target: every count zero except what was tried (``kills``,
``faults_injected``, ``malformed_files``, ``trust_probes``).

Last line: one JSON object (``kills``, ``lost``, ``duplicated``, ``faults_injected``,
``items_unaccounted``, ``malformed_files``, ``tracebacks``, ``secret_leaks`` first, then, when the trust
part ran, ``published_secrets``, ``unescaped_names``, ``unhealed_cells``, ``silent_exit0``).

    python perf/reliability.py [--full] [--kills N] [--seed 0] [--only malformed,kill,fault,secrets,trust,audit]
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

PARTS = ("malformed", "kill", "fault", "secrets", "trust", "audit")


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


# --------------------------------------------------------------------------- trust boundaries (issue 17)

# the malformed-corpus cases of issue 17: int64 overflow ids, mixed-type fields, deep JSON nesting, corrupt parquet
TRUST_CASES = ("build-dataset/source_id_above_int64.jsonl", "build-dataset/source_extra_field_mixed_types.jsonl",
               "build-dataset/source_extra_field_struct_and_number.json",
               "build-dataset/source_field_clashes_with_column.jsonl", "build-dataset/source_deep_nesting.jsonl",
               "build-dataset/source_deep_nesting.json", "baselines-run/grid_dataset_corrupt_parquet.yaml",
               "import-just-eval/deep_nesting.json", "qa-translations/deep_nesting.jsonl")


class Trust:
    """What the trust probes found: the four headline counts, crashes (a traceback, or the last-resort exit 1),
    the probes run and every wrong outcome (notes)."""

    def __init__(self) -> None:
        self.counts = {"published_secrets": 0, "unescaped_names": 0, "unhealed_cells": 0, "silent_exit0": 0}
        self.tracebacks = 0
        self.corpus_tracebacks = 0  # of those, the malformed corpus's cases (the malformed part counts them too)
        self.probes = 0
        self.notes: list[str] = []

    def expect_failure(self, label: str, code: int | None, stderr: str, needle: str = "",
                       problems: list[str] | None = None) -> bool:
        """A command that must fail: exit 0 is a silent success; else exit 2 and one ``error:`` line holding
        ``needle`` (or no ``problems``, where the caller checked more). True if it crashed."""
        self.probes += 1
        lines = stderr.strip().splitlines()
        crashed = "Traceback" in stderr or code not in (0, 2)
        self.tracebacks += crashed
        if code == 0:
            self.counts["silent_exit0"] += 1
            self.notes.append(f"{label}: exit 0 (expected a failure)")
            return crashed
        if problems is None and (code != 2 or len(lines) != 1 or not lines[0].startswith("error: ")
                                 or needle not in lines[0]):
            problems = [f"exit {code}, stderr {stderr.strip()[-300:]!r}"]
        if problems:
            self.notes.append(f"{label}: {'; '.join(problems)}")
        return crashed


def _unescaped(markdown: str) -> int:
    """Raw ``<img`` tags and broken code spans in a card rendered as CommonMark with raw HTML on (the Hub's
    view): each ``tick`` shown without the rest of the backticked name ``tick`s``model`` is a code span
    the backticks broke. Without markdown-it: the raw tags of the Markdown source only."""
    from tests.test_published_names import TICK_MODEL, commonmark

    try:
        page = commonmark(markdown)
    except ImportError:
        return markdown.count("<img")
    return page.count("<img") + page.count("tick") - page.count(TICK_MODEL)


def probe_published(root: Path, trust: Trust) -> None:
    """A release, leaderboard html/json/markdown files and the push dry-run plan, all from a store holding
    credential, local-path and markup names: planted secrets published, raw tags and broken code spans."""
    from bench.workspace import Workspace
    from tests.test_published_names import (FORBIDDEN, HTML_MODEL, TICK_MODEL, build_published, commonmark,
                                            leaderboard_files, parquet_text, push_dry_run)

    published = build_published(root)
    rel, ws = published["rel"], published["ws"]
    workspace = Workspace(ws)
    try:  # the store holds the raw names: otherwise finding none of them proves nothing
        stored = json.dumps(workspace.store.query("SELECT DISTINCT judge FROM judgements")
                            + workspace.store.query("SELECT DISTINCT model, backend FROM responses"))
    finally:
        workspace.close()
    if not all(needle in stored for needle in FORBIDDEN) or HTML_MODEL not in stored or TICK_MODEL not in stored:
        trust.notes.append("published: the store does not hold every planted name")
    texts: dict[str, str] = {}  # where -> what is published there
    cards: dict[str, str] = {}  # where -> Markdown shown by the Hub or a Markdown viewer
    for path in sorted(p for p in rel.rglob("*") if p.is_file()):
        name = f"release {path.relative_to(rel).as_posix()}"
        texts[name] = (parquet_text(path) if path.suffix == ".parquet"
                       else path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".md":
            cards[name] = texts[name]
    for fmt, path in leaderboard_files(ws, root / "boards", ("markdown", "json", "html")).items():
        texts[f"leaderboard --format {fmt}"] = path.read_text(encoding="utf-8")
    cards["leaderboard --format markdown"] = texts["leaderboard --format markdown"]
    output, plan = push_dry_run(rel)
    texts["push-to-hub --dry-run"] = output
    texts["push-to-hub --dry-run --json"] = json.dumps(plan, ensure_ascii=False)
    cards["push plan card"] = plan["card"]
    trust.probes += 1 + 3 + 2  # the release, three leaderboard files, two dry runs
    for where, text in texts.items():
        found = sum(text.count(needle) for needle in FORBIDDEN)
        trust.counts["published_secrets"] += found
        if found:
            trust.notes.append(f"published: {found} planted secret(s) in {where}")
    html = texts["leaderboard --format html"].count("<img")  # an HTML page: its tags as they are
    for where, markdown in {**cards, "leaderboard --format html": None}.items():
        found = html if markdown is None else _unescaped(markdown)
        trust.counts["unescaped_names"] += found
        if found:
            trust.notes.append(f"unescaped: {found} raw tag(s) or broken code span(s) in {where}")
    try:
        results = commonmark(cards["release RESULTS.md"])  # the names are shown (as text), or the count is moot
    except ImportError:
        log("  trust: markdown-it is not installed: cards checked for raw <img tags only")
        return
    if TICK_MODEL not in results or "&lt;img src=x" not in results:
        trust.notes.append("unescaped: RESULTS.md does not show the planted names")


def probe_judges(root: Path, trust: Trust) -> None:
    """``baselines judge`` through ``bench.cli.main``: a run stopped by the parse-failure threshold, then
    rerun against the healed judge (every missing score cell filled); an all-N/A judge and an all-401
    judge must fail."""
    from bench.workspace import Workspace
    from tests.helpers import run_main
    from tests.servers import FaultProxy
    from tests.test_judge import SwitchableJudge, missing_cells, na_everywhere, seeded_workspace, spec_for

    ws_dir = root / "heal"
    rows = seeded_workspace(ws_dir, 30)  # every 4th a safety item (one aspect), the others five aspects
    judge = SwitchableJudge()
    with FaultProxy(responder=judge, model="judge") as proxy:
        command = ("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy), "--json")
        stopped = run_main(*command, "--concurrency", "1")
        trust.expect_failure("judge past the parse-failure threshold", stopped.exit_code, stopped.stderr,
                             "parse failure rate")
        workspace = Workspace(ws_dir)
        try:
            before = missing_cells(workspace, rows)
        finally:
            workspace.close()
        judge.broken = False
        healed = run_main(*command)
    trust.probes += 1
    if healed.exit_code != 0:
        trust.notes.append(f"judge rerun: exit {healed.exit_code}: {healed.stderr.strip()[-300:]!r}")
    workspace = Workspace(ws_dir)
    try:
        trust.counts["unhealed_cells"] += missing_cells(workspace, rows)
    finally:
        workspace.close()
    if before == 0:
        trust.notes.append("judge: the stopped run left no missing score to heal")
    log(f"  trust: {before} missing score cells after the stopped run, "
        f"{trust.counts['unhealed_cells']} after the rerun")
    for folder, label, options, needle in (
            ("na", "all-N/A judge", {"responder": na_everywhere}, "no usable score"),
            ("401", "all-401 judge", {"plan": lambda body, n: "401"}, "HTTP 401")):
        ws_dir = root / folder
        seeded_workspace(ws_dir, 5)
        with FaultProxy(model="judge", **options) as proxy:
            result = run_main("--workspace", str(ws_dir), "baselines", "judge", "--judge", spec_for(proxy),
                              "--repair-attempts", "0", "--json")
        trust.expect_failure(label, result.exit_code, result.stderr, needle)


def probe_release_configs(root: Path, trust: Trust) -> None:
    """``bench release`` of a dataset whose declared config (card, or build_info.json without a card) is gone."""
    import shutil

    from tests.test_release_configs import _copy, _release, build_dataset

    built = build_dataset(root)
    for folder, label, drop in (("card", "release with the card's fr config gone", ("fr",)),
                                ("info", "release with build_info's es config gone, no card", ("README.md", "es"))):
        tmp = root / folder
        tmp.mkdir()
        ds = _copy(built, tmp)
        for name in drop:
            shutil.rmtree(ds / name) if (ds / name).is_dir() else (ds / name).unlink()
        result = _release(ds, tmp)
        trust.expect_failure(label, result.exit_code, result.stderr, "config")
        if result.exit_code != 0 and (tmp / "rel").exists():
            trust.notes.append(f"{label}: a release folder was written")


def probe_inputs(root: Path, trust: Trust) -> None:
    """The issue-17 cases of the malformed corpus (overflow, mixed types, deep nesting, corrupt parquet) and a
    ``--workspace`` that is a file, through ``bench.cli.main``."""
    from tests.helpers import run_main
    from tests.test_malformed import _env, _patched_env, good_command, load_cases, problems, run_case

    cases = {case["file"]: case for case in load_cases()}
    for n, name in enumerate(TRUST_CASES):
        if name not in cases:
            trust.notes.append(f"{name}: not in tests/data/malformed/cases.yaml")
            continue
        outcome = run_case(cases[name], root / f"case-{n}")
        trust.corpus_tracebacks += trust.expect_failure(name, outcome.code, outcome.stderr,
                                                        problems=problems(cases[name], outcome))
    for command in ("build-dataset", "baselines-run"):
        for under in (False, True):
            tmp = root / f"ws-file-{command}-{under}"
            tmp.mkdir()
            args, _ = good_command(command, tmp)
            blocker = tmp / "ws-file"
            blocker.write_text("not a folder", encoding="utf-8")
            with _patched_env(_env()):
                result = run_main("--workspace", str(blocker / "sub" if under else blocker), *args)
            trust.expect_failure(f"{command} --workspace {'under ' if under else ''}a file", result.exit_code,
                                 result.stderr, str(blocker))


def run_trust(tmp: Path) -> Trust:
    """Every trust probe (each in its own folder); a probe that breaks is a note, the others still run."""
    from tests.test_malformed import _patched_env

    trust = Trust()
    probes = (probe_published, probe_judges, probe_release_configs, probe_inputs)
    with _patched_env({"BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1"},
                      drop=("BENCH_DEBUG", "BENCH_WORKSPACE", "OPENAI_API_KEY", "BENCH_OPENAI_API_KEY")):
        for probe in probes:
            root = tmp / probe.__name__
            root.mkdir(parents=True)
            started = time.perf_counter()
            try:
                probe(root, trust)
            except Exception as exc:  # noqa: BLE001 - a probe whose setup broke is counted, the others still run
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                trust.notes.append(f"{probe.__name__}: {first[:300]}")
            log(f"  trust {probe.__name__}: {time.perf_counter() - started:.1f}s")
    return trust


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
        if "trust" in parts:
            t0 = time.perf_counter()
            trust = run_trust(tmp / "trust")
            figures.update(trust.counts)
            figures["tracebacks"] += trust.tracebacks - (trust.corpus_tracebacks if "malformed" in parts else 0)
            extra["trust_probes"] = trust.probes
            extra["trust_problems"] = len(trust.notes)
            for line in trust.notes[:20]:
                log(f"  trust: {line}")
            log(f"trust: {trust.probes} probes, {trust.counts} ({time.perf_counter() - t0:.1f}s)")
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
