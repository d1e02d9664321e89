"""What a card may say about where data came from: public names only, and the Hub source when there is one.

Names go through :func:`bench.public_names.public_name` (no local directories, no credentials).
A card lists ``source_datasets`` only for a source that is a Hub dataset (or one the maintainer
names with ``bench release --source-dataset``): a local instruction file is not claimed to be
Just-Eval-Instruct.
"""
from __future__ import annotations

import re
from pathlib import Path

from bench.public_names import LOCAL_SUFFIXES

JUST_EVAL_DATASET = "re-align/just-eval-instruct"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_dataset_id(source: str | None) -> str | None:
    """``source`` when it names a Hub dataset (``org/name``), ``None`` for a local file or folder."""
    if not source or source.lower().endswith(LOCAL_SUFFIXES) or Path(source).expanduser().exists():
        return None
    return source if _HUB_ID.match(source) else None
