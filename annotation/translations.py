"""Human review of machine translations in Argilla: push one dataset per language, pull and merge.

Push (idempotent: the record id is the item id, so pushing again updates records in place, keeps
every response annotators already gave, and never duplicates):

    fields     source (English instruction), translation (machine translation), qa (automatic QA
               flags with their evidence, when any)
    questions  quality   rating 1-5 (required)
               post_edit text, pre-filled with the *machine translation* (required)
               errors    multi-label: accuracy, omission, addition, fluency, terminology, code_format,
                         wrong_language, untranslated (optional); nothing pre-ticked

    Independence: every reviewer of an item is shown the machine translation, never another reviewer's
    work: the post-edit suggestion is always the MT (a re-push after a pull does not replace it with the
    merged edit) and no error label is pre-ticked (the automatic QA flags are shown as text in the ``qa``
    field; a re-push removes label suggestions an older version pre-ticked). Agreement is therefore
    measured between independent reviews. Merged edits are adjudicated outside this review dataset.
    metadata   source_dataset, category, difficulty, qa_flags, qa_flagged, translation_system,
               source_chars, translation_chars, length_ratio (all filterable in the UI)
    settings   guidelines (below); task distribution min_submitted = K (each record is shown to
               annotators until K of them have submitted it: overlap for agreement)

Pull reads every *submitted* response (drafts and discarded ones are ignored), stores each one in the
workspace store (``translation_reviews``, :mod:`annotation.reviews`: reviewer, rating, decision, error
labels, text, time) and resolves the annotators of each record with this rule (documented in the card
and in RESOLUTION_RULE):

1. Each reviewer's decision: ``post_edited`` if their post-edit differs from the machine
   translation (after whitespace normalisation), else ``rejected`` if they rated it 1 or 2, else
   ``approved``.
2. The record's status is the majority decision; a tie goes to the more conservative decision,
   ``post_edited`` > ``rejected`` > ``approved`` (a problem seen by half the reviewers is not ignored).
3. When post-edited, the text is the edit most reviewers wrote (whitespace-normalised exact match);
   a tie goes to the edit closest to the other reviewers' texts (highest summed difflib similarity,
   the approvers counting with the machine translation), then to the most recent submission.
4. ``instruction`` becomes that text (``post_edited``) or stays the machine translation
   (``approved`` / ``rejected``); ``machine_translation`` is never changed. ``reviewers`` is the
   number of submitted reviews merged, ``reviewed_at`` the latest submission (UTC).

Records without a submitted response keep their current values (``machine`` or what an earlier
pull merged), so pulling while work is in progress loses nothing. Every config is rewritten
atomically through :func:`benchmark.dataset_dir.write_config`.
"""
from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from annotation import reviews as review_store
from annotation.client import Connection, ensure_workspace, find_dataset, server_errors
from bench.errors import BenchError, InputError
from benchmark import dataset_dir as dd

ERROR_LABELS = {
    "accuracy": "Accuracy: meaning changed, mistranslated",
    "omission": "Omission: source content missing",
    "addition": "Addition: content not in the source",
    "fluency": "Fluency: grammar, spelling, unnatural",
    "terminology": "Terminology: wrong or inconsistent term",
    "code_format": "Code / format: code, markup, numbers or layout altered",
    "wrong_language": "Wrong language",
    "untranslated": "Untranslated (left in English)",
}
MT_AGENT = "machine-translation"
DECISIONS = ("post_edited", "rejected", "approved")   # also the tie-break order
REJECT_AT_OR_BELOW = 2
RESOLUTION_RULE = ("per reviewer: post_edited if the post-edit differs from the MT, else rejected if rated <= 2, "
                   "else approved; record = majority decision, ties post_edited > rejected > approved; text = most "
                   "common edit, ties -> edit closest to the other reviewers' texts, then most recent")

GUIDELINES = """\
# Reviewing machine translations of benchmark instructions

Each record is one instruction of the benchmark: the **English source** and its **machine translation**. \
The translation will be given to language models as the instruction to follow, so it must ask for \
*exactly* the same thing as the source, in natural {language}.

1. **Quality (1-5)**: 5 = perfect, publishable as is; 4 = minor issues (style, a word); 3 = understandable \
but needs edits; 2 = meaning partly wrong or missing; 1 = unusable (wrong language, untranslated, nonsense).
2. **Post-edit**: the box is pre-filled with the machine translation. Correct it so that it is a faithful, \
fluent {language} instruction. If it is already right, leave it unchanged and submit.
   - Keep code, commands, variable names, URLs, numbers and formatting (lists, line breaks) as in the source.
   - Keep names, titles and quoted text that the task requires in the original language.
   - Do not answer the instruction, do not improve the source's own mistakes.
3. **Errors**: tick every kind of error the *machine translation* had (before your edit). Nothing is \
pre-ticked: the automatic QA checks, when they found something, are listed in the *Automatic QA flags* \
field; decide for yourself whether they are right.

Submit when done; *Discard* only if you cannot judge the record (it is then left to others). Several \
reviewers see each record, and each sees the machine translation, not the others' answers: answer on your \
own, without looking for consensus.
"""


def dataset_name(prefix: str, lang: str) -> str:
    return f"{prefix}-{lang}"


def default_prefix(dataset_path: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(dataset_path).resolve().name).strip("-_") or "dataset"
    return f"{slug}-translation"


def languages_in(dataset_path: Path) -> list[str]:
    """Configs of a dataset folder (folders holding the parquet file), English first."""
    langs = sorted(p.parent.name for p in Path(dataset_path).glob(f"*/{dd.PARQUET_NAME}"))
    return sorted(langs, key=lambda code: code != "en")


def _check_dataset(dataset_path: Path, languages: list[str] | None) -> list[str]:
    present = languages_in(dataset_path)
    if not present:
        raise InputError(str(dataset_path), f"not a dataset folder (no */{dd.PARQUET_NAME})")
    targets = [lang for lang in present if lang != "en"]
    if languages:
        missing = [lang for lang in languages if lang not in present]
        if missing:
            raise InputError(str(dataset_path), f"no config for {', '.join(missing)} (has: {', '.join(present)})")
        if "en" in languages:
            raise InputError(str(dataset_path), "'en' is the source: review target languages only")
        return list(languages)
    if not targets:
        raise InputError(str(dataset_path), "no translated config to review")
    return targets


_TEXT_COLUMNS = ("instruction", "source_instruction", "machine_translation")


def read_rows(dataset_path: Path, lang: str) -> list[dict[str, Any]]:
    """Rows of one config, checked for what push and pull use: the first problem is one InputError
    naming the parquet file, the record (id, or row number when the id is missing) and the field."""
    file = Path(dataset_path) / lang / dd.PARQUET_NAME
    try:
        pq.read_schema(file)  # its error does not repeat the path
        table = pq.read_table(file)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(str(file), f"cannot read parquet ({why})") from None
    for column in ("id", *_TEXT_COLUMNS):
        if column not in table.column_names:
            raise InputError(str(file), "column missing (`bench build-dataset` writes it)", field=column)
    rows = table.to_pylist()
    seen: set[str] = set()
    for n, row in enumerate(rows):
        rid = row["id"]
        if rid is None or isinstance(rid, bool) or not isinstance(rid, (int, str)) or not str(rid).strip():
            raise InputError(str(file), "missing id" if rid is None else f"bad id {rid!r}", record=f"row {n}",
                             field="id")
        if str(rid) in seen:
            raise InputError(str(file), "duplicate id (the id is the Argilla record id)", record=rid, field="id")
        seen.add(str(rid))
        for column in _TEXT_COLUMNS:
            if row[column] is not None and not isinstance(row[column], str):
                raise InputError(str(file), f"expected a text, not {type(row[column]).__name__}", record=rid,
                                 field=column)
        if not (row["machine_translation"] or row["instruction"] or "").strip():
            raise InputError(str(file), "no text to review (machine_translation and instruction are empty)",
                             record=rid, field="machine_translation")
    return rows


def prepare_push(dataset_path: Path, languages: list[str] | None = None,
                 limit: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """The rows to push per language, read and checked before anything talks to the server."""
    dataset_path = Path(dataset_path)
    prepared = {}
    for lang in _check_dataset(dataset_path, languages):
        rows = read_rows(dataset_path, lang)
        prepared[lang] = rows[:limit] if limit is not None else rows
    return prepared


def check_pull(dataset_path: Path, languages: list[str] | None = None) -> list[str]:
    """The languages to pull; every config of the folder (pull rewrites them all) is read and checked first."""
    dataset_path = Path(dataset_path)
    langs = _check_dataset(dataset_path, languages)
    for lang in languages_in(dataset_path):
        read_rows(dataset_path, lang)
    return langs


# ------------------------------------------------------------------------------------------
# push


def build_settings(client, language: str, min_submitted: int):
    import argilla as rg

    from bench.languages import get_language

    name = get_language(language).name
    return rg.Settings(
        fields=[
            rg.TextField(name="source", title="Source (English)", use_markdown=False, client=client),
            rg.TextField(name="translation", title=f"Machine translation ({name})", use_markdown=False, client=client),
            rg.TextField(name="qa", title="Automatic QA flags", use_markdown=False, required=False, client=client),
        ],
        questions=[
            rg.RatingQuestion(name="quality", title="Translation quality (1 = unusable, 5 = perfect)",
                              values=[1, 2, 3, 4, 5], required=True, client=client),
            rg.TextQuestion(name="post_edit", title=f"Post-edited translation ({name})",
                            description="Pre-filled with the current translation: correct it, or submit unchanged.",
                            required=True, use_markdown=False, client=client),
            rg.MultiLabelQuestion(name="errors", title="Errors in the machine translation",
                                  labels=dict(ERROR_LABELS), required=False, visible_labels=len(ERROR_LABELS),
                                  client=client),
        ],
        metadata=[
            rg.TermsMetadataProperty(name="source_dataset", title="Source dataset", client=client),
            rg.TermsMetadataProperty(name="category", title="Category", client=client),
            rg.TermsMetadataProperty(name="difficulty", title="Difficulty", client=client),
            rg.TermsMetadataProperty(name="qa_flags", title="QA flags", client=client),
            rg.TermsMetadataProperty(name="qa_flagged", title="Flagged by QA", options=["yes", "no"], client=client),
            rg.TermsMetadataProperty(name="translation_system", title="MT system", client=client),
            rg.IntegerMetadataProperty(name="source_chars", title="Source length (chars)", client=client),
            rg.IntegerMetadataProperty(name="translation_chars", title="Translation length (chars)", client=client),
            rg.FloatMetadataProperty(name="length_ratio", title="Length ratio (translation / source)", client=client),
        ],
        guidelines=GUIDELINES.format(language=name),
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def _qa_text(row: dict[str, Any]) -> str | None:
    flags = row.get("qa_flags") or []
    if not flags:
        return None
    import json

    try:
        evidence = json.loads(row.get("qa_evidence") or "{}")
    except ValueError:
        evidence = {}
    return "\n".join(f"{flag}: {evidence.get(flag, '')}".rstrip(": ") for flag in flags)


def make_record(row: dict[str, Any]):
    import argilla as rg

    source = row["source_instruction"] or ""
    mt = row.get("machine_translation") or row["instruction"]
    flags = list(row.get("qa_flags") or [])
    fields = {"source": source, "translation": mt}
    qa = _qa_text(row)
    if qa:
        fields["qa"] = qa
    metadata = {
        "source_dataset": row.get("dataset"), "category": row.get("category"), "difficulty": row.get("difficulty"),
        "qa_flags": flags or None, "qa_flagged": "yes" if flags else "no",
        "translation_system": row.get("translation_system"),
        "source_chars": len(source), "translation_chars": len(mt),
        "length_ratio": round(len(mt) / len(source), 3) if source else None,
    }
    # the MT, never the merged edit of an earlier pull: reviewers of one item must not see each other's work
    suggestions = [rg.Suggestion("post_edit", mt, agent=MT_AGENT)]
    return rg.Record(id=str(row["id"]), fields=fields, suggestions=suggestions,
                     metadata={k: v for k, v in metadata.items() if v is not None})


def record_signature(fields: Any, metadata: Any) -> str:
    """What a pushed record shows (fields and metadata), canonical: equal signatures need no write."""
    def plain(mapping: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(mapping or {}).items() if v is not None}
    return json.dumps({"fields": plain(fields), "metadata": plain(metadata)}, sort_keys=True, ensure_ascii=False,
                      default=str)


def _existing_ids(conn: Connection, dataset_id) -> set[str]:
    return set(_existing_signatures(conn, dataset_id))


def _existing_signatures(conn: Connection, dataset_id) -> dict[str, str]:
    """external id -> :func:`record_signature` of every record the server holds for the dataset."""
    out, offset = {}, 0
    while True:
        page = conn.get(f"/api/v1/datasets/{dataset_id}/records", offset=offset, limit=1000)
        items = page.get("items", [])
        for r in items:
            out[str(r.get("external_id"))] = record_signature(r.get("fields"), r.get("metadata"))
        offset += len(items)
        if not items or offset >= page.get("total", 0):
            return out


def log_changed_records(conn: Connection, ds, records: list, created: bool) -> tuple[set[str], int]:
    """Send the records whose fields or metadata differ from the server's (all of them to a new dataset);
    returns (the record ids the server held before, how many records were sent)."""
    before = {} if created else _existing_signatures(conn, ds.id)
    changed = [rec for rec in records if before.get(str(rec.id)) != record_signature(rec.fields, rec.metadata)]
    if changed:  # unchanged records are not sent again: a re-push of the same data writes nothing
        with server_errors(conn.url):
            ds.records.log(changed, batch_size=min(200, len(changed)))
    return set(before), len(changed)


def drop_label_suggestions(conn: Connection, dataset_id) -> int:
    """Delete the pre-ticked ``errors`` suggestions an older push left on the records (they anchored the
    reviewers' labels); returns how many were deleted."""
    questions = conn.get(f"/api/v1/datasets/{dataset_id}/questions").get("items", [])
    errors_id = next((q["id"] for q in questions if q["name"] == "errors"), None)
    if errors_id is None:
        return 0
    stale, offset = {}, 0
    while True:
        page = conn.get(f"/api/v1/datasets/{dataset_id}/records", include="suggestions", offset=offset, limit=1000)
        items = page.get("items", [])
        for rec in items:
            ids = [sg["id"] for sg in rec.get("suggestions") or [] if sg.get("question_id") == errors_id]
            if ids:
                stale[rec["id"]] = ids
        offset += len(items)
        if not items or offset >= page.get("total", 0):
            break
    for record_id, ids in stale.items():
        conn.delete(f"/api/v1/records/{record_id}/suggestions", ids=",".join(ids))
    return sum(len(v) for v in stale.values())


def get_or_create_dataset(conn: Connection, name: str, workspace: str, settings, min_submitted: int,
                          guidelines: str | None) -> tuple[Any, bool]:
    """The dataset ``name`` (created with ``settings`` when missing); its guidelines and
    min_submitted are brought up to date when it exists. Returns (dataset, created)."""
    import argilla as rg

    ds = find_dataset(conn, name, workspace)
    if ds is None:
        with server_errors(conn.url):
            ds = rg.Dataset(name=name, workspace=workspace, settings=settings, client=conn.client).create()
        return ds, True
    current = ds.settings.distribution.min_submitted if ds.settings.distribution else None
    patch: dict[str, Any] = {}
    if current != min_submitted:
        patch["distribution"] = {"strategy": "overlap", "min_submitted": min_submitted}
    if guidelines is not None and ds.settings.guidelines != guidelines:
        patch["guidelines"] = guidelines
    if patch:
        conn.patch(f"/api/v1/datasets/{ds.id}", patch)
    return ds, False


def push(conn: Connection, dataset_path: Path, languages: list[str] | None = None, workspace: str = "bench",
         min_submitted: int = 1, prefix: str | None = None, limit: int | None = None,
         prepared: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Create or update one Argilla dataset per language; returns one report per language.

    ``prepared``: the result of :func:`prepare_push` (the CLI checks the folder before connecting)."""
    dataset_path = Path(dataset_path)
    if prepared is None:
        prepared = prepare_push(dataset_path, languages, limit)
    prefix = prefix or default_prefix(dataset_path)
    ensure_workspace(conn, workspace)
    reports = []
    for lang, rows in prepared.items():
        name = dataset_name(prefix, lang)
        settings = build_settings(conn.client, lang, min_submitted)
        ds, created = get_or_create_dataset(conn, name, workspace, settings, min_submitted, settings.guidelines)
        before, sent = log_changed_records(conn, ds, [make_record(r) for r in rows], created)
        dropped = 0 if created else drop_label_suggestions(conn, ds.id)
        ids = {str(r["id"]) for r in rows}
        reports.append({"lang": lang, "dataset": name, "workspace": workspace, "created": created,
                        "dropped_label_suggestions": dropped,
                        "records": len(rows), "new": len(ids - before),
                        "updated": sent - len(ids - before), "unchanged": len(rows) - sent,
                        "min_submitted": min_submitted,
                        "url": f"{conn.url}/dataset/{ds.id}/annotation-mode"})
    return reports


# ------------------------------------------------------------------------------------------
# pull


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


@dataclass
class Review:
    """One annotator's submitted review of one record."""
    annotator: str
    rating: int | None
    post_edit: str | None
    errors: list[str]
    submitted_at: datetime | None

    def decision(self, mt: str) -> str:
        if self.post_edit is not None and _norm(self.post_edit) and _norm(self.post_edit) != _norm(mt):
            return "post_edited"
        if self.rating is not None and self.rating <= REJECT_AT_OR_BELOW:
            return "rejected"
        return "approved"


@dataclass
class Resolution:
    status: str
    text: str
    reviewers: int
    reviewed_at: datetime | None
    decisions: list[str] = field(default_factory=list)


def _time_key(r: Review) -> float:
    return r.submitted_at.timestamp() if r.submitted_at else float("-inf")


def resolve(reviews: list[Review], mt: str) -> Resolution:
    """Resolve several reviewers of one record (see the module docstring for the rule)."""
    if not reviews:
        raise ValueError("no reviews to resolve")
    decisions = [r.decision(mt) for r in reviews]
    counts = Counter(decisions)
    top = max(counts.values())
    status = next(d for d in DECISIONS if counts.get(d) == top)
    reviewed_at = max((r.submitted_at for r in reviews if r.submitted_at), default=None)
    text = mt
    if status == "post_edited":
        edits = [r for r, d in zip(reviews, decisions) if d == "post_edited"]
        by_text: dict[str, list[Review]] = defaultdict(list)
        for r in edits:
            by_text[_norm(r.post_edit)].append(r)
        best = max(len(v) for v in by_text.values())
        tied = [t for t, v in by_text.items() if len(v) == best]
        if len(tied) > 1:
            others = [_norm(r.post_edit) if d == "post_edited" else _norm(mt) for r, d in zip(reviews, decisions)]

            def closeness(candidate: str) -> float:
                return sum(difflib.SequenceMatcher(None, candidate, o, autojunk=False).ratio() for o in others)

            scores = {t: closeness(t) for t in tied}
            top_score = max(scores.values())
            tied = [t for t in tied if scores[t] == top_score]
        latest = max((r for t in tied for r in by_text[t]), key=_time_key)
        text = latest.post_edit.strip()
    return Resolution(status=status, text=text, reviewers=len(reviews), reviewed_at=reviewed_at, decisions=decisions)


def _value(values: dict | None, name: str):
    item = (values or {}).get(name)
    return item.get("value") if isinstance(item, dict) else None


def fetch_reviews(conn: Connection, dataset) -> tuple[dict[str, list[Review]], Counter, int]:
    """Submitted reviews by record id; also the count of responses by status and the record count."""
    users = conn.usernames()
    reviews: dict[str, list[Review]] = defaultdict(list)
    statuses: Counter = Counter()
    n = 0
    for rec in conn.list_records(dataset.id):
        n += 1
        for resp in rec.get("responses") or []:
            statuses[resp["status"]] += 1
            if resp["status"] != "submitted":
                continue
            values = resp.get("values")
            rating = _value(values, "quality")
            reviews[str(rec["external_id"])].append(Review(
                annotator=users.get(resp["user_id"], resp["user_id"]),
                rating=int(rating) if rating is not None else None,
                post_edit=_value(values, "post_edit"),
                errors=sorted(_value(values, "errors") or []),
                submitted_at=parse_time(resp.get("updated_at") or resp.get("inserted_at"))))
    return reviews, statuses, n


def review_rows(reviews: dict[str, list[Review]], mt_by_id: dict[str, str], *, review_set: str, lang: str,
                source: str) -> list[dict[str, Any]]:
    """One row per submitted review (the ``translation_reviews`` columns of :mod:`annotation.reviews`)."""
    return [{"review_set": review_set, "lang": lang, "item_id": item, "annotator": r.annotator, "rating": r.rating,
             "decision": r.decision(mt_by_id.get(item, "")), "post_edit": r.post_edit, "errors": r.errors,
             "machine_translation": mt_by_id.get(item), "source": source, "submitted_at": r.submitted_at}
            for item, got in reviews.items() for r in got]


def agreement_report(reviews: dict[str, list[Review]], mt_by_id: dict[str, str]) -> dict[str, Any]:
    rows = review_rows(reviews, mt_by_id, review_set="", lang="", source="")
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_item[row["item_id"]].append(row)
    return review_store.agreement_figures(list(by_item.values()), ERROR_LABELS)


def with_review_columns(schema: pa.Schema) -> pa.Schema:
    """Add the review columns (after review_status) to a schema written before they existed."""
    wanted = dict(dd.BASE_SCHEMA)
    previous = "review_status"
    for name in dd.REVIEW_COLUMNS:
        if schema.get_field_index(name) == -1:
            anchor = schema.get_field_index(previous)
            schema = schema.insert(anchor + 1 if anchor >= 0 else len(schema), pa.field(name, wanted[name]))
        previous = name
    return schema


def merge_rows(rows: list[dict[str, Any]], reviews: dict[str, list[Review]]) -> tuple[list[dict[str, Any]], Counter]:
    """Rows with the resolved reviews applied; rows without a submitted review are left as they are."""
    changed: Counter = Counter()
    out = []
    for row in rows:
        row = dict(row)
        row.setdefault("reviewers", 0)
        row.setdefault("reviewed_at", None)
        if row.get("reviewers") is None:
            row["reviewers"] = 0
        got = reviews.get(str(row["id"]))
        if got:
            mt = row.get("machine_translation") or row["instruction"]
            res = resolve(got, mt)
            new = {"instruction": res.text, "review_status": res.status, "reviewers": res.reviewers,
                   "reviewed_at": res.reviewed_at.replace(microsecond=0) if res.reviewed_at else None}
            if any(row.get(k) != v for k, v in new.items()):
                changed[res.status] += 1
            row.update(new)
        out.append(row)
    return out, changed


def pull(conn: Connection, dataset_path: Path, languages: list[str] | None = None, workspace: str = "bench",
         prefix: str | None = None, store: Any = None) -> list[dict[str, Any]]:
    """Store every submitted review in ``store`` (when given) and merge them into the dataset folder;
    returns one report per language."""
    dataset_path = Path(dataset_path)
    langs = check_pull(dataset_path, languages)
    prefix = prefix or default_prefix(dataset_path)
    fetched = {}
    for lang in langs:  # read everything from the server before writing anything
        name = dataset_name(prefix, lang)
        ds = find_dataset(conn, name, workspace)
        if ds is None:
            raise BenchError(f"no Argilla dataset {name!r} in workspace {workspace!r} at {conn.url}; "
                             "run `bench annotate translations push` first")
        min_submitted = ds.settings.distribution.min_submitted if ds.settings.distribution else 1
        fetched[lang] = (name, min_submitted, *fetch_reviews(conn, ds))

    stored = {}
    if store is not None:  # every reviewer's own answer, before the folder holds only the merged one
        for lang, (name, _min, reviews, _statuses, _n) in fetched.items():
            mt_by_id = {str(r["id"]): r.get("machine_translation") or r["instruction"]
                        for r in read_rows(dataset_path, lang)}
            stored[lang] = review_store.save(store, review_rows(
                {k: v for k, v in reviews.items() if k in mt_by_id}, mt_by_id, review_set=prefix, lang=lang,
                source=f"{workspace}/{name}"))
    all_langs = languages_in(dataset_path)
    schemas = {lang: pq.read_schema(dataset_path / lang / dd.PARQUET_NAME) for lang in all_langs}
    upgrade = any(s.get_field_index(c) == -1 for s in schemas.values() for c in dd.REVIEW_COLUMNS)
    reports = []
    for lang in all_langs:
        if lang not in fetched and not upgrade:
            continue
        schema = with_review_columns(schemas[lang].remove_metadata())
        rows = dd.read_config(dataset_path, lang)
        if lang in fetched:
            name, min_submitted, reviews, statuses, n_records = fetched[lang]
            merged, changed = merge_rows(rows, reviews)
        else:  # only adding the review columns, so that every config keeps the same schema
            merged, changed = merge_rows(rows, {})
        dd.write_config(dataset_path, lang, merged, schema)
        if lang not in fetched:
            continue
        ids = {str(r["id"]) for r in rows}
        mt_by_id = {str(r["id"]): r.get("machine_translation") or r["instruction"] for r in rows}
        reviewed = [k for k in reviews if k in ids]
        status_counts = Counter(r["review_status"] for r in merged)
        reports.append({
            "lang": lang, "dataset": name, "rows": len(rows), "server_records": n_records,
            "reviewed": len(reviewed), "complete": sum(len(reviews[k]) >= min_submitted for k in reviewed),
            "coverage": round(len(reviewed) / len(rows), 3) if rows else None, "min_submitted": min_submitted,
            "responses": dict(statuses), "annotators": sorted({r.annotator for v in reviews.values() for r in v}),
            "reviews_per_annotator": dict(sorted(Counter(r.annotator for v in reviews.values() for r in v).items())),
            "status_counts": dict(sorted(status_counts.items())), "changed_now": dict(changed),
            "agreement": agreement_report({k: reviews[k] for k in reviewed}, mt_by_id),
            "rule": RESOLUTION_RULE, "review_set": prefix, "stored_reviews": stored.get(lang),
        })
    return reports

