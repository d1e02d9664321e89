"""Judge-agreement report (:func:`baselines.judging.agreement.agreement_report`) as text and a plot.

:func:`render_table` (rich, the terminal), :func:`render_markdown` (a results card; every name in public
form and escaped as plain text) and :func:`plot_agreement` (per-aspect bars of Spearman, Kendall and ±1
agreement, labels drawn as literal text) all show the same sections, each figure with its ``n``.
:func:`agreement_markdown` is the one call a release makes for its results card.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.public_names import public_name

# (title, headers, rows, note); a header ending in "#" is numeric (right-aligned), the "#" is dropped
Section = tuple[str, list[str], list[list[str]], str | None]


def _f(value: float | None, places: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{places}f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def sections(report: dict[str, Any], name: Callable[[str], str] = str) -> list[Section]:
    """The report as titled tables of text cells; ``name`` renders judge and family names."""
    judge, reference = name(report["judge"]), name(report["reference"])
    main_rows = []
    for a in report["aspects"]:
        p, s = a["pairwise"], a["system"]
        main_rows.append([a["aspect"], str(a["n"]), _f(a["spearman"]), _f(a["kendall"]), _f(a["mad"]),
                          _f(a["exact"]), _f(a["within1"]), str(p["pairs"]), _f(p["accuracy"]), _f(p["judge_ties"]),
                          str(s["systems"]), s["note"] or _f(s["spearman"]), s["note"] or _f(s["kendall"])])
    main_note = (f"{report['items']} responses ({report['cells']} cells) scored by both; judge scored "
                 f"{report['judge_responses']}, reference {report['reference_responses']}. Pairs: answers to one "
                 "item and language from different systems that the reference ranks; accuracy / ties = share "
                 "where the judge agrees / scores both alike. System = model x method x language.")
    out: list[Section] = [(f"Agreement of {judge} with {reference}",
                           ["aspect", "n#", "Spearman#", "Kendall tau-b#", "mean abs diff#", "exact#", "within 1#",
                            "pairs#", "pair accuracy#", "judge ties#", "systems#", "system Spearman#",
                            "system Kendall#"], main_rows, main_note)]
    out.append(("Length bias: Spearman of score vs answer words",
                ["aspect", "n#", "judge#", "reference#"],
                [[a["aspect"], str(a["length"]["n"]), _f(a["length"]["judge"]), _f(a["length"]["reference"])]
                 for a in report["aspects"]], None))
    lang_rows = [[b["aspect"], f"{b['lang']} - en", _signed(b["judge"]), str(b["judge_n"]),
                  _signed(b["reference"]), str(b["reference_n"])] for b in report["language_bias"]]
    out.append(("Language bias: mean score in another language minus English (same model, method, item)",
                ["aspect", "languages", "judge#", "judge n#", "reference#", "reference n#"], lang_rows,
                None if lang_rows else "n/a: no item was judged in English and another language"))
    self_rows = [[name(f), a["aspect"], str(sp["n_family"]), str(sp["n_other"]), _signed(sp["judge_gap"]),
                  _signed(sp["reference_gap"]), _signed(sp["difference"])]
                 for a in report["aspects"] for f, sp in a["self_preference"].items()]
    if report["families"]:
        self_note = ("gap = mean score on the family's answers minus the others'; difference = judge gap minus "
                     "reference gap (n/a without answers of both kinds)")
    else:
        self_note = "n/a: the judge's name contains no family of the judged models"
    out.append(("Self-preference", ["family", "aspect", "n family#", "n other#", "judge gap#", "reference gap#",
                                    "difference#"], self_rows, self_note))
    return out


def render_table(report: dict[str, Any], *, color: bool = False) -> str:
    """The report as rich tables (terminal)."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=1000, color_system="auto" if color else None, force_terminal=color,
                      highlight=False, markup=False)
    for index, (title, headers, rows, note) in enumerate(sections(report)):
        if index:
            console.print()
        console.print(title, style="bold")
        if rows:
            table = Table(header_style="bold")
            for h in headers:
                table.add_column(h.rstrip("#"), justify="right" if h.endswith("#") else "left", no_wrap=True)
            for row in rows:
                table.add_row(*row)
            console.print(table)
        if note:
            console.print(note)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables for a card: names in public form, every cell escaped as plain text."""
    from cards.markdown import md_text

    parts = []
    for title, headers, rows, note in sections(report, name=lambda n: public_name(n) or ""):
        lines = [f"**{md_text(title)}**", ""]
        if rows:
            lines += ["| " + " | ".join(md_text(h.rstrip("#")) for h in headers) + " |",
                      "|" + "|".join("---:" if h.endswith("#") else "---" for h in headers) + "|"]
            lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
        if note:
            lines += (["", f"_{md_text(note)}_"] if rows else [f"_{md_text(note)}_"])
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def agreement_markdown(store, judge: str, reference: str, aspects: Sequence[str] | None = None,
                       min_items: int | None = None) -> str:
    """The agreement section of a results card: ``judge`` against ``reference`` in ``store``."""
    from baselines.judging.agreement import DEFAULT_MIN_ITEMS, agreement_report

    report = agreement_report(store, judge, reference, aspects,
                              DEFAULT_MIN_ITEMS if min_items is None else min_items)
    return render_markdown(report)


def plot_agreement(report: dict[str, Any], out: str | Path) -> Path:
    """Per-aspect bars of Spearman, Kendall τ-b and ±1 agreement (``n`` under each aspect) as a PNG at ``out``;
    names in public form, labels literal text (no mathtext)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bench.atomic import atomic_path

    aspects = report["aspects"]
    series = [("Spearman", "spearman"), ("Kendall tau-b", "kendall"), ("within 1 point", "within1")]
    out = Path(out)
    with plt.rc_context({"text.parse_math": False, "text.usetex": False}):
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(aspects) + 2), 4.5))
        x = np.arange(len(aspects))
        width = 0.8 / len(series)
        for k, (label, key) in enumerate(series):
            values = [a[key] for a in aspects]
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar([p for p, v in zip(pos, values) if v is not None], [v for v in values if v is not None],
                   width, label=label)
            for p, v in zip(pos, values):
                if v is None:
                    ax.text(p, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(x, [f"{a['aspect']}\nn={a['n']}" for a in aspects])
        low = min([0.0] + [a[key] for a in aspects for _, key in series if a[key] is not None])
        ax.set_ylim(min(-0.05, low - 0.05), 1.25)  # headroom for the legend
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"{public_name(report['judge'])} vs reference {public_name(report['reference'])} "
                     f"({report['items']} responses)", fontsize=10)
        ax.legend(loc="upper center", ncol=len(series), fontsize=8, frameon=False)
        fig.tight_layout()
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
    return out
