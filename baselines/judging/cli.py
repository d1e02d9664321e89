"""``bench baselines judge``: score stored responses with an LLM judge (see :mod:`baselines.judging.judge`).

Mounted by the integrator (``baselines`` group); the command reads ``ctx.obj.workspace``.
"""
from __future__ import annotations

import json

import click

from bench.errors import BenchError
from bench.cli_options import batch_size_option, device_option, dtype_option, json_option


@click.command("judge")
@click.option("--judge", "judge_spec", required=True, metavar="SPEC",
              help="openai:<model>@<base_url> (any OpenAI-compatible server) | hf:<hub id or path> "
                   "(local chat model) | a local model folder.")
@click.option("--runs", "runs", multiple=True, metavar="FIELD=VALUE",
              help="Only these responses: model=X, method=urial, lang=fr, run_key=K, category=safety, run_id=R, item_id=N. "
                   "Repeat (or comma-separate); the same field twice matches either value.")
@click.option("--concurrency", type=click.IntRange(1, 512), default=16, show_default=True,
              help="Requests in flight (OpenAI-compatible judges).")
@click.option("--max-parse-failure-rate", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Stop once this share of judged responses has an unreadable score (after 20 responses).")
@click.option("--limit", type=click.IntRange(0), default=None, help="Judge at most N responses this run.")
@click.option("--price-in", type=click.FloatRange(0), default=None, help="USD per 1,000 prompt tokens (for the cost).")
@click.option("--price-out", type=click.FloatRange(0), default=None,
              help="USD per 1,000 completion tokens (for the cost).")
@click.option("--max-tokens", type=click.IntRange(1), default=1024, show_default=True,
              help="Cap on the judge's answer length.")
@click.option("--name", "judge_name", default=None,
              help="Judge name stored with the scores (default: the spec without credentials, query string, "
                   "local path or loopback port, e.g. openai:gpt-4o-mini, openai:m@http://localhost/v1).")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=120, show_default=True,
              help="Seconds one request may take before it is retried (OpenAI-compatible judges).")
@click.option("--retry-missing/--no-retry-missing", default=True, show_default=True,
              help="Re-ask responses whose stored scores are missing (unreadable), up to --max-attempts rounds.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Judging rounds per response when missing scores are re-asked (the first one included).")
@click.option("--scoring", type=click.Choice(["auto", "probs", "text"]), default="auto", show_default=True,
              help="How scores are read: probs = from the judge's next-token probabilities of 1-5 (local judges; "
                   "openai: judges whose server returns logprobs and continues an assistant message, e.g. vLLM; "
                   "never fails to parse), text = its JSON answer, parsed; auto = probs for local judges, text for "
                   "openai:.")
@click.option("--repair-attempts", type=click.IntRange(0, 5), default=1, show_default=True,
              help="Follow-up requests asking for valid JSON when a score is unreadable.")
@batch_size_option("Batch size (local judges).", default=8, minimum=1)
@device_option("local judges")
@dtype_option("local judges", "Cached calls are keyed by the judge name, not the dtype: give --name to keep "
                              "precisions apart.")
@json_option("Print the report as one JSON object on stdout.")
@click.pass_obj
def judge_cmd(ctx, judge_spec, runs, concurrency, max_parse_failure_rate, limit, price_in, price_out, max_tokens,
              judge_name, timeout, retry_missing, max_attempts, scoring, repair_attempts, batch_size, device,
              dtype, as_json) -> None:
    """Judge the stored responses this judge has not judged yet, and re-ask missing scores (resumable;
    cached calls are free). Exits 2 with one line when the credentials are refused, a failure rate passes
    its threshold, or no usable score came back."""
    from baselines.judging.judge import JudgeStopped, judge_responses
    from baselines.run_filters import parse_run_filters

    if (price_in is None) != (price_out is None):
        raise click.UsageError("give both --price-in and --price-out (USD per 1,000 tokens), or neither")
    try:
        filters = parse_run_filters(list(runs))
    except BenchError as exc:
        raise click.BadParameter(str(exc), param_hint="--runs") from None
    price = (price_in, price_out) if price_in is not None else None
    try:
        report = judge_responses(ctx.workspace, judge_spec, runs=filters, concurrency=concurrency,
                                 max_parse_failure_rate=max_parse_failure_rate, limit=limit, price_per_1k=price,
                                 max_tokens=max_tokens, judge_name=judge_name, repair_attempts=repair_attempts,
                                 batch_size=batch_size, device=device, dtype=dtype, timeout=timeout,
                                 retry_missing=retry_missing, max_attempts=max_attempts, scoring=scoring)
    except JudgeStopped as exc:
        _show(exc.report, as_json)
        raise
    _show(report, as_json)


def _show(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"judge {report.judge}" + (f" (run {report.run_id})" if report.run_id else ""))
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("responses selected", f"{report.selected:,}"),
        ("judged", f"{report.judged:,}"),
        ("  from cache", f"{report.from_cache:,}"),
        ("failed (retried next run)", f"{report.failed:,}"),
        ("missing scores re-asked", f"{report.retried:,}"),
        ("missing, attempts used up", f"{report.exhausted:,}"),
        ("unfinished", f"{report.unfinished:,}"),
        ("parse failures", f"{report.parse_failures:,} ({report.parse_failure_rate:.1%})"),
        ("repair requests", f"{report.repairs:,}"),
        ("requests sent", f"{report.requests:,}"),
        ("prompt tokens", f"{report.prompt_tokens:,}"),
        ("completion tokens", f"{report.completion_tokens:,}"),
        ("cost (USD)", "-" if report.cost_usd is None else f"{report.cost_usd:,.4f}"),
        ("seconds", f"{report.seconds:,.1f}"),
        ("items/s", f"{report.items_per_s:,.2f}"),
    ]
    if report.stopped:
        rows.append(("stopped", report.stopped))
    rows += [("note", note) for note in report.notes]
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
