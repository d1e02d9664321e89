"""``bench release verify``: a release folder's files against its manifest, row counts and cards."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.hashing import sha256_file
from release.manifest import CARD_NAME, MANIFEST_NAME, RESULTS_CARD_NAME, ReleaseError, read_manifest


def release_problems(rel: str | Path) -> list[str]:
    """Every problem of a release folder: files vs. manifest (SHA-256, size, missing, extra), row
    counts of the configs, the card metadata, and the languages (manifest ``languages``, its configs, the
    card's ``language`` and the data files on disk agree). Empty list: the release checks out."""
    import pyarrow.parquet as pq

    from cards.validate import check_card

    rel = Path(rel)
    manifest = read_manifest(rel)
    problems: list[str] = []
    files = manifest["files"]
    on_disk = {p.relative_to(rel).as_posix() for p in rel.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    for name in sorted(set(files) - on_disk):
        problems.append(f"{name}: listed in {MANIFEST_NAME} but missing")
    for name in sorted(on_disk - set(files)):
        problems.append(f"{name}: not listed in {MANIFEST_NAME}")
    for name in sorted(set(files) & on_disk):
        entry = files[name]
        size = (rel / name).stat().st_size
        if size != entry.get("size"):
            problems.append(f"{name}: size {size} differs from {entry.get('size')} in {MANIFEST_NAME}")
        elif sha256_file(rel / name) != entry.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from {MANIFEST_NAME}")
    for config, entry in manifest["configs"].items():
        path = rel / entry["path"]
        if entry.get("path") not in files:
            problems.append(f"config {config}: {entry.get('path')} not listed in files")
        elif path.is_file() and files[entry["path"]].get("sha256") != entry.get("sha256"):
            problems.append(f"config {config}: SHA-256 differs between configs and files")
        elif path.is_file():
            try:
                rows = pq.read_metadata(path).num_rows
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{entry['path']}: unreadable parquet ({str(exc).splitlines()[0]})")
                continue
            if rows != entry.get("rows"):
                problems.append(f"config {config}: {rows} rows, {MANIFEST_NAME} says {entry.get('rows')}")
    for card in (CARD_NAME, RESULTS_CARD_NAME):
        if (rel / card).is_file():
            try:
                meta = check_card(rel / card, root=rel)
            except InputError as exc:
                problems.append(f"{card}: {exc.message}" + (f" (field {exc.field})" if exc.field else ""))
                continue
            if card == CARD_NAME:
                names = [c.get("config_name") for c in meta.get("configs", [])]
                listed = sorted((manifest.get("configs") or {}).keys())
                if sorted(names) != listed:
                    problems.append(f"{card}: configs {sorted(names)} differ from {MANIFEST_NAME} {listed}")
                problems.extend(_card_language_problems(meta, manifest))
        elif card == CARD_NAME:
            problems.append(f"{card}: missing")
    problems.extend(_language_problems(manifest, on_disk))
    return problems


def _language_problems(manifest: dict[str, Any], on_disk: set[str]) -> list[str]:
    """Every language the manifest lists has its config, every language config is listed, and no
    data file on disk is left out of the configs (a release covers all its languages)."""
    from release.results_export import CONFIG_DESCRIPTIONS
    from release.reviews_export import CONFIG as REVIEWS_CONFIG

    problems: list[str] = []
    configs = manifest["configs"]
    if "languages" in manifest:
        languages = manifest["languages"]
        for lang in languages:
            if lang not in configs:
                problems.append(f"{MANIFEST_NAME}: languages lists '{lang}' but configs has no '{lang}' config")
        for name in configs:
            if name not in CONFIG_DESCRIPTIONS and name != REVIEWS_CONFIG and name not in languages:
                problems.append(f"{MANIFEST_NAME}: config '{name}' is not in languages {languages}")
    config_paths = {entry["path"] for entry in configs.values()}
    for name in sorted(on_disk - config_paths):
        if name.endswith(".parquet"):
            problems.append(f"{name}: a data file that no config in {MANIFEST_NAME} names")
    return problems


def _card_language_problems(meta: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """The card's ``language`` metadata names the manifest's languages, no more, no fewer."""
    if "languages" not in manifest or meta.get("language") is None:
        return []
    card = meta["language"] if isinstance(meta["language"], list) else [meta["language"]]
    if sorted(map(str, card)) != sorted(manifest["languages"]):
        return [f"{CARD_NAME}: language {card} differs from {MANIFEST_NAME} languages {manifest['languages']}"]
    return []


def verify_release(rel: str | Path) -> dict[str, Any]:
    """Check a release folder; raises :class:`ReleaseError` naming the first problem."""
    problems = release_problems(rel)
    if problems:
        more = f" (+{len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ReleaseError(f"{rel}: {problems[0]}{more}")
    manifest = read_manifest(rel)
    files = manifest["files"]
    return {"release": str(rel), "version": manifest["version"], "files": len(files) + 1,
            "bytes": sum(f["size"] for f in files.values()) + (Path(rel) / MANIFEST_NAME).stat().st_size,
            "configs": {name: manifest["configs"][name]["rows"] for name in sorted(
                manifest["configs"], key=lambda n: (n not in manifest.get("languages", []),
                                                    manifest.get("languages", []).index(n)
                                                    if n in manifest.get("languages", []) else 0, n))}}
