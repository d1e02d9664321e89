"""The layout's rules, checked on the source: module size, import direction, and the architecture doc.

Runtime code is every package the project installs. Stages are ordered from low to high; a module
may import its own stage and lower ones, never a higher stage and never a CLI module (a CLI module
is the top of its stage: it may import anything). ``bench.testing`` holds test fixtures only.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.helpers import REPO

MAX_LINES = 600
PACKAGES = ("bench", "cards", "benchmark", "baselines", "annotation", "release")
# Low to high. A module belongs to the longest prefix that matches its dotted name.
STAGES = (
    "bench",
    "cards",
    "benchmark",
    "baselines",  # shared pieces of the baselines stages (e.g. the response filters)
    "baselines.generation",
    "baselines.judging",
    "baselines.errors",
    "baselines.dpo",
    "baselines.leaderboard",
    "annotation",
    "release",
)


def runtime_modules() -> dict[str, Path]:
    """Dotted name -> file of every installed module (test fixtures excluded)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            if not name.startswith("bench.testing"):
                found[name] = path
    return found


def stage_of(module: str) -> int:
    best = max((s for s in STAGES if module == s or module.startswith(s + ".")), key=len)
    return STAGES.index(best)


def is_cli(module: str) -> bool:
    return module.rsplit(".", 1)[-1].endswith("cli")


def imported_modules(path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules a file imports (at any depth: lazy imports inside functions count)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                # the module itself, or the longest known module prefix (``from a.b import func``)
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name:
                    out.add(name)
    return out


def test_no_runtime_module_is_too_long():
    long = {name: n for name, path in runtime_modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"runtime modules over {MAX_LINES} lines: {long}"


def test_imports_follow_the_stages():
    modules = runtime_modules()
    problems = []
    for name, path in modules.items():
        for target in imported_modules(path, modules):
            if target.startswith("bench.testing"):
                problems.append(f"{name} imports the test fixtures {target}")
            elif is_cli(name) or name == "bench.cli":
                continue
            elif is_cli(target) and target != name:
                problems.append(f"{name} imports the CLI module {target}")
            elif stage_of(target) > stage_of(name) and not target.startswith(name + "."):
                problems.append(f"{name} ({STAGES[stage_of(name)]}) imports {target} ({STAGES[stage_of(target)]})")
    assert not problems, "\n".join(problems)


def test_stage_checker_catches_a_wrong_import(tmp_path):
    """The rule itself can fail: a generation module importing the judge is a higher-stage import."""
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from baselines.judging.judge import make_backend\n")
    modules = runtime_modules()
    targets = imported_modules(fake, modules)
    assert "baselines.judging.judge" in targets
    assert stage_of("baselines.judging.judge") > stage_of("baselines.generation.run")


def test_architecture_doc_names_only_existing_modules():
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:bench|cards|benchmark|baselines|annotation|release|perf|tests)/[\w/.-]+?)`", doc))
    assert len(named) >= 20, "the architecture doc should name the modules behind each arrow"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
