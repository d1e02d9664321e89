"""The judge's stored name (``judgements.judge``), and adopting judgements stored under its older names.

Rule (:func:`judge_name`): the name is :func:`bench.public_names.public_name` of the judge (no userinfo,
no query string, no fragment, a local model path reduced to its last component), and a loopback base
URL (``localhost``, ``127.x.x.x``, ``::1``) is written ``localhost`` without its port. So
``openai:m@http://127.0.0.1:8815/v1`` and ``openai:m@http://localhost:9000/v1`` are one judge,
``openai:m@http://localhost/v1``: restarting a local server on a new port keeps its judgements and its
cache. A non-loopback host keeps its port (another port there may be another server). What the stored
name drops but may tell two servers apart (credentials, a query string) enters the cache key as a
hash (:func:`endpoint_tag`), never in clear. Two judges that share a name (e.g. two local folders
called ``judge``) must be told apart with ``--name``: a run refuses a name already used by another model
(:func:`check_same_model`).

Older versions stored the spec itself (``...@http://user:key@host:port/v1``, ``hf:/home/...``).
:func:`adopt_older_names` renames such rows to the current name when they hold the same model, so a
rerun finds them instead of starting over (their cache keys are not rewritten: an answer that was
awaiting its repair is asked again).
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from bench.errors import BenchError
from bench.public_names import public_name, public_url

_URL_IN_NAME = re.compile(r"^(?P<head>.*?@)?(?P<url>[a-zA-Z][a-zA-Z0-9+.-]*://.*)$", re.S)
MODEL_KEYS = ("backend", "model", "fingerprint")  # the parts of a backend identity that name the model


def is_loopback(host: str | None) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _stable_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return url
    if not is_loopback(host):
        return url
    return urlunsplit((parts.scheme, "localhost", parts.path, parts.query, parts.fragment))


def judge_name(spec_or_name: str) -> str:
    """The name stored for a judge: public (no secret, no local path), loopback port dropped. Idempotent."""
    name = public_name(spec_or_name.strip()) or ""
    match = _URL_IN_NAME.match(name)
    if match:
        name = (match["head"] or "") + _stable_url(public_url(match["url"]))
    return name


def endpoint_tag(base_url: str) -> str | None:
    """A short hash of what the name drops from ``base_url`` besides a loopback port (userinfo, query,
    fragment), so two endpoints that differ only there do not share cache entries; None when nothing."""
    parts = urlsplit(base_url)
    hidden = [parts.username or "", parts.password or "", parts.query, parts.fragment]
    if not any(hidden):
        return None
    return hashlib.sha256("\x00".join(hidden).encode("utf-8")).hexdigest()[:16]


def model_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a backend identity that names the model (not its decoding settings)."""
    return {k: identity[k] for k in MODEL_KEYS if k in identity}


def _recorded_identities(store: Any, command: str, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    if not names:
        return out
    rows = store.query("SELECT json_extract_string(params, '$.judge'), json_extract(params, '$.identity') "
                       "FROM runs WHERE command = ? AND list_contains(?, json_extract_string(params, '$.judge'))",
                       [command, names])
    for name, identity in rows:
        if identity is not None:
            out[name].append(json.loads(identity) if isinstance(identity, str) else identity)
    return out


def check_same_model(store: Any, command: str, name: str, identity: Mapping[str, Any]) -> None:
    """Refuse ``name`` when earlier runs used it for another model (their scores would be taken as this one's)."""
    mine = model_identity(identity)
    for other in _recorded_identities(store, command, [name])[name]:
        if model_identity(other) != mine:
            raise BenchError(f"judge name '{name}' already holds judgements of another model "
                             f"({json.dumps(model_identity(other), sort_keys=True)}); give --name to keep the two apart")


def adopt_older_names(store: Any, command: str, name: str, identity: Mapping[str, Any]) -> tuple[int, list[str]]:
    """Rename judgements and judge calls stored under older forms of ``name`` (same model) to ``name``.

    Returns ``(judgement rows renamed, notes)``; rows of another model, or that would collide with a row
    already under ``name``, are left where they are and named (publicly) in a note."""
    names = [r[0] for r in store.query("SELECT DISTINCT judge FROM judgements UNION SELECT DISTINCT judge FROM judge_calls")]
    older = sorted(n for n in names if n != name and judge_name(n) == name)
    if not older:
        return 0, []
    recorded = _recorded_identities(store, command, older)
    mine = model_identity(identity)
    renamed, notes = 0, []
    for old in older:
        if any(model_identity(other) != mine for other in recorded[old]):
            notes.append(f"judgements of another model under an older name of '{name}' were left as they are")
            continue
        with store.transaction() as con:
            n = con.execute(
                "UPDATE judgements SET judge = ? WHERE judge = ? AND NOT EXISTS (SELECT 1 FROM judgements k "
                "WHERE k.judge = ? AND k.response_id = judgements.response_id AND k.aspect = judgements.aspect)",
                [name, old, name]).fetchone()[0]
            con.execute("UPDATE judge_calls SET judge = ? WHERE judge = ? AND NOT EXISTS (SELECT 1 FROM judge_calls k "
                        "WHERE k.judge = ? AND k.prompt_hash = judge_calls.prompt_hash)", [name, old, name])
            left = con.execute("SELECT count(*) FROM judgements WHERE judge = ?", [old]).fetchone()[0]
        renamed += int(n)
        if left:
            notes.append(f"{left} judgement rows under an older name of '{name}' collide with rows under it "
                         "and were left as they are")
    if renamed:
        notes.insert(0, f"{renamed} judgement rows stored under older names of this judge were renamed '{name}'")
    return renamed, notes


__all__ = ["adopt_older_names", "check_same_model", "endpoint_tag", "is_loopback", "judge_name", "model_identity"]
