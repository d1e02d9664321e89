"""`bench build-dataset`: source -> translate (cached, resumable) -> QA -> dataset folder."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.atomic import write_text_atomic
from bench.errors import BenchError
from bench.languages import parse_languages
from bench.store import library_versions
from bench.workspace import Workspace
from benchmark import dataset_dir
from benchmark.source import Source
from benchmark.translation_cache import CacheStats, translate_with_cache
from benchmark.translators.base import Translator


@dataclass
class LanguageReport:
    lang: str
    rows: int
    requests: int
    from_cache: int
    translated: int
    flagged_rows: int
    flag_counts: dict[str, int]
    seconds: float


@dataclass
class BuildReport:
    out_dir: str
    source: str
    source_key: str
    translator: str
    translator_key: str
    run_id: str
    items: int
    languages: list[LanguageReport] = field(default_factory=list)
    # where the time went, all languages together: translate (cache lookups included), qa, rows (incl.
    # reviews carried over), store (translations table), write (parquet, card, build_info)
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, phase: str, started: float) -> None:
        """Add the seconds since ``started`` (a ``time.perf_counter()`` value) to ``phase``."""
        self.phase_seconds[phase] = round(self.phase_seconds.get(phase, 0.0) + time.perf_counter() - started, 3)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _translate_segments(ws: Workspace, translator: Translator, texts: list[str], source_lang: str,
                        target_lang: str, run_id: str, stats: CacheStats) -> list[str]:
    """Protect + segment every text, translate the requests (two rounds at most), reassemble."""
    from benchmark.segment import plan_item

    plans = [plan_item(t) for t in texts]
    translations: dict[str, str] = {}
    pending = sorted({r for p in plans for r in p.requests()})
    results: list[str | None] = [None] * len(plans)
    for round_no in (1, 2, 3):
        if pending:
            outs, round_stats = translate_with_cache(ws.store, translator, pending, source_lang, target_lang,
                                                     run_id, label=f"segments (round {round_no})")
            translations.update(zip(pending, outs))
            stats.requested += round_stats.requested
            stats.cached += round_stats.cached
            stats.translated += round_stats.translated
        missing: set[str] = set()
        for i, plan in enumerate(plans):
            if results[i] is None:
                res = plan.assemble(translations)
                if res.text is not None:
                    results[i] = res.text
                else:
                    missing.update(res.missing)
        pending = sorted(missing - translations.keys())
        if all(r is not None for r in results):
            return [r for r in results if r is not None]
    raise BenchError("segment reassembly did not converge (fallback requests missing); this is a bug")


def _store_translations(store: Any, source_key: str, lang: str, translator_key: str, run_id: str,
                        rows: list[list[Any]]) -> int:
    """Upsert ``[item_id, source_text, translation, qa_flags, qa_evidence]`` rows; rows already stored
    unchanged are left as they are (with the run that wrote them), so a cached rebuild writes nothing.
    Returns the number of rows written."""
    stored = {row[0]: row[1:] for row in store.query(
        "SELECT item_id, source_text, translation, qa_flags, qa_evidence FROM translations "
        "WHERE source_key = ? AND lang = ? AND translator_key = ?", [source_key, lang, translator_key])}
    changed = [row for row in rows if _stored_form(stored.get(row[0])) != _stored_form(row[1:])]
    if changed:
        with store.transaction() as con:
            con.executemany(
                "INSERT OR REPLACE INTO translations (source_key, item_id, lang, translator_key, source_text, "
                "translation, qa_flags, qa_evidence, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[source_key, row[0], lang, translator_key, *row[1:], run_id] for row in changed])
    return len(changed)


def _stored_form(values: Any) -> Any:
    """``(source_text, translation, qa_flags, qa_evidence)`` as comparable values (JSON parsed)."""
    if values is None:
        return None
    source_text, translation, flags, evidence = values
    return source_text, translation, list(flags), json.loads(evidence) if isinstance(evidence, str) else evidence


def build_dataset(ws: Workspace, source: Source, languages: list[str] | str, translator: Translator,
                  out_dir: str | Path, source_lang: str = "en") -> BuildReport:
    """Translate ``source`` into every language, QA each translation, write the dataset folder."""
    from benchmark.qa import TranslationQA

    out = Path(out_dir)
    langs = [lang for lang in parse_languages(languages) if lang != source_lang]
    all_langs = [source_lang, *langs]
    store = ws.store
    run_id = store.start_run("build-dataset", {
        "source": source.name, "source_revision": source.revision, "source_key": source.key,
        "languages": langs, "translator": translator.spec, "translator_key": translator.cache_key,
        "out": str(out), "items": len(source.records)})
    report = BuildReport(out_dir=str(out), source=source.name, source_key=source.key, translator=translator.spec,
                         translator_key=translator.cache_key, run_id=run_id, items=len(source.records))
    records = source.records
    texts = [r["instruction"] for r in records]
    schema = dataset_dir.dataset_schema(records)
    rows_by_lang: dict[str, list[dict[str, Any]]] = {source_lang: [dataset_dir.source_row(r) for r in records]}
    phase = time.perf_counter()
    qa = TranslationQA(all_langs)
    report.add_time("qa_setup", phase)
    try:
        for lang in langs:
            started = phase = time.perf_counter()
            stats = CacheStats()
            if translator.unit == "item":
                ids = [str(r["id"]) for r in records]
                outputs, stats = translate_with_cache(store, translator, texts, source_lang, lang, run_id, ids=ids,
                                                      label="items")
            else:
                outputs = _translate_segments(ws, translator, texts, source_lang, lang, run_id, stats)
            report.add_time("translate", phase)
            phase = time.perf_counter()
            checks = qa.check_many([(src, mt, lang) for src, mt in zip(texts, outputs)], source_lang=source_lang)
            report.add_time("qa", phase)
            phase = time.perf_counter()
            rows = [dataset_dir.translated_row(r, lang, mt, translator.system_name, c.flags, c.evidence)
                    for r, mt, c in zip(records, outputs, checks)]
            dataset_dir.carry_reviews(out, lang, rows)  # a rebuild never drops merged human reviews
            report.add_time("rows", phase)
            phase = time.perf_counter()
            _store_translations(store, source.key, lang, translator.cache_key, run_id,
                                [[str(r["id"]), r["instruction"], mt, list(c.flags),
                                  json.dumps(c.evidence, ensure_ascii=False)]
                                 for r, mt, c in zip(records, outputs, checks)])
            report.add_time("store", phase)
            rows_by_lang[lang] = rows
            counts = {f: sum(f in c.flags for c in checks) for f in dataset_dir.QA_FLAG_NAMES}
            report.languages.append(LanguageReport(
                lang=lang, rows=len(rows), requests=stats.requested, from_cache=stats.cached,
                translated=stats.translated, flagged_rows=sum(bool(c.flags) for c in checks),
                flag_counts=counts, seconds=round(time.perf_counter() - started, 3)))
        phase = time.perf_counter()
        for lang in all_langs:
            dataset_dir.write_config(out, lang, rows_by_lang[lang], schema)
        dataset_dir.write_card(out, languages=all_langs, source_name=source.name, source_revision=source.revision,
                               source_key=source.key, translation_system=translator.system_name,
                               rows_by_lang=rows_by_lang)
        info = {**report.to_dict(), "source_revision": source.revision, "versions": library_versions()}
        write_text_atomic(out / "build_info.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        report.add_time("write", phase)
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    store.finish_run(run_id, "done")
    return report
