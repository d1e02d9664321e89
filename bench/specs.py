"""One SPEC grammar and one backend table for translators, judges and generators.

A SPEC is ``<backend>:<target>`` (``hf:Helsinki-NLP/opus-mt-en-fr``, ``llm:model.gguf``,
``openai:<model>@<base_url>``, ``file:translations.jsonl``), or a bare backend name where the target
comes from elsewhere (a grid's ``backend: transformers``, whose model is the grid entry's path).
The same prefix means the same kind of engine in every role: ``hf`` is a Hugging Face
``transformers`` model in the architecture the role needs (seq2seq MT for a translator, a causal
chat LM for a judge), ``llm`` always a local causal LM, ``openai`` always an OpenAI-compatible server.

Backends are rows of :data:`BACKENDS`, imported lazily (``module:attr``), so ``bench --help``
stays fast and optional extras are needed only when used. Adding a backend is one row and its class.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.errors import BenchError

Role = Literal["translator", "judge", "generator"]
BARE_JUDGE = "a local model folder or .gguf file"  # a judge SPEC without prefix: read as hf:<path>


@dataclass(frozen=True)
class Backend:
    """One backend a role can use: its SPEC prefix, where its factory lives and what it accepts."""

    role: Role
    name: str  # the SPEC prefix
    factory: str  # "module:attr", imported on first use
    usage: str  # how a user writes it
    target: bool = True  # the SPEC must carry a target after the colon
    options: tuple[str, ...] | None = None  # keyword options the factory takes (None: all are passed)


BACKENDS: tuple[Backend, ...] = (
    Backend("translator", "hf", "benchmark.translators.hf_seq2seq:Seq2SeqTranslator", "hf:<id or path>"),
    Backend("translator", "llm", "benchmark.translators.causal_lm:CausalLMTranslator", "llm:<id, path or .gguf>"),
    Backend("translator", "openai", "benchmark.translators.openai_compat:OpenAITranslator",
            "openai:<model>@<base_url>"),
    Backend("translator", "file", "benchmark.translators.file_import:FileTranslator", "file:<path>"),
    Backend("judge", "openai", "baselines.judging.backends:OpenAIJudge", "openai:<model>@<base_url>",
            options=("concurrency", "max_tokens", "client_options", "scoring")),
    Backend("judge", "hf", "baselines.judging.local_judge:LocalJudge", "hf:<hub id or path>",
            options=("batch_size", "max_tokens", "device", "dtype", "cache_dir", "scoring")),
    Backend("judge", "llm", "baselines.judging.local_judge:LocalJudge", "llm:<hub id, path or .gguf>",
            options=("batch_size", "max_tokens", "device", "dtype", "cache_dir", "scoring")),
    Backend("generator", "transformers", "baselines.generation.run:transformers_generator", "transformers",
            target=False),
    Backend("generator", "vllm", "baselines.generation.run:vllm_generator", "vllm", target=False),
    Backend("generator", "openai", "baselines.generation.run:openai_generator", "openai:<model>@<base_url>"),
)


@dataclass(frozen=True)
class Spec:
    """A parsed SPEC: the backend row and the target (``""`` for backends without one)."""

    spec: str
    backend: Backend
    target: str

    def factory(self) -> Any:
        """The backend's class or factory function (imported now)."""
        module_name, attr = self.backend.factory.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def build(self, *args: Any, **options: Any) -> Any:
        """Call the factory; options it does not take are dropped (they belong to other backends)."""
        accepted = self.backend.options
        if accepted is not None:
            options = {k: v for k, v in options.items() if k in accepted}
        return self.factory()(*args, **options)


def backends(role: Role) -> dict[str, Backend]:
    """The backends of one role, by SPEC prefix, in table order."""
    return {b.name: b for b in BACKENDS if b.role == role}


def usages(role: Role) -> list[str]:
    """How each backend of a role is written (for error messages and help)."""
    return [b.usage for b in BACKENDS if b.role == role] + ([BARE_JUDGE] if role == "judge" else [])


def _local_model(spec: str) -> bool:
    path = Path(spec).expanduser()
    return path.is_dir() or (path.is_file() and path.suffix.lower() == ".gguf")


def parse_spec(role: Role, spec: str | None) -> Spec:
    """Parse a SPEC for ``role``; a bad one fails with one line listing what the role accepts.

    A judge SPEC may also be a bare local model folder or ``.gguf`` file (read as ``hf:<path>``).
    """
    text = (spec or "").strip()
    table = backends(role)
    if not text:
        raise BenchError(f"empty {role} SPEC; expected {' or '.join(usages(role))}")
    name, sep, target = text.partition(":")
    row = table.get(name)
    if row is None and role == "judge" and _local_model(text):
        return Spec(text, table["hf"], text)
    if row is None or (row.target and (not sep or not target.strip())) or (not row.target and sep):
        if row is not None and row.target:
            raise BenchError(f"bad {role} SPEC '{text}': expected {row.usage}")
        raise BenchError(f"bad {role} SPEC '{text}': expected one of {', '.join(usages(role))}")
    if row.name == "openai":
        from bench.openai_client import parse_openai_spec

        parse_openai_spec(text)  # checks the model and the base URL now, with a one-line error
    return Spec(text, row, target.strip())
