"""``bench leaderboard``: the results table in several formats, plots, and paired comparisons.

The formats are rendered by :mod:`baselines.leaderboard.render`, the plots by
:mod:`baselines.leaderboard.plots`. Definitions of every column: :mod:`baselines.leaderboard.queries`.
The terminal table keeps the store's names; every file format, the plots and ``compare --format json``
name models and judges in public form (:func:`bench.public_names.public_name`).
"""
from __future__ import annotations

import json
import sys

import click

from baselines.leaderboard.queries import BY_CHOICES
from baselines.leaderboard.render import FORMATS, render, settings_line
from baselines.leaderboard.resampling import DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.public_names import public_name
from bench.vocabulary import ASPECTS


def _public_json(result: dict) -> str:
    """A compare result as JSON, models and judge named in public form (the JSON may be saved and shared)."""
    names = {k: public_name(v) for k, v in result.items() if k in ("model", "model_b", "judge") and isinstance(v, str)}
    return json.dumps({**result, **names}, ensure_ascii=False)


def _judge_name(judge: str | None) -> str | None:
    """``--judge`` as a judge name or as the spec it was run with (both name the stored judge)."""
    from baselines.judging.naming import judge_name

    return judge_name(judge) if judge else judge


def _emit(text: str, out: str | None) -> None:
    if out:
        from bench.atomic import write_text_atomic

        write_text_atomic(out, text)
    else:
        click.echo(text, nl=False)


@click.group("leaderboard", invoke_without_command=True)
@click.option("--by", type=click.Choice(BY_CHOICES), default="aspect", show_default=True,
              help="Extra grouping dimension (aspect/language: the plain table; language sorts by it first).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--judge", default=None, help="Only this judge (default: one row per judge).")
@click.option("--na-as-five", is_flag=True, help="Count N/A scores as 5 (just-eval reproduction); default: missing.")
@click.option("--task", multiple=True, help="Only items with this task (repeatable).")
@click.option("--topic", multiple=True, help="Only items with this topic (repeatable).")
@click.option("--source", multiple=True, help="Only items from this source dataset (repeatable).")
@click.option("--difficulty", multiple=True, help="Only items of this difficulty (repeatable).")
@click.option("--category", multiple=True, help="Only items of this category: regular | safety (repeatable).")
@click.option("--model", multiple=True, help="Only this model (repeatable).")
@click.option("--method", multiple=True, help="Only this method (repeatable).")
@click.option("--language", multiple=True, help="Only this language (repeatable).")
@click.option("--ci/--no-ci", default=True, show_default=True, help="Bootstrap 95% intervals per cell.")
@click.option("--resamples", type=click.IntRange(1, 100_000), default=DEFAULT_RESAMPLES, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="Also write bar chart PNG here (and <stem>_errors.png: error-rate heatmap).")
@click.pass_context
def leaderboard(ctx, by, fmt, out, judge, na_as_five, task, topic, source, difficulty, category, model, method,
                language, ci, resamples, seed, plot) -> None:
    """Average scores per model × method × language (and judge), with intervals and error rates."""
    if ctx.invoked_subcommand is not None:
        return
    from baselines.leaderboard.queries import error_rate_rows, leaderboard_rows

    store = ctx.obj.workspace.read_store  # read-only: works on a read-only workspace
    judge = _judge_name(judge)
    filters = {"task": task, "topic": topic, "source": source, "difficulty": difficulty, "category": category,
               "model": model, "method": method, "language": language}
    filters = {k: list(v) for k, v in filters.items() if v}
    rows = leaderboard_rows(store, by=by, filters=filters, judge=judge, na_as_five=na_as_five, ci=ci,
                            resamples=resamples, seed=seed)
    note = settings_line(judge, na_as_five, filters, by, ci, resamples)
    if not rows and fmt not in ("json", "csv"):
        click.echo("no results in the store for this selection", err=True)
    color = fmt == "table" and out is None and sys.stdout.isatty()
    _emit(render(rows, fmt, by, note, color=color), out)
    if plot:
        from baselines.leaderboard.plots import plot_leaderboard

        plot_rows = rows if by == "aspect" else leaderboard_rows(
            store, by="aspect", filters=filters, judge=judge, na_as_five=na_as_five, ci=ci, resamples=resamples,
            seed=seed)
        bars, heat = plot_leaderboard(plot_rows, plot, error_rate_rows(store, filters=filters))
        click.echo(f"plots written to {bars} and {heat}", err=True)


@leaderboard.command("compare")
@click.option("--model", required=True)
@click.option("--language", required=True)
@click.option("--a", "method_a", required=True, metavar="METHOD")
@click.option("--b", "method_b", required=True, metavar="METHOD")
@click.option("--aspect", type=click.Choice(("overall", *ASPECTS)), default="overall", show_default=True)
@click.option("--model-b", default=None, metavar="MODEL",
              help="Side B's model (default: --model), e.g. the instruct sibling's chat answers against the base "
                   "model's URIAL answers.")
@click.option("--against", "base_language", default=None, metavar="LANG",
              help="Compare the A - B gap in --language with the gap in LANG over the same items (e.g. does "
                   "URIAL's lead over zero-shot grow in French compared with English?).")
@click.option("--judge", default=None, help="Judge whose scores to compare (needed when several scored both).")
@click.option("--na-as-five", is_flag=True, help="Count N/A scores as 5.")
@click.option("--resamples", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.pass_obj
def compare(ctx, model, language, method_a, method_b, aspect, model_b, base_language, judge, na_as_five, resamples,
            seed, fmt) -> None:
    """Paired comparison of two methods on the items both were scored on (bootstrap CI, permutation p);
    with --against, the difference of their gap between two languages."""
    from baselines.leaderboard.paired import gap_test, paired_test

    model_b = model_b or model
    judge = _judge_name(judge)
    side_a, side_b = (method_a, method_b) if model_b == model else (f"{model} {method_a}", f"{model_b} {method_b}")
    if base_language:
        result = gap_test(ctx.workspace.read_store, model, language, base_language, method_a, method_b, aspect,
                          judge=judge, na_as_five=na_as_five, resamples=resamples, seed=seed, model_b=model_b)
        if fmt == "json":
            click.echo(_public_json(result))
            return
        if not result["n"]:
            click.echo(f"{model}: no item scored for both {side_a} and {side_b} in both {language} and "
                       f"{base_language} on {aspect}")
            return
        lo, hi = result["ci"]
        click.echo(f"{model}, {aspect}, judge {result['judge']}, {result['n']} items scored in both languages: "
                   f"{side_a} - {side_b} = {result['gap']:+.3f} in {language}, {result['base_gap']:+.3f} in "
                   f"{base_language}")
        click.echo(f"gap difference ({language} - {base_language}) {result['diff']:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]"
                   f"  p = {result['p_value']:.4f}")
        return
    result = paired_test(ctx.workspace.read_store, model, language, method_a, method_b, aspect, judge=judge,
                         na_as_five=na_as_five, resamples=resamples, seed=seed, model_b=model_b)
    if fmt == "json":
        click.echo(_public_json(result))
        return
    if not result["n"]:
        click.echo(f"{model} ({language}): no items scored for both {side_a} and {side_b} on {aspect}")
        return
    lo, hi = result["ci"]
    click.echo(f"{model} ({language}), {aspect}, judge {result['judge']}: {side_a} {result['mean_a']:.3f} vs "
               f"{side_b} {result['mean_b']:.3f} over {result['n']} shared items")
    click.echo(f"diff {result['diff']:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]  p = {result['p_value']:.4f}")
