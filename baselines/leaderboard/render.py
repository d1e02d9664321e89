"""The leaderboard rows as text: a rich table, Markdown, CSV, JSON, LaTeX or one HTML page.

Formats: ``table`` (rich, 2 decimals, ± = half-width of the 95% bootstrap interval),
``markdown``, ``csv`` (unrounded, intervals as ``<col>_ci_low``/``<col>_ci_high``), ``json`` (one
array of row objects, unrounded, intervals as ``<col>_ci`` = [low, high]), ``latex`` (booktabs,
escaped) and ``html`` (one static page, every text HTML-escaped). The rows are those of
:func:`baselines.leaderboard.queries.leaderboard_rows`; :func:`settings_line` is the note under the table.

Every format but ``table`` (the local user's terminal) is a file that may be published: :func:`render`
passes its rows through :func:`public_rows` (model, judge and source names through
:func:`bench.public_names.public_name`: no local paths, no credentials), and the note names public names only.
"""
from __future__ import annotations

import csv
import html
import io
import json
from typing import Any, Sequence

from baselines.leaderboard.queries import GROUP_KEYS
from bench.public_names import public_name
from bench.vocabulary import REGULAR_ASPECTS
from cards.markdown import md_text

FORMATS = ("table", "markdown", "csv", "json", "latex", "html")
NAME_COLUMNS = ("model", "judge", "source")  # names of systems and data: published through public_name
SCORE_COLUMNS = (*REGULAR_ASPECTS, "overall", "safety")
HEADERS = {
    "model": "Model", "method": "Method", "language": "Lang", "judge": "Judge", "task": "Task", "topic": "Topic",
    "source": "Source", "difficulty": "Difficulty", "category": "Category", "helpfulness": "Helpf.",
    "clarity": "Clarity", "factuality": "Fact.", "depth": "Depth", "engagement": "Engag.", "overall": "Overall",
    "safety": "Safety", "length": "Length", "n": "n", "missing_rate": "Missing",
    "cap_rate": "stopped at token cap",
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
        cap = ["cap_rate"] if any(r.get("cap_rate") is not None for r in rows) else []
        out.append(("Critical-error rates (share of checked responses, latest check; stopped at token cap: share of "
                    "all responses, not an error label)", key_columns(by) + errors + cap))
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
    if col in ("missing_rate", "cap_rate") or col.startswith("err_"):
        return f"{100 * value:.1f}%", None
    return str(value), None


def _is_numeric(col: str) -> bool:
    return col in SCORE_COLUMNS or col in ("length", "n", "missing_rate", "cap_rate") or col.startswith("err_")


def settings_line(judge: str | None, na_as_five: bool, filters: dict[str, Any], by: str, ci: bool,
                  resamples: int) -> str:
    """The note under the table: judge, N/A rule, grouping, filters, intervals (names in public form)."""
    parts = [f"judge: {public_name(judge) or 'all (one row per judge)'}",
             "N/A = 5 (just-eval convention)" if na_as_five else "N/A = missing",
             f"by: {by}"]
    active = {k: ([public_name(x) for x in v] if isinstance(v, (list, tuple)) else public_name(v))
              if k in NAME_COLUMNS else v for k, v in filters.items() if v}
    if active:
        parts.append("filters: " + "; ".join(f"{k}={','.join(v) if isinstance(v, (list, tuple)) else v}"
                                             for k, v in active.items()))
    if ci:
        parts.append(f"± = half-width of the 95% bootstrap interval ({resamples} resamples over items)")
    return " | ".join(parts)


def public_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every name column (:data:`NAME_COLUMNS`) in its public form, for a file that may be published."""
    return [{**row, **{k: public_name(row[k]) for k in NAME_COLUMNS if isinstance(row.get(k), str)}} for row in rows]


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


def render_markdown(rows, by: str, note: str) -> str:
    parts = []
    for title, cols in sections(rows, by):
        lines = [f"**{md_text(title)}**", "", "| " + " | ".join(md_text(header(c)) for c in cols) + " |",
                 "|" + "|".join("---:" if _is_numeric(c) else "---" for c in cols) + "|"]
        for row in rows:
            cells = []
            for col in cols:
                value, plus = cell_parts(row, col)
                cells.append(md_text(value if plus is None else f"{value} ± {plus}"))
            lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + f"\n\n_{md_text(note)}_\n"


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
    """The leaderboard in one format (the table format is plain text unless ``color``).

    ``table`` is for the local user and keeps the store's names; every other format is a file that may be
    published, so its rows go through :func:`public_rows`."""
    if fmt == "table":
        return render_table(rows, by, note, color=color)
    return RENDERERS[fmt](public_rows(rows), by, note)
