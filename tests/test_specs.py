"""One SPEC grammar for translators, judges and generators, and one public name for all of them."""
from __future__ import annotations

import importlib

import pytest

from bench.errors import BenchError
from bench.public_names import public_name
from bench.specs import BACKENDS, backends, parse_spec


def test_every_backend_row_points_at_a_real_factory():
    for row in BACKENDS:
        module_name, attr = row.factory.split(":")
        assert callable(getattr(importlib.import_module(module_name), attr)), row


@pytest.mark.parametrize("role, spec, backend, target", [
    ("translator", "hf:Helsinki-NLP/opus-mt-en-fr", "hf", "Helsinki-NLP/opus-mt-en-fr"),
    ("translator", "llm:/models/x.gguf", "llm", "/models/x.gguf"),
    ("translator", "file:t.jsonl", "file", "t.jsonl"),
    ("translator", "openai:m@http://127.0.0.1:8000/v1", "openai", "m@http://127.0.0.1:8000/v1"),
    ("judge", "hf:org/judge", "hf", "org/judge"),
    ("judge", "llm:org/judge", "llm", "org/judge"),
    ("judge", "openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("generator", "transformers", "transformers", ""),
    ("generator", "vllm", "vllm", ""),
    ("generator", "openai:m@http://h:1/v1", "openai", "m@http://h:1/v1"),
])
def test_one_grammar(role, spec, backend, target):
    parsed = parse_spec(role, spec)
    assert (parsed.backend.role, parsed.backend.name, parsed.target) == (role, backend, target)


def test_same_prefix_same_kind_of_engine():
    """``llm`` is a local causal LM and ``openai`` a server in every role that has them."""
    assert backends("judge")["llm"].factory == backends("judge")["hf"].factory
    assert "causal_lm" in backends("translator")["llm"].factory


@pytest.mark.parametrize("role, spec, needle", [
    ("translator", "nope:x", "bad translator SPEC 'nope:x': expected one of hf:"),
    ("translator", "hf:", "expected hf:<id or path>"),
    ("judge", "", "empty judge SPEC"),
    ("judge", "/no/such/model/dir", "a local model folder"),
    ("judge", "openai:", "expected openai:<model>@<base_url>"),
    ("generator", "tgi", "bad generator SPEC 'tgi'"),
    ("generator", "transformers:x", "bad generator SPEC"),
])
def test_bad_specs_fail_in_one_line(role, spec, needle):
    with pytest.raises(BenchError) as err:
        parse_spec(role, spec)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_bare_local_model_folder_is_a_judge(tmp_path):
    assert parse_spec("judge", str(tmp_path)).backend.name == "hf"


def test_options_go_only_to_the_backends_that_take_them():
    seen = {}

    class Probe:
        def __init__(self, spec, **kw):
            seen.update(kw)

    parsed = parse_spec("judge", "openai:m@http://127.0.0.1:9/v1")
    object.__setattr__(parsed, "factory", lambda: Probe)
    parsed.build("x", concurrency=3, batch_size=8, device="cpu", max_tokens=5)
    assert seen == {"concurrency": 3, "max_tokens": 5}


@pytest.mark.parametrize("spec, public", [
    ("llm:/home/ana/models/gemma.gguf", "llm:gemma.gguf"),
    ("hf:/home/ana/models/smol/", "hf:smol"),
    ("/home/ana/data/src.jsonl", "src.jsonl"),
    ("hf:~/models/judge", "hf:judge"),
    ("hf:Helsinki-NLP/opus-mt-en-fr", "hf:Helsinki-NLP/opus-mt-en-fr"),
    ("openai:gpt-4o@https://api.example/v1", "openai:gpt-4o@https://api.example/v1"),
    ("openai:judge@http://admin:sk-X@host:8815/v1", "openai:judge@http://host:8815/v1"),
    ("openai:m@http://h/v1?api_key=abc#frag", "openai:m@http://h/v1"),
    ("https://user:pw@h/x?token=1", "https://h/x"),
    ("gpt-4", "gpt-4"),
    (None, None),
])
def test_public_name(spec, public):
    assert public_name(spec) == public


def test_llm_and_hf_name_the_same_local_judge(tiny_causal_lm_dir):
    from baselines.judging.judge import make_backend

    via_hf, via_llm = make_backend(f"hf:{tiny_causal_lm_dir}"), make_backend(f"llm:{tiny_causal_lm_dir}")
    assert type(via_hf) is type(via_llm) and via_hf.name == via_llm.name
