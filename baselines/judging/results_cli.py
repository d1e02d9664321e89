"""CLI group ``bench results``: bring published results into the store and export them."""
from __future__ import annotations

import json

import click

from bench.cli_options import json_option


@click.group("results")
def results() -> None:
    """Import published judgements and export the judgements config."""


@results.command("import-just-eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="Model name for every item (default: from generator_cand / file name).")
@click.option("--judge", default=None, help="Judge name (default: eval_config's 'gpt').")
@click.option("--source", default=None, metavar="INSTRUCTIONS",
              help="Just-Eval-Instruct instructions (.jsonl/.json/.parquet or Hub id) for item metadata.")
@json_option("Print the import report as JSON.")
@click.pass_obj
def import_just_eval_cmd(ctx, files, model, judge, source, as_json) -> None:
    """Import just-eval judgement FILES (JSON lists of judged items) into the store."""
    from baselines.judging.import_just_eval import import_just_eval

    # the store is opened (the workspace created) only once every file is valid
    report = import_just_eval(lambda: ctx.workspace.store, files, model=model, judge=judge, source=source)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for f in report.files:
        click.echo(f"{f['file']}: {f['responses']} responses, {f['judgements']} judgements "
                   f"({f['not_applicable']} N/A, {f['parsed_from_result']} parsed from raw text); "
                   f"model {', '.join(f['models'])}; judge {', '.join(f['judges'])}")
    click.echo(f"imported {len(report.files)} file(s) (run {report.run_id})")


@results.command("export-judgements")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--judge", default=None, help="Only this judge's scores.")
@click.pass_obj
def export_judgements_cmd(ctx, out_dir, judge) -> None:
    """Write the `judgements` config parquet (one row per response and judge) under OUT_DIR."""
    from baselines.leaderboard.export import export_judgements

    path = export_judgements(ctx.workspace.read_store, out_dir, judge=judge)  # read-only
    click.echo(f"judgements written to {path}")


@results.command("agreement")
@click.option("--judge", "judge", required=True, help="The judge to evaluate (a judge name in the store).")
@click.option("--reference", required=True, help="The reference judge or human ratings (a judge name in the store).")
@click.option("--aspect", "aspects", multiple=True, help="Only this aspect (repeatable; default: every aspect both scored).")
@click.option("--plot", "plot", default=None, type=click.Path(dir_okay=False),
              help="Also write per-aspect bars (Spearman, Kendall, within 1) to this PNG.")
@click.option("--min-items", default=10, show_default=True, type=click.IntRange(min=1),
              help="Fewest responses the judge and the reference must both have scored.")
@json_option("Print the agreement report as JSON.")
@click.pass_obj
def agreement_cmd(ctx, judge, reference, aspects, plot, min_items, as_json) -> None:
    """Agreement of a judge with a reference: correlations, exact / within-1 agreement, pairwise and
    system-level agreement, and length, language and self-preference biases."""
    from baselines.judging.agreement import agreement_report
    from baselines.judging.agreement_report import plot_agreement, render_table

    report = agreement_report(ctx.workspace.read_store, judge, reference, aspects or None, min_items)
    if plot:
        plot_agreement(report, plot)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(render_table(report), nl=False)
        if plot:
            click.echo(f"plot written to {plot}")
