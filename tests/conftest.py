"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

# ---------------------------------------------------------------------------------------------
# Tiny, randomly initialised but real local models (bench.testing.tiny_models), built once per session.


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_marian_dir(tiny_models_root) -> Path:
    """MarianMTModel + MarianTokenizer, one pair: en -> fr."""
    from bench.testing.tiny_models import build_tiny_marian

    return build_tiny_marian(tiny_models_root / "marian-en-fr", "en", "fr")


@pytest.fixture(scope="session")
def tiny_marian_multi_dir(tiny_models_root) -> Path:
    """Marian with multilingual targets selected by >>fr<< / >>es<< tokens."""
    from bench.testing.tiny_models import build_tiny_marian

    return build_tiny_marian(tiny_models_root / "marian-en-mul", "en", target_langs=["fr", "es"])


@pytest.fixture(scope="session")
def tiny_m2m100_dir(tiny_models_root) -> Path:
    """M2M100ForConditionalGeneration + M2M100Tokenizer (__fr__ language tokens)."""
    from bench.testing.tiny_models import build_tiny_m2m100

    return build_tiny_m2m100(tiny_models_root / "m2m100")


@pytest.fixture(scope="session")
def tiny_nllb_dir(tiny_models_root) -> Path:
    """M2M100 architecture + NllbTokenizer (fra_Latn codes)."""
    from bench.testing.tiny_models import build_tiny_nllb

    return build_tiny_nllb(tiny_models_root / "nllb")


@pytest.fixture(scope="session")
def tiny_causal_lm_dir(tiny_models_root) -> Path:
    """LlamaForCausalLM + byte-level BPE tokenizer WITH a ChatML chat template."""
    from bench.testing.tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tiny_models_root / "causal-chat", chat_template=True)


@pytest.fixture(scope="session")
def tiny_base_lm_dir(tiny_models_root) -> Path:
    """The same causal LM WITHOUT a chat template (a 'base' model: few-shot prompts)."""
    from bench.testing.tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tiny_models_root / "causal-base", chat_template=False)
