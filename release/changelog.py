"""``CHANGELOG.md`` of a release: this release's entry on top of the previous release's entries."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.errors import BenchError, InputError
from bench.json_records import parse_json
from cards.markdown import md_code
from release.dataset_check import DatasetCheck
from release.manifest import CHANGELOG_NAME, MANIFEST_NAME, check_manifest, parse_version
from release.values import percent


def previous_release(previous: str | Path | None, version: tuple[int, int, int]) -> tuple[dict | None, str]:
    """(previous manifest, previous changelog body) of ``--previous``."""
    if previous is None:
        return None, ""
    prev = Path(previous)
    manifest_path = prev / MANIFEST_NAME
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise InputError(str(manifest_path), "--previous must be a release folder (no readable MANIFEST.json)") from exc
    manifest = check_manifest(manifest_path, parse_json(str(manifest_path), raw))
    prev_version = manifest["version"]
    if parse_version(prev_version) >= version:
        raise BenchError(f"--version {'.'.join(map(str, version))} must be greater than the previous release "
                         f"{prev_version} ({prev})")
    changelog = prev / CHANGELOG_NAME
    try:
        body = changelog.read_text(encoding="utf-8") if changelog.is_file() else ""
    except UnicodeDecodeError as exc:
        raise InputError(str(changelog), f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    return manifest, body


def changelog_text(version: str, date: str, configs: dict[str, dict[str, Any]], data: DatasetCheck,
               manifest_base: dict[str, Any], previous: dict | None, previous_body: str, notes: str | None,
               allow_unreviewed: bool) -> str:
    """``CHANGELOG.md``: this release's entry (configs, source, review coverage, changes since the
    previous release, notes) on top of the previous entries, minus an older entry of the same version."""
    lines = [f"## {version} — {date}", ""]
    lines.append("- Configs: " + ", ".join(f"`{name}` ({c['rows']} rows)" for name, c in configs.items()) + ".")
    source = manifest_base["source"]
    revision = f" at revision {md_code(source['revision'])}" if source["revision"] else ""
    lines.append(f"- Source: {md_code(source['name'])}{revision} (content hash {md_code(source['key'])}); "
                 f"translation: {md_code(manifest_base['translator']['system'])}.")
    coverage = [f"{s.lang} {percent(s.reviewed, s.rows)} (post_edited {s.review_counts['post_edited']}, approved "
                f"{s.review_counts['approved']}, rejected {s.review_counts['rejected']}, unreviewed "
                f"{s.review_counts['machine']})" for s in data.stats.values() if not s.is_source]
    if coverage:
        lines.append("- Review coverage: " + "; ".join(coverage) + ".")
    if data.unreviewed:
        lines.append(f"- Released with --allow-unreviewed: {sum(data.unreviewed.values())} unreviewed rows "
                     f"({', '.join(f'{k} {v}' for k, v in data.unreviewed.items())}).")
    if previous is not None:
        old = previous.get("configs", {})
        changes = []
        for name, conf in configs.items():
            if name not in old:
                changes.append(f"`{name}` added")
            elif old[name].get("sha256") != conf["sha256"]:
                delta = conf["rows"] - int(old[name].get("rows", 0))
                changes.append(f"`{name}` changed" + (f" ({delta:+d} rows)" if delta else ""))
        changes += [f"`{name}` removed" for name in old if name not in configs]
        unchanged = [name for name in configs if name in old and old[name].get("sha256") == configs[name]["sha256"]]
        text = "; ".join(changes) if changes else "no data change"
        if unchanged and changes:
            text += f"; unchanged: {', '.join(f'`{n}`' for n in unchanged)}"
        lines.append(f"- Since {previous.get('version')}: {text}.")
    if notes:
        lines.append(f"- Notes: {' '.join(notes.split())}")
    entry = "\n".join(lines) + "\n"
    older = previous_body
    if older.startswith("# Changelog"):
        older = older.split("\n", 1)[1] if "\n" in older else ""
    # drop an older entry of the same version (a rebuilt release replaces it)
    sections = re.split(r"(?m)^(?=## )", older.strip("\n"))
    kept = [s.strip("\n") for s in sections if s.strip() and not s.startswith(f"## {version} ")]
    return "# Changelog\n\n" + entry + ("\n" + "\n\n".join(kept) + "\n" if kept else "")
