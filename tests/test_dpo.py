"""DPO baseline: preference files, settings, training a tiny base model on CPU (full and LoRA), pairs from the store."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError, ConfigError, InputError

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "dpo" / "tiny-cpu.yaml"
PAPER_CONFIG = REPO / "configs" / "dpo" / "paper-gpu.yaml"

# 16 hand-written pairs: a helpful answer vs an unhelpful one, in English, French and Spanish.
PAIRS = [
    ("en", "Explain the sea in two sentences.", "The sea is a large body of salt water. It covers most of the Earth.",
     "No."),
    ("en", "Give me 5 facts about the moon.", "1. It orbits the Earth. 2. It has no air. 3. It has craters. "
     "4. It causes tides. 5. It reflects sunlight.", "The moon."),
    ("en", "Why do people like coffee?", "People like coffee for its taste, its smell and the energy it gives.",
     "I do not know."),
    ("en", "Write a short poem about winter.", "Cold wind sings,\nwhite snow falls,\nthe quiet city sleeps.",
     "Winter."),
    ("en", "Explain friendship in two sentences.", "Friendship is a bond of trust between people. Friends help "
     "each other.", "Friends."),
    ("fr", "Explique la mer en deux phrases.", "La mer est une grande étendue d'eau salée. Elle couvre la plus "
     "grande partie de la Terre.", "Non."),
    ("fr", "Donne-moi 5 faits sur la lune.", "1. Elle tourne autour de la Terre. 2. Elle n'a pas d'air. "
     "3. Elle a des cratères. 4. Elle cause les marées. 5. Elle reflète le soleil.", "La lune."),
    ("fr", "Pourquoi les gens aiment-ils le café ?", "Les gens aiment le café pour son goût, son odeur et "
     "l'énergie qu'il donne.", "Je ne sais pas."),
    ("fr", "Écris un court poème sur l'hiver.", "Le vent froid chante,\nla neige tombe,\nla ville dort.", "L'hiver."),
    ("fr", "Explique l'amitié en deux phrases.", "L'amitié est un lien de confiance. Les amis s'entraident.",
     "Des amis."),
    ("es", "Explica el mar en dos frases.", "El mar es una gran masa de agua salada. Cubre la mayor parte de la "
     "Tierra.", "No."),
    ("es", "Dame 5 datos sobre la luna.", "1. Gira alrededor de la Tierra. 2. No tiene aire. 3. Tiene cráteres. "
     "4. Causa las mareas. 5. Refleja la luz del sol.", "La luna."),
    ("es", "¿Por qué a la gente le gusta el café?", "A la gente le gusta el café por su sabor, su olor y la "
     "energía que da.", "No sé."),
    ("es", "Escribe un poema corto sobre el invierno.", "El viento frío canta,\ncae la nieve,\nla ciudad duerme.",
     "El invierno."),
    ("es", "Explica la amistad en dos frases.", "La amistad es un lazo de confianza. Los amigos se ayudan.",
     "Amigos."),
    ("es", "Explica el bosque en dos frases.", "El bosque es un lugar con muchos árboles. Allí viven muchos "
     "animales.", "Árboles."),
]


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _records() -> list[dict]:
    return [{"prompt": p, "chosen": c, "rejected": r, "lang": lang} for lang, p, c, r in PAIRS]


@pytest.fixture(scope="module")
def prefs_file(tmp_path_factory) -> Path:
    return _write_jsonl(tmp_path_factory.mktemp("prefs") / "prefs.jsonl", _records())


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("BENCH_NO_PROGRESS", "1")


def _tensors(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _changed(base: Path, trained: Path) -> list[str]:
    import torch

    a, b = _tensors(base), _tensors(trained)
    assert set(a) == set(b), "trained model has different tensors (unmerged adapter?)"
    return [k for k in a if not torch.equal(a[k].float(), b[k].float())]


def _generates(model_dir: Path) -> str:
    from baselines.dpo.prompt_format import dpo_prompt_format
    from bench.models import load_causal_lm

    model, tok = load_causal_lm(str(model_dir), device="cpu")
    ids = tok(dpo_prompt_format("Explique la mer."), return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    return tok.decode(out[0][ids["input_ids"].shape[1]:])


# ---------------------------------------------------------------------------------------------
# Training (one full and one LoRA run shared by the tests below)


@pytest.fixture(scope="module")
def trained_full(tmp_path_factory, tiny_base_lm_dir, prefs_file):
    """Full fine-tuning through the Python API."""
    import os

    os.environ["BENCH_NO_PROGRESS"] = "1"
    from baselines.dpo.settings import load_dpo_settings
    from baselines.dpo.train import train_dpo

    out = tmp_path_factory.mktemp("dpo-full") / "model"
    report = train_dpo(str(tiny_base_lm_dir), prefs_file, out, lora=False, config=load_dpo_settings(TINY_CONFIG))
    return out, report


@pytest.fixture(scope="module")
def trained_lora(tmp_path_factory, tiny_base_lm_dir, prefs_file):
    """LoRA through the click command (YAML config + CLI overrides), adapter merged."""
    import os

    from click.testing import CliRunner

    from baselines.dpo.cli import train_dpo_cmd

    os.environ["BENCH_NO_PROGRESS"] = "1"
    out = tmp_path_factory.mktemp("dpo-lora") / "model"
    result = CliRunner().invoke(train_dpo_cmd, [
        "--model", str(tiny_base_lm_dir), "--preferences", str(prefs_file), "--out", str(out),
        "--config", str(TINY_CONFIG), "--lora", "--max-steps", "3", "--beta", "0.2", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return out, json.loads(result.output.strip().splitlines()[-1])


def test_full_dpo_trains_saves_and_generates(trained_full, tiny_base_lm_dir, prefs_file):
    out, report = trained_full
    assert report.steps == 4 and report.pairs == 16 and not report.lora
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "bench_training.json"} <= names
    assert not (out / "trainer").exists() and not list(out.parent.glob("*.tmp-*"))
    assert _changed(tiny_base_lm_dir, out), "weights did not change"
    _generates(out)


def test_bench_training_json(trained_full, tiny_base_lm_dir, prefs_file):
    from bench.models import resolve_model, sha256_file

    out, report = trained_full
    info = json.loads((out / "bench_training.json").read_text(encoding="utf-8"))
    assert info["method"] == "dpo" and info["lora"] is False
    assert info["base_model"]["fingerprint"] == resolve_model(str(tiny_base_lm_dir)).fingerprint
    assert info["base_model"]["ref"] == str(Path(tiny_base_lm_dir).resolve())
    assert info["settings"]["beta"] == 0.1 and info["settings"]["max_steps"] == 4
    assert info["learning_rate"] == pytest.approx(1e-3)
    prefs = info["preferences"]
    assert prefs["sha256"] == sha256_file(prefs_file) and prefs["pairs"] == 16 and prefs["kind"] == "file"
    assert prefs["languages"] == {"en": 5, "es": 6, "fr": 5}
    for key in ("loss", "rewards/accuracies", "rewards/margins", "train_loss"):
        assert isinstance(info["metrics"][key], float), key
    assert info["metrics"] == pytest.approx({k: v for k, v in report.metrics.items()})
    assert {"torch", "transformers", "trl", "peft"} <= set(info["versions"])
    assert info["started_at"] <= info["finished_at"] and info["steps"] == 4
    assert info["prompt_format"]["kind"] == "plain" and info["prompt_format"]["prefix"] == "# Query:\n```\n"


def test_lora_adapter_is_merged_into_plain_model(trained_lora, tiny_base_lm_dir):
    out, report = trained_lora
    assert report["lora"] is True and report["steps"] == 3
    names = {p.name for p in out.iterdir()}
    assert "adapter_config.json" not in names and "adapter_model.safetensors" not in names
    changed = _changed(tiny_base_lm_dir, out)  # same tensor names as the base: merged, no lora_A/lora_B
    assert any("proj" in k for k in changed)
    assert not any("lm_head" in k or "embed" in k or "norm" in k for k in changed)  # only adapted linear layers
    info = json.loads((out / "bench_training.json").read_text(encoding="utf-8"))
    assert info["lora"] is True and info["settings"]["lora_r"] == 8 and info["settings"]["beta"] == 0.2
    assert info["learning_rate"] == pytest.approx(1e-3)
    _generates(out)


def test_plain_base_uses_the_generation_zero_shot_frame(trained_lora, tiny_base_lm_dir):
    from baselines.dpo.preference_files import PreferencePair
    from baselines.dpo.prompt_format import plain_prompt_format
    from baselines.dpo.settings import DPOSettings
    from baselines.dpo.train import _train_records
    from baselines.generation.urial import clean_urial_output, has_chat_template, zero_shot_prompt
    from bench.models import load_tokenizer

    # the trained folder keeps the base tokenizer: generation's `dpo` method then uses the zero-shot frame
    assert not has_chat_template(load_tokenizer(str(trained_lora[0])))
    info = json.loads((trained_lora[0] / "bench_training.json").read_text(encoding="utf-8"))
    assert info["prompt_format"]["source"] == "baselines.generation.urial.zero_shot_prompt"
    tok = load_tokenizer(str(tiny_base_lm_dir))
    pair = PreferencePair([{"role": "user", "content": "¿Por qué a la gente le gusta el café?"}], "Por su sabor.", "No.")
    [record], _ = _train_records([pair], tok, DPOSettings(), plain_prompt_format())
    assert record["prompt"] == zero_shot_prompt("¿Por qué a la gente le gusta el café?", "es")
    assert record["chosen"] == "Por su sabor.\n```" and record["rejected"] == "No.\n```"  # TRL adds EOS after
    assert clean_urial_output(record["chosen"] + "\n\n# Query:") == "Por su sabor."


def test_chat_model_trains_on_conversations(tmp_path, tiny_causal_lm_dir, prefs_file):
    from baselines.dpo.settings import DPOSettings
    from baselines.dpo.train import train_dpo

    out = tmp_path / "chat-dpo"
    report = train_dpo(str(tiny_causal_lm_dir), prefs_file, out, lora=True,
                       config=DPOSettings(max_steps=1, learning_rate=1e-3, per_device_train_batch_size=2,
                                          max_length=128, max_prompt_length=64))
    assert report.steps == 1
    info = json.loads((out / "bench_training.json").read_text(encoding="utf-8"))
    assert info["prompt_format"] == {"kind": "chat_template"}
    assert (out / "chat_template.jinja").read_text(encoding="utf-8") == \
        (Path(tiny_causal_lm_dir) / "chat_template.jinja").read_text(encoding="utf-8")


def test_failed_training_leaves_no_model(tmp_path, tiny_base_lm_dir, prefs_file, monkeypatch):
    import trl

    from baselines.dpo.settings import DPOSettings
    from baselines.dpo.train import train_dpo

    def boom(self, *a, **k):
        raise RuntimeError("killed mid-training")

    monkeypatch.setattr(trl.DPOTrainer, "train", boom)
    out = tmp_path / "model"
    with pytest.raises(RuntimeError, match="killed"):
        train_dpo(str(tiny_base_lm_dir), prefs_file, out, lora=True, config=DPOSettings(max_steps=1, max_length=64,
                                                                                       max_prompt_length=32))
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_is_not_overwritten(tmp_path, tiny_base_lm_dir, prefs_file):
    from baselines.dpo.train import train_dpo

    (tmp_path / "model").mkdir()
    with pytest.raises(BenchError, match="already exists"):
        train_dpo(str(tiny_base_lm_dir), prefs_file, tmp_path / "model")


def test_training_is_seeded(tmp_path, tiny_base_lm_dir, prefs_file, trained_full):
    import torch

    from baselines.dpo.settings import load_dpo_settings
    from baselines.dpo.train import train_dpo

    out = tmp_path / "again"
    train_dpo(str(tiny_base_lm_dir), prefs_file, out, lora=False, config=load_dpo_settings(TINY_CONFIG))
    a, b = _tensors(trained_full[0]), _tensors(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# Preference files


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_missing_field_is_one_line_error(tmp_path):
    from baselines.dpo.preference_files import load_preferences

    recs = _records()[:3]
    del recs[1]["rejected"]
    path = _write_jsonl(tmp_path / "p.jsonl", recs)
    with pytest.raises(InputError) as info:
        load_preferences(path)
    assert _one_line(info.value) == f"{path}: record line 2: field 'rejected': missing"


def test_empty_chosen_is_one_line_error(tmp_path):
    from baselines.dpo.preference_files import load_preferences

    recs = _records()[:3]
    recs[2]["chosen"] = "   "
    path = tmp_path / "p.json"
    path.write_text(json.dumps(recs), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_preferences(path)
    assert _one_line(info.value) == f"{path}: record index 2: field 'chosen': empty"


def test_bad_message_lists_are_rejected(tmp_path):
    from baselines.dpo.preference_files import load_preferences

    recs = _records()[:2]
    recs[0]["chosen"] = [{"role": "user", "content": "hi"}]  # no assistant answer
    with pytest.raises(InputError, match=r"record line 1: field 'chosen': the last message must be the assistant"):
        load_preferences(_write_jsonl(tmp_path / "a.jsonl", recs))
    recs = _records()[:2]
    recs[1]["rejected"] = [{"role": "assistant", "content": ""}]
    with pytest.raises(InputError, match=r"record line 2: field 'rejected': empty"):
        load_preferences(_write_jsonl(tmp_path / "b.jsonl", recs))
    with pytest.raises(InputError, match="invalid JSON"):
        (tmp_path / "c.jsonl").write_text('{"prompt": "x"\n', encoding="utf-8")
        load_preferences(tmp_path / "c.jsonl")
    with pytest.raises(InputError, match="unsupported format"):
        (tmp_path / "d.csv").write_text("prompt,chosen,rejected\n", encoding="utf-8")
        load_preferences(tmp_path / "d.csv")


def test_ultrafeedback_messages_and_parquet_are_normalised(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from baselines.dpo.preference_files import load_preferences

    prompt = "Explain the sea."
    rows = [{
        "prompt": prompt,
        "chosen": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "The sea is salty."}],
        "rejected": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "No."}],
        "score_chosen": 8.0, "score_rejected": 2.0,
    }] * 3
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "uf.parquet")
    data = load_preferences(tmp_path / "uf.parquet")
    assert len(data.pairs) == 3 and data.kind == "file"
    pair = data.pairs[0]
    assert pair.prompt == [{"role": "user", "content": prompt}]
    assert (pair.chosen, pair.rejected) == ("The sea is salty.", "No.")


def test_hub_dataset_source(monkeypatch):
    import datasets

    from baselines.dpo.preference_files import load_preferences

    calls = []

    def fake_load_dataset(name, split=None, **kwargs):
        calls.append((name, split))

        def msgs(prompt, answer):
            return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]

        rows = [
            {"prompt": "Hi?", "chosen": msgs("Hi?", "Hello!"), "rejected": msgs("Hi?", "..."),
             "messages": [{"role": "user", "content": "Hi?"}]},
            {"prompt": "Bye?", "chosen": msgs("Bye?", "Bye!"), "rejected": msgs("Bye?", " "),
             "messages": [{"role": "user", "content": "Bye?"}]},
        ]
        return datasets.Dataset.from_list(rows if split == "train_prefs" else rows[:1])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(InputError) as info:
        load_preferences("org/ultrafeedback", split="train_prefs")
    assert _one_line(info.value) == "org/ultrafeedback [train_prefs]: record index 1: field 'rejected': empty"
    data = load_preferences("org/ultrafeedback", split="test_prefs")
    assert calls == [("org/ultrafeedback", "train_prefs"), ("org/ultrafeedback", "test_prefs")]
    assert data.kind == "hub" and data.split == "test_prefs" and data.sha256 == data.pairs_sha256
    assert [(p.prompt[-1]["content"], p.chosen, p.rejected) for p in data.pairs] == [("Hi?", "Hello!", "...")]


def test_long_prompts_are_cut_from_the_start(tiny_base_lm_dir):
    from baselines.dpo.preference_files import PreferencePair
    from baselines.dpo.prompt_format import plain_prompt_format
    from baselines.dpo.settings import DPOSettings
    from baselines.dpo.train import _train_records
    from bench.models import load_tokenizer

    tok = load_tokenizer(str(tiny_base_lm_dir))
    long = " ".join(["The cat eats an apple."] * 60) + " Why?"
    pair = PreferencePair([{"role": "user", "content": long}], "Because.", "No.")
    records, truncated = _train_records([pair], tok, DPOSettings(max_length=128, max_prompt_length=40),
                                        plain_prompt_format())
    assert truncated == 1
    prompt = records[0]["prompt"]
    assert len(tok(prompt, add_special_tokens=False)["input_ids"]) <= 40
    assert prompt.startswith("# Query:\n```\n") and prompt.endswith("Why?\n```\n\n# Answer:\n```\n")


# ---------------------------------------------------------------------------------------------
# Settings


def test_shipped_configs_are_valid():
    from baselines.dpo.settings import load_dpo_settings

    tiny, paper = load_dpo_settings(TINY_CONFIG), load_dpo_settings(PAPER_CONFIG)
    assert tiny.device == "cpu" and tiny.max_steps
    assert paper.lora and paper.lora_r == 16 and paper.lora_alpha == 32 and paper.beta == 0.1
    assert paper.bf16 and paper.max_length == 1024
    assert paper.resolved_learning_rate(True) == 5e-6 and paper.resolved_learning_rate(False) == 5e-7


def test_unknown_config_key_is_one_line_error(tmp_path):
    from baselines.dpo.settings import load_dpo_settings

    path = tmp_path / "dpo.yaml"
    path.write_text("beta: 0.1\nlearning_rat: 1.0e-6\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_dpo_settings(path)
    text = _one_line(info.value)
    assert text.startswith(f"{path}: field 'learning_rat': unknown setting")


def test_bad_config_values(tmp_path):
    from baselines.dpo.settings import load_dpo_settings

    path = tmp_path / "dpo.yaml"
    path.write_text("beta: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"field 'beta': .*greater than 0"):
        load_dpo_settings(path)
    path.write_text("max_length: 64\nmax_prompt_length: 64\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_prompt_length .* must be smaller than max_length"):
        load_dpo_settings(path)
    path.write_text("- beta\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_dpo_settings(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_dpo_settings(tmp_path / "missing.yaml")


def test_cli_overrides_merge_and_name_the_option(tmp_path):
    from baselines.dpo.settings import load_dpo_settings, merge_settings
    from baselines.dpo.cli import _OPTIONS

    base = load_dpo_settings(TINY_CONFIG)
    merged = merge_settings(base, {"beta": 0.5, "max_steps": None, "lora": True})
    assert merged.beta == 0.5 and merged.max_steps == 4 and merged.lora and merged.lr_scheduler_type == "constant"
    with pytest.raises(ConfigError) as info:
        merge_settings(base, {"per_device_train_batch_size": 0}, option_names=_OPTIONS)
    assert _one_line(info.value).startswith("command line: field '--batch-size': ")


# ---------------------------------------------------------------------------------------------
# Preference pairs from the store


ASPECTS = ("helpfulness", "clarity", "factuality", "depth", "engagement")


def _fill_store(path: Path):
    from bench.store import Store

    store = Store(path)
    rows = []  # (model, lang, item, output, {judge: scores per aspect})

    def add(model, lang, item, output, scores, judge="gpt-4o", method="zero-shot"):
        rid = f"{model}-{method}-{lang}-{item}"
        rows.append((rid, model, method, lang, item, output))
        for aspect, score in zip(ASPECTS, scores):
            if score != "absent":
                store.con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                                  "VALUES (?, ?, 'multi-aspect', ?, ?)", [rid, judge, aspect, score])

    # item 1, fr: A best (5), B middle, C worst (1) -> A vs C, margin 4
    add("A", "fr", "1", "Réponse A", [5, 5, 5, 5, 5])
    add("B", "fr", "1", "Réponse B", [3, 3, 3, 3, 3])
    add("C", "fr", "1", "Réponse C", [1, 1, 1, 1, 1])
    # item 2, fr: margin 0.4 only
    add("A", "fr", "2", "Réponse A2", [4, 4, 4, 4, 4])
    add("B", "fr", "2", "Réponse B2", [4, 4, 4, 3, 3])
    # item 10, fr: B wins; sorted after item 2
    add("A", "fr", "10", "Réponse A10", [2, 2, 2, 2, 2])
    add("B", "fr", "10", "Réponse B10", [5, 4, 5, 4, 5])
    # item 3, es: B would be the worst but has a NULL score, C lacks an aspect row -> A vs D
    add("A", "es", "3", "Respuesta A", [5, 5, 4, 4, 5])
    add("B", "es", "3", "Respuesta B", [1, 1, None, 1, 1])
    add("C", "es", "3", "Respuesta C", [1, 1, 1, 1, "absent"])
    add("D", "es", "3", "Respuesta D", [2, 2, 2, 2, 2])
    # item 4, es: only one complete response
    add("A", "es", "4", "Respuesta A4", [5, 5, 5, 5, 5])
    add("B", "es", "4", "Respuesta B4", [1, None, 1, 1, 1])
    # item 5, en: tie between A and B at the top, both beat C: tie broken by model name
    add("B", "en", "5", "Answer B", [5, 5, 5, 5, 5])
    add("A", "en", "5", "Answer A", [5, 5, 5, 5, 5])
    add("C", "en", "5", "Answer C", [2, 2, 2, 2, 2])
    for rid, model, method, lang, item, output in rows:
        store.con.execute(
            "INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, output) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, f"rk-{model}", model, method, lang, item, f"Instruction {item} ({lang})", output])
    # safety scores are not part of the mean
    store.con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                      "VALUES ('C-zero-shot-fr-1', 'gpt-4o', 'safety', 'safety', 5)")
    return store


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_make_preferences_best_vs_worst(tmp_path):
    from baselines.dpo.preferences import PreferenceStats, make_preferences

    store = _fill_store(tmp_path / "bench.duckdb")
    stats = PreferenceStats()
    n = make_preferences(store, tmp_path / "prefs.jsonl", stats=stats)
    pairs = _read(tmp_path / "prefs.jsonl")
    assert n == len(pairs) == 4
    assert [(p["lang"], p["item_id"]) for p in pairs] == [("en", "5"), ("es", "3"), ("fr", "1"), ("fr", "10")]
    by = {(p["lang"], p["item_id"]): p for p in pairs}
    assert by[("fr", "1")] | {} == {
        "prompt": "Instruction 1 (fr)", "chosen": "Réponse A", "rejected": "Réponse C", "lang": "fr", "item_id": "1",
        "chosen_model": "A", "rejected_model": "C", "margin": 4.0, "chosen_score": 5.0, "rejected_score": 1.0,
        "judge": "gpt-4o"}
    assert (by[("es", "3")]["chosen_model"], by[("es", "3")]["rejected_model"]) == ("A", "D")  # B, C: missing scores
    assert by[("es", "3")]["margin"] == pytest.approx(2.6)
    assert (by[("en", "5")]["chosen_model"], by[("en", "5")]["rejected_model"]) == ("A", "C")
    assert (by[("fr", "10")]["chosen_model"], by[("fr", "10")]["rejected_model"]) == ("B", "A")
    assert stats.below_margin == 1 and stats.single_response == 1 and stats.incomplete_responses == 3
    assert stats.languages == {"en": 1, "es": 1, "fr": 2}


def test_make_preferences_margin_languages_judges_and_determinism(tmp_path):
    from baselines.dpo.preference_files import load_preferences
    from baselines.dpo.preferences import make_preferences

    store = _fill_store(tmp_path / "bench.duckdb")
    assert make_preferences(store, tmp_path / "a.jsonl", min_margin=0.4) == 5  # item 2 now passes
    assert make_preferences(store, tmp_path / "b.jsonl", min_margin=0.4) == 5
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert make_preferences(store, tmp_path / "c.jsonl", min_margin=3.5) == 1
    assert make_preferences(store, tmp_path / "fr.jsonl", languages=["fr"]) == 2
    assert {p["lang"] for p in _read(tmp_path / "fr.jsonl")} == {"fr"}
    assert make_preferences(store, tmp_path / "depth.jsonl", aspects=["depth"], min_margin=1.0) == 6
    # the output is valid DPO training input
    assert len(load_preferences(tmp_path / "a.jsonl").pairs) == 5
    # a second judge: must choose
    store.con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                      "SELECT response_id, 'llama-judge', protocol, aspect, 6 - score FROM judgements "
                      "WHERE judge = 'gpt-4o' AND protocol = 'multi-aspect'")
    with pytest.raises(BenchError, match="2 judges"):
        make_preferences(store, tmp_path / "x.jsonl")
    make_preferences(store, tmp_path / "j2.jsonl", judge="llama-judge", languages=["fr"])
    pair = _read(tmp_path / "j2.jsonl")[0]
    assert (pair["item_id"], pair["chosen_model"], pair["rejected_model"], pair["judge"]) == ("1", "C", "A",
                                                                                             "llama-judge")
    assert make_preferences(store, tmp_path / "none.jsonl", judge="nobody") == 0
    assert (tmp_path / "none.jsonl").read_text() == ""
    assert not list(tmp_path.glob(".*.tmp"))


def test_make_preferences_command(tmp_path):
    from click.testing import CliRunner

    from baselines.dpo.cli import make_preferences_cmd
    from bench.cli import BenchContext

    (tmp_path / "ws").mkdir()
    _fill_store(tmp_path / "ws" / "bench.duckdb").close()
    ctx = BenchContext(str(tmp_path / "ws"), debug=False)
    try:
        result = CliRunner().invoke(make_preferences_cmd, ["--out", str(tmp_path / "p.jsonl"), "--languages", "fr,es",
                                                           "--min-margin", "1", "--json"], obj=ctx)
    finally:
        ctx.workspace.close()
    assert result.exit_code == 0, (result.output, result.exception)
    summary = json.loads(result.output)
    assert summary["pairs"] == 3 and summary["judge"] == "gpt-4o"
    assert len(_read(tmp_path / "p.jsonl")) == 3
