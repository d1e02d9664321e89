"""Speed figures come from one generated table (`make perf` -> docs/performance.md), never typed by hand."""
from __future__ import annotations

import re

from tests.helpers import REPO


def test_render_lists_every_script_with_its_figures():
    from perf.report import SCRIPTS, render

    results = {"machine": {"cpus": 2, "machine": "x86_64", "python": "3.11", "versions": {"duckdb": "1.0"}},
               "scripts": {"translate": {"command": "python perf/translate.py", "date": "2026-12-05 10:00 UTC",
                                         "seconds": 12.5, "figures": {"batched_speedup": 4.5, "phases": {"qa": 1.0}}},
                           "judge": {"command": "python perf/judge.py", "error": "exit 1: boom"},
                           "generation-gemma": {"skipped": "no model"}}}
    text = render(results)
    assert "2 CPUs" in text and "duckdb 1.0" in text
    assert "| `batched_speedup` | 4.5 |" in text and '`{"qa": 1.0}`' in text
    assert "**Failed:** exit 1: boom" in text and "Skipped: no model." in text
    assert all(f"## {s.name}" in text for s in SCRIPTS)
    assert "Not measured yet." in text  # scripts without a record say so


def test_readme_quotes_no_speed_figure_of_its_own():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    speed = readme.split("## Speed", 1)[1].split("\n## ", 1)[0]
    assert "docs/performance.md" in speed and "make perf" in speed
    assert not re.search(r"\d[\d.,]*\s*(×|x\b|responses/s|tok/s|items/s)", speed), speed
