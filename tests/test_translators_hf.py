"""Local-model translators (hf: seq2seq, llm: causal LM, GGUF) and bench.models, on tiny real models."""
from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import pytest

from bench import models as bm
from bench.errors import BenchError
from bench.testing.tiny_models import build_tiny_causal_lm, build_tiny_marian, tiny_corpus, write_tiny_gguf
from benchmark.translators import prompts
from benchmark.translators import hf_seq2seq as s2s
from benchmark.translators.base import load_translator
from benchmark.translators.causal_lm import CausalLMTranslator
from benchmark.translators.hf_seq2seq import Seq2SeqTranslator

# texts of very different lengths, a placeholder, numbers, a blank: padding must not matter
TEXTS = [
    "Write a short poem about the sea.",
    "Hi",
    "How many days are there in a leap year? Explain ⟦0⟧ briefly, then give me 3 examples of ⟦1⟧.",
    "",
    "I have 3 apples and give away 1.5 kg of pears.",
    "The cat eats an apple.",
    "Why?",
]


def _one_at_a_time(tr, texts, src="en", tgt="fr"):
    return [tr.translate_batch([t], src, tgt)[0] for t in texts]


def _capture_generate(monkeypatch, tr):
    """Record the kwargs of model.generate while still running it."""
    calls = []
    model = tr.model
    original = model.generate

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    return calls


# ---------------------------------------------------------------------------------------------
# hf: seq2seq


@pytest.mark.parametrize("fixture,family", [
    ("tiny_marian_dir", "marian"), ("tiny_nllb_dir", "nllb"), ("tiny_m2m100_dir", "m2m100"),
])
def test_seq2seq_batched_equals_one_at_a_time(request, fixture, family):
    path = request.getfixturevalue(fixture)
    tr = load_translator(f"hf:{path}", batch_size=3)
    assert isinstance(tr, Seq2SeqTranslator) and tr.family == family
    batched = tr.translate_batch(TEXTS, "en", "fr")
    assert len(batched) == len(TEXTS) and all(isinstance(t, str) for t in batched)
    assert batched[3] == ""  # blank text passes through
    assert any(batched)  # random weights still emit something (some texts may end at EOS at once)
    assert batched == _one_at_a_time(tr, TEXTS)
    tr.close()


def test_seq2seq_max_new_tokens_bounds_output(tiny_marian_dir):
    tr = load_translator(f"hf:{tiny_marian_dir}", max_new_tokens=3)
    out = tr.translate_batch(["Write a short poem about the sea and the moon and the city."], "en", "fr")[0]
    assert len(tr.tokenizer(out, add_special_tokens=False)["input_ids"]) <= 4
    assert "max_new=3" in tr.cache_key


def test_marian_single_pair_checked(tiny_marian_dir):
    tr = load_translator(f"hf:{tiny_marian_dir}")
    assert tr.plan("en", "fr").prefix == ""
    with pytest.raises(BenchError, match=r"only translates en->fr; asked for en->es"):
        tr.translate_batch(["Hello"], "en", "es")
    with pytest.raises(BenchError, match=r"translates from 'en', not from 'de'"):
        tr.translate_batch(["Hallo"], "de", "fr")


def test_marian_multilingual_target_token(tiny_marian_multi_dir, monkeypatch):
    tr = load_translator(f"hf:{tiny_marian_multi_dir}")
    assert tr.family == "marian"
    calls = _capture_generate(monkeypatch, tr)
    fr = tr.translate_batch(["The cat eats an apple."], "en", "fr")
    es = tr.translate_batch(["The cat eats an apple."], "en", "es")
    tok = tr.tokenizer
    assert calls[0]["input_ids"][0, 0].item() == tok.convert_tokens_to_ids(">>fr<<")
    assert calls[1]["input_ids"][0, 0].item() == tok.convert_tokens_to_ids(">>es<<")
    assert ">>" not in fr[0] + es[0]
    with pytest.raises(BenchError, match="no target language token for 'de'"):
        tr.translate_batch(["x"], "en", "de")


def test_nllb_language_codes(tiny_nllb_dir, monkeypatch):
    tr = load_translator(f"hf:{tiny_nllb_dir}")
    tok = tr.tokenizer
    plan = tr.plan("en", "fr")
    assert plan.src_lang == "eng_Latn" and plan.forced_bos_token_id == tok.convert_tokens_to_ids("fra_Latn")
    calls = _capture_generate(monkeypatch, tr)
    out_fr = tr.translate_batch(["The cat eats an apple."], "es", "fr")
    tr.translate_batch(["The cat eats an apple."], "en", "es")
    assert calls[0]["forced_bos_token_id"] == tok.convert_tokens_to_ids("fra_Latn")
    assert calls[0]["input_ids"][0, 0].item() == tok.convert_tokens_to_ids("spa_Latn")  # source code first
    assert calls[1]["forced_bos_token_id"] == tok.convert_tokens_to_ids("spa_Latn")
    assert calls[1]["input_ids"][0, 0].item() == tok.convert_tokens_to_ids("eng_Latn")
    assert "Latn" not in out_fr[0]  # language tokens are not in the text


def test_m2m100_language_codes(tiny_m2m100_dir, monkeypatch):
    tr = load_translator(f"hf:{tiny_m2m100_dir}")
    tok = tr.tokenizer
    calls = _capture_generate(monkeypatch, tr)
    out = tr.translate_batch(["The cat eats an apple."], "en", "es")
    assert calls[0]["forced_bos_token_id"] == tok.get_lang_id("es")
    assert calls[0]["input_ids"][0, 0].item() == tok.get_lang_id("en")
    assert "__" not in out[0]


def test_family_and_code_mapping_units():
    # language aliases used by Marian-style vocabularies
    assert s2s.marian_target_token([">>fra<<", ">>spa<<"], "fr") == ">>fra<<"
    assert s2s.marian_target_token([">>fr<<", ">>es<<"], "es") == ">>es<<"
    assert s2s.marian_target_token([">>cmn_Hans<<"], "zh") == ">>cmn_Hans<<"
    assert s2s.marian_target_token([">>fra<<"], "de") is None
    assert s2s.iso_from_alias("fra") == "fr" and s2s.iso_from_alias("fra_Latn") == "fr"
    assert s2s.iso_from_alias("ger") == "de" and s2s.iso_from_alias("ROMANCE") is None
    assert s2s.iso_from_alias(None) is None

    def fake_tokenizer(name, vocab, **attrs):
        cls = type(name, (), {"get_vocab": lambda self: dict(vocab),
                              "convert_tokens_to_ids": lambda self, t: vocab.get(t, 0)})
        obj = cls()
        for k, v in attrs.items():
            setattr(obj, k, v)
        return obj

    cfg = lambda model_type: types.SimpleNamespace(model_type=model_type)  # noqa: E731
    mbart = fake_tokenizer("MBart50Tokenizer", {"en_XX": 5, "fr_XX": 6, "de_DE": 7},
                           lang_code_to_id={"en_XX": 5, "fr_XX": 6, "de_DE": 7})
    assert s2s.detect_family(cfg("mbart"), mbart) == "mbart50"
    plan = s2s.plan_languages("mbart50", mbart, "en", "de")
    assert plan.src_lang == "en_XX" and plan.forced_bos_token_id == 7
    with pytest.raises(BenchError, match="no language code for 'es'"):
        s2s.plan_languages("mbart50", mbart, "en", "es")

    madlad = fake_tokenizer("T5Tokenizer", {"<2fr>": 10, "<2es>": 11, "<2en>": 12})
    assert s2s.detect_family(cfg("t5"), madlad) == "madlad"
    assert s2s.plan_languages("madlad", madlad, "en", "fr").prefix == "<2fr> "
    with pytest.raises(BenchError, match="<2de>"):
        s2s.plan_languages("madlad", madlad, "en", "de")

    t5 = fake_tokenizer("T5Tokenizer", {"▁translate": 3})
    assert s2s.detect_family(cfg("t5"), t5) == "t5"
    assert s2s.plan_languages("t5", t5, "en", "fr").prefix == "translate English to French: "

    nllb = fake_tokenizer("NllbTokenizer", {"fra_Latn": 1, "eng_Latn": 2})
    assert s2s.detect_family(cfg("m2m_100"), nllb) == "nllb"
    assert s2s.detect_family(cfg("m2m_100"), fake_tokenizer("M2M100Tokenizer", {})) == "m2m100"
    assert s2s.detect_family(cfg("marian"), fake_tokenizer("MarianTokenizer", {})) == "marian"
    with pytest.raises(BenchError, match="unsupported seq2seq model type 'bart'"):
        s2s.detect_family(cfg("bart"), fake_tokenizer("BartTokenizer", {}))


# ---------------------------------------------------------------------------------------------
# llm: causal LMs


@pytest.mark.parametrize("fixture,mode", [("tiny_causal_lm_dir", "chat"), ("tiny_base_lm_dir", "few-shot")])
def test_llm_batched_equals_one_at_a_time(request, fixture, mode):
    path = request.getfixturevalue(fixture)
    tr = load_translator(f"llm:{path}", batch_size=3)
    assert isinstance(tr, CausalLMTranslator) and tr.prompt_mode == mode
    assert tr.tokenizer.padding_side == "left"
    batched = tr.translate_batch(TEXTS, "en", "fr")
    assert len(batched) == len(TEXTS) and batched[3] == ""
    assert batched == _one_at_a_time(tr, TEXTS)
    tr.close()


def test_llm_prompt_mode_selection(tiny_causal_lm_dir, tiny_base_lm_dir):
    chat = load_translator(f"llm:{tiny_causal_lm_dir}")
    base = load_translator(f"llm:{tiny_base_lm_dir}")
    assert chat.prompt_mode == "chat" and base.prompt_mode == "few-shot"
    chat_prompt = chat.build_prompt("Hello", "en", "fr")
    assert chat_prompt.startswith("<|im_start|>system\nYou are a professional translator")
    assert chat_prompt.endswith("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")
    assert base.build_prompt("Hello", "en", "fr") == prompts.few_shot_prompt("Hello", "en", "fr")
    assert ":chat:" in chat.cache_key and ":few-shot:" in base.cache_key
    assert prompts.PROMPT_VERSION in chat.cache_key and prompts.PROMPT_VERSION in base.cache_key
    forced = load_translator(f"llm:{tiny_causal_lm_dir}", prompt_mode="few-shot")
    assert forced.prompt_mode == "few-shot" and forced.cache_key != chat.cache_key
    with pytest.raises(BenchError, match="has no chat template"):
        load_translator(f"llm:{tiny_base_lm_dir}", prompt_mode="chat")


def test_llm_few_shot_output_cut_at_stop_strings(tiny_base_lm_dir, monkeypatch):
    tr = load_translator(f"llm:{tiny_base_lm_dir}")
    tok = tr.tokenizer
    fake = {"A": " Bonjour le monde\n\nEnglish: Next example", "B": " Salut\nEnglish: more"}

    def fake_generate(batch_ids, limits, source_lang):
        out = []
        for ids in batch_ids:
            text = tok.decode(ids)
            key = "A" if text.rstrip().endswith("English: A\nFrench:") else "B"
            out.append(tok(fake[key], add_special_tokens=False)["input_ids"])
        return out

    monkeypatch.setattr(tr, "_generate", fake_generate)
    assert tr.translate_batch(["A", "B"], "en", "fr") == ["Bonjour le monde", "Salut"]


def test_llm_stop_strings_reach_generate(tiny_base_lm_dir, monkeypatch):
    tr = load_translator(f"llm:{tiny_base_lm_dir}", max_new_tokens=4)
    calls = _capture_generate(monkeypatch, tr)
    tr.translate_batch(["Hello", "Write a poem."], "en", "fr")
    assert calls[0]["stop_strings"] == prompts.stop_strings("en") and calls[0]["tokenizer"] is tr.tokenizer
    assert calls[0]["max_new_tokens"] == 4 and calls[0]["do_sample"] is False


# ---------------------------------------------------------------------------------------------
# Fingerprints, cache keys, errors


def test_cache_key_tracks_weights_not_paths(tiny_marian_dir, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(tiny_marian_dir, copy)
    original = load_translator(f"hf:{tiny_marian_dir}")
    same = load_translator(f"hf:{copy}")
    assert same.cache_key == original.cache_key  # content, not location
    weights = load_file(str(copy / "model.safetensors"))
    name = next(iter(sorted(weights)))
    weights[name] = weights[name] + torch.ones_like(weights[name]) * 1e-3
    save_file(weights, str(copy / "model.safetensors"), metadata={"format": "pt"})
    changed = load_translator(f"hf:{copy}")
    assert changed.cache_key != original.cache_key
    assert changed.cache_key.startswith("hf:sha256:") and ":marian:" in changed.cache_key


def test_fingerprint_memo(tiny_marian_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(bm, "MEMO_MIN_SIZE", 0)
    calls = []
    real = bm.sha256_file
    monkeypatch.setattr(bm, "sha256_file", lambda p, *a: calls.append(Path(p).name) or real(p, *a))
    cache = tmp_path / "cache"
    first = bm.resolve_model(str(tiny_marian_dir), cache_dir=cache)
    assert first.kind == "local" and first.revision is None and calls
    memo = json.loads((cache / bm.HASH_MEMO_FILE).read_text())
    assert str(Path(tiny_marian_dir, "model.safetensors").resolve()) in memo
    calls.clear()
    assert bm.resolve_model(str(tiny_marian_dir), cache_dir=cache).fingerprint == first.fingerprint
    assert calls == []  # nothing rehashed


def test_hub_ref_resolution(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    commit = "a" * 40
    repo = tmp_path / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    ref = bm.resolve_model("org/tiny")
    assert (ref.kind, ref.revision, ref.fingerprint) == ("hub", commit, f"hub:org/tiny@{commit}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert bm.resolve_model("org/other", "v1.0").fingerprint == "hub:org/other@v1.0"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BenchError, match="'org/other'.*not in the local Hugging Face cache"):
        bm.resolve_model("org/other")


@pytest.mark.parametrize("spec", [
    "hf:/nonexistent/model", "llm:./missing-model.gguf", "llm:/nonexistent/x.gguf", "hf:a/b/c/d",
])
def test_bad_model_refs_fail_with_one_line(spec):
    with pytest.raises(BenchError) as info:
        load_translator(spec)
    message = str(info.value)
    assert "\n" not in message and spec.split(":", 1)[1] in message


def test_wrong_backend_for_architecture(tiny_marian_dir, tiny_base_lm_dir):
    with pytest.raises(BenchError, match="use hf:"):
        load_translator(f"llm:{tiny_marian_dir}")
    with pytest.raises(BenchError, match="use llm:"):
        load_translator(f"hf:{tiny_base_lm_dir}")


def test_folder_without_config_and_non_gguf_file(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(BenchError, match="no config.json"):
        load_translator(f"hf:{tmp_path}")
    with pytest.raises(BenchError, match=r"must be a \.gguf"):
        load_translator(f"llm:{tmp_path / 'weights.bin'}")


def test_hub_id_offline_fails_fast(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BenchError) as info:
        load_translator("llm:no-such-org/no-such-model")
    assert "no-such-org/no-such-model" in str(info.value) and "\n" not in str(info.value)


def test_bad_device_and_dtype(tiny_marian_dir):
    with pytest.raises(BenchError, match="unknown dtype"):
        load_translator(f"hf:{tiny_marian_dir}", dtype="int3")
    with pytest.raises(BenchError, match="unknown device"):
        load_translator(f"hf:{tiny_marian_dir}", device="tpu")


# ---------------------------------------------------------------------------------------------
# GGUF and builders


def test_gguf_converted_once_and_matches_source_model(tiny_causal_lm_dir, tmp_path):
    gguf_file = write_tiny_gguf(tiny_causal_lm_dir, tmp_path / "gguf" / "tiny-chat.gguf")
    cache = tmp_path / "cache"
    tr = load_translator(f"llm:{gguf_file}", cache_dir=str(cache), batch_size=4)
    assert tr.model_ref.kind == "gguf" and tr.prompt_mode == "chat"
    converted = cache / "converted" / tr.model_ref.digest
    assert (converted / "model.safetensors").is_file() and (converted / "tokenizer.json").is_file()
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config
    marker = converted / bm.CONVERTED_MARKER
    stamp = marker.stat().st_mtime_ns
    reference = load_translator(f"llm:{tiny_causal_lm_dir}", batch_size=4)
    texts = TEXTS[:3]
    assert tr.translate_batch(texts, "en", "fr") == reference.translate_batch(texts, "en", "fr")
    again = load_translator(f"llm:{gguf_file}", cache_dir=str(cache))
    assert again.cache_key == tr.cache_key and marker.stat().st_mtime_ns == stamp  # not converted again


def test_builders_are_idempotent_and_placeholders_survive(tiny_marian_dir, tmp_path):
    stamp = (tiny_marian_dir / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_marian(tiny_marian_dir, "en", "fr") == tiny_marian_dir
    assert (tiny_marian_dir / "model.safetensors").stat().st_mtime_ns == stamp
    tr = load_translator(f"hf:{tiny_marian_dir}")
    text = "Explain ⟦0⟧ in 12 words, then ⟦13⟧!"
    ids = tr.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tr.tokenizer.unk_token_id not in ids
    assert tr.tokenizer.decode(ids) == text
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(BenchError, match="refusing to overwrite"):
        build_tiny_causal_lm(busy)
    assert len(tiny_corpus()) > 300
