"""Human confirmation of critical errors in model responses: push responses of the store to Argilla,
pull the labels into the store, and score the detectors against them. "No critical error" ticked together with
error labels is contradictory (Argilla cannot make one option exclusive): the error labels are kept and
every such response is listed in the pull report (``none_with_labels``) and on stderr.

Push (one dataset; record id = response_id, so pushing again updates and never duplicates, and keeps
the responses annotators already gave):

    fields     instruction, response (the cleaned model output), detector (what the detectors found,
               with evidence; only when they found something)
    questions  labels   multi-label, required: the critical-error vocabulary
                        (baselines.errors.critical_errors.LABELS) + ``other`` + ``none`` (no critical error);
                        the detector labels are shown as suggestions with their scores
               comment  free text, optional
    metadata   model, method, lang, category, source_dataset, finish_reason, detector_labels,
               output_chars

Pull stores every *submitted* response in ``error_annotations`` (one row per response and annotator,
upserted: pulling again refreshes, a record the server no longer has keeps its stored rows), then
reports, per label, the detectors' precision and recall against the human labels of every annotated
response in the store: the reference label set of a response is the labels chosen by at least half
of its annotators (a tie keeps the label: an error one of two annotators saw is counted).
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, Sequence

from annotation import agreement
from annotation.client import Connection, ensure_workspace, find_dataset, server_errors
from annotation.translations import get_or_create_dataset, parse_time
from bench.errors import BenchError
from bench.label_scores import label_scores
from bench.workspace import Workspace
from baselines.errors.critical_errors import DETECTOR_VERSION, LABELS

HUMAN_LABELS = (*LABELS, "other")
NO_ERROR = "none"
DEFAULT_DATASET = "critical-errors"
LABEL_TITLES = {
    "repetition_loop": "Repetition loop (degenerate repetition)",
    "unintended_code": "Unintended code / markup",
    "wrong_language": "Wrong language",
    "format_leak": "Format leak (prompt scaffolding, chat tokens)",
    "empty": "Empty answer",
    "truncated": "Truncated (cut mid-answer)",
    "other": "Other critical error (say which in the comment)",
    NO_ERROR: "No critical error (tick it alone)",
}

GUIDELINES = """\
# Confirming critical errors in model answers

Each record is one instruction and one model's answer. A **critical error** makes the answer unusable \
whatever its other qualities. Tick every one you see, or **No critical error** alone:

- **Repetition loop**: the answer degenerates into repeating a token, phrase, sentence, list item or \
paragraph (refrains in songs and long varied lists are not loops).
- **Unintended code / markup**: code or markup although the instruction asked for nothing technical.
- **Wrong language**: wholly or mostly not in the instruction's language (unless a language or a \
translation was asked for).
- **Format leak**: the answer runs on into prompt scaffolding (`# Query:`, `### Instruction`, `User:` \
turns, `<|im_start|>`, `</s>`...).
- **Empty**: nothing, or only whitespace / punctuation.
- **Truncated**: cut off mid-sentence or mid-list.
- **Other**: any other error that makes the answer unusable; explain it in the comment.

**No critical error** goes alone: ticked with an error label it is a contradiction, reported at pull time \
(the error labels are kept). Pre-ticked labels are the automatic detectors' guesses (with their scores): \
untick the wrong ones. Judge usability only, not quality or correctness of facts. Several annotators may \
see each record: answer on your own.
"""


def build_settings(client, min_submitted: int):
    import argilla as rg

    return rg.Settings(
        fields=[
            rg.TextField(name="instruction", title="Instruction", use_markdown=False, client=client),
            rg.TextField(name="response", title="Model answer", use_markdown=False, client=client),
            rg.TextField(name="detector", title="Detector findings", use_markdown=False, required=False, client=client),
        ],
        questions=[
            rg.MultiLabelQuestion(name="labels", title="Critical errors in the answer",
                                  labels={k: LABEL_TITLES[k] for k in (*HUMAN_LABELS, NO_ERROR)},
                                  visible_labels=len(HUMAN_LABELS) + 1, required=True, client=client),
            rg.TextQuestion(name="comment", title="Comment (optional)", required=False, client=client),
        ],
        metadata=[
            rg.TermsMetadataProperty(name="model", title="Model", client=client),
            rg.TermsMetadataProperty(name="method", title="Method", client=client),
            rg.TermsMetadataProperty(name="lang", title="Language", client=client),
            rg.TermsMetadataProperty(name="category", title="Category", client=client),
            rg.TermsMetadataProperty(name="source_dataset", title="Source dataset", client=client),
            rg.TermsMetadataProperty(name="finish_reason", title="Finish reason", client=client),
            rg.TermsMetadataProperty(name="detector_labels", title="Detector labels", client=client),
            rg.IntegerMetadataProperty(name="output_chars", title="Answer length (chars)", client=client),
        ],
        guidelines=GUIDELINES,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def select_responses(ws: Workspace, languages: Sequence[str] | None = None, models: Sequence[str] | None = None,
                     methods: Sequence[str] | None = None, limit: int | None = None,
                     flagged_only: bool = False) -> list[dict[str, Any]]:
    """Responses of the store with the current detectors' labels (the scan runs first for unchecked ones)."""
    from baselines.errors.scan import scan_store

    scan_store(ws, list(languages) if languages else None)
    where, params = ["1=1"], [DETECTOR_VERSION]
    for column, values in (("r.lang", languages), ("r.model", models), ("r.method", methods)):
        if values:
            where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(values))
    if flagged_only:
        where.append("len(c.labels) > 0")
    sql = ("SELECT r.response_id, r.model, r.method, r.lang, r.item_id, r.instruction, r.output, r.category, "
           "r.source_dataset, r.finish_reason, c.labels, c.evidence FROM responses r "
           "JOIN critical_error_checks c ON c.response_id = r.response_id AND c.detector_version = ? "
           f"WHERE {' AND '.join(where)} ORDER BY r.response_id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return ws.store.query_dicts(sql, params)


def make_record(row: dict[str, Any]):
    import argilla as rg

    evidence = json.loads(row["evidence"]) if isinstance(row.get("evidence"), str) else (row.get("evidence") or [])
    labels = list(row["labels"] or [])
    fields = {"instruction": row["instruction"], "response": row["output"] if row["output"].strip() else "(empty answer)"}
    if evidence:
        fields["detector"] = "\n".join(f"{e['label']} ({e.get('score', 0):.2f}): {e.get('evidence', '')}" for e in evidence)
    scores = {e["label"]: float(e.get("score") or 0.0) for e in evidence}
    if labels:
        suggestion = rg.Suggestion("labels", labels, score=[round(scores.get(x, 1.0), 3) for x in labels],
                                   agent=f"bench-detector-{DETECTOR_VERSION}")
    else:
        suggestion = rg.Suggestion("labels", [NO_ERROR], agent=f"bench-detector-{DETECTOR_VERSION}")
    metadata = {"model": row["model"], "method": row["method"], "lang": row["lang"], "category": row.get("category"),
                "source_dataset": row.get("source_dataset"), "finish_reason": row.get("finish_reason"),
                "detector_labels": labels or None, "output_chars": len(row["output"])}
    return rg.Record(id=row["response_id"], fields=fields, suggestions=[suggestion],
                     metadata={k: v for k, v in metadata.items() if v is not None})


def push(conn: Connection, ws: Workspace, *, name: str = DEFAULT_DATASET, workspace: str = "bench",
         min_submitted: int = 1, languages=None, models=None, methods=None, limit=None,
         flagged_only: bool = False) -> dict[str, Any]:
    rows = select_responses(ws, languages, models, methods, limit, flagged_only)
    if not rows:
        raise BenchError(f"{ws.db_path}: no responses to annotate (run `bench baselines run` or import some first)")
    ensure_workspace(conn, workspace)
    settings = build_settings(conn.client, min_submitted)
    ds, created = get_or_create_dataset(conn, name, workspace, settings, min_submitted, settings.guidelines)
    from annotation.translations import _existing_ids

    before = set() if created else _existing_ids(conn, ds.id)
    with server_errors(conn.url):
        ds.records.log([make_record(r) for r in rows], batch_size=min(200, len(rows)))
    ids = {r["response_id"] for r in rows}
    return {"dataset": name, "workspace": workspace, "created": created, "records": len(rows),
            "new": len(ids - before), "updated": len(ids & before), "min_submitted": min_submitted,
            "flagged_by_detector": sum(bool(r["labels"]) for r in rows),
            "url": f"{conn.url}/dataset/{ds.id}/annotation-mode"}


def pull(conn: Connection, ws: Workspace, *, name: str = DEFAULT_DATASET, workspace: str = "bench") -> dict[str, Any]:
    ds = find_dataset(conn, name, workspace)
    if ds is None:
        raise BenchError(f"no Argilla dataset {name!r} in workspace {workspace!r} at {conn.url}; "
                         "run `bench annotate errors push` first")
    users = conn.usernames()
    rows, statuses, n_records, conflicts = [], Counter(), 0, []
    for rec in conn.list_records(ds.id):
        n_records += 1
        for resp in rec.get("responses") or []:
            statuses[resp["status"]] += 1
            if resp["status"] != "submitted":
                continue
            values = resp.get("values") or {}
            ticked = set((values.get("labels") or {}).get("value") or [])
            labels = sorted(ticked - {NO_ERROR})
            if NO_ERROR in ticked and labels:  # contradictory: the errors are kept, the conflict reported
                conflicts.append({"response_id": str(rec["external_id"]),
                                  "annotator": users.get(resp["user_id"], resp["user_id"]), "labels": labels})
            comment = (values.get("comment") or {}).get("value")
            when = parse_time(resp.get("updated_at") or resp.get("inserted_at"))
            rows.append([str(rec["external_id"]), users.get(resp["user_id"], resp["user_id"]), labels,
                         comment or None, f"{workspace}/{name}", when.replace(tzinfo=None) if when else None])
    if rows:
        with ws.store.transaction() as con:
            con.executemany("INSERT OR REPLACE INTO error_annotations (response_id, annotator, labels, comment, source, "
                            "submitted_at, pulled_at) VALUES (?, ?, ?, ?, ?, ?, current_timestamp)", rows)
    report = detector_report(ws)
    report.update({"dataset": name, "workspace": workspace, "server_records": n_records,
                   "pulled_annotations": len(rows), "responses": dict(statuses),
                   "annotated_records": len({r[0] for r in rows}), "none_with_labels": conflicts,
                   "coverage": round(len({r[0] for r in rows}) / n_records, 3) if n_records else None})
    return report


def reference_labels(label_sets: list[list[str]]) -> set[str]:
    """Labels chosen by at least half of the annotators of one response."""
    counts = Counter(label for labels in label_sets for label in set(labels))
    return {label for label, c in counts.items() if 2 * c >= len(label_sets)}


def detector_report(ws: Workspace) -> dict[str, Any]:
    """Detector precision / recall per label against the human labels stored in the workspace."""
    rows = ws.store.query(
        "SELECT a.response_id, a.annotator, a.labels, c.labels FROM error_annotations a "
        "LEFT JOIN critical_error_checks c ON c.response_id = a.response_id AND c.detector_version = ? "
        "ORDER BY a.response_id, a.annotator", [DETECTOR_VERSION])
    by_response: dict[str, list[list[str]]] = defaultdict(list)
    predicted: dict[str, set[str]] = {}
    for response_id, _annotator, labels, det in rows:
        by_response[response_id].append(list(labels or []))
        predicted[response_id] = set(det or [])
    gold = {response_id: reference_labels(sets) for response_id, sets in by_response.items()}
    gold_counts: Counter = Counter(label for labels in gold.values() for label in labels)
    per_label, micro = label_scores(list(gold.values()), [predicted[r] for r in gold], LABELS, undefined=None,
                                    digits=3)
    multi = [sets for sets in by_response.values() if len(sets) >= 2]
    return {
        "detector_version": DETECTOR_VERSION, "annotated_responses": len(by_response),
        "annotations": len(rows), "annotators": sorted({r[1] for r in rows}),
        "labels": per_label, "micro": micro, "human_label_counts": dict(sorted(gold_counts.items())),
        "agreement": {
            "items_with_2plus_annotators": len(multi),
            "mean_jaccard": agreement.rounded(agreement.mean_pairwise_jaccard(multi)),
            "per_label_alpha": {k: agreement.rounded(v) for k, v in agreement.per_label_alpha(multi, HUMAN_LABELS).items()},
        },
        "rule": "reference = labels chosen by at least half of a response's annotators",
    }
