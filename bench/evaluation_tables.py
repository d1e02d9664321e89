"""Terminal tables of a checker's evaluation: per-label scores, averages, false alarms and confusion.

Shared by ``bench errors evaluate`` and ``bench qa evaluate`` (reports of
:func:`bench.label_scores.evaluation_report`)."""
from __future__ import annotations

from typing import Any, Mapping

from rich.console import Console
from rich.table import Table


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_evaluation(console: Console, title: str, per_label: Mapping[str, Mapping[str, Any]],
                     report: Mapping[str, Any], noun: str = "label") -> None:
    """Scores table (labels, micro and macro average) then the confusion of labels and a summary line."""
    table = Table(title=title)
    for col in (noun, "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == noun else "right")
    for name, m in per_label.items():
        table.add_row(name, _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]))
    micro, macro = report["micro"], report["macro"]
    table.add_row("micro avg", _fmt(micro["precision"]), _fmt(micro["recall"]), _fmt(micro["f1"]),
                  str(micro["support"]), end_section=False)
    table.add_row(f"macro avg ({macro['labels']} {noun}s)", _fmt(macro["precision"]), _fmt(macro["recall"]),
                  _fmt(macro["f1"]), "")
    console.print(table)
    conf = report["confusion"]
    grid = Table(title=f"gold {noun} (rows) vs predicted (columns); 'none' = no {noun}")
    grid.add_column("gold \\ predicted")
    for col in conf:
        grid.add_column(col, justify="right")
    for row, counts in conf.items():
        grid.add_row(row, *(str(counts[col]) or "" for col in conf))
    console.print(grid)
    rate = report.get("clean_flagged_rate", report.get("clean_false_alarm_rate"))
    console.print(f"exact match {report['exact_match']:.3f}; clean items flagged {rate:.3f} "
                  f"({report['clean_items']} clean items)", highlight=False)
