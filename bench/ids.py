"""Stable content-derived identifiers shared by every stage."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def content_hash(value: Any, length: int = 24) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys), hex, truncated."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def run_key(**setting: Any) -> str:
    """Key of a generation setting: model, revision, method, prompt hash, decoding params..."""
    return content_hash(setting, 16)


def response_id(run_key_: str, item_id: str | int, lang: str) -> str:
    """Key of one response: the setting, the item and the language."""
    return content_hash([run_key_, str(item_id), lang])
