"""Generation baselines: prompts, the transformers backend (batching, prefix KV cache, stops), grid
configs, the resumable grid run into the store, and the Hub-ready export.

Every model is a tiny random Llama (or Gemma-3-style model, for sliding-window layers) built locally
(bench.testing.tiny_models): outputs are gibberish, but token-exact comparisons (batched vs one at a
time, prefix cache vs none) are meaningful.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.errors import BenchError, ConfigError, InputError
from bench.workspace import Workspace
from baselines.generation.generators import Generation, GenerationParams, finish_row
from baselines.generation.transformers_backend import TransformersGenerator
from baselines.generation.grid import load_grid
from baselines.generation.urial import (
    URIAL_STOP,
    build_urial_prompt,
    chat_prompt,
    clean_urial_output,
    default_urial_prompt,
    load_urial_prompt,
    zero_shot_prompt,
)

REPO = Path(__file__).resolve().parents[1]
OFFICIAL_URIAL = REPO.parent / "shared" / "data" / "urial" / "inst_1k_v4.txt"

INSTRUCTIONS = {
    "en": ["What is the capital of France?", "Write a haiku about the sea.", "Hi",
           "Explain photosynthesis to a ten-year-old child in a few sentences."],
    "fr": ["Quelle est la capitale de la France ?", "Écris un haïku sur la mer.", "Salut",
           "Explique la photosynthèse à un enfant de dix ans en quelques phrases."],
    "es": ["¿Cuál es la capital de Francia?", "Escribe un haiku sobre el mar.", "Hola",
           "Explica la fotosíntesis a un niño de diez años en pocas frases."],
}


def need_official() -> Path:
    if not OFFICIAL_URIAL.is_file():
        pytest.skip(f"official URIAL prompt not found at {OFFICIAL_URIAL} (../shared is absent)")
    return OFFICIAL_URIAL


def as_tuples(gens: list[Generation]) -> list[tuple]:
    """Everything but the timing."""
    return [(g.text_raw, g.finish_reason, g.prompt_tokens, g.completion_tokens) for g in gens]


@pytest.fixture(scope="module")
def long_base_lm_dir(tiny_base_lm_dir, tmp_path_factory) -> Path:
    """The tiny base LM with an 8k context: the official URIAL prompt is ~3.5k tokens for its 512-token vocabulary."""
    out = tmp_path_factory.mktemp("long-base") / "model"
    shutil.copytree(tiny_base_lm_dir, out)
    config = json.loads((out / "config.json").read_text())
    config["max_position_embeddings"] = 8192
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture(scope="module")
def base_gen(long_base_lm_dir):
    gen = TransformersGenerator(str(long_base_lm_dir), device="cpu", batch_size=4)
    yield gen
    gen.close()


@pytest.fixture(scope="module")
def chat_gen(tiny_causal_lm_dir):
    gen = TransformersGenerator(str(tiny_causal_lm_dir), device="cpu", batch_size=4)
    yield gen
    gen.close()


# --------------------------------------------------------------------------- prompts


def test_official_urial_prompt_is_rendered_as_urial_does():
    path = need_official()
    prompt = load_urial_prompt(path)
    raw = path.read_bytes()
    assert prompt.text == raw.decode("utf-8")  # read as is
    import hashlib

    assert prompt.sha256 == hashlib.sha256(raw).hexdigest()
    # URIAL's SeparatorStyle.URIAL: system + "\n" + role + "\n" + sep + "\n" + message + "\n" + sep2 + "\n" ...
    reference = prompt.text + "\n# Query:\n```\nHow are you?\n```\n" + "\n# Answer:\n```\n"
    assert prompt.build("How are you?") == reference
    assert reference.startswith(prompt.prefix)


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_shipped_urial_prompts(lang):
    prompt = load_urial_prompt(default_urial_prompt(lang))
    built = prompt.build("Q?")
    assert built == prompt.text.rstrip("\n") + "\n\n# Query:\n```\nQ?\n```\n\n# Answer:\n```\n"
    assert built.startswith(prompt.prefix) and prompt.prefix.endswith("```\n\n")
    assert build_urial_prompt("", "Q?") == zero_shot_prompt("Q?", lang)


def test_bad_urial_file(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("just some text\n")
    with pytest.raises(InputError, match=r"notes\.txt: not a URIAL prompt: no '# Query:' heading"):
        load_urial_prompt(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_urial_prompt(tmp_path / "missing.txt")


@pytest.mark.parametrize("raw, clean", [
    ("Paris is the capital.\n```\n\n", "Paris is the capital."),
    ("Paris.\n```\n\n# Query:\n```\nnext", "Paris."),
    ("Paris.\n```\n\n# Query", "Paris."),
    ("Paris.\n```\nand then the model rambles on", "Paris."),  # cut by the length limit after the fence
    ("Paris, no fence at all", "Paris, no fence at all"),
    ("```\nParis.\n```\n\n# Query:", "Paris."),  # the model opened the block itself
    ("Code:\n```python\nprint(1)\n```\nDone.\n```\n\n# Query:", "Code:\n```python\nprint(1)\n```\nDone."),
    ("Code:\n```\nprint(1)\n```\nDone.\n```\n\n# Query:", "Code:\n```\nprint(1)\n```\nDone."),
    ("Code:\n```python\nprint(1)\n```\nDone.\n```\nrambling", "Code:\n```python\nprint(1)\n```\nDone."),
    ("  \n", ""),
])
def test_clean_urial_output(raw, clean):
    assert clean_urial_output(raw) == clean


def test_chat_prompt_uses_the_tokenizers_own_template(chat_gen, base_gen):
    text = chat_prompt(chat_gen.tokenizer, "Bonjour ?")
    assert text == "<|im_start|>user\nBonjour ?<|im_end|>\n<|im_start|>assistant\n"
    with pytest.raises(BenchError, match="no chat template"):
        chat_prompt(base_gen.tokenizer, "Bonjour ?")


# --------------------------------------------------------------------------- transformers backend


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_each_method_batched_equals_one_at_a_time(base_gen, chat_gen, lang):
    """zero-shot and URIAL (our prompt of this language, prefix cache on) on the base model, chat on the
    chat model: a greedy batch with per-prompt limits gives exactly one-prompt-at-a-time outputs."""
    instructions = INSTRUCTIONS[lang]
    limits = [6, 2, 5, 4]
    params = GenerationParams(max_new_tokens=6, stop=(URIAL_STOP,))
    urial = load_urial_prompt(default_urial_prompt(lang))
    cases = [
        (base_gen, [zero_shot_prompt(i, lang) for i in instructions], None),
        (base_gen, [urial.build(i) for i in instructions], urial.prefix),
        (chat_gen, [[{"role": "user", "content": i}] for i in instructions], None),
    ]
    for gen, prompts, prefix in cases:
        batched = gen.generate(prompts, params, shared_prefix=prefix, max_new_tokens=limits)
        gen.batch_size, gen.prefix_cache = 1, False
        try:
            single = gen.generate(prompts, params, max_new_tokens=limits)
        finally:
            gen.batch_size, gen.prefix_cache = 4, True
        assert as_tuples(batched) == as_tuples(single)
        for g, limit in zip(batched, limits):
            assert 1 <= g.completion_tokens <= limit and g.prompt_tokens > 0
            assert g.finish_reason in ("stop", "length")


def prefix_runs_match(gen, prompts, prefix, *, max_new_tokens):
    """For a repetition penalty of 1.0 and 1.3: batched with the prefix KV cache == batched full prefill ==
    one at a time (asserted); yields the cached run's generations."""
    for penalty in (1.0, 1.3):
        params = GenerationParams(max_new_tokens=max_new_tokens, repetition_penalty=penalty, stop=(URIAL_STOP,))
        cached = gen.generate(prompts, params, shared_prefix=prefix)
        gen.prefix_cache = False
        try:
            uncached = gen.generate(prompts, params, shared_prefix=prefix)
            gen.batch_size = 1
            single = gen.generate(prompts, params)
        finally:
            gen.prefix_cache, gen.batch_size = True, 4
        assert as_tuples(cached) == as_tuples(uncached) == as_tuples(single)
        yield cached


def test_prefix_cache_gives_identical_greedy_outputs_on_official_urial(base_gen):
    """The official URIAL prompt (~3.5k tokens here), loaded as is: batched with the prefix KV cache ==
    batched without == one at a time, with and without a repetition penalty; the prefix runs once."""
    prompt = load_urial_prompt(need_official())
    prompts = [prompt.build(i) for i in INSTRUCTIONS["en"][:2] + INSTRUCTIONS["fr"][2:]]
    calls_before = base_gen.prefix_forward_calls
    for cached in prefix_runs_match(base_gen, prompts, prompt.prefix, max_new_tokens=6):
        assert all(g.prompt_tokens > 3000 for g in cached)
    assert base_gen.prefix_forward_calls == calls_before + 1  # computed once, reused by every batch and call


def test_prefix_cache_survives_a_token_merge_across_the_boundary(base_gen):
    """A shared prefix text whose last characters merge with the suffix into other tokens: the cache
    covers only the common token prefix, and outputs still match the uncached run."""
    prefix = "# Instruction\n\nAnswer the questions briefly and politely, in the language of the question.\n\n# Que"
    prompts = [prefix + "ry:\n```\n" + i + "\n```\n\n# Answer:\n```\n" for i in INSTRUCTIONS["es"]]
    params = GenerationParams(max_new_tokens=5)
    cached = base_gen.generate(prompts, params, shared_prefix=prefix)
    base_gen.prefix_cache = False
    try:
        uncached = base_gen.generate(prompts, params)
    finally:
        base_gen.prefix_cache = True
    assert as_tuples(cached) == as_tuples(uncached)


GEMMA_WINDOW = 32  # tokens; the URIAL prefixes are ~1.7k (ours) and ~3.5k (official) tokens here


@pytest.fixture(scope="module")
def gemma_gen(tmp_path_factory):
    """A tiny Gemma-3-style model (sliding-window, full, sliding-window layers) whose window is far shorter
    than any URIAL prefix, as Gemma-3-270M's 512-token window is shorter than its 1,173-token prefix."""
    from bench.testing.tiny_models import build_tiny_causal_lm

    model_dir = build_tiny_causal_lm(tmp_path_factory.mktemp("gemma") / "model", chat_template=False,
                                     sliding_window=GEMMA_WINDOW)
    gen = TransformersGenerator(str(model_dir), device="cpu", batch_size=4)
    yield gen
    gen.close()


def test_prefix_cache_on_sliding_window_layers_gives_full_prefill_outputs(gemma_gen):
    """Sliding-window layers with a window shorter than the prefix: batched with the prefix KV cache
    (instructions of different lengths, so rows are padded differently) == batched full prefill == one at
    a time, with and without a repetition penalty; the prefix is computed once and reused."""
    gen = gemma_gen
    assert type(gen.model).__name__ == "Gemma3ForCausalLM"
    assert gen._prefixes.windows == [GEMMA_WINDOW, None, GEMMA_WINDOW]
    urial = load_urial_prompt(default_urial_prompt("en"))
    instructions = INSTRUCTIONS["en"] + INSTRUCTIONS["fr"][:2] + [
        "Describe, step by step and with an example for each step, how a bill becomes a law in a parliament."]
    prompts = [urial.build(i) for i in instructions]
    calls_before = gen.prefix_forward_calls
    for cached in prefix_runs_match(gen, prompts, urial.prefix, max_new_tokens=8):
        assert len({g.text_raw for g in cached}) > 1  # outputs depend on the instruction: the check can fail
        assert all(g.prompt_tokens > 10 * GEMMA_WINDOW for g in cached)
    assert gen.prefix_forward_calls == calls_before + 1  # computed once, reused by every batch and call


def test_prefix_cache_on_sliding_window_layers_official_urial(gemma_gen):
    """The official URIAL prompt (~3.5k tokens, 100 windows) on the sliding-window model: reuse == full prefill."""
    prompt = load_urial_prompt(need_official())
    prompts = [prompt.build(i) for i in INSTRUCTIONS["es"]]
    params = GenerationParams(max_new_tokens=6, stop=(URIAL_STOP,))
    calls_before = gemma_gen.prefix_forward_calls
    cached = gemma_gen.generate(prompts, params, shared_prefix=prompt.prefix)
    gemma_gen.prefix_cache = False
    try:
        uncached = gemma_gen.generate(prompts, params, shared_prefix=prompt.prefix)
    finally:
        gemma_gen.prefix_cache = True
    assert as_tuples(cached) == as_tuples(uncached)
    assert gemma_gen.prefix_forward_calls == calls_before + 1


def test_prefix_cache_layer_kinds_and_fallback(gemma_gen, base_gen):
    """Full and sliding-window layers are reusable; chunked attention (same cache class, other mask) is not,
    and a model without reuse runs a full prefill of the same batch (same outputs, no prefix computed)."""
    import copy

    from baselines.generation.prefix_cache import cache_layer_windows

    assert cache_layer_windows(base_gen.model.config) == [None, None]
    assert cache_layer_windows(gemma_gen.model.config) == [GEMMA_WINDOW, None, GEMMA_WINDOW]
    chunked = copy.deepcopy(gemma_gen.model.config)
    chunked.layer_types = ["chunked_attention", "full_attention", "chunked_attention"]
    assert cache_layer_windows(chunked) is None
    urial = load_urial_prompt(default_urial_prompt("es"))
    prompts = [urial.build(i) for i in INSTRUCTIONS["es"]]
    params = GenerationParams(max_new_tokens=5, stop=(URIAL_STOP,))
    reused = gemma_gen.generate(prompts, params, shared_prefix=urial.prefix)
    windows, gemma_gen._prefixes.windows = gemma_gen._prefixes.windows, None
    calls_before = gemma_gen.prefix_forward_calls
    try:
        fallback = gemma_gen.generate(prompts, params, shared_prefix=urial.prefix)
    finally:
        gemma_gen._prefixes.windows = windows
    assert gemma_gen.prefix_forward_calls == calls_before
    assert as_tuples(fallback) == as_tuples(reused)


@pytest.mark.parametrize("which", ["gemma", "llama"])
def test_prefix_batch_cache_equals_a_left_padded_prefill(which, gemma_gen, base_gen):
    """The cache built for a batch from the prefix alone holds, in every real (unmasked) column, the keys and
    values a full prefill of the left-padded batch leaves there, with the same lengths; sliding-window
    layers keep their last window - 1 columns."""
    import torch
    from transformers import DynamicCache

    from bench.decoding import batch_inputs

    gen = gemma_gen if which == "gemma" else base_gen
    urial = load_urial_prompt(default_urial_prompt("fr"))
    rows = [gen.encode(urial.build(i)) for i in ("Salut", INSTRUCTIONS["fr"][3], INSTRUCTIONS["fr"][0])]
    input_ids, mask = batch_inputs(rows, gen.tokenizer.pad_token_id)
    pads = [input_ids.shape[1] - len(r) for r in rows]
    # cached columns: padding, then the prefix; a sliding layer's last window - 1 columns include padding too
    prefix_len = max(pads) + GEMMA_WINDOW // 2
    assert pads[1] == 0 and len(set(pads)) == 3 and len({tuple(r[:prefix_len]) for r in rows}) == 1
    built = gen._prefixes.batch(tuple(rows[0][:prefix_len]), pads)
    reference = DynamicCache(config=gen.model.config)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as generate derives them from the mask
    with torch.inference_mode():
        gen.model(input_ids=input_ids[:, :prefix_len], attention_mask=mask[:, :prefix_len],
                  position_ids=positions[:, :prefix_len], use_cache=True, **{gen._prefixes.cache_kw: reference})
    for i, (got, want) in enumerate(zip(built.layers, reference.layers)):
        window = gen._prefixes.windows[i]
        assert built.get_seq_length(i) == reference.get_seq_length(i) == prefix_len
        assert got.keys.shape == want.keys.shape
        assert got.keys.shape[2] == (prefix_len if window is None else min(prefix_len, window - 1))
        real = mask[:, prefix_len - got.keys.shape[2]:prefix_len].bool()[:, None, :, None].expand_as(got.keys)
        for a, b in ((got.keys, want.keys), (got.values, want.values)):
            assert torch.allclose(a[real], b[real], atol=1e-5)
            assert not a[~real].any()  # padding columns: zeros, masked


def test_stop_sequences_raw_text_and_finish_reasons(base_gen):
    tok = base_gen.tokenizer
    ids = tok("Paris is the capital.\n```\n\n# Query:\n```\nWhat next", add_special_tokens=False)["input_ids"]
    text, finish, n = finish_row(tok, ids, limit=len(ids), eos=set(), stops=[URIAL_STOP])
    assert (text, finish) == ("Paris is the capital.\n```\n\n", "stop")
    assert URIAL_STOP in tok.decode(ids[:n]) and URIAL_STOP not in tok.decode(ids[:n - 1])
    assert clean_urial_output(text) == "Paris is the capital."
    # cut by the limit before the stop sequence: length, raw kept as generated
    text, finish, n = finish_row(tok, ids, limit=3, eos=set(), stops=[URIAL_STOP])
    assert finish == "length" and n == 3 and text == tok.decode(ids[:3])
    # an EOS token ends the row (and is counted)
    text, finish, n = finish_row(tok, ids + [tok.eos_token_id, 5, 6], limit=len(ids) + 3, eos={tok.eos_token_id},
                                 stops=[])
    assert finish == "stop" and n == len(ids) + 1


def test_stop_sequence_in_real_generation(base_gen):
    prompts = [zero_shot_prompt(i, "en") for i in INSTRUCTIONS["en"]]
    free = base_gen.generate(prompts, GenerationParams(max_new_tokens=12))
    assert all(g.finish_reason == "length" and g.completion_tokens == 12 for g in free)
    text = free[0].text_raw
    stop = text[4:7]
    assert stop.strip()
    stopped = base_gen.generate(prompts, GenerationParams(max_new_tokens=12, stop=(stop,)))
    assert stopped[0].text_raw == text[:text.find(stop)]
    assert stopped[0].finish_reason == "stop" and stopped[0].completion_tokens < 12
    # a batch with a stop gives the same as one at a time
    base_gen.batch_size = 1
    try:
        single = base_gen.generate(prompts, GenerationParams(max_new_tokens=12, stop=(stop,)))
    finally:
        base_gen.batch_size = 4
    assert as_tuples(stopped) == as_tuples(single)


def test_eos_and_model_generation_config_defaults(base_gen):
    prompts = [zero_shot_prompt(i, "fr") for i in INSTRUCTIONS["fr"]]
    params = GenerationParams(max_new_tokens=8)
    reference = base_gen.generate(prompts, params)
    config = base_gen.model.generation_config
    saved = config.to_dict()
    try:
        # a checkpoint's own defaults (sampling, penalties, top-k) must not change the grid's decoding
        config.do_sample, config.top_k, config.temperature = True, 5, 0.7
        config.repetition_penalty, config.no_repeat_ngram_size = 3.0, 2
        assert as_tuples(base_gen.generate(prompts, params)) == as_tuples(reference)
        # its EOS ids are honoured: make the third generated token an EOS
        config.do_sample, config.top_k, config.temperature, config.repetition_penalty = False, None, None, None
        config.no_repeat_ngram_size = None
        from bench.decoding import eos_token_ids

        eos = eos_token_ids(base_gen.model, base_gen.tokenizer, end_of_turn=False, added_tokens=True)
        tokens = base_gen._generate_batch([base_gen.encode(prompts[0])], [8], params, eos, 0)[0]
        config.eos_token_id = [int(tokens[2]), base_gen.tokenizer.eos_token_id]
        out = base_gen.generate(prompts[:1], params)[0]
        assert out.finish_reason == "stop" and out.completion_tokens == tokens.index(tokens[2]) + 1
        assert out.text_raw == base_gen.tokenizer.decode(tokens[:out.completion_tokens], skip_special_tokens=True)
    finally:
        for key in ("do_sample", "top_k", "temperature", "repetition_penalty", "no_repeat_ngram_size", "eos_token_id"):
            setattr(config, key, saved.get(key))


def test_sampling_is_seeded(chat_gen):
    prompts = [[{"role": "user", "content": i}] for i in INSTRUCTIONS["es"]]
    params = GenerationParams(max_new_tokens=6, temperature=1.0, top_p=0.9, seed=7)
    assert as_tuples(chat_gen.generate(prompts, params)) == as_tuples(chat_gen.generate(prompts, params))


def test_openai_backend_chat_and_completions_endpoint():
    from tests.servers import FaultProxy

    from baselines.generation.generators import GenerationFailure
    from baselines.generation.openai_backend import OpenAIGenerator

    with FaultProxy(responder=lambda body: "Bonjour ! " + body["messages"][-1]["content"]) as proxy:
        gen = OpenAIGenerator(f"openai:tiny@{proxy.base_url}", concurrency=2, max_retries=0)
        try:
            params = GenerationParams(max_new_tokens=16)
            out = gen.generate([[{"role": "user", "content": "Salut"}], [{"role": "user", "content": "Ça va ?"}]],
                               params)
            assert [g.text_raw for g in out] == ["Bonjour ! Salut", "Bonjour ! Ça va ?"]
            assert all(g.finish_reason == "stop" and g.completion_tokens > 0 for g in out)
            # text prompts need /completions, which this server (like `transformers serve`) lacks
            outcomes = [o for _, batch in gen.generate_iter(["# Query:\n```\nHi\n```\n\n# Answer:\n```\n"], params)
                        for o in batch]
            assert isinstance(outcomes[0], GenerationFailure) and "no /completions endpoint" in outcomes[0].reason
            with pytest.raises(BenchError, match="1 of 1 generations failed"):
                gen.generate(["plain text prompt"], params)
        finally:
            gen.close()


def test_vllm_backend_missing_gives_install_hint(tiny_base_lm_dir):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
        pytest.skip("vllm is installed")
    except ImportError:
        pass
    from baselines.generation.vllm_backend import VLLMGenerator

    with pytest.raises(BenchError, match=r"pip install '\.\[vllm\]'"):
        VLLMGenerator(str(tiny_base_lm_dir))


# --------------------------------------------------------------------------- grid configs


def write_grid(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
dataset: {dataset}
languages: [en, fr]
models:
  - {{name: base, path: {base}, kind: base, methods: [zero-shot, urial]}}
  - {{name: chat, path: {chat}, kind: instruct, methods: [chat]}}
"""


@pytest.mark.parametrize("edit, field, words", [
    (lambda t: t.replace("[zero-shot, urial]", "[zero-shot, few-shot]"), "models[0].methods[1]",
     "unknown method 'few-shot'; expected one of zero-shot, urial, chat, dpo"),
    (lambda t: t.replace("path: {chat}", "path: ./no/such/model"), "models[1].path",
     "model path './no/such/model' does not exist"),
    (lambda t: t.replace("[en, fr]", "[en, xx]"), "languages[1]", "unknown language code 'xx'"),
    (lambda t: t.replace("kind: instruct,", "kind: instruct, pathh: x,"), "models[1].pathh",
     "unknown key 'pathh' (known keys: name, path, revision"),
    (lambda t: t + "decodng: {{max_new_tokens: 5}}\n", "decodng", "unknown key 'decodng'"),
    (lambda t: t + "decoding: {{max_new_tokens: 0}}\n", "decoding.max_new_tokens", "greater than or equal to 1"),
    (lambda t: t + "backend: tgi\n", "backend", "unknown backend 'tgi'"),
    (lambda t: t.replace("kind: instruct", "kind: chatty"), "models[1].kind", "bad value 'chatty'"),
    (lambda t: t.replace("dataset: {dataset}", "dataset: ./missing-dataset"), "dataset", "does not exist"),
    (lambda t: t.replace("name: chat,", "name: base,"), "models[1].name", "model name 'base' is used twice"),
    (lambda t: t.replace("[en, fr]", "[en, de]"), "languages[1]", "no URIAL prompt for language 'de'"),
])
def test_bad_grid_configs_fail_in_one_line(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir, edit, field,
                                           words):
    text = edit(GOOD).format(dataset=dataset_dir, base=tiny_base_lm_dir, chat=tiny_causal_lm_dir)
    path = write_grid(tmp_path / "grid.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_grid(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: field '{field}': "), message
    assert words in message, message


def test_bad_yaml_and_good_grid(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir):
    path = write_grid(tmp_path / "bad.yaml", "models: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_grid(path)
    path = write_grid(tmp_path / "g.yaml", GOOD.format(dataset=dataset_dir, base=tiny_base_lm_dir,
                                                      chat=tiny_causal_lm_dir).replace("[zero-shot, urial]}", "}"))
    grid = load_grid(path)
    assert grid.models[0].method_list == ["zero-shot", "urial"]  # default methods of a base model
    assert grid.decoding.temperature == 0 and grid.decoding.repetition_penalty == 1.0
    assert grid.backend == "transformers" and grid.prefix_cache


def test_shipped_grids_validate():
    paper = load_grid(REPO / "configs" / "paper" / "grid.yaml", check_paths=False)
    names = {m.name: m for m in paper.models}
    for base in ("Qwen2.5-0.5B", "Qwen2.5-1.5B", "gemma-2-2b", "SmolLM2-1.7B", "Llama-3.2-1B", "salamandra-2b"):
        assert names[base].method_list == ["zero-shot", "urial"] and names[base].kind == "base"
        assert names[base + "-DPO"].method_list == ["dpo"] and names[base + "-DPO"].skip_if_missing
    assert {m.name for m in paper.models if m.kind == "instruct"} == {
        "Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B-Instruct", "gemma-2-2b-it", "SmolLM2-1.7B-Instruct",
        "Llama-3.2-1B-Instruct", "salamandra-2b-instruct"}
    assert paper.languages == ["en", "fr", "es"] and paper.backend == "vllm" and paper.decoding.temperature == 0
    tiny = load_grid(REPO / "configs" / "examples" / "tiny-cpu.yaml", check_paths=False)
    assert tiny.backend == "transformers" and tiny.device == "cpu"


# --------------------------------------------------------------------------- grid runs


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    """A build-dataset folder: en/fr/es configs of 3 items (ids 3, 10, 7: sorted numerically)."""
    from benchmark.dataset_dir import dataset_schema, source_row, translated_row, write_config

    out = tmp_path_factory.mktemp("dataset")
    records = [
        {"id": item_id, "instruction": INSTRUCTIONS["en"][k], "source_id": f"s{item_id}", "dataset": "lima",
         "category": "regular" if k else "safety", "task": ["writing"], "topic": ["misc"], "difficulty": "easy"}
        for k, item_id in enumerate((3, 10, 7))
    ]
    schema = dataset_schema(records)
    write_config(out, "en", [source_row(r) for r in records], schema)
    for lang in ("fr", "es"):
        rows = [translated_row(r, lang, INSTRUCTIONS[lang][k], "test", [], {}) for k, r in enumerate(records)]
        write_config(out, lang, rows, schema)
    return out


def run_config(tmp_path: Path, dataset: Path, base: Path, chat: Path, languages: str = "[en, fr, es]") -> Path:
    return write_grid(tmp_path / "grid.yaml", f"""
dataset: {dataset}
languages: {languages}
device: cpu
batch_size: 2
decoding: {{max_new_tokens: 4}}
models:
  - {{name: tiny-base, path: {base}, kind: base, methods: [zero-shot, urial]}}
  - {{name: tiny-chat, path: {chat}, kind: instruct}}
  - {{name: tiny-dpo, path: ./not-trained-yet, methods: [dpo], skip_if_missing: true}}
""")


@pytest.fixture()
def count_generated(monkeypatch):
    """Count the prompts the transformers backend is asked to generate."""
    counts = {"prompts": 0, "loads": 0}
    original_iter = TransformersGenerator.generate_iter
    original_init = TransformersGenerator.__init__

    def generate_iter(self, prompts, params, **kwargs):
        counts["prompts"] += len(prompts)
        yield from original_iter(self, prompts, params, **kwargs)

    def init(self, *args, **kwargs):
        counts["loads"] += 1
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(TransformersGenerator, "generate_iter", generate_iter)
    monkeypatch.setattr(TransformersGenerator, "__init__", init)
    return counts


def test_run_grid_resumes_and_records_provenance(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir,
                                                 count_generated):
    from baselines.generation.run import run_grid

    grid = load_grid(run_config(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir))
    ws = Workspace(tmp_path / "ws")
    try:
        first = run_grid(ws, grid, limit=2, progress=False)
        assert first.generated == 3 * 3 * 2 and first.skipped_models == ["tiny-dpo"]
        assert count_generated == {"prompts": 18, "loads": 2}  # each model loaded once for all methods/languages
        before = {r[0]: r[1:] for r in ws.store.query("SELECT response_id, run_id, created_at, output FROM responses")}

        second = run_grid(ws, grid, progress=False)  # the full grid: only the third item of each setting is new
        assert second.generated == 9 and second.existing == 18
        assert count_generated["prompts"] == 18 + 9
        after = {r[0]: r[1:] for r in ws.store.query("SELECT response_id, run_id, created_at, output FROM responses")}
        assert len(after) == 27 and all(after[k] == v for k, v in before.items())  # nothing regenerated

        third = run_grid(ws, grid, progress=False)
        assert third.generated == 0 and third.existing == 27 and third.loaded_models == []
        assert count_generated == {"prompts": 27, "loads": 4}  # complete models are not even loaded

        rows = ws.store.query_dicts("SELECT * FROM responses WHERE method = 'urial' AND lang = 'fr' ORDER BY item_id")
        assert [r["item_id"] for r in rows] == ["10", "3", "7"]
        row = rows[0]
        assert row["model"] == "tiny-base" and row["model_revision"].startswith("sha256:")
        assert row["instruction"] == INSTRUCTIONS["fr"][1] and row["source_dataset"] == "lima"
        assert row["task"] == ["writing"] and row["category"] == "regular" and row["difficulty"] == "easy"
        assert row["backend"] == "transformers" and row["finish_reason"] in ("stop", "length")
        assert row["prompt_hash"] == load_urial_prompt(default_urial_prompt("fr")).sha256
        assert row["prompt_tokens"] > 500 and 1 <= row["completion_tokens"] <= 4
        assert row["output"] == clean_urial_output(row["raw_output"]) and row["seed"] == 0
        params = json.loads(row["generation_params"])
        assert params["max_new_tokens"] == 4 and params["stop"] == [URIAL_STOP] and params["prefix_cache"] is True
        assert params["prompt_format"] == "urial" and params["dtype"] == "float32"
        assert json.loads(row["versions"])["transformers"]
        keys = ws.store.query("SELECT method, lang, count(DISTINCT run_key) FROM responses GROUP BY ALL ORDER BY ALL")
        assert all(n == 1 for *_, n in keys) and len(keys) == 9
        chat = ws.store.query_dicts("SELECT * FROM responses WHERE method = 'chat' LIMIT 1")[0]
        assert chat["output"] == chat["raw_output"].strip() and json.loads(chat["generation_params"])["stop"] == []
        runs = ws.store.query("SELECT status FROM runs WHERE command = 'baselines run' ORDER BY started_at")
        assert [r[0] for r in runs] == ["done", "done", "done"]
    finally:
        ws.close()


def test_interrupted_run_keeps_committed_batches(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir,
                                                 count_generated, monkeypatch):
    from baselines.generation import run as run_mod

    grid = load_grid(run_config(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir, languages="[es]"))
    ws = Workspace(tmp_path / "ws")
    original = run_mod._insert
    inserted = {"n": 0}

    def insert_then_die(store, rows):
        original(store, rows)
        inserted["n"] += 1
        if inserted["n"] == 2:
            raise KeyboardInterrupt  # killed right after the second commit

    try:
        monkeypatch.setattr(run_mod, "_insert", insert_then_die)
        with pytest.raises(KeyboardInterrupt):
            run_mod.run_grid(ws, grid, progress=False)
        kept = {r[0]: r[1:] for r in ws.store.query("SELECT response_id, run_id, created_at FROM responses")}
        assert len(kept) == 3  # batch of 2 (longest first) + batch of 1, then the kill
        assert ws.store.query("SELECT status FROM runs")[0][0] == "interrupted"
        monkeypatch.setattr(run_mod, "_insert", original)
        asked = count_generated["prompts"]
        report = run_mod.run_grid(ws, grid, progress=False)
        assert report.existing == 3 and report.generated == 6 and count_generated["prompts"] - asked == 6
        after = {r[0]: r[1:] for r in ws.store.query("SELECT response_id, run_id, created_at FROM responses")}
        assert len(after) == 9 and all(after[k] == v for k, v in kept.items())
    finally:
        ws.close()


def test_official_urial_file_and_dpo_method_in_a_run(tmp_path, dataset_dir, long_base_lm_dir, tiny_causal_lm_dir):
    """urial_prompts can name the official URIAL file (relative to the grid file, read as is); dpo uses
    the model's chat template when it has one, else the zero-shot frame."""
    import hashlib
    import os

    from baselines.generation.run import run_grid
    from baselines.generation.urial import ZERO_SHOT_HASH

    official = need_official()
    config = write_grid(tmp_path / "grid.yaml", f"""
dataset: {dataset_dir}
languages: [en]
device: cpu
decoding: {{max_new_tokens: 3}}
urial_prompts: {{en: {os.path.relpath(official, tmp_path)}}}
models:
  - {{name: base, path: {long_base_lm_dir}, methods: [urial, dpo]}}
  - {{name: chat-dpo, path: {tiny_causal_lm_dir}, methods: [dpo]}}
""")
    grid = load_grid(config)
    ws = Workspace(tmp_path / "ws")
    try:
        report = run_grid(ws, grid, limit=1, progress=False)
        assert report.generated == 3
        rows = {(r["model"], r["method"]): r for r in ws.store.query_dicts("SELECT * FROM responses")}
        urial = rows[("base", "urial")]
        assert urial["prompt_hash"] == hashlib.sha256(official.read_bytes()).hexdigest()
        assert json.loads(urial["generation_params"])["prompt_file"] == str(official.resolve())
        assert urial["prompt_tokens"] > 3000
        base_dpo, chat_dpo = rows[("base", "dpo")], rows[("chat-dpo", "dpo")]
        assert base_dpo["prompt_hash"] == ZERO_SHOT_HASH
        assert json.loads(base_dpo["generation_params"])["prompt_format"] == "zero-shot"
        assert json.loads(chat_dpo["generation_params"])["prompt_format"] == "chat"
        assert chat_dpo["output"] == chat_dpo["raw_output"].strip()
    finally:
        ws.close()


def test_cli_run_and_deterministic_export(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir):
    from click.testing import CliRunner

    from bench.cli import BenchContext
    from baselines.generation.cli import baselines

    config = run_config(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir, languages="[en, es]")
    ctx = BenchContext(str(tmp_path / "ws"), False)
    runner = CliRunner()
    try:
        result = runner.invoke(baselines, ["run", "--config", str(config), "--limit", "2", "--languages", "es",
                                           "--json"], obj=ctx, catch_exceptions=False, env={"BENCH_NO_PROGRESS": "1"})
        assert result.exit_code == 0, result.output
        report = json.loads(result.output.splitlines()[0])
        assert report["generated"] == 3 * 2 and {s["lang"] for s in report["settings"]} == {"es"}

        out = tmp_path / "export"
        result = runner.invoke(baselines, ["export", "--out", str(out)], obj=ctx, catch_exceptions=False)
        assert result.exit_code == 0 and "6 responses" in result.output
        parquet = out / "responses" / "test-00000-of-00001.parquet"
        first = parquet.read_bytes()
        runner.invoke(baselines, ["export", "--out", str(out)], obj=ctx, catch_exceptions=False)
        assert parquet.read_bytes() == first  # same rows, same bytes

        table = pq.read_table(parquet)
        assert table.schema.field("id").type == "int64"
        rows = table.to_pylist()
        assert len(rows) == 6
        assert [(r["model"], r["method"], r["id"]) for r in rows] == [
            ("tiny-base", "urial", 3), ("tiny-base", "urial", 7), ("tiny-base", "zero-shot", 3),
            ("tiny-base", "zero-shot", 7), ("tiny-chat", "chat", 3), ("tiny-chat", "chat", 7)]  # --limit 2: ids 3, 7
        assert rows[0]["generator"] == "tiny-base+urial" and rows[0]["lang"] == "es"
        for column in ("instruction", "output", "raw_output", "prompt_hash", "generation_params", "run_key",
                       "response_id", "finish_reason", "model_revision", "versions"):
            assert all(r[column] is not None for r in rows), column

        from datasets import load_dataset

        ds = load_dataset(str(out), split="test")
        assert ds.num_rows == 6 and {"id", "instruction", "output", "generator", "lang", "method", "model"} <= set(
            ds.column_names)

        result = runner.invoke(baselines, ["export", "--out", str(tmp_path / "x"), "--runs", "method=chat"], obj=ctx,
                               catch_exceptions=False)
        assert "2 responses" in result.output
        result = runner.invoke(baselines, ["export", "--out", str(tmp_path / "x"), "--runs", "colour=red"], obj=ctx)
        assert result.exit_code != 0 and "unknown run filter" in result.output
    finally:
        ctx.workspace.close()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir):
    """A real `bench baselines run` killed with SIGKILL mid-run: committed answers stay as they are and
    the rerun generates only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = write_grid(tmp_path / "grid.yaml", f"""
dataset: {dataset_dir}
languages: [en, fr, es]
device: cpu
batch_size: 1
decoding: {{max_new_tokens: 48}}
models:
  - {{name: tiny-base, path: {tiny_base_lm_dir}, kind: base, methods: [zero-shot, urial]}}
  - {{name: tiny-chat, path: {tiny_causal_lm_dir}, kind: instruct}}
""")
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "bench.cli", "--workspace", str(ws), "baselines", "run", "--config", str(config)]
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from bench.store import Store

    def committed() -> int:
        """Answers the running process has committed so far (read-only; the store allows a reader beside it)."""
        db = ws / "bench.duckdb"
        if not db.is_file():
            return 0
        try:
            return Store(db, read_only=True, wait_s=5).query("SELECT COUNT(*) FROM responses")[0][0]
        except Exception:  # the schema may not exist yet, or the writer holds the file this instant
            return 0

    deadline = time.monotonic() + 300
    while committed() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    store = Workspace(ws)
    try:
        kept = {r[0]: r[1:] for r in store.store.query("SELECT response_id, run_id, created_at FROM responses")}
    finally:
        store.close()
    assert 0 < len(kept) < 27, len(kept)
    done = subprocess.run(cmd + ["--json"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[0])
    assert report["existing"] == len(kept) and report["generated"] == 27 - len(kept)
    store = Workspace(ws)
    try:
        after = {r[0]: r[1:] for r in store.store.query("SELECT response_id, run_id, created_at FROM responses")}
    finally:
        store.close()
    assert len(after) == 27 and all(after[k] == v for k, v in kept.items())


def test_changed_setting_under_the_same_name_needs_replace(tmp_path, dataset_dir, tiny_base_lm_dir,
                                                           tiny_causal_lm_dir):
    """A model name stands for one setting: a changed setting under the same name stops the run
    (the leaderboard would mix both) unless --replace deletes the old responses and what hangs off them."""
    from baselines.generation.run import run_grid

    config = run_config(tmp_path, dataset_dir, tiny_base_lm_dir, tiny_causal_lm_dir, languages="[en]")
    ws = Workspace(tmp_path / "ws")
    try:
        first = run_grid(ws, load_grid(config), limit=2, progress=False)
        assert first.generated == 6 and first.replaced == 0
        old = {r[0] for r in ws.store.query("SELECT response_id FROM responses WHERE method = 'zero-shot'")}
        with ws.store.transaction() as con:  # a judgement and a check on an old answer
            rid = sorted(old)[0]
            con.execute("INSERT INTO judgements (response_id, judge, protocol, aspect, score) "
                        "VALUES (?, 'j', 'multi-aspect', 'helpfulness', 3)", [rid])
            con.execute("INSERT INTO critical_error_checks (response_id, detector_version, labels) "
                        "VALUES (?, 'ce-v1', [])", [rid])
        changed = write_grid(config, config.read_text(encoding="utf-8").replace("max_new_tokens: 4", "max_new_tokens: 5"))
        with pytest.raises(BenchError, match=r"model 'tiny-base' zero-shot en: the store holds 2 response\(s\) of "
                                             r"another setting under this name .*\(\+2 more setting\(s\)\).*--replace"):
            run_grid(ws, load_grid(changed), limit=2, progress=False)
        assert ws.store.query("SELECT COUNT(*) FROM responses")[0][0] == 6  # nothing was touched

        again = run_grid(ws, load_grid(changed), limit=2, progress=False, replace=True)
        assert again.replaced == 6 and again.generated == 6
        rows = ws.store.query("SELECT model, method, COUNT(*), COUNT(DISTINCT run_key) FROM responses "
                              "GROUP BY ALL ORDER BY ALL")
        assert rows == [("tiny-base", "urial", 2, 1), ("tiny-base", "zero-shot", 2, 1), ("tiny-chat", "chat", 2, 1)]
        assert not old & {r[0] for r in ws.store.query("SELECT response_id FROM responses")}
        assert ws.store.query("SELECT COUNT(*) FROM judgements")[0][0] == 0
        assert ws.store.query("SELECT COUNT(*) FROM critical_error_checks")[0][0] == 0
        assert run_grid(ws, load_grid(changed), limit=2, progress=False).generated == 0  # and it resumes as usual
    finally:
        ws.close()


def test_items_option_selects_ids_and_names_missing_ones():
    from baselines.generation.run import select_items
    from bench.errors import BenchError

    rows = [{"id": i, "instruction": f"q{i}"} for i in range(10)]
    assert [r["id"] for r in select_items(rows, ["8", "1", " 3"], None, "ds[en]")] == [1, 3, 8]
    assert [r["id"] for r in select_items(rows, ["8", "1", "3"], 2, "ds[en]")] == [1, 3]
    assert select_items(rows, None, 3, "ds[en]") == rows[:3]
    with pytest.raises(BenchError, match=r"ds\[fr\]: no item with id 12, x \(--items\)"):
        select_items(rows, ["1", "12", "x"], None, "ds[fr]")
