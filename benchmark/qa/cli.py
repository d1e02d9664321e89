"""``qa`` commands: flag machine translations in a JSONL file; score the checker on a labelled dev set."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import click
from rich.console import Console
from rich.table import Table

from bench.cli_options import json_option, shared_option
from bench.errors import BenchError, InputError
from bench.evaluation_tables import print_evaluation
from bench.json_records import iter_jsonl
from bench.label_scores import Scopes, evaluation_report, gold_labels, judged_labels
from bench.labelled_sets import resolve_record, shared_dir
from bench.languages import get_language
from bench.vocabulary import QA_FLAGS
from benchmark.qa import TranslationQA

_REQUIRED = ("source", "translation", "target_lang")


def _read_rows(path: str, labelled: bool = False, shared: str | None = None) -> list[tuple[int, dict]]:
    """Parse and validate every line first; raise InputError naming file, line and field.

    A record may give ``source_id`` (an instruction of the shared Just-Eval data) instead of ``source``."""
    rows: list[tuple[int, dict]] = []
    shared_path = shared_dir(shared)
    for lineno, row in iter_jsonl(path):
        where = f"line {lineno}"
        if not isinstance(row, dict):
            raise InputError(path, f"expected a JSON object, got {type(row).__name__}", record=where)
        row = resolve_record(path, where, row, shared_path)
        for name in _REQUIRED + (("source_lang",) if "source_lang" in row else ()):
            if name not in row:
                raise InputError(path, "missing field", record=where, field=name)
            if not isinstance(row[name], str):
                raise InputError(path, f"must be a string, got {type(row[name]).__name__}", record=where, field=name)
        for name in ("target_lang", "source_lang"):
            if name in row:
                try:
                    row[name] = get_language(row[name]).code
                except BenchError as exc:
                    raise InputError(path, str(exc), record=where, field=name) from exc
        if labelled:
            gold_labels(path, row, where, QA_FLAGS, noun="flag")
            judged_labels(path, row, where, QA_FLAGS, noun="flag")
        rows.append((lineno, row))
    if not rows:
        raise InputError(path, "no records (empty file)")
    return rows


def _run_checker(rows: list[tuple[int, dict]]) -> list:
    langs: list[str] = []
    for _, row in rows:
        for code in (row.get("source_lang", "en"), row["target_lang"]):
            if code not in langs:
                langs.append(code)
    checker = TranslationQA(langs or ["en"])
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, (_, row) in enumerate(rows):
        by_source[row.get("source_lang", "en")].append(i)
    results: list = [None] * len(rows)
    for source_lang, idxs in by_source.items():
        batch = [(rows[i][1]["source"], rows[i][1]["translation"], rows[i][1]["target_lang"]) for i in idxs]
        for i, res in zip(idxs, checker.check_many(batch, source_lang=source_lang)):
            results[i] = res
    return results


def _write_atomic(path: str, lines: list[str]) -> None:
    out_dir = os.path.dirname(os.path.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@click.group()
def qa() -> None:
    """Translation quality checks (untranslated, wrong language, truncation, code, numbers, additions, loops)."""


class _Flag(NamedTuple):
    """One flag as the second opinion reads it."""

    label: str
    score: float


def _judge_option() -> Any:
    return click.option("--judge", default=None, metavar="SPEC",
                        help="Ask this judge (openai:<model>[@<base_url>] | hf:/llm:<id|path>) to confirm or reject "
                             "the uncertain flags (score under 0.8; cached in the workspace); the rules alone by default.")


def _second_opinion(obj: Any, spec: str, rows: list[tuple[int, dict]], results: list) -> list:
    """``results`` with the flags the judge rejected dropped (uncertain flags only; prints the totals)."""
    from baselines.errors.second_opinion import (
        judge_review,  # the judge backends live in the baselines stage
    )
    from bench.workspace import Workspace
    from benchmark.qa.second_opinion import QUESTION_VERSION, translation_question

    workspace = obj.workspace if obj is not None else Workspace(None)
    review, _name, close = judge_review(workspace, spec, translation_question, QUESTION_VERSION)
    items = [(r["source"], r["translation"], r["target_lang"], r.get("source_lang", "en")) for _, r in rows]
    found = [[_Flag(flag, res.scores[flag]) for flag in res.flags] for res in results]
    try:
        kept = review(items, found, [str(r.get("id", f"line {n}")) for n, r in rows])
    finally:
        close()
    return [res.without(set(res.flags) - {f.label for f in k}) for res, k in zip(results, kept)]


@qa.command("translations")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False), help="JSONL: source, translation, target_lang[, source_lang].")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="JSONL written with qa_flags, qa_evidence, qa_scores and qa_spans added.")
@_judge_option()
@click.pass_obj
def translations(obj: Any, input_path: str, out_path: str, judge: str | None) -> None:
    """Add qa_flags / qa_evidence / qa_scores / qa_spans to every row of a translations file."""
    rows = _read_rows(input_path)
    start = time.perf_counter()
    results = _run_checker(rows)
    elapsed = time.perf_counter() - start
    if judge:
        results = _second_opinion(obj, judge, rows, results)
    lines = []
    for (_, row), res in zip(rows, results):
        row = dict(row)
        row.update(res.to_dict())
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    _write_atomic(out_path, lines)

    flagged = sum(1 for r in results if r.flags)
    console = Console(stderr=True)
    share = f"{flagged / len(rows):.1%}" if rows else "0%"
    console.print(f"qa: {len(rows)} rows checked in {elapsed:.1f}s, {flagged} flagged ({share}) -> {out_path}",
                  highlight=False, soft_wrap=True)
    if rows:
        counts: dict[str, Counter] = defaultdict(Counter)
        totals: Counter = Counter()
        for (_, row), res in zip(rows, results):
            totals[row["target_lang"]] += 1
            counts[row["target_lang"]].update(res.flags)
        langs = sorted(totals)
        table = Table(title="QA flags per target language")
        table.add_column("flag")
        for lang in langs + ["all"]:
            table.add_column(lang, justify="right")
        for flag in QA_FLAGS:
            table.add_row(flag, *(str(counts[lang][flag]) for lang in langs), str(sum(c[flag] for c in counts.values())))
        table.add_row("rows", *(str(totals[lang]) for lang in langs), str(len(rows)), end_section=False)
        console.print(table)


def score(gold: list[list[str]], predicted: list[list[str]], scopes: Scopes = None) -> dict:
    """Per-flag, micro and macro precision/recall/F1 with support, false alarms on clean items, confusion;
    ``scopes``: the flags each item is judged on (``judged_flags`` of human reviews; ``None``: all)."""
    report = evaluation_report(gold, predicted, QA_FLAGS, scopes)
    report["flags"] = report.pop("labels")
    report["clean_false_alarm_rate"] = report.pop("clean_flagged_rate")
    return report


@qa.command("evaluate")
@click.option("--dev", "dev_path", required=True, type=click.Path(dir_okay=False),
              help="Labelled JSONL (labels = expected flags), e.g. evaluation/translation_qa/dev.jsonl.")
@click.option("--split", default=None, help="Only records whose 'split' field has this value.")
@shared_option()
@json_option("Print one JSON object instead of a table.")
@click.option("--show-misses", "--show-errors", "show_errors", is_flag=True,
              help="Also list the items where the checker disagrees with the labels, with its evidence.")
@_judge_option()
@click.pass_obj
def evaluate(obj: Any, dev_path: str, split: str | None, shared: str | None, as_json: bool, show_errors: bool,
             judge: str | None) -> None:
    """Precision / recall / F1 per flag, macro-F1, false alarms on clean items and flag confusion."""
    rows = _read_rows(dev_path, labelled=True, shared=shared)
    if split is not None:
        rows = [(n, r) for n, r in rows if r.get("split") == split]
        if not rows:
            raise InputError(dev_path, f"no records with split {split!r}")
    start = time.perf_counter()
    results = _run_checker(rows)
    if judge:
        results = _second_opinion(obj, judge, rows, results)
    elapsed = time.perf_counter() - start
    gold = [row["labels"] for _, row in rows]
    scopes = [row.get("judged_flags") for _, row in rows]
    report = score(gold, [r.flags for r in results], scopes)
    report["seconds"] = round(elapsed, 3)
    report["partly_judged_items"] = sum(1 for s in scopes if s is not None)
    errors = [
        {"line": lineno, "id": row.get("id"), "labels": row["labels"], "predicted": res.flags, "evidence": res.evidence}
        for (lineno, row), res, scope in zip(rows, results, scopes)
        if set(row["labels"]) != (set(res.flags) if scope is None else set(res.flags) & set(scope))
    ]
    if as_json:
        if show_errors:
            report["errors"] = errors
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    console = Console()
    title = f"QA checker on {Path(dev_path).name} ({report['items']} items" + (f", split {split})" if split else ")")
    print_evaluation(console, title, report["flags"], report, "flag")
    if report["partly_judged_items"]:
        console.print(f"{report['partly_judged_items']} item(s) judged on some flags only (judged_flags): the others "
                      "count neither way for them", highlight=False)
    console.print(f"{elapsed:.2f}s", highlight=False)
    if show_errors:
        for err in errors:
            console.print(f"line {err['line']} ({err['id']}): labels {err['labels']} predicted {err['predicted']} "
                          f"{err['evidence']}", highlight=False, markup=False)


if __name__ == "__main__":  # pragma: no cover
    try:
        qa.main(standalone_mode=False)
    except BenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
