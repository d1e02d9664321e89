"""The one function every name that leaves the machine goes through (cards, manifests, exports, tables).

A model, judge, translator or source spec may hold things that must not be published: local
directories (``hf:/home/ana/models/x`` names a user's disk, and means nothing on the Hub),
credentials inside a base URL (``http://admin:sk-...@host/v1``), or query strings that carry keys
(``?api_key=...``). :func:`public_name` keeps the backend, the model and the host, and drops the
rest: a local path becomes its last component, a URL loses its userinfo, query and fragment.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".gguf")
_BACKEND = re.compile(r"^([a-z][a-z0-9_-]*):(?!//)(.*)$", re.S)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def public_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment (``http://u:p@h:1/v1?k=x`` -> ``http://h:1/v1``)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a malformed port or netloc: keep only what cannot hold a secret
        return url.split("@")[-1].split("?")[0].split("#")[0]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def public_path(value: str) -> str:
    """A local file or folder named by its last component; anything else unchanged."""
    looks_local = value.endswith(LOCAL_SUFFIXES) or value.startswith(("/", "./", "../", "~", ".\\"))
    if looks_local and ("/" in value or os.sep in value):
        return Path(value.rstrip("/" + os.sep)).name or value
    return value


def public_name(spec: str | None) -> str | None:
    """A source, model, judge or translator spec with no local directories and no credentials."""
    if not spec:
        return spec
    if _URL.match(spec):
        return public_url(spec)
    match = _BACKEND.match(spec)
    prefix, rest = (f"{match.group(1)}:", match.group(2)) if match else ("", spec)
    target, sep, base_url = rest.partition("@")
    if sep and _URL.match(base_url):  # openai:<model>@<base_url>
        return f"{prefix}{public_path(target)}@{public_url(base_url)}"
    return prefix + public_path(rest)
