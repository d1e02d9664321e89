"""Preference pairs from a local ``.jsonl`` / ``.json`` / ``.parquet`` file or a Hub dataset.

Every record has ``prompt``, ``chosen`` and ``rejected`` (optionally ``lang``): strings, or lists of
chat messages (UltraFeedback style: ``chosen``/``rejected`` end with the assistant's answer, the
prompt with a user turn). :func:`load_preferences` validates every record (one-line
:class:`~bench.errors.InputError` naming file, record and field) and hashes the file and the pairs.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from bench.errors import InputError
from bench.json_records import iter_jsonl, read_json

PREFERENCE_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass
class PreferencePair:
    """One validated pair: prompt messages (ending with a user turn) and two answers."""

    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    lang: str | None = None


@dataclass
class PreferenceData:
    source: str
    kind: Literal["file", "hub"]
    pairs: list[PreferencePair]
    sha256: str               # of the file bytes (files) or of the normalised pairs (Hub datasets)
    pairs_sha256: str         # of the normalised pairs, whatever the source
    split: str | None = None
    records: int = 0          # records read (before max_pairs)

    def languages(self) -> dict[str, int]:
        return dict(sorted(Counter(p.lang or "?" for p in self.pairs).items()))


def _messages(value: Any, where: str, rec: str, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError(where, "expected a non-empty string or a non-empty list of chat messages", record=rec,
                         field=name)
    out = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) or "content" not in msg:
            raise InputError(where, f"message {i} is not a {{role, content}} object", record=rec, field=name)
        content = msg["content"]
        if isinstance(content, list):  # [{"type": "text", "text": ...}] multimodal-style content
            parts = [c.get("text") for c in content if isinstance(c, dict) and c.get("type") == "text"]
            if len(parts) != len(content) or not all(isinstance(t, str) for t in parts):
                raise InputError(where, f"message {i} has non-text content", record=rec, field=f"{name}.content")
            content = "".join(parts)
        if not isinstance(content, str):
            raise InputError(where, f"message {i} content is not a string", record=rec, field=f"{name}.content")
        role = msg["role"]
        if role not in ("system", "user", "assistant"):
            raise InputError(where, f"message {i} has unsupported role {role!r}", record=rec, field=f"{name}.role")
        out.append({"role": role, "content": content})
    return out


def normalise_record(record: Any, where: str, rec: str) -> PreferencePair:
    """Validate one ``prompt``/``chosen``/``rejected`` record; strings or lists of chat messages."""
    if not isinstance(record, dict):
        raise InputError(where, f"expected an object with prompt, chosen, rejected; got {type(record).__name__}",
                         record=rec)
    for name in ("prompt", "chosen", "rejected"):
        if record.get(name) is None:
            raise InputError(where, "missing", record=rec, field=name)
    prompt_value = record["prompt"]
    if isinstance(prompt_value, str):
        if not prompt_value.strip():
            raise InputError(where, "empty", record=rec, field="prompt")
        prompt = [{"role": "user", "content": prompt_value}]
    else:
        prompt = _messages(prompt_value, where, rec, "prompt")
        if prompt[-1]["role"] != "user":
            raise InputError(where, "the last prompt message must be a user message", record=rec, field="prompt")
        if not prompt[-1]["content"].strip():
            raise InputError(where, "empty", record=rec, field="prompt")
    answers: dict[str, str] = {}
    for name in ("chosen", "rejected"):
        value = record[name]
        if isinstance(value, str):
            text = value
        else:
            msgs = _messages(value, where, rec, name)
            if msgs[-1]["role"] != "assistant":
                raise InputError(where, "the last message must be the assistant's answer", record=rec, field=name)
            text = msgs[-1]["content"]
        if not text.strip():
            raise InputError(where, "empty", record=rec, field=name)
        answers[name] = text
    lang = record.get("lang")
    return PreferencePair(prompt, answers["chosen"], answers["rejected"], lang if isinstance(lang, str) else None)


def _pairs_sha256(pairs: Iterable[PreferencePair]) -> str:
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps([p.prompt, p.chosen, p.rejected], ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _read_local(path: Path) -> Iterator[tuple[str, Any]]:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for n, value in iter_jsonl(path):
            yield f"line {n}", value
    elif suffix == ".json":
        data = read_json(path)
        if not isinstance(data, list):
            raise InputError(where, f"expected a JSON list of preference records, got {type(data).__name__}")
        for i, item in enumerate(data):
            yield f"index {i}", item
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise InputError(where, f"cannot read parquet ({str(exc).splitlines()[0]})") from None
        for i, item in enumerate(table.to_pylist()):
            yield f"index {i}", item
    else:
        raise InputError(where, f"unsupported format '{suffix or '(none)'}'; expected one of "
                                f"{', '.join(PREFERENCE_SUFFIXES)} or a Hub dataset id")


def load_preferences(src: str | os.PathLike, *, split: str = "train", max_pairs: int | None = None) -> PreferenceData:
    """Read and validate every preference record of a local file or a Hub dataset (``split``)."""
    text = str(src).strip()
    path = Path(text).expanduser()
    looks_local = path.exists() or path.suffix.lower() in PREFERENCE_SUFFIXES or text.startswith((".", "/", "~"))
    if looks_local:
        if not path.is_file():
            raise InputError(str(path), "no such file")
        from bench.hashing import sha256_file

        records = list(_read_local(path))
        where, kind, file_sha, used_split = str(path), "file", sha256_file(path), None
    else:
        records = list(_read_hub(text, split))
        where, kind, file_sha, used_split = f"{text} [{split}]", "hub", None, split
    if not records:
        raise InputError(where, "no preference records")
    pairs = [normalise_record(item, where, rec) for rec, item in records]
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    pairs_sha = _pairs_sha256(pairs)
    return PreferenceData(where, kind, pairs, file_sha or pairs_sha, pairs_sha, used_split, len(records))


def _read_hub(dataset_id: str, split: str) -> Iterator[tuple[str, Any]]:
    from datasets import load_dataset

    where = f"{dataset_id} [{split}]"
    try:
        ds = load_dataset(dataset_id, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; the user needs one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InputError(where, f"cannot load the Hub dataset ({first})") from None
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in ds.column_names]
    if missing:
        raise InputError(where, f"no '{missing[0]}' column (columns: {', '.join(ds.column_names)})",
                         field=missing[0])
    columns = [c for c in ("prompt", "chosen", "rejected", "lang") if c in ds.column_names]
    for i, item in enumerate(ds.select_columns(columns)):
        yield f"index {i}", item
