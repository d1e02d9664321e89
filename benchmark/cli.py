"""CLI commands of the dataset stage: ``build-dataset`` and ``qa``."""
from __future__ import annotations

import json

import click

from bench.cli_options import batch_size_option, device_option, dtype_option, json_option, languages_option
from benchmark.source import DEFAULT_SOURCE, DEFAULT_SPLIT


@click.command("build-dataset")
@click.option("--source", default=DEFAULT_SOURCE, show_default=True,
              help="Hub dataset id or local .jsonl/.json/.parquet with id + instruction.")
@click.option("--split", default=DEFAULT_SPLIT, show_default=True, help="Split of a Hub source.")
@click.option("--revision", default=None, help="Revision of a Hub source.")
@languages_option("Target languages, ISO 639-1, comma-separated.", default="fr,es")
@click.option("--translator", "translator_spec", required=True, metavar="SPEC",
              help="hf:<id|path> | llm:<id|path|.gguf> | openai:<model>@<base_url> | file:<path>")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output dataset folder.")
@click.option("--limit", type=int, default=None, help="Only the first N source records.")
@batch_size_option("Segments per translation batch.")
@click.option("--max-new-tokens", type=int, default=None, help="Cap on generated tokens per segment (local models).")
@device_option("local models")
@dtype_option("local models", "bfloat16 is much faster on CPUs with bf16 units; it is part of the cache key.")
@click.option("--source-lang", default="en", show_default=True, help="Language of the source instructions.")
@json_option("Print the build report as JSON on stdout.")
@click.pass_obj
def build_dataset_cmd(ctx, source, split, revision, languages, translator_spec, out_dir, limit, batch_size,
                      max_new_tokens, device, dtype, source_lang, as_json) -> None:
    """Translate the source into LANGUAGES, QA every translation, write a Hub-ready dataset folder."""
    from bench.languages import parse_languages
    from bench.progress import console
    from benchmark.build import build_dataset
    from benchmark.source import load_source
    from benchmark.translators import load_translator, parse_spec

    langs = parse_languages(languages)
    backend, _ = parse_spec(translator_spec)
    src = load_source(source, split=split, revision=revision, limit=limit)  # validated before any work
    # the cache folder is created by whoever writes to it first: a bad input must not create the workspace
    options: dict = {"cache_dir": str(ctx.workspace.root / "cache")}
    if batch_size:
        options["batch_size"] = batch_size
    if backend in ("hf", "llm"):
        options["device"] = device
        options["dtype"] = dtype
        if max_new_tokens:
            options["max_new_tokens"] = max_new_tokens
    translator = load_translator(translator_spec, **options)
    check_coverage = getattr(translator, "check_coverage", None)
    if check_coverage is not None:  # imported translations: every id and language there before any work
        try:
            check_coverage([r["id"] for r in src.records], [c for c in langs if c != source_lang],
                           complete=limit is None)
        except BaseException:
            translator.close()
            raise
    try:
        report = build_dataset(ctx.workspace, src, langs, translator, out_dir, source_lang=source_lang)
    finally:
        translator.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    _print_report(report, console)


def _print_report(report, console) -> None:
    from rich.table import Table

    from benchmark.dataset_dir import QA_FLAG_NAMES

    table = Table(title=f"build-dataset: {report.items} items")
    table.add_column("")
    for lr in report.languages:
        table.add_column(lr.lang, justify="right")
    lines = [("rows", "rows"), ("MT requests", "requests"), ("from cache", "from_cache"),
             ("translated now", "translated"), ("flagged rows", "flagged_rows")]
    for label, attr in lines:
        table.add_row(label, *(str(getattr(lr, attr)) for lr in report.languages))
    for flag in QA_FLAG_NAMES:
        table.add_row(f"  {flag}", *(str(lr.flag_counts.get(flag, 0)) for lr in report.languages))
    table.add_row("seconds", *(f"{lr.seconds:.1f}" for lr in report.languages))
    console.print(table)
    console.print(f"dataset written to [bold]{report.out_dir}[/] (run {report.run_id})")


def register(cli: click.Group) -> None:
    """Attach this stage's commands to the main CLI."""
    from benchmark.qa.cli import qa

    cli.add_command(build_dataset_cmd)
    cli.add_command(qa)
