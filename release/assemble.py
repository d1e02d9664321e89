"""``bench release``: assemble a versioned, verifiable, reproducible release folder.

A release folder is what gets pushed to the Hub as one commit::

    REL/README.md                          dataset card (cards/templates/release_card.md.j2)
    REL/RESULTS.md                         results card, when results are included
    REL/<lang>/test-00000-of-00001.parquet one config per language (en, fr, es, ...)
    REL/responses/test-00000-of-00001.parquet        \
    REL/judgements/test-00000-of-00001.parquet        > with --results, when non-empty
    REL/critical_errors/test-00000-of-00001.parquet  /
    REL/reviews/test-00000-of-00001.parquet  every human review (release/reviews_export.py), when the store has them
    REL/CHANGELOG.md                       this release's entry on top of the previous ones
    REL/MANIFEST.json                      SHA-256 + size of every other file, row counts, provenance

Everything is validated before anything is written (every config the dataset's card and
``build_info.json`` declare is there, unless ``languages`` picks some; ids aligned across languages, no empty
instruction, one schema for every language config, review status known; unreviewed rows need
``allow_unreviewed``; responses must point at items and languages of the release). The folder is
written beside ``out`` and renamed into place, so a failed build leaves ``out`` as it was. The same
inputs give byte-identical files (with the same ``date``: ``--date`` or ``SOURCE_DATE_EPOCH``).

In a release, ``instruction`` is the reviewed text for ``post_edited``/``approved`` rows and the
machine translation for ``rejected`` rows (counted, and said in the card).

This module puts the release together; the pieces: :mod:`release.dataset_check` (reading and
checking the dataset), :mod:`release.results_export` (result configs and the leaderboard),
:mod:`release.review_info`, :mod:`release.changelog`, :mod:`release.manifest` (file names,
``MANIFEST.json``) and :mod:`release.verify`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date as date_cls, datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from bench.errors import BenchError, InputError
from bench.hashing import sha256_file
from bench.public_names import public_name
from cards.provenance import JUST_EVAL_DATASET, hub_dataset_id
from release.changelog import changelog_text, previous_release
from release.dataset_check import check_dataset
from release.manifest import (CARD_NAME, CHANGELOG_NAME, MANIFEST_FORMAT, MANIFEST_NAME, RESULTS_CARD_NAME,
                              parse_version)
from release.results_export import CONFIG_DESCRIPTIONS, ResultsInfo, check_results, export_results
from release.review_info import load_review_info
from release.reviews_export import CONFIG as REVIEWS_CONFIG, DESCRIPTION as REVIEWS_DESCRIPTION, ReviewsInfo, \
    export_reviews
from release.values import percent

PRETTY_NAME = "Multilingual Just-Eval-Instruct"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def release_date(value: str | None = None) -> str:
    """``value`` (YYYY-MM-DD), else ``$SOURCE_DATE_EPOCH``, else today (UTC)."""
    if value:
        if not DATE_RE.match(value):
            raise BenchError(f"bad --date '{value}': expected YYYY-MM-DD")
        try:
            date_cls.fromisoformat(value)
        except ValueError as exc:
            raise BenchError(f"bad --date '{value}': {exc}") from exc
        return value
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date().isoformat()
        except (ValueError, OverflowError) as exc:
            raise BenchError(f"bad SOURCE_DATE_EPOCH '{epoch}': expected seconds since 1970") from exc
    return datetime.now(timezone.utc).date().isoformat()


def _language_name(code: str) -> str:
    from bench.languages import LANGUAGES

    info = LANGUAGES.get(code)
    return info.name if info else code


@dataclass
class ReleaseReport:
    out: str
    version: str
    date: str
    configs: dict[str, int]
    files: int
    bytes: int
    review_coverage: dict[str, float]
    unreviewed: dict[str, int]
    rejected: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _card_configs(names: Sequence[str], rows: dict[str, int], descriptions: dict[str, str]) -> list[dict[str, Any]]:
    from benchmark.dataset_dir import PARQUET_NAME

    pattern = PARQUET_NAME.replace("00000-of-00001", "*")
    return [{"name": n, "pattern": f"{n}/{pattern}", "rows": rows[n], "description": descriptions[n]} for n in names]


def build_release(dataset: str | Path, out: str | Path, version: str, *, ws: Any = None, results: bool = False,
                  judge: str | None = None, allow_unreviewed: bool = False, languages: Sequence[str] | None = None,
                  review_info: str | Path | None = None, previous: str | Path | None = None,
                  notes: str | None = None, date: str | None = None,
                  pretty_name: str = PRETTY_NAME, source_dataset: str | None = None,
                  review_set: str | None = None, agreement_reference: str | None = None) -> ReleaseReport:
    """Validate ``dataset`` (+ the store's results), then write the release folder ``out``.

    ``ws``: the workspace; its store gives the results (``results``) and the per-reviewer ``reviews``
    config (reviews of ``review_set``, default the dataset folder's Argilla prefix, when it has any).

    ``source_dataset``: the Hub dataset the instructions come from (default: the build's source
    when it is a Hub id, else none: see :mod:`cards.provenance`)."""
    from bench import __version__
    from bench.store import library_versions
    from cards.render import render
    from cards.validate import card_problems, card_metadata, size_category

    version_tuple = parse_version(version)
    day = release_date(date)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file())):
        raise BenchError(f"{out}: exists and is not a release folder; choose another --out")
    review = load_review_info(review_info)
    data = check_dataset(dataset, languages)
    if data.unreviewed and not allow_unreviewed:
        total = sum(data.unreviewed.values())
        raise InputError(str(data.path), f"{total} translated rows are unreviewed (review_status 'machine': "
                                         f"{', '.join(f'{k} {v}' for k, v in data.unreviewed.items())}); review them "
                                         "or pass --allow-unreviewed (the card then says so)", field="review_status")
    if agreement_reference and not results:
        raise BenchError("--agreement-reference goes with --results (it compares the released judges)")
    if results:
        if ws is None or not Path(ws.db_path).is_file():
            raise BenchError(f"--results: no store at {getattr(ws, 'db_path', '?')} (use --workspace)")
        check_results(ws, data)
    prev_manifest, prev_body = previous_release(previous, version_tuple)

    build = data.build_info
    if source_dataset is not None and not hub_dataset_id(source_dataset):
        raise BenchError(f"--source-dataset '{source_dataset}': expected a Hub dataset id ORG/NAME")
    source_dataset = source_dataset or hub_dataset_id(build.get("source"))
    source = {"dataset": source_dataset, "name": public_name(build.get("source")) or "unknown",
              "revision": build.get("source_revision"), "key": build.get("source_key")}
    systems = sorted({public_name(r["translation_system"]) for rows in data.rows.values() for r in rows
                      if r.get("translation_system")})
    translator = {"spec": public_name(build.get("translator")), "key": build.get("translator_key"),
                  "system": ", ".join(systems) or public_name(build.get("translator")) or "unknown"}

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        from benchmark.dataset_dir import PARQUET_NAME, QA_FLAG_NAMES, write_config

        for lang in data.languages:
            for row in data.rows[lang]:  # no local directories in published data
                if row.get("translation_system"):
                    row["translation_system"] = public_name(row["translation_system"])
            write_config(staging, lang, data.rows[lang], data.schema)
        info = export_results(ws, staging, judge, agreement_reference) if results else ResultsInfo()
        notes_out = [] if not results or info.counts else ["--results: the store has no responses; none included"]
        revs = _export_reviews(ws, staging, data, review_set)
        notes_out += [revs.note] if revs.note else []
        review_counts = {REVIEWS_CONFIG: revs.rows} if revs.rows else {}
        row_counts = {lang: data.stats[lang].rows for lang in data.languages} | review_counts | info.counts
        names = [*data.languages, *review_counts, *info.counts]
        descriptions = {**{lang: f"instructions in {_language_name(lang)}" for lang in data.languages},
                        REVIEWS_CONFIG: REVIEWS_DESCRIPTION, **CONFIG_DESCRIPTIONS}
        if not review["reviewers"] and revs.reviewers:
            review["reviewers"] = revs.reviewers
        card_configs = _card_configs(names, row_counts, descriptions)
        review_table = [{"lang": s.lang, "rows": s.rows, "counts": s.review_counts,
                         "coverage": percent(s.reviewed, s.rows)} for s in data.stats.values() if not s.is_source]
        qa_table = [{"lang": s.lang, "rows": s.rows, "flagged": s.flagged, "counts": s.qa_counts}
                    for s in data.stats.values()]
        reviewed_any = any(s.review_counts["post_edited"] or s.review_counts["approved"] for s in data.stats.values())
        creators = ["found", "machine-generated"] + (["expert-generated"] if reviewed_any else [])
        n_safety = sum(r.get("category") == "safety" for r in data.rows[data.languages[0]])
        context = {
            "pretty_name": pretty_name, "version": version, "date": day, "languages": data.languages,
            "language_names": [_language_name(lang) for lang in data.languages], "language_creators": creators,
            "size_category": size_category(sum(data.stats[lang].rows for lang in data.languages)),
            "source_dataset": source_dataset, "is_just_eval": source_dataset == JUST_EVAL_DATASET,
            "n_items": data.n_items, "n_safety": n_safety,
            "configs": card_configs, "source": source, "translator": translator,
            "reviewers": review["reviewers"], "agreement": review["agreement"], "review_rule": review["rule"],
            "review_table": review_table,
            "reviews": {"rows": revs.rows, "review_set": revs.review_set, "summary": revs.summary} if revs.rows else None,
            "unreviewed_total": sum(data.unreviewed.values()), "rejected_total": sum(data.rejected.values()),
            "qa_flag_names": QA_FLAG_NAMES, "qa_table": qa_table,
            "results": ({"models": info.models, "judges": info.judges, "detector_versions": info.detector_versions,
                         "settings": sum(len(m["methods"]) for m in info.models),
                         "leaderboard_md": info.leaderboard_md} if info.counts else None),
        }
        cards = {CARD_NAME: render("release_card.md.j2", context)}
        if info.counts:
            result_configs = [c for c in card_configs if c["name"] in info.counts]
            cards[RESULTS_CARD_NAME] = render("results_card.md.j2", {
                **context, "configs": result_configs, "models": info.models, "judges": info.judges,
                "judge_settings": info.judge_settings,
                "detector_versions": info.detector_versions, "leaderboard_md": info.leaderboard_md,
                "agreement_md": info.agreement_md,
                "size_category": size_category(sum(info.counts.values()))})
        for name, text in cards.items():
            problems = card_problems(card_metadata(text), root=staging)
            if problems:  # a template bug, not a user error
                raise BenchError(f"rendered {name} has invalid metadata: {problems[0]}")
            (staging / name).write_text(text, encoding="utf-8")

        configs = {name: {"path": f"{name}/{PARQUET_NAME}", "rows": row_counts[name],
                          "sha256": sha256_file(staging / name / PARQUET_NAME)} for name in names}
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT, "name": pretty_name, "version": version, "date": day,
            "languages": data.languages, "allow_unreviewed": bool(allow_unreviewed and data.unreviewed),
            "source": source, "translator": translator,
            "review": {"reviewers": review["reviewers"], "agreement": review["agreement"], "rule": review["rule"],
                       "per_reviewer": {"config": REVIEWS_CONFIG, "rows": revs.rows, "review_set": revs.review_set,
                                        "languages": revs.summary} if revs.rows else None,
                       "languages": {
                s.lang: {**s.review_counts, "coverage": round(s.coverage, 6)} for s in data.stats.values()}},
            "qa": {s.lang: {"flagged_rows": s.flagged, **s.qa_counts} for s in data.stats.values()},
            "results": {"judges": info.judges, "models": info.models, "detector_versions": info.detector_versions},
            "configs": configs,
            "versions": {"release": {**library_versions(), "bench": __version__},
                         "build": build.get("versions", {})},
        }
        (staging / CHANGELOG_NAME).write_text(
            changelog_text(version, day, configs, data, manifest, prev_manifest, prev_body, notes,
                       allow_unreviewed), encoding="utf-8")
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        manifest["files"] = {p.relative_to(staging).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
                             for p in files}
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        for p in staging.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    total = sum(f["size"] for f in manifest["files"].values())
    return ReleaseReport(out=str(out), version=version, date=day, configs=row_counts, files=len(files) + 1,
                         bytes=total + (out / MANIFEST_NAME).stat().st_size,
                         review_coverage={s.lang: round(s.coverage, 6) for s in data.stats.values() if not s.is_source},
                         unreviewed=data.unreviewed, rejected=data.rejected, notes=notes_out)


def _export_reviews(ws: Any, staging: Path, data: Any, review_set: str | None) -> ReviewsInfo:
    """The ``reviews`` config from the workspace store (read only; none without a store)."""
    from annotation.translations import default_prefix

    review_set = review_set or default_prefix(data.path)
    store = ws.read_store if ws is not None and Path(ws.db_path).is_file() else None
    return export_reviews(store, staging, data, review_set)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an old release at ``out`` is replaced only once the new one is complete."""
    staging.chmod(0o755)
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
