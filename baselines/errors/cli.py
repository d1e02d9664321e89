"""``errors`` commands: flag critical errors in model answers; score the detectors on a labelled dev set.

    bench errors detect --input answers.jsonl --out flagged.jsonl
    bench errors evaluate --dev evaluation/critical_errors/dev.jsonl [--json] [--show-misses]

Input lines carry ``instruction``, ``output``, ``lang`` (and optionally ``finish_reason``); every other
field passes through unchanged. A labelled record may point at a shared answer (``ref``) or instruction
(``instruction_ref``) instead of holding its text (:mod:`bench.labelled_sets`). The whole file is validated before anything is written, and the output
is written atomically.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bench.atomic import atomic_open
from bench.cli_options import json_option, languages_option, shared_option
from bench.evaluation_tables import print_evaluation
from bench.errors import InputError
from bench.json_records import iter_jsonl
from bench.label_scores import gold_labels
from bench.labelled_sets import resolve_record, shared_dir
from bench.languages import parse_languages
from baselines.errors.critical_errors import DETECTOR_VERSION, LABELS, CriticalErrorDetector, evaluate as evaluate_records

_REQUIRED = ("instruction", "output", "lang")


def read_records(path: str, languages: tuple[str, ...], labelled: bool = False,
                 shared: str | None = None) -> list[tuple[int, dict]]:
    """Parse and validate every line; raise InputError naming the file, the line and the field."""
    shared_path = shared_dir(shared)
    rows = [(lineno, _validate(path, lineno, _resolved(path, lineno, value, shared_path), languages, labelled))
            for lineno, value in iter_jsonl(path)]
    if not rows:
        raise InputError(path, "no records (empty file)")
    return rows


def _resolved(path: str, lineno: int, row: Any, shared: Path) -> Any:
    return resolve_record(path, f"line {lineno}", row, shared) if isinstance(row, dict) else row


def _validate(path: str, lineno: int, row: Any, languages: tuple[str, ...], labelled: bool) -> dict:
    where = f"line {lineno}"
    if not isinstance(row, dict):
        raise InputError(path, f"expected a JSON object, got {type(row).__name__}", record=where)
    for name in _REQUIRED:
        if name not in row:
            raise InputError(path, "missing field", record=where, field=name)
        if not isinstance(row[name], str):
            raise InputError(path, f"must be a string, got {type(row[name]).__name__}", record=where, field=name)
    code = row["lang"].strip().lower()
    if code not in languages:
        raise InputError(path, f"unknown language {row['lang']!r}; this run detects: {', '.join(languages)} "
                               "(see --languages)", record=where, field="lang")
    fr = row.get("finish_reason")
    if fr is not None and not isinstance(fr, str):
        raise InputError(path, f"must be a string or null, got {type(fr).__name__}", record=where,
                         field="finish_reason")
    if labelled:
        gold_labels(path, row, where, LABELS)
    return row


def judge_option() -> Any:
    return click.option("--judge", default=None, metavar="SPEC",
                        help="Ask this judge (openai:<model>[@<base_url>] | hf:/llm:<id|path>) to confirm or reject "
                             "the uncertain findings (cached in the workspace); the rules alone by default.")


@click.group("errors")
def errors() -> None:
    """Critical errors in answers: repetition loops, unintended code, wrong language, format leaks, empty, truncated."""


@errors.command("detect")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="JSONL: instruction, output, lang[, finish_reason]; other fields pass through.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="JSONL written with critical_errors and critical_error_evidence added.")
@languages_option("Languages the detector knows (ISO 639-1, comma-separated); every line's lang must be one.",
                  default="en,fr,es")
@judge_option()
@click.pass_obj
def detect_cmd(ctx: Any, input_path: str, out_path: str, languages: str, judge: str | None) -> None:
    """Add critical_errors (labels) and critical_error_evidence to every line of INPUT."""
    langs = tuple(parse_languages(languages))
    rows = read_records(input_path, langs)  # everything validated before any work or write
    detector = CriticalErrorDetector(langs)
    start = time.perf_counter()
    items = [(r["instruction"], r["output"], r["lang"].strip().lower(), r.get("finish_reason")) for _, r in rows]
    results = detector.detect_many(items)
    elapsed = time.perf_counter() - start
    if judge:
        results = _second_opinion(ctx, judge, items, results)
    with atomic_open(out_path) as fh:
        for (_, row), found in zip(rows, results):
            row = dict(row)
            row["critical_errors"] = [f.label for f in found]
            row["critical_error_evidence"] = [f.to_dict() for f in found]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    _print_rates(rows, results, elapsed, out_path)


def _second_opinion(ctx: Any, spec: str, items: list[tuple], results: list, ids: list[str] | None = None) -> list:
    """``results`` with the judge's rejections of uncertain findings applied; prints what it changed."""
    review, _name, close = _judge_review(ctx, spec)
    try:
        return review(items, results, ids)
    finally:
        close()


def _judge_review(ctx: Any, spec: str) -> tuple[Any, str, Any]:
    """A second opinion on critical-error findings from ``spec``, cached in the workspace."""
    from baselines.errors.second_opinion import judge_review

    return judge_review(ctx.workspace, spec)


def _print_rates(rows, results, elapsed: float, out_path: str) -> None:
    console = Console(stderr=True)
    totals: Counter = Counter()
    counts: dict[str, Counter] = defaultdict(Counter)
    for (_, row), found in zip(rows, results):
        lang = row["lang"].strip().lower()
        totals[lang] += 1
        counts[lang].update(f.label for f in found)
        if found:
            counts[lang]["(any)"] += 1
    langs = sorted(totals)
    table = Table(title=f"critical errors ({DETECTOR_VERSION}): share of answers per language")
    table.add_column("label")
    for lang in langs + ["all"]:
        table.add_column(lang, justify="right")

    def cell(n: int, total: int) -> str:
        return f"{n / total:.1%} ({n})" if total else "-"

    n_all = sum(totals.values())
    for label in LABELS + ("(any)",):
        table.add_row(label, *(cell(counts[lang][label], totals[lang]) for lang in langs),
                      cell(sum(c[label] for c in counts.values()), n_all))
    table.add_row("answers", *(str(totals[lang]) for lang in langs), str(n_all))
    console.print(table)
    rate = f"{n_all / elapsed:,.0f} answers/s" if elapsed > 0 else ""
    console.print(f"errors: {n_all} answers checked in {elapsed:.2f}s ({rate}) -> {out_path}", highlight=False,
                  soft_wrap=True)


@errors.command("scan")
@languages_option("Only responses in these languages (default: all).")
@judge_option()
@click.pass_obj
def scan_cmd(ctx, languages: str | None, judge: str | None) -> None:
    """Run the detectors over every response in the store not yet checked by this detector version. With
    --judge, the judge reviews the uncertain findings and the checks are stored under their own version
    (<detector version>+<question version>:<judge>), which the leaderboard then reads as the latest."""
    from baselines.errors.scan import reviewed_version, scan_store

    langs = parse_languages(languages) if languages else None
    version, review, closer = DETECTOR_VERSION, None, None
    if judge:
        review, judge_name, closer = _judge_review(ctx, judge)
        version = reviewed_version(judge_name)
    try:
        report = scan_store(ctx.workspace, langs, version=version, review=review)
    finally:
        if closer is not None:
            closer()
    console = Console(stderr=True)
    table = Table(title=f"critical errors ({version}) in the store")
    table.add_column("label")
    table.add_column("new findings", justify="right")
    for label in LABELS:
        table.add_row(label, str(report.label_counts.get(label, 0)))
    console.print(table)
    console.print(f"checked {report.checked} responses now; {report.already_checked} were already checked")


@errors.command("evaluate-intent")
@click.argument("path", type=click.Path(dir_okay=False))
@shared_option()
@json_option("Print one JSON object instead of a table.")
@click.option("--show-misses", is_flag=True, help="Also list the instructions whose intents were read wrongly.")
def evaluate_intent_cmd(path: str, shared: str | None, as_json: bool, show_misses: bool) -> None:
    """Precision / recall / F1 of the instruction-intent features (code, data, markup, computing, math, verse,
    art, language_exempt, about_prompts, dialogue) on labelled instructions, e.g.
    evaluation/instruction_intent/test.jsonl."""
    from baselines.errors.intent_evaluation import evaluate_intents, read_intent_records

    report = evaluate_intents(read_intent_records(path, shared))
    misses = report.pop("misses")
    if as_json:
        if show_misses:
            report["misses"] = misses
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    console = Console()
    print_evaluation(console, f"instruction intent on {Path(path).name} ({report['items']} instructions)",
                     report["labels"], report, noun="intent")
    console.print("macro-F1 by language: " + ", ".join(f"{lang} {v['macro_f1']} ({v['items']})"
                                                       for lang, v in report["by_language"].items()), highlight=False)
    if show_misses:
        for m in misses:
            console.print(f"{m['id']} [{m['lang']}]: missed {', '.join(m['missed']) or '-'}; "
                          f"spurious {', '.join(m['spurious']) or '-'}", highlight=False, markup=False)


@errors.command("evaluate")
@click.option("--dev", "dev_path", required=True, type=click.Path(dir_okay=False),
              help="Labelled JSONL: instruction, output, lang[, finish_reason], labels "
                   "(e.g. evaluation/critical_errors/dev.jsonl).")
@click.option("--split", default=None, help="Only lines whose 'split' field has this value.")
@shared_option()
@languages_option("Languages the detector knows.", default="en,fr,es")
@json_option("Print one JSON object instead of a table.")
@click.option("--show-misses", "--show-errors", "show_errors", is_flag=True,
              help="Also list the items where the detectors disagree with the labels, with their evidence.")
@judge_option()
@click.pass_obj
def evaluate_cmd(ctx: Any, dev_path: str, split: str | None, shared: str | None, languages: str, as_json: bool,
                 show_errors: bool, judge: str | None) -> None:
    """Precision / recall / F1 per label, macro-F1, false alarms on clean items and label confusion."""
    langs = tuple(parse_languages(languages))
    rows = read_records(dev_path, langs, labelled=True, shared=shared)
    records = [dict(r, lang=r["lang"].strip().lower()) for _, r in rows]
    if split is not None:
        records = [r for r in records if r.get("split") == split]
        if not records:
            raise InputError(dev_path, f"no records with split {split!r}")
    for n, rec in enumerate(records):
        rec.setdefault("id", f"line-{n + 1}")
    start = time.perf_counter()
    review = None
    if judge:
        def review(items: list[tuple], found: list) -> list:
            return _second_opinion(ctx, judge, items, found, [r["id"] for r in records])
    report = evaluate_records(records, CriticalErrorDetector(langs), review=review)
    report["seconds"] = round(time.perf_counter() - start, 3)
    errors_list = [{"id": i, "missed": m, "spurious": s, "evidence": e} for i, m, s, e in report.pop("errors")]
    if as_json:
        if show_errors:
            report["errors"] = errors_list
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    console = Console()
    title = f"critical-error detectors {DETECTOR_VERSION} on {Path(dev_path).name} ({report['items']} items"
    print_evaluation(console, title + (f", split {split})" if split else ")"), report["labels"], report)
    if show_errors:
        for err in errors_list:
            console.print(f"{err['id']}: missed {err['missed']} spurious {err['spurious']} {err['evidence']}",
                          highlight=False, markup=False)