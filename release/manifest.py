"""The names of a release folder's files and its ``MANIFEST.json``: format, reading and checking.

``MANIFEST.json`` lists the SHA-256 and size of every other file of the release, the configs
(path, rows, SHA-256), the provenance and the review statistics; :func:`check_manifest` checks
what verify, the changelog of the next release and push rely on.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.errors import BenchError, InputError
from bench.json_records import parse_json
from release.values import is_count

MANIFEST_NAME = "MANIFEST.json"
CHANGELOG_NAME = "CHANGELOG.md"
CARD_NAME = "README.md"
RESULTS_CARD_NAME = "RESULTS.md"
MANIFEST_FORMAT = "bench-release/1"
VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class ReleaseError(BenchError):
    """A release folder that fails verification."""


def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION_RE.match(version or "")
    if not match:
        raise BenchError(f"bad --version '{version}': expected X.Y.Z (semantic version, e.g. 1.0.0)")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _inside(name: str) -> bool:
    """A relative POSIX path that stays inside the release folder."""
    parts = name.split("/")
    return bool(name) and "\\" not in name and not name.startswith("/") and ":" not in parts[0] \
        and all(part not in ("", ".", "..") for part in parts)


def check_manifest(path: str | Path, manifest: Any) -> dict[str, Any]:
    """The parsed ``MANIFEST.json`` at ``path``, checked for everything verify and push rely on; the first
    problem is one InputError naming the file, the entry (record) and the field."""
    file = str(path)
    if not isinstance(manifest, dict):
        raise InputError(file, f"expected a JSON object (a release manifest), not {type(manifest).__name__}")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(file, f"unknown manifest format {manifest.get('format')!r} (expected {MANIFEST_FORMAT})",
                         field="format")
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise InputError(file, f"bad version {version!r}: expected X.Y.Z", field="version")
    languages = manifest.get("languages", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise InputError(file, "expected a list of language codes", field="languages")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(file, "no files listed (expected an object: path -> {sha256, size})", field="files")
    for name, entry in files.items():
        if not _inside(name) or name == MANIFEST_NAME:
            raise InputError(file, "not a relative path inside the release folder", record=repr(name), field="files")
        if not isinstance(entry, dict):
            raise InputError(file, f"expected an object {{sha256, size}}, not {type(entry).__name__}", record=name,
                             field="files")
        if not isinstance(entry.get("sha256"), str) or not SHA256_RE.match(entry["sha256"]):
            raise InputError(file, f"expected 64 lowercase hex digits, not {entry.get('sha256')!r}", record=name,
                             field="files.sha256")
        if not is_count(entry.get("size")):
            raise InputError(file, f"expected a size in bytes, not {entry.get('size')!r}", record=name,
                             field="files.size")
    configs = manifest.get("configs")
    if not isinstance(configs, dict):
        raise InputError(file, f"expected an object: config name -> {{path, rows, sha256}}, not "
                               f"{type(configs).__name__}", field="configs")
    for name, entry in configs.items():
        if not isinstance(entry, dict):
            raise InputError(file, f"expected an object {{path, rows, sha256}}, not {type(entry).__name__}",
                             record=name, field="configs")
        if not isinstance(entry.get("path"), str) or not _inside(entry["path"]):
            raise InputError(file, f"not a relative path inside the release folder: {entry.get('path')!r}",
                             record=name, field="configs.path")
        if not is_count(entry.get("rows")):
            raise InputError(file, f"expected a row count, not {entry.get('rows')!r}", record=name,
                             field="configs.rows")
        if not isinstance(entry.get("sha256"), str) or not SHA256_RE.match(entry["sha256"]):
            raise InputError(file, f"expected 64 lowercase hex digits, not {entry.get('sha256')!r}", record=name,
                             field="configs.sha256")
    return manifest


def _names(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) of every system name a manifest records: source, translator, judges, models."""
    source = manifest.get("source") if isinstance(manifest.get("source"), dict) else {}
    translator = manifest.get("translator") if isinstance(manifest.get("translator"), dict) else {}
    results = manifest.get("results") if isinstance(manifest.get("results"), dict) else {}
    out: list[tuple[str, Any]] = [("source.name", source.get("name")), ("translator.spec", translator.get("spec"))]
    system = translator.get("system")
    out += [("translator.system", s) for s in (system.split(", ") if isinstance(system, str) else [system])]
    out += [("results.judges", j) for j in results.get("judges") or []]
    out += [("results.models.model", m.get("model") if isinstance(m, dict) else m) for m in results.get("models") or []]
    return out


def check_public_names(path: str | Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest that names a system by a local path or with credentials (a release built before
    names were published in public form): the error names the field and the public form, never the value."""
    from bench.public_names import public_name

    for name, value in _names(manifest):
        if value is not None and (not isinstance(value, str) or public_name(value) != value):
            shown = f"public form {public_name(value)!r}" if isinstance(value, str) else type(value).__name__
            raise InputError(str(path), f"a name holds a local path or credentials ({shown}); rebuild the release "
                                        "with `bench release` before publishing it", field=name)


def read_manifest(rel: str | Path) -> dict[str, Any]:
    path = Path(rel) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReleaseError(f"{rel}: not a release folder (no {MANIFEST_NAME})") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return check_manifest(path, parse_json(str(path), raw))
