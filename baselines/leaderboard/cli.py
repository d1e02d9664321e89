"""``bench leaderboard``: the results table in several formats, plots, and paired comparisons.

Formats: ``table`` (rich, 2 decimals, ± = half-width of the 95% bootstrap interval),
``markdown``, ``csv`` (unrounded, intervals as ``<col>_ci_low``/``<col>_ci_high``), ``json`` (one
array of row objects, unrounded, intervals as ``<col>_ci`` = [low, high]), ``latex`` (booktabs,
escaped) and ``html`` (one static page, every text HTML-escaped). Definitions of every column:
:mod:`baselines.leaderboard.queries`.
"""
from __future__ import annotations

import csv
import html
import io
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from baselines.leaderboard.queries import (ASPECTS, BY_CHOICES, DEFAULT_RESAMPLES, DEFAULT_SEED, GROUP_KEYS,
                                   REGULAR_ASPECTS)

FORMATS = ("table", "markdown", "csv", "json", "latex", "html")
SCORE_COLUMNS = (*REGULAR_ASPECTS, "overall", "safety")
HEADERS = {
    "model": "Model", "method": "Method", "language": "Lang", "judge": "Judge", "task": "Task", "topic": "Topic",
    "source": "Source", "difficulty": "Difficulty", "category": "Category", "helpfulness": "Helpf.",
    "clarity": "Clarity", "factuality": "Fact.", "depth": "Depth", "engagement": "Engag.", "overall": "Overall",
    "safety": "Safety", "length": "Length", "n": "n", "missing_rate": "Missing",
}


# -- columns and cells -------------------------------------------------------------------------

def key_columns(by: str) -> list[str]:
    return [*GROUP_KEYS, *([] if by in ("aspect", "language") else [by])]


def display_columns(rows: Sequence[dict[str, Any]], by: str) -> list[str]:
    """Score columns shown in human formats: keys, non-empty score columns, length, n, missing."""
    cols = key_columns(by)
    cols += [c for c in SCORE_COLUMNS if any(r.get(c) is not None for r in rows)]
    return cols + ["length", "n", "missing_rate"]


def error_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Error-rate columns with at least one value."""
    return sorted({k for r in rows for k in r if k.startswith("err_") and not k.endswith("_ci") and r[k] is not None})


def sections(rows: Sequence[dict[str, Any]], by: str) -> list[tuple[str, list[str]]]:
    """(title, columns) of the tables a human format shows: scores, then error rates if any."""
    out = [("Just-Eval leaderboard", display_columns(rows, by))]
    errors = error_columns(rows)
    if errors:
        out.append(("Critical-error rates (share of checked responses, latest check)", key_columns(by) + errors))
    return out


def header(col: str) -> str:
    if col.startswith("err_"):
        return col[4:].replace("_", " ")
    return HEADERS.get(col, col)


def _ci_half(row: dict[str, Any], col: str) -> float | None:
    ci = row.get(f"{col}_ci")
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return (ci[1] - ci[0]) / 2


def cell_parts(row: dict[str, Any], col: str) -> tuple[str, str | None]:
    """(value text, ± text or None) for a human format."""
    value = row.get(col)
    if value is None:
        return "–", None
    if col in SCORE_COLUMNS:
        half = _ci_half(row, col)
        return f"{value:.2f}", (None if half is None else f"{half:.2f}")
    if col == "length":
        return f"{value:.1f}", None
    if col == "n":
        return f"{int(value)}", None
    if col == "missing_rate" or col.startswith("err_"):
        return f"{100 * value:.1f}%", None
    return str(value), None


def _is_numeric(col: str) -> bool:
    return col in SCORE_COLUMNS or col in ("length", "n", "missing_rate") or col.startswith("err_")


def settings_line(judge: str | None, na_as_five: bool, filters: dict[str, Any], by: str, ci: bool,
                  resamples: int) -> str:
    parts = [f"judge: {judge or 'all (one row per judge)'}",
             "N/A = 5 (just-eval convention)" if na_as_five else "N/A = missing",
             f"by: {by}"]
    active = {k: v for k, v in filters.items() if v}
    if active:
        parts.append("filters: " + "; ".join(f"{k}={','.join(v) if isinstance(v, (list, tuple)) else v}"
                                             for k, v in active.items()))
    if ci:
        parts.append(f"± = half-width of the 95% bootstrap interval ({resamples} resamples over items)")
    return " | ".join(parts)


# -- renderers ---------------------------------------------------------------------------------

def render_table(rows, by: str, note: str, *, color: bool = False) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=1000, color_system="auto" if color else None, force_terminal=color,
                      highlight=False)
    for index, (title, cols) in enumerate(sections(rows, by)):
        table = Table(title=title, caption=note if index == 0 else None, caption_justify="left",
                      header_style="bold", title_justify="left")
        for col in cols:
            table.add_column(header(col), justify="right" if _is_numeric(col) else "left", no_wrap=True)
        for row in rows:
            cells = []
            for col in cols:
                value, plus = cell_parts(row, col)
                text = Text(value)
                if plus is not None:
                    text.append(f" ±{plus}", style="dim")
                cells.append(text)
            table.add_row(*cells)
        if index:
            console.print()
        console.print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def _md(text: str) -> str:
    """One table cell of Markdown: pipes and backslashes escaped, no line breaks, no raw HTML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def render_markdown(rows, by: str, note: str) -> str:
    parts = []
    for title, cols in sections(rows, by):
        lines = [f"**{_md(title)}**", "", "| " + " | ".join(_md(header(c)) for c in cols) + " |",
                 "|" + "|".join("---:" if _is_numeric(c) else "---" for c in cols) + "|"]
        for row in rows:
            cells = []
            for col in cols:
                value, plus = cell_parts(row, col)
                cells.append(_md(value if plus is None else f"{value} ± {plus}"))
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + f"\n\n_{_md(note)}_\n"


def _flat_keys(rows) -> list[str]:
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    return keys


def render_csv(rows, by: str, note: str) -> str:
    keys = []
    for k in _flat_keys(rows):
        keys += [f"{k}_low", f"{k}_high"] if k.endswith("_ci") else [k]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        out = []
        for k in keys:
            if k.endswith("_ci_low") or k.endswith("_ci_high"):
                ci = row.get(k.rsplit("_", 1)[0])
                value = None if not ci else ci[0 if k.endswith("_low") else 1]
            else:
                value = row.get(k)
            out.append("" if value is None else repr(value) if isinstance(value, float) else value)
        writer.writerow(out)
    return buf.getvalue()


def render_json(rows, by: str, note: str) -> str:
    return json.dumps(rows, ensure_ascii=False, allow_nan=False) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "±": r"$\pm$", "–": "--",
                  "\n": " ", "\r": " "}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def render_latex(rows, by: str, note: str) -> str:
    out = ["% bench leaderboard -- needs \\usepackage{booktabs}"]
    for index, (title, cols) in enumerate(sections(rows, by)):
        spec = "".join("r" if _is_numeric(c) else "l" for c in cols)
        lines = ["\\begin{table}[t]", "\\centering", "\\small", f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                 " & ".join(latex_escape(header(c)) for c in cols) + " \\\\", "\\midrule"]
        for row in rows:
            cells = []
            for col in cols:
                value, plus = cell_parts(row, col)
                text = latex_escape(value)
                if plus is not None:
                    text += f"\\,{{\\scriptsize$\\pm${latex_escape(plus)}}}"
                cells.append(text)
            lines.append(" & ".join(cells) + " \\\\")
        caption = f"{title}. {note}" if index == 0 else title
        lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(caption)}}}", "\\end{table}"]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; text-align: left; position: sticky; top: 0; }
h2 { font-size: 1.15rem; margin-top: 1.6rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
span.ci { color: #888; font-size: 0.8em; }
p.note { color: #555; font-size: 0.85rem; }
"""


def render_html(rows, by: str, note: str) -> str:
    esc = html.escape
    blocks = []
    for title, cols in sections(rows, by):
        head = "".join(f"<th>{esc(header(c))}</th>" for c in cols)
        body = []
        for row in rows:
            cells = []
            for col in cols:
                value, plus = cell_parts(row, col)
                inner = esc(value) + ("" if plus is None else f' <span class="ci">±{esc(plus)}</span>')
                cls = ' class="num"' if _is_numeric(col) else ""
                cells.append(f"<td{cls}>{inner}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        blocks.append(f"<h2>{esc(title)}</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
                      + "\n".join(body) + "\n</tbody>\n</table>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>Just-Eval leaderboard</title>\n<style>" + _HTML_STYLE + "</style>\n</head>\n<body>\n"
            f"<p class=\"note\">{esc(note)}</p>\n" + "\n".join(blocks) + "\n</body>\n</html>\n")


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json, "latex": render_latex,
             "html": render_html}


def render(rows, fmt: str, by: str, note: str, *, color: bool = False) -> str:
    """The leaderboard in one format (the table format is plain text unless ``color``)."""
    if fmt == "table":
        return render_table(rows, by, note, color=color)
    return RENDERERS[fmt](rows, by, note)


# -- plots -------------------------------------------------------------------------------------

def plot_leaderboard(rows: Sequence[dict[str, Any]], out: str | Path,
                     error_rows: Sequence[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """Grouped bars of overall per model (series: method/language) and a heatmap of error rates.

    ``error_rows`` (:func:`baselines.leaderboard.queries.error_rate_rows`) gives each system's error rates over
    all its responses; without it they come from ``rows`` (per judge: the row covering most responses).
    Writes ``out`` and ``<stem>_errors.png`` beside it; returns both paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bench.atomic import atomic_path

    out = Path(out)
    errors_out = out.with_name(f"{out.stem}_errors{out.suffix or '.png'}")
    judges = sorted({r["judge"] or "(none)" for r in rows})
    many_judges = len(judges) > 1

    def xlabel(r):
        return r["model"] + (f"\n[{r['judge'] or 'no judge'}]" if many_judges else "")

    groups = list(dict.fromkeys(xlabel(r) for r in rows))
    all_series = list(dict.fromkeys(f"{r['method']} / {r['language']}" for r in rows))
    values = {(xlabel(r), f"{r['method']} / {r['language']}"): r for r in rows}
    # a series without any score gets no bar, colour or legend entry: it is named under the chart instead
    series = [name for name in all_series if any((values.get((g, name)) or {}).get("overall") is not None
                                                 for g in groups)]
    unscored = [name for name in all_series if name not in series]

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(series)) ** 0.5 + 2), 4.8))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    cmap = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    n_colours = 10 if len(series) <= 10 else 20
    for s_index, name in enumerate(series):
        heights, lows, highs, present = [], [], [], []
        for g in groups:
            r = values.get((g, name))
            v = None if r is None else r.get("overall")
            present.append(v is not None)
            heights.append(v if v is not None else 0.0)
            ci = None if r is None else r.get("overall_ci")
            lows.append(v - ci[0] if v is not None and ci else 0.0)
            highs.append(ci[1] - v if v is not None and ci else 0.0)
        pos = x - 0.4 + width * (s_index + 0.5)
        mask = np.array(present)
        bars = ax.bar(pos[mask], np.array(heights)[mask], width * 0.92, label=name, color=cmap(s_index % n_colours),
                      yerr=[np.array(lows)[mask], np.array(highs)[mask]], capsize=3, error_kw={"elinewidth": 1})
        tops = np.array(heights)[mask] + np.array(highs)[mask]
        for bar, h, top in zip(bars, np.array(heights)[mask], tops):
            ax.annotate(f"{h:.2f}", (bar.get_x() + bar.get_width() / 2, min(top, 5.0) + 0.08), ha="center",
                        va="bottom", fontsize=7, rotation=90 if len(series) > 2 else 0)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=30 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center",
                       fontsize=8)
    ax.set_ylim(0, 5.35 if len(series) > 2 else 5.2)  # from 0, so that a score of 1.00 still shows a bar
    ax.set_ylabel("overall score (1–5), 95% CI")
    ax.set_title("Overall score per model, by method and language")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if series:
        ax.legend(title="method / language", fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if unscored:
        fig.text(0.01, 0.01, "no score (every cell missing): " + ", ".join(unscored), fontsize=8, ha="left",
                 va="bottom", color="#555555", wrap=True)
    fig.tight_layout(rect=(0, 0.06 if unscored else 0, 1, 1))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)

    # heatmap of critical-error rates: one row per model / method / language (errors do not depend on
    # the judge; when several judges' rows exist, the one covering most responses is used)
    source = rows if error_rows is None else error_rows
    labels = sorted({k for r in source for k in r if k.startswith("err_") and not k.endswith("_ci")})
    by_system: dict[str, dict[str, Any]] = {}
    for r in sorted(source, key=lambda r: -r["n"]):
        name = f"{r['model']} / {r['method']} / {r['language']}"
        if name not in by_system or all(by_system[name].get(k) is None for k in labels):
            by_system[name] = {k: r.get(k) for k in labels}
    order = list(dict.fromkeys(f"{r['model']} / {r['method']} / {r['language']}" for r in source))
    by_system = {name: by_system[name] for name in order}
    systems = list(by_system)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(labels) + 4), max(2.5, 0.45 * len(systems) + 1.8)))
    if not labels or not systems:
        ax.axis("off")
        ax.text(0.5, 0.5, "no critical-error checks in the store", ha="center", va="center", fontsize=12)
    else:
        grid = np.array([[np.nan if by_system[s][k] is None else 100 * by_system[s][k] for k in labels]
                         for s in systems])
        vmax = max(1.0, float(np.nanmax(grid)) if np.isfinite(grid).any() else 1.0)
        ax.set_facecolor("#d9d9d9")  # masked (not checked) cells show grey, distinct from 0%
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="Reds", vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([k[4:].replace("_", " ") for k in labels], rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(systems)))
        ax.set_yticklabels(systems, fontsize=8)
        for i in range(len(systems)):
            for j in range(len(labels)):
                v = grid[i, j]
                ax.text(j, i, "not checked" if np.isnan(v) else f"{v:.1f}%", ha="center", va="center", fontsize=8,
                        color="white" if not np.isnan(v) and v > 0.6 * vmax else "black")
        fig.colorbar(im, ax=ax, label="% of checked responses")
    ax.set_title("Critical-error rates (all responses, latest detector run each)" if error_rows is not None
                 else "Critical-error rates (latest detector run per response)")
    fig.tight_layout()
    with atomic_path(errors_out) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
    return out, errors_out


# -- commands ----------------------------------------------------------------------------------

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

    store = ctx.obj.workspace.store
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
    from baselines.leaderboard.queries import gap_test, paired_test

    model_b = model_b or model
    side_a, side_b = (method_a, method_b) if model_b == model else (f"{model} {method_a}", f"{model_b} {method_b}")
    if base_language:
        result = gap_test(ctx.workspace.store, model, language, base_language, method_a, method_b, aspect,
                          judge=judge, na_as_five=na_as_five, resamples=resamples, seed=seed, model_b=model_b)
        if fmt == "json":
            click.echo(json.dumps(result, ensure_ascii=False))
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
    result = paired_test(ctx.workspace.store, model, language, method_a, method_b, aspect, judge=judge,
                         na_as_five=na_as_five, resamples=resamples, seed=seed, model_b=model_b)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    if not result["n"]:
        click.echo(f"{model} ({language}): no items scored for both {side_a} and {side_b} on {aspect}")
        return
    lo, hi = result["ci"]
    click.echo(f"{model} ({language}), {aspect}, judge {result['judge']}: {side_a} {result['mean_a']:.3f} vs "
               f"{side_b} {result['mean_b']:.3f} over {result['n']} shared items")
    click.echo(f"diff {result['diff']:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]  p = {result['p_value']:.4f}")
