"""Human ratings of model answers on the just-eval rubric (``bench annotate ratings``), so that a study can
measure its LLM judge against people (``bench results agreement --reference human``).

Push: a sample of *items* (nested and seeded: the items are ordered by ``sha256(seed:item_id)``, so a
larger ``--items`` keeps every item of a smaller one), and every selected system's answer to each, in two
Argilla datasets that mirror the judge's two protocols (:func:`baselines.judging.prompts.protocol_for_category`):

    NAME         regular items: five required 1-5 ratings (helpfulness, clarity, factuality, depth,
                 engagement) + an optional comment
    NAME-safety  safety items: one required 1-5 safety rating + an optional comment

The rubric shown (guidelines and each question's description) is the judge's own English rubric
(``baselines/judging/templates``), so people and judge rate the same thing. Raters are blind to the
system: model and method are metadata hidden from annotators. Record id = response_id: pushing again
adds new records, re-sends only changed ones and keeps the ratings already given.

Pull stores every *submitted* rating in ``rating_annotations`` (one row per reference, response, annotator
and aspect; pulling again refreshes), then rewrites the reference's rows in ``judgements`` (judge = the
reference name, ``scoring = 'human'``): the score of a cell is the mean of its annotators' ratings and
``raw_score`` lists them (``"3|4"``). It reports per aspect the rated responses, the mean and the
annotators' agreement (Krippendorff's alpha, ordinal, over responses rated by two or more).
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from functools import cache
from typing import Any, Sequence

from annotation import agreement
from annotation.client import Connection, ensure_workspace, find_dataset, submitted_responses
from annotation.translations import get_or_create_dataset, log_changed_records, parse_time
from baselines.judging.prompts import aspects_for, protocol_for_category, system_template
from bench.errors import BenchError
from bench.vocabulary import ASPECTS
from bench.workspace import Workspace

DEFAULT_DATASET = "answer-ratings"
DEFAULT_REFERENCE = "human"
HUMAN_SCORING = "human"
PROTOCOL_SUFFIX = {"multi-aspect": "", "safety": "-safety"}
SCORES = [1, 2, 3, 4, 5]
_RUBRIC_LINE = re.compile(r"^- (?P<key>[a-z0-9]+)\s*[:=]\s*(?P<text>.+)$")

_INTRO = """\
# Rating model answers

Each record is one instruction and one AI assistant's answer. Rate the answer on every question, from \
1 to 5, using the definitions below (they are also shown under each question). \
The system that wrote the answer is hidden on purpose: rate the answer alone, on your own. Several people \
may rate the same record; answer independently. Use the comment for anything the ratings cannot say.

The record's `lang` is the language the answer should be written in.
"""


def dataset_name(name: str, protocol: str) -> str:
    return f"{name}{PROTOCOL_SUFFIX[protocol]}"


@cache
def rubric(protocol: str) -> tuple[dict[str, str], list[str]]:
    """(aspect or scale point -> definition, other rubric paragraphs) from the judge's English template:
    the ``- key: text`` lines, and the paragraphs a person needs too (the language rule, length)."""
    lines: dict[str, str] = {}
    notes: list[str] = []
    for paragraph in system_template(protocol, "en").split("\n\n"):
        rows = [_RUBRIC_LINE.match(line) for line in paragraph.splitlines()]
        if any(rows):
            lines.update({m["key"]: m["text"] for m in rows if m})
        elif paragraph.startswith(("Language:", "Judge the content")):
            notes.append(paragraph.replace("say so in their reasons", "say so in the comment"))
    return lines, notes


def guidelines(protocol: str) -> str:
    defs, notes = rubric(protocol)
    if protocol == "safety":
        body = "## Safety (1-5)\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in defs.items())
    else:
        body = "## Aspects (1-5 each)\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in defs.items())
    rest = "\n\n".join(notes + ["Length alone is not quality."])
    return f"{_INTRO}\n{body}\n\n{rest}\n"


def question_description(protocol: str, aspect: str) -> str:
    defs, _ = rubric(protocol)
    if protocol == "safety":
        return "; ".join(f"{k} = {v.rstrip(';.')}" for k, v in defs.items())
    return defs[aspect]


def build_settings(client, protocol: str, min_submitted: int):
    import argilla as rg

    questions = [rg.RatingQuestion(name=aspect, title=aspect.capitalize(), values=SCORES, required=True,
                                   description=question_description(protocol, aspect), client=client)
                 for aspect in aspects_for(protocol)]
    questions.append(rg.TextQuestion(name="comment", title="Comment (optional)", required=False, client=client))
    return rg.Settings(
        fields=[rg.TextField(name="instruction", title="Instruction", use_markdown=False, client=client),
                rg.TextField(name="response", title="Answer", use_markdown=True, client=client)],
        questions=questions,
        metadata=[
            rg.TermsMetadataProperty(name="lang", title="Language", client=client),
            rg.TermsMetadataProperty(name="category", title="Category", client=client),
            rg.TermsMetadataProperty(name="model", title="Model", visible_for_annotators=False, client=client),
            rg.TermsMetadataProperty(name="method", title="Method", visible_for_annotators=False, client=client),
            rg.TermsMetadataProperty(name="item_id", title="Item", visible_for_annotators=False, client=client),
        ],
        guidelines=guidelines(protocol),
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


# -- selection -------------------------------------------------------------------------------------

def item_order_key(seed: int, item_id: str) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def select_responses(ws: Workspace, *, languages: Sequence[str] | None = None, models: Sequence[str] | None = None,
                     methods: Sequence[str] | None = None, items: int | None = None,
                     seed: int = 0) -> list[dict[str, Any]]:
    """Responses of the store to a seeded, nested sample of ``items`` item ids (all items when None)."""
    where, params = ["1=1"], []
    for column, values in (("lang", languages), ("model", models), ("method", methods)):
        if values:
            where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(values))
    rows = ws.store.query_dicts(
        "SELECT response_id, model, method, lang, item_id, instruction, output, category FROM responses "
        f"WHERE {' AND '.join(where)} ORDER BY item_id, lang, model, method, response_id", params)
    if items is not None:
        ids = sorted({r["item_id"] for r in rows}, key=lambda i: item_order_key(seed, i))[:items]
        keep = set(ids)
        rows = [r for r in rows if r["item_id"] in keep]
    return rows


def make_record(row: dict[str, Any]):
    import argilla as rg

    metadata = {"lang": row["lang"], "category": row.get("category"), "model": row["model"],
                "method": row["method"], "item_id": row["item_id"]}
    output = row["output"] or ""
    return rg.Record(id=row["response_id"],
                     fields={"instruction": row["instruction"], "response": output if output.strip() else "(empty answer)"},
                     metadata={k: v for k, v in metadata.items() if v is not None})


def push(conn: Connection, ws: Workspace, *, name: str = DEFAULT_DATASET, workspace: str = "bench",
         min_submitted: int = 1, languages=None, models=None, methods=None, items: int | None = None,
         seed: int = 0) -> list[dict[str, Any]]:
    """Create or update the rating datasets (one per protocol present in the sample); one report each."""
    rows = select_responses(ws, languages=languages, models=models, methods=methods, items=items, seed=seed)
    if not rows:
        raise BenchError(f"{ws.db_path}: no responses to rate (run `bench baselines run` or import some first)")
    by_protocol: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_protocol[protocol_for_category(r.get("category"))].append(r)
    ensure_workspace(conn, workspace)
    reports = []
    for protocol in ("multi-aspect", "safety"):
        chosen = by_protocol.get(protocol)
        if not chosen:
            continue
        ds_name = dataset_name(name, protocol)
        settings = build_settings(conn.client, protocol, min_submitted)
        ds, created = get_or_create_dataset(conn, ds_name, workspace, settings, min_submitted, settings.guidelines)
        before, sent = log_changed_records(conn, ds, [make_record(r) for r in chosen], created)
        ids = {r["response_id"] for r in chosen}
        new = len(ids - before)
        reports.append({"protocol": protocol, "dataset": ds_name, "workspace": workspace, "created": created,
                        "records": len(chosen), "items": len({r["item_id"] for r in chosen}),
                        "systems": len({(r["model"], r["method"], r["lang"]) for r in chosen}),
                        "new": new, "updated": sent - new, "unchanged": len(chosen) - sent,
                        "min_submitted": min_submitted, "url": f"{conn.url}/dataset/{ds.id}/annotation-mode"})
    return reports


# -- pull ------------------------------------------------------------------------------------------

def read_ratings(conn: Connection, name: str, workspace: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every submitted rating of the rating datasets (``{response_id, annotator, aspect, score, comment,
    source, submitted_at}``) and what the server holds (records, response statuses)."""
    found = {p: find_dataset(conn, dataset_name(name, p), workspace) for p in PROTOCOL_SUFFIX}
    if not any(found.values()):
        raise BenchError(f"no Argilla rating dataset {name!r} (or {dataset_name(name, 'safety')!r}) in workspace "
                         f"{workspace!r} at {conn.url}; run `bench annotate ratings push` first")
    users = conn.usernames()
    ratings, statuses, n_records = [], Counter(), 0
    for protocol, ds in found.items():
        if ds is None:
            continue
        source = f"{workspace}/{dataset_name(name, protocol)}"
        n_records += int(conn.get(f"/api/v1/datasets/{ds.id}/records", limit=1).get("total", 0))
        for rec, resp in submitted_responses(conn, ds.id, statuses):
            values = resp.get("values") or {}
            comment = (values.get("comment") or {}).get("value") or None
            when = parse_time(resp.get("updated_at") or resp.get("inserted_at"))
            for aspect in aspects_for(protocol):
                value = (values.get(aspect) or {}).get("value")
                if value is None:
                    continue
                ratings.append({"response_id": str(rec["external_id"]),
                                "annotator": users.get(resp["user_id"], resp["user_id"]), "aspect": aspect,
                                "score": int(value), "comment": comment, "source": source,
                                "submitted_at": when.replace(tzinfo=None) if when else None})
    return ratings, {"server_records": n_records, "responses": dict(statuses)}


def check_reference_name(ws: Workspace, reference: str) -> None:
    """A reference name must not be a model judge's: its rows in ``judgements`` are rewritten."""
    clash = ws.store.query("SELECT COUNT(*) FROM judgements WHERE judge = ? AND coalesce(scoring, 'text') <> ?",
                           [reference, HUMAN_SCORING])[0][0]
    if clash:
        raise BenchError(f"reference name '{reference}' is already a model judge in {ws.db_path} ({clash} scores); "
                         "choose another with --as")


def store_ratings(ws: Workspace, ratings: Sequence[dict[str, Any]], reference: str = DEFAULT_REFERENCE) -> int:
    """Upsert ``ratings`` for ``reference`` and rewrite its ``judgements`` rows from every stored rating;
    returns the number of reference cells written. Ratings of responses the store lacks are refused."""
    check_reference_name(ws, reference)
    for r in ratings:
        if not 1 <= int(r["score"]) <= 5:
            raise BenchError(f"rating of {r['response_id']} by {r['annotator']}: {r['aspect']} = {r['score']} "
                             "is not in 1-5")
    with ws.store.transaction() as con:
        if ratings:
            known = {row[0] for row in con.execute(
                "SELECT response_id FROM responses WHERE response_id IN (SELECT unnest(?::VARCHAR[]))",
                [sorted({r["response_id"] for r in ratings})]).fetchall()}
            missing = sorted({r["response_id"] for r in ratings} - known)
            if missing:
                raise BenchError(f"{ws.db_path}: {len(missing)} rated response(s) are not in the store "
                                 f"(first: {missing[0]}); rate the responses of this workspace")
            con.executemany(
                "INSERT OR REPLACE INTO rating_annotations (reference, response_id, annotator, aspect, score, comment, "
                "source, submitted_at, pulled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                [[reference, r["response_id"], r["annotator"], r["aspect"], int(r["score"]), r.get("comment"),
                  r.get("source"), r.get("submitted_at")] for r in ratings])
        con.execute("DELETE FROM judgements WHERE judge = ? AND scoring = ?", [reference, HUMAN_SCORING])
        con.execute(
            "INSERT INTO judgements (response_id, judge, protocol, aspect, score, raw_score, scoring) "
            "SELECT a.response_id, a.reference, CASE WHEN a.aspect = 'safety' THEN 'safety' ELSE 'multi-aspect' END, "
            "a.aspect, AVG(a.score), string_agg(CAST(a.score AS VARCHAR), '|' ORDER BY a.score), ? "
            "FROM rating_annotations a WHERE a.reference = ? GROUP BY a.response_id, a.reference, a.aspect",
            [HUMAN_SCORING, reference])
        return con.execute("SELECT COUNT(*) FROM judgements WHERE judge = ? AND scoring = ?",
                           [reference, HUMAN_SCORING]).fetchone()[0]


def ratings_report(ws: Workspace, reference: str = DEFAULT_REFERENCE) -> dict[str, Any]:
    """Per aspect: rated responses, ratings, mean, and inter-annotator alpha (ordinal) with its n."""
    rows = ws.store.query("SELECT aspect, response_id, annotator, score FROM rating_annotations WHERE reference = ? "
                          "ORDER BY aspect, response_id, annotator", [reference])
    by_cell: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for aspect, response_id, _annotator, score in rows:
        by_cell[aspect][response_id].append(int(score))
    aspects = []
    for aspect in [a for a in ASPECTS if a in by_cell]:
        units = list(by_cell[aspect].values())
        multi = [u for u in units if len(u) >= 2]
        scores = [s for u in units for s in u]
        aspects.append({"aspect": aspect, "responses": len(units), "ratings": len(scores),
                        "mean": round(sum(scores) / len(scores), 3),
                        "responses_2plus": len(multi),
                        "alpha_ordinal": agreement.rounded(agreement.krippendorff_alpha(multi, "ordinal"))})
    return {"reference": reference, "ratings": len(rows), "annotators": sorted({r[2] for r in rows}),
            "rated_responses": len({r[1] for r in rows}), "aspects": aspects,
            "rule": "reference score = mean of the annotators' ratings of a response and aspect"}


def pull(conn: Connection, ws: Workspace, *, name: str = DEFAULT_DATASET, workspace: str = "bench",
         reference: str = DEFAULT_REFERENCE) -> dict[str, Any]:
    ratings, server = read_ratings(conn, name, workspace)  # store_ratings refuses a model judge's name
    cells = store_ratings(ws, ratings, reference)
    report = ratings_report(ws, reference)
    report.update({"dataset": name, "workspace": workspace, "pulled_ratings": len(ratings),
                   "reference_cells": cells, **server,
                   "coverage": round(len({r["response_id"] for r in ratings}) / server["server_records"], 3)
                   if server["server_records"] else None})
    return report
