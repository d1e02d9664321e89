"""The ``bench baselines`` command group: ``run`` (generate a grid) and ``export`` (Hub-ready responses).

The integrator mounts :data:`baselines` into the main CLI (``cli.add_command(baselines)``); other
stages add their commands to the same group (``baselines.add_command(judge_cmd)``...). Commands
read the workspace from ``ctx.obj.workspace``.
"""
from __future__ import annotations

import json

import click

from bench.cli_options import json_option, languages_option


@click.group("baselines")
def baselines() -> None:
    """Generation baselines (zero-shot, URIAL, chat, DPO), their judging and export."""


@baselines.command("run")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="Grid YAML file (models, methods, languages, dataset, decoding, backend).")
@click.option("--limit", type=click.IntRange(0), default=None, help="Only the first N items (by id) of each language.")
@click.option("--items", "item_ids", default=None, metavar="IDS",
              help="Only these item ids, comma-separated (e.g. a sample of the benchmark).")
@languages_option("Only these languages of the grid, comma-separated (default: all of them).", metavar="CODES")
@click.option("--replace", is_flag=True,
              help="Delete stored responses (with their judgements and checks) that another setting wrote under "
                   "the same model name, method and language (e.g. a retrained DPO model), then generate.")
@json_option("Print the run report as one JSON object on stdout.")
@click.pass_obj
def run_cmd(ctx, config, limit, item_ids, languages, replace, as_json) -> None:
    """Generate every missing response of the grid (resumable: committed batches are never redone)."""
    from baselines.generation.grid import load_grid
    from baselines.generation.run import run_grid

    grid = load_grid(config)
    langs = [c for c in languages.split(",") if c.strip()] if languages else None
    ids = [i.strip() for i in item_ids.split(",") if i.strip()] if item_ids else None
    report = run_grid(ctx.workspace, grid, limit=limit, languages=langs, replace=replace, item_ids=ids)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    _print_report(report)


def _print_report(report) -> None:
    from rich.table import Table

    from bench.progress import console

    table = Table(title=f"baselines run {report.run_id}")
    for col in ("model", "method", "lang", "items", "existing", "generated", "failed", "cut at max", "tok/s"):
        table.add_column(col, justify="left" if col in ("model", "method", "lang") else "right")
    for s in report.settings:
        rate = f"{s.completion_tokens / s.seconds:,.1f}" if s.seconds > 0 else "-"
        table.add_row(s.model, s.method, s.lang, str(s.items), str(s.existing), str(s.generated), str(s.failed),
                      str(s.finish_length), rate)
    console.print(table)
    if report.replaced:
        console.print(f"replaced: {report.replaced} response(s) of superseded settings deleted (--replace)")
    if report.skipped_models:
        console.print(f"skipped (path not there yet): {', '.join(report.skipped_models)}")
    if report.failed:
        console.print(f"[red]{report.failed} generation(s) failed[/red]; rerun the same command to retry them")


@baselines.command("export")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder; writes responses/test-00000-of-00001.parquet.")
@click.option("--runs", "runs", multiple=True, metavar="FIELD=VALUE",
              help="Only these responses: model=X, method=urial, lang=fr, run_key=K, run_id=R, category=safety. "
                   "Repeat (or comma-separate); the same field twice matches either value.")
@click.pass_obj
def export_cmd(ctx, out_dir, runs) -> None:
    """Write the stored responses as a Hub-ready `responses` config (parquet, deterministic)."""
    from bench.errors import BenchError
    from baselines.run_filters import parse_run_filters
    from baselines.generation.run import export_responses

    try:
        parse_run_filters(list(runs))
    except BenchError as exc:
        raise click.BadParameter(str(exc), param_hint="--runs") from None
    path, n = export_responses(ctx.workspace, out_dir, list(runs))
    click.echo(f"{n} responses -> {path}")
