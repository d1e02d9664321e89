"""What a card may say about where data came from: public names only, and the Hub source when there is one.

Local paths mean nothing on the Hub and may expose a user's directories, so sources and
translators are named by their file name (``llm:/home/ana/models/x.gguf`` -> ``llm:x.gguf``).
A card lists ``source_datasets`` only for a source that is a Hub dataset (or one the maintainer
names with ``bench release --source-dataset``): a local instruction file is not claimed to be
Just-Eval-Instruct.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

JUST_EVAL_DATASET = "re-align/just-eval-instruct"
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".gguf")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def public_name(spec: str | None) -> str | None:
    """A source/translator spec without local directories."""
    if not spec:
        return spec
    prefix, rest = "", spec
    backend, sep, tail = spec.partition(":")
    if sep and backend in ("file", "hf", "llm"):
        prefix, rest = f"{backend}:", tail
    looks_local = rest.endswith(LOCAL_SUFFIXES) or rest.startswith(("/", "./", "../", "~"))
    if looks_local and ("/" in rest or os.sep in rest):
        rest = Path(rest).name
    return prefix + rest


def hub_dataset_id(source: str | None) -> str | None:
    """``source`` when it names a Hub dataset (``org/name``), ``None`` for a local file or folder."""
    if not source or source.lower().endswith(LOCAL_SUFFIXES) or Path(source).expanduser().exists():
        return None
    return source if _HUB_ID.match(source) else None
