"""Model outputs and dataset text are data: never executed, never rendered as unescaped HTML, never
interpolated into shell commands or SQL; remote code is off unless asked for; safetensors preferred.

Two kinds of checks:

* an audit of the code base (AST, not grep: strings and comments do not count): no ``shell=True``,
  no string commands for subprocess/os.system, no ``eval``/``exec``/``pickle``/unsafe YAML,
  ``trust_remote_code`` never defaults to or is passed as True, no ``use_safetensors=False`` /
  ``safe_serialization=False``, and every f-string / ``.format`` that builds SQL interpolates only
  reviewed, whitelisted expressions (identifiers and placeholder lists built from constants; values
  always go as parameters);
* behaviour: ``<script>`` and friends in an instruction, an output, a model or judge name and item
  metadata come out escaped in ``bench leaderboard --format html`` (the page has only its own tags);
  shell / Python / template-injection payloads in data never run; SQL metacharacters in data and in
  filter values are stored and matched literally.
"""
from __future__ import annotations

import ast
import html.parser
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

CODE_DIRS = ("bench", "benchmark", "baselines", "annotation", "release", "cards", "perf", "scripts")
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|WHERE|FROM|VALUES|JOIN|ORDER BY|GROUP BY)\b")

# Reviewed interpolations into SQL text: (file, expression) -> why it is safe. A new one fails the
# audit until someone checks it and adds it here (values must be bound as parameters instead).
SQL_INTERPOLATIONS: dict[tuple[str, str], str] = {
    ("baselines/leaderboard/queries.py", "_KIND_SQL"): "module constant",
    ("baselines/leaderboard/queries.py", "_WORD_COUNT_SQL"): "module constant",
    ("baselines/leaderboard/queries.py", "VALUE_SQL"): "module constant",
    ("baselines/leaderboard/paired.py", "VALUE_SQL"): "constant imported from queries.py",
    ("baselines/leaderboard/paired.py", "_PAIR_FILTER"): "module constant (values bound as $model/$a/$model_b/$b)",
    ("baselines/generation/run.py", "table"): "loop over the _DEPENDENT_TABLES constant",
    ("baselines/generation/run.py", "ids"): "a constant subquery (values bound as ? parameters)",
    ("baselines/leaderboard/queries.py", "a"): "loop variable over the ASPECTS constant",
    ("baselines/leaderboard/export.py", "a"): "loop variable over the ASPECTS constant",
    ("baselines/leaderboard/paired.py", "', '.join((f\"'{a}'\" for a in REGULAR_ASPECTS))"): "constant aspect names",
    ("baselines/errors/scan.py", "where"): "fixed clause with a ? parameter",
    ("baselines/dpo/preferences.py", "' AND '.join(where)"): "fixed clauses with ? placeholders",
    ("baselines/dpo/preferences.py", "_placeholders(aspects)"): "'?, ?, ...' (values are parameters)",
    ("baselines/dpo/preferences.py", "_placeholders(languages)"): "'?, ?, ...' (values are parameters)",
    ("baselines/dpo/preferences.py", "_placeholders(methods)"): "'?, ?, ...' (values are parameters)",
    ("baselines/judging/import_just_eval.py", "cols"): "constant column names",
    ("baselines/judging/import_just_eval.py", "jcols"): "constant column names",
    ("baselines/judging/import_just_eval.py", "updates"): "built from constant column names",
    ("baselines/generation/run.py", "cols"): "constant column names",
    ("baselines/generation/run.py", "marks"): "'?, ?, ...' (values are parameters)",
    ("annotation/errors.py", "' AND '.join(where)"): "fixed clauses with ? parameters",
    ("annotation/errors.py", "column"): "loop over constant column names",
    ("annotation/ratings.py", "' AND '.join(where)"): "fixed clauses with ? parameters",
    ("annotation/ratings.py", "column"): "loop over constant column names",
    ("perf/leaderboard.py", "table"): "loop over constant table names (benchmark script)",
    ("perf/leaderboard.py", "', '.join(data.column_names)"): "columns of a table the script built",
}
# ``TEMPLATE.format(...)`` of SQL templates: keyword -> why it is safe (per file).
SQL_FORMAT_KEYWORDS: dict[tuple[str, str], str] = {
    ("baselines/leaderboard/queries.py", "where"): "joined FILTER_CLAUSES constants; values bound as $f_<name>",
    ("baselines/leaderboard/queries.py", "kind"): "module constant",
    ("baselines/leaderboard/queries.py", "by_expr"): "BY_EXPRESSIONS whitelist (--by is a click.Choice)",
    ("baselines/leaderboard/queries.py", "words"): "_WORD_SOURCES constants",
    ("baselines/leaderboard/queries.py", "word_join"): "_WORD_SOURCES constants",
    ("baselines/leaderboard/queries.py", "join"): "'JOIN' or 'LEFT JOIN'",
    ("baselines/leaderboard/queries.py", "sums"): "built from the ASPECTS constant",
    ("baselines/leaderboard/queries.py", "regular_list"): "module constant",
    ("baselines/leaderboard/queries.py", "ctes"): "built above from the same constants",
    ("baselines/leaderboard/queries.py", "aspect_values"): "built from the ASPECTS constant",
    ("baselines/leaderboard/export.py", "pivot"): "built from the ASPECTS constant",
    ("baselines/leaderboard/queries.py", "col"): "'task' / 'topic' constants",
    ("baselines/leaderboard/queries.py", "safety"): "SAFETY_ASPECT constant",
    ("baselines/leaderboard/queries.py", "value"): "module constant",
    ("baselines/leaderboard/queries.py", "combos"): "one of two module constants",
    ("baselines/leaderboard/queries.py", "merge_aspects"): "built from the ASPECTS constant",
    ("baselines/leaderboard/queries.py", "aspect_cols"): "built from the ASPECTS constant",
    ("baselines/leaderboard/queries.py", "n_regular"): "an int",
    ("baselines/leaderboard/queries.py", "regular_count"): "built from the REGULAR_ASPECTS constant",
    ("baselines/leaderboard/queries.py", "regular_sum"): "built from the REGULAR_ASPECTS constant",
    ("baselines/leaderboard/queries.py", "order"): "_order_clause(by): --by is a whitelist",
    ("baselines/leaderboard/queries.py", "labels"): "_LABEL_SOURCES constants",
    ("baselines/leaderboard/queries.py", "labels_join"): "_LABEL_SOURCES constants",
}


def code_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (REPO / d).rglob("*.py") if "__pycache__" not in p.parts)


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _name(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return ""


def audit() -> list[str]:
    """Every violation in the code base, as 'file:line: what' (empty: clean). Reused by perf/reliability.py."""
    found: list[str] = []
    for path in code_files():
        rel = str(path.relative_to(REPO))
        for node in ast.walk(_parse(path)):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                func = _name(node.func)
                for kw in node.keywords:
                    value = kw.value
                    true = isinstance(value, ast.Constant) and value.value is True
                    false = isinstance(value, ast.Constant) and value.value is False
                    if kw.arg == "shell" and not false:
                        found.append(f"{where}: shell={_name(value)}")
                    if kw.arg == "trust_remote_code" and true:
                        found.append(f"{where}: trust_remote_code=True")
                    if kw.arg in ("use_safetensors", "safe_serialization") and false:
                        found.append(f"{where}: {kw.arg}=False")
                    if kw.arg == "weights_only" and false:
                        found.append(f"{where}: weights_only=False")
                if func in ("eval", "exec"):
                    found.append(f"{where}: {func}(...)")
                if func in ("__import__", "compile") and not (
                        node.args and isinstance(node.args[0], ast.Constant)):
                    found.append(f"{where}: {func}(<not a constant>)")
                if func in ("os.system", "os.popen", "os.execl", "os.execlp", "os.spawnl", "commands.getoutput"):
                    found.append(f"{where}: {func}(...)")
                if func in ("pickle.load", "pickle.loads", "marshal.loads", "yaml.unsafe_load", "yaml.full_load",
                            "dill.load", "dill.loads", "shelve.open"):
                    found.append(f"{where}: {func}(...)")
                if func == "yaml.load" and not any(kw.arg == "Loader" and "Safe" in _name(kw.value)
                                                   for kw in node.keywords):
                    found.append(f"{where}: yaml.load without SafeLoader")
                if func == "torch.load" and not any(kw.arg == "weights_only" and _name(kw.value) == "True"
                                                    for kw in node.keywords):
                    found.append(f"{where}: torch.load without weights_only=True")
                if func.startswith("subprocess.") and node.args and not isinstance(node.args[0], (ast.List, ast.Tuple)):
                    if isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                        found.append(f"{where}: {func} with a string command")
                if func.endswith(".format") and isinstance(node.func, ast.Attribute):
                    template = _name(node.func.value)
                    if re.search(r"SQL|CTES", template):
                        for kw in node.keywords:
                            if (rel, kw.arg) not in SQL_FORMAT_KEYWORDS:
                                found.append(f"{where}: {template}.format({kw.arg}=...) builds SQL (not reviewed)")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
                defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
                value = defaults.get("trust_remote_code")
                if value is not None and not (isinstance(value, ast.Constant) and value.value is False):
                    found.append(f"{where}: {node.name}(trust_remote_code={_name(value)}) default")
            elif isinstance(node, ast.AnnAssign) and _name(node.target) == "trust_remote_code" and node.value is not None:
                if "True" in _name(node.value).split("description")[0]:
                    found.append(f"{where}: trust_remote_code field defaults to True")
            elif isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
                if SQL_WORDS.search(text):
                    for value in node.values:
                        if isinstance(value, ast.FormattedValue):
                            expr = _name(value.value)
                            if (rel, expr) not in SQL_INTERPOLATIONS:
                                found.append(f"{where}: f-string SQL interpolates {expr!r} (not reviewed)")
    return found


def test_code_audit():
    assert len(code_files()) > 30
    violations = audit()
    assert not violations, "\n".join(violations)


def test_audit_catches_what_it_should(tmp_path, monkeypatch):
    """The audit is not vacuous: a file with each forbidden pattern is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import subprocess, yaml, os\n"
        "def f(x, trust_remote_code=True):\n"
        "    subprocess.run(f'echo {x}', shell=True)\n"
        "    os.system('ls ' + x)\n"
        "    eval(x)\n"
        "    yaml.load(x)\n"
        "    con.execute(f\"SELECT * FROM t WHERE name = '{x}'\")\n"
        "    load(m, trust_remote_code=True, use_safetensors=False)\n", encoding="utf-8")
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "code_files", lambda: [bad])
    monkeypatch.setattr(module, "REPO", tmp_path)
    found = " | ".join(audit())
    for needle in ("shell=True", "os.system", "eval(", "yaml.load", "interpolates 'x'", "trust_remote_code=True",
                   "use_safetensors=False", "f(trust_remote_code=True) default"):
        assert needle in found, (needle, found)


def test_remote_code_off_and_safetensors_preferred(tmp_path):
    from baselines.generation import transformers_backend, vllm_backend
    from baselines.generation.grid import ModelEntry
    from bench import models

    assert ModelEntry(path="org/m").trust_remote_code is False
    for fn in (models.load_config, models.load_tokenizer, models.load_causal_lm, models.load_seq2seq,
               transformers_backend.TransformersGenerator.__init__, vllm_backend.VLLMGenerator.__init__):
        assert inspect.signature(fn).parameters["trust_remote_code"].default is False, fn
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    (folder / "model.safetensors").write_bytes(b"not loaded")
    ref = models.ModelRef(str(folder), "local", None, "sha256:x")
    assert models.model_source(ref)[1] == {"use_safetensors": True}  # never the pickle when both are there


# --------------------------------------------------------------------------- behaviour

MARKER = "PWNED-marker"
PAYLOADS = [
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</td></tr></table><script src=//evil.example/x.js></script>",
    "javascript:alert(3)",
]


def shell_payloads(marker_dir: Path) -> list[str]:
    m = marker_dir / MARKER
    return [f"$(touch {m}-1)", f"`touch {m}-2`", f"; touch {m}-3 #", f"__import__('os').system('touch {m}-4')",
            "{{ cycler.__init__.__globals__.os.system('touch " + f"{m}-5') }}}}", f"{{{{7*7}}}} {{% raw %}}{m}",
            "'); DROP TABLE responses; --", "\" OR \"1\"=\"1", "' OR '1'='1"]


class TagCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def _evil_inputs(tmp: Path) -> tuple[Path, Path, str]:
    evil = " ".join(PAYLOADS)
    source = tmp / "source.jsonl"
    source.write_text("".join(json.dumps({
        "id": i, "instruction": f"Question {i} {evil} {shell_payloads(tmp)[i % 9]}", "dataset": f"lima {PAYLOADS[0]}",
        "category": "regular", "task": [f"task {PAYLOADS[1]}"], "topic": [f"topic {PAYLOADS[2]}"],
        "difficulty": f"hard {PAYLOADS[3]}"}) + "\n" for i in range(6)), encoding="utf-8")
    judged = tmp / "judged.json"
    judged.write_text(json.dumps([{
        "id": i, "input": f"Question {i} {evil}", "output_cand": f"Answer {i} {evil} {shell_payloads(tmp)[i % 9]}",
        "generator_cand": "x", "eval_config": {"mode": "score_multi", "gpt": f"judge {PAYLOADS[0]}"},
        "result": "{}", "parsed_result": {a: {"reason": f"because {PAYLOADS[1]}", "score": str(1 + (i + k) % 5)}
                                          for k, a in enumerate(("helpfulness", "clarity", "factuality", "depth",
                                                                 "engagement"))}} for i in range(6)]),
        encoding="utf-8")
    return source, judged, f"model {evil}"


def test_leaderboard_html_escapes_every_text(tmp_path):
    source, judged, model = _evil_inputs(tmp_path)
    ws = tmp_path / "ws"
    proc = run_cli("results", "import-just-eval", str(judged), "--source", str(source), "--model", model, workspace=ws)
    assert proc.returncode == 0, proc.stderr
    allowed = {"html", "head", "meta", "title", "style", "body", "p", "h2", "table", "thead", "tbody", "tr", "th",
               "td", "span"}
    for by in ("aspect", "task", "topic", "source", "difficulty", "category"):
        out = tmp_path / f"board-{by}.html"
        proc = run_cli("leaderboard", "--format", "html", "--by", by, "--resamples", "20", "--out", str(out),
                       workspace=ws)
        assert proc.returncode == 0, proc.stderr
        page = out.read_text(encoding="utf-8")
        collector = TagCollector()
        collector.feed(page)
        assert collector.tags <= allowed, (by, collector.tags - allowed)
        assert collector.attrs <= {"lang", "charset", "class"}, (by, collector.attrs)
        assert "<script" not in page.lower() and "<img" not in page and "<svg" not in page
        assert html.escape(model) in page  # shown, escaped
        if by != "aspect":
            assert html.escape({"task": f"task {PAYLOADS[1]}", "topic": f"topic {PAYLOADS[2]}",
                                "source": f"lima {PAYLOADS[0]}", "difficulty": f"hard {PAYLOADS[3]}",
                                "category": "regular"}[by]) in page


def test_payloads_in_data_are_never_run_and_round_trip(tmp_path):
    """Shell, Python and template payloads travel through build-dataset (file translator + card),
    import, detection, scan, export, leaderboard (every format), preferences: nothing runs, the text
    comes back byte for byte, SQL metacharacters are matched literally."""
    source, judged, model = _evil_inputs(tmp_path)
    ws = tmp_path / "ws"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    translations = tmp_path / "human.jsonl"
    translations.write_text("".join(json.dumps({"id": r["id"], "lang": "fr", "translation": "FR " + r["instruction"]})
                                    + "\n" for r in rows), encoding="utf-8")
    steps = [
        ("build-dataset", "--source", str(source), "--languages", "fr", "--translator", f"file:{translations}",
         "--out", str(tmp_path / "ds")),
        ("results", "import-just-eval", str(judged), "--source", str(source), "--model", model),
        ("errors", "scan"),
        ("baselines", "export", "--out", str(tmp_path / "export")),
        ("results", "export-judgements", str(tmp_path / "judgements")),
        ("leaderboard", "--format", "markdown", "--resamples", "20", "--out", str(tmp_path / "board.md")),
        ("leaderboard", "--format", "latex", "--resamples", "20", "--out", str(tmp_path / "board.tex")),
        ("leaderboard", "--format", "csv", "--resamples", "20", "--out", str(tmp_path / "board.csv")),
        ("leaderboard", "--format", "json", "--resamples", "20", "--out", str(tmp_path / "board.json")),
        ("baselines", "make-preferences", "--out", str(tmp_path / "prefs.jsonl"), "--min-margin", "0"),
    ]
    for args in steps:
        proc = run_cli(*args, workspace=ws)
        assert proc.returncode == 0, (args, proc.stderr)
    detect_in = tmp_path / "answers.jsonl"
    detect_in.write_text("".join(json.dumps({"instruction": p, "output": p, "lang": "en"}) + "\n"
                                 for p in shell_payloads(tmp_path) + PAYLOADS), encoding="utf-8")
    proc = run_cli("errors", "detect", "--input", str(detect_in), "--out", str(tmp_path / "detected.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["output"] for line in (tmp_path / "detected.jsonl").read_text().splitlines()] == \
        shell_payloads(tmp_path) + PAYLOADS

    assert not list(tmp_path.glob(f"{MARKER}*")) and not list(REPO.glob(f"{MARKER}*")), "a payload ran"
    from benchmark.dataset_dir import read_config

    fr = read_config(tmp_path / "ds", "fr")
    assert [r["instruction"] for r in fr] == ["FR " + r["instruction"] for r in rows]
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert "{{7*7}}" in card or "7*7" not in card  # data in the card is never evaluated as a template
    assert any("{{7*7}}" in r["instruction"] for r in fr)

    import duckdb

    con = duckdb.connect(str(ws / "bench.duckdb"), read_only=True)
    try:
        stored = dict(con.execute("SELECT item_id, output FROM responses WHERE method = 'published'").fetchall())
        assert {int(k): v for k, v in stored.items()} == {
            i: f"Answer {i} {' '.join(PAYLOADS)} {shell_payloads(tmp_path)[i % 9]}" for i in range(6)}
        assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 6  # DROP TABLE text did nothing
    finally:
        con.close()
    # a filter value with quotes matches literally: the evil model name finds its rows, a classic injection none
    for name, expected in ((model, 1), ("' OR '1'='1", 0), ("x') OR ('1'='1", 0)):
        proc = run_cli("leaderboard", "--format", "json", "--no-ci", "--model", name, workspace=ws)
        assert proc.returncode == 0, proc.stderr
        assert len(json.loads(proc.stdout)) == expected, (name, proc.stdout[:300])
    pairs = [json.loads(line) for line in (tmp_path / "prefs.jsonl").read_text().splitlines()]
    assert all(isinstance(p["chosen"], str) for p in pairs)


def test_no_subprocess_receives_data_as_a_shell_string():
    """The only subprocess call in the package runs a fixed script with an argument list."""
    calls = []
    for path in code_files():
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Call) and _name(node.func).startswith("subprocess."):
                calls.append((str(path.relative_to(REPO)), _name(node)))
    for file, call in calls:
        assert "shell=True" not in call, (file, call)
    assert subprocess  # imported for the reader: calls are checked statically above
