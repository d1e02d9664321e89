"""The one interface every translation backend implements.

A SPEC is ``<backend>:<target>``: ``hf:<id or path>``, ``llm:<id, path or .gguf>``,
``openai:<model>@<base_url>``, ``file:<path>``; the backends are rows of the one spec table,
:data:`bench.specs.BACKENDS`, imported lazily.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal, Sequence

from bench import specs
from bench.errors import BenchError

class Translator(ABC):
    """Translates batches of text from one language to another.

    ``unit`` says what the builder sends: ``"segment"`` (protected, segmented text;
    results are cached per segment) or ``"item"`` (whole instructions looked up by id,
    e.g. imported human translations).
    """

    unit: Literal["segment", "item"] = "segment"
    batch_size: int = 16

    def __init__(self, spec: str):
        self.spec = spec

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """Identifies outputs: backend, model and its revision/content hash, prompt version.

        Never contains secrets (API keys) since it is stored and shown."""

    @property
    def system_name(self) -> str:
        """Human-readable name written to ``translation_system`` in the dataset (no local directories)."""
        from bench.public_names import public_name

        return public_name(self.spec) or self.spec

    @abstractmethod
    def translate_batch(
        self, texts: Sequence[str], source_lang: str, target_lang: str, ids: Sequence[str] | None = None
    ) -> list[str]:
        """Translate ``texts`` (ISO 639-1 codes); one output per input, same order.

        ``ids`` (item ids) are given when ``unit == "item"``."""

    def close(self) -> None:
        """Release models, pools, connections."""


class LocalModelTranslator(Translator):
    """A translator that runs a model in this process: the option checks and model resolution its
    backends share (batch size, generation length, device, dtype, Hub id or local path)."""

    def __init__(self, spec: str, target: str, *, batch_size: int | None, cache_dir: str | None,
                 max_new_tokens: int | None, device: str, dtype: str, revision: str | None):
        from bench.models import resolve_device, resolve_dtype, resolve_model

        super().__init__(spec)
        if batch_size is not None:
            if batch_size < 1:
                raise BenchError(f"batch size must be >= 1, got {batch_size}")
            self.batch_size = batch_size
        if max_new_tokens is not None and max_new_tokens < 1:
            raise BenchError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.cache_dir = cache_dir
        self.max_new_tokens = max_new_tokens
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.model_ref = resolve_model(target, revision, cache_dir=cache_dir)


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``backend:target``; fail with the list of backends on a bad SPEC."""
    parsed = specs.parse_spec("translator", spec)
    return parsed.backend.name, parsed.target


def load_translator(spec: str, **options: Any) -> Translator:
    """Build the translator a SPEC names; ``options`` go to its constructor (batch_size, ...)."""
    parsed = specs.parse_spec("translator", spec)
    return parsed.build(spec, parsed.target, **options)
