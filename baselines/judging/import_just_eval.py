"""Import published Just-Eval judgement files into the store (``bench results import-just-eval``).

A just-eval judgement file is a JSON list of items with ``id``, ``input``, ``output_cand``,
``generator_cand``, ``eval_config`` (a dict, or its Python-literal string: ``mode`` is
``score_multi`` or ``score_safety``, ``gpt`` the judge model), ``prompt``, ``result`` (raw judge
text) and ``parsed_result`` (a dict or its Python-literal string: aspect -> {reason, score}).

Each item becomes

- one ``responses`` row: model = ``--model`` or the name derived from ``generator_cand``
  (``just_results_aligned//gpt-4-0613.json`` -> ``gpt-4-0613``,
  ``Yi-6B-Chat.p=1.0.t=0.0`` -> ``Yi-6B-Chat``), else from the file name; method ``published``,
  lang ``en``, output = ``output_cand``, finish_reason ``imported``; metadata (category, task,
  topic, source_dataset = the instruction's ``dataset``, difficulty) joined by id from
  ``--source`` when given, otherwise only the category, inferred from the mode
  (``score_safety`` -> ``safety``, ``score_multi`` -> ``regular``);
- one ``judgements`` row per aspect: judge = ``--judge`` or ``eval_config['gpt']``, protocol
  ``multi-aspect`` / ``safety`` from the mode, ``raw_score`` as the judge wrote it, ``score``
  numeric or NULL (``N/A`` -> NULL with error ``not applicable``; never silently 5).
  Early just-eval runs named two aspects ``relevance`` and ``coherence``; they are stored under
  their later names ``helpfulness`` and ``clarity``.

Scores come from ``parsed_result`` (``ast.literal_eval`` when it is a string); when it is
unusable (missing, not a dict, lacking an expected aspect) the raw ``result`` text is parsed with
``baselines.judging.parse.parse_judgement`` (imported lazily).

Every file is validated completely before anything is written (a foreign format raises
:class:`InputError` naming the file, the record index and the field); each file is then written
in one transaction. Responses and judgements are keyed (primary keys, upserts), so importing the
same file twice changes nothing. The response id depends only on (model, method, item, lang), so
the same published answers judged by several judges share one response row; an import whose
output text differs from an already stored answer for the same key is refused.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from bench.errors import BenchError, InputError
from bench.json_records import read_json
from bench.ids import response_id, run_key
from bench.vocabulary import REGULAR_ASPECTS as MULTI_ASPECTS

METHOD = "published"
LANG = "en"
FINISH_REASON = "imported"
MODES = {"score_multi": "multi-aspect", "score_safety": "safety"}
MODE_CATEGORY = {"score_multi": "regular", "score_safety": "safety"}
MODE_ASPECTS = {"score_multi": MULTI_ASPECTS, "score_safety": ("safety",)}
ASPECT_ALIASES = {"relevance": "helpfulness", "coherence": "clarity"}
REQUIRED_FIELDS = ("id", "result", "eval_config")
NOT_APPLICABLE = "not applicable"
_NA = re.compile(r"^\s*n\s*/?\s*a\.?\s*$", re.IGNORECASE)
_DECODING_SUFFIX = re.compile(r"(\.[A-Za-z_]+=[0-9.eE+-]+)+$")


@dataclass
class PreparedFile:
    """A validated judgement file, ready to write."""

    path: Path
    responses: list[dict[str, Any]]
    judgements: list[dict[str, Any]]
    fallbacks: int = 0  # items whose scores came from the raw judge text
    not_applicable: int = 0
    models: list[str] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    run_id: str | None
    files: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "files": self.files}


def derive_model_name(generator_cand: Any, path: str | Path) -> str:
    """Display name of the generator: basename of ``generator_cand`` without ``.json`` or decoding suffix."""
    name = generator_cand if isinstance(generator_cand, str) else ""
    name = name.strip().replace("\\", "/").rstrip("/").split("/")[-1]
    for ext in (".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    name = _DECODING_SUFFIX.sub("", name)
    return name or Path(path).stem


def convert_score(value: Any) -> tuple[float | None, str | None, str | None]:
    """(score, raw_score, error) for a score as written in ``parsed_result``.

    Uses :func:`baselines.judging.parse.parse_score` ("5", 4, "4/5", "N/A" -> not applicable, ...);
    a minimal numeric / N/A conversion stands in when that module is not importable.
    """
    raw = None if value is None else value if isinstance(value, str) else json.dumps(value)
    try:
        from baselines.judging.parse import parse_score
    except ImportError:
        parse_score = None
    if parse_score is not None:
        score, error = parse_score(value)
        return (None if score is None else float(score)), raw, error
    if value is None:
        return None, None, "missing"
    if isinstance(value, bool):
        return None, raw, f"not a number: {raw!r}"
    text = str(value).strip()
    if _NA.match(text):
        return None, raw, NOT_APPLICABLE
    try:
        number = float(text)
    except ValueError:
        return None, raw, f"not a number: {raw!r}"
    if number != number or not 1.0 <= number <= 5.0:
        return None, raw, f"out of range: {raw!r}"
    return number, raw, None


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        return ast.literal_eval(value.strip())
    return value


def _aspects_from_parsed(parsed: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(parsed, dict):
        return {}
    out = {}
    for name, entry in parsed.items():
        aspect = ASPECT_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if isinstance(entry, dict) and "score" in entry:
            reason = entry.get("reason")
            out[aspect] = {"score": entry.get("score"), "reason": None if reason is None else str(reason)}
    return out


def _fallback_parse(text: Any, aspects: Sequence[str], where: str, index: int) -> dict[str, dict[str, Any]]:
    """Scores from the raw judge text via baselines.judging.parse (lazy import)."""
    try:
        from baselines.judging.parse import parse_judgement
    except ImportError as exc:
        raise BenchError(f"{where}: record index {index}: parsed_result is unusable and "
                         f"baselines.judging.parse is not available to parse 'result' ({exc})") from None
    parsed = parse_judgement(text if isinstance(text, str) else str(text), list(aspects))
    out: dict[str, dict[str, Any]] = {}
    for aspect, item in (getattr(parsed, "aspects", None) or {}).items():
        aspect = ASPECT_ALIASES.get(aspect, aspect)
        score = getattr(item, "score", None)
        out[aspect] = {"score": None if score is None else float(score), "raw_score": getattr(item, "raw_score", None),
                       "reason": getattr(item, "reason", None), "error": getattr(item, "error", None)}
    overall_error = getattr(parsed, "error", None)
    for aspect in aspects:
        out.setdefault(aspect, {"score": None, "raw_score": None, "reason": None,
                                "error": overall_error or "missing from judge output"})
    return out


def _read_items(path: Path) -> list[Any]:
    where = str(path)
    if not path.is_file():
        raise InputError(where, "no such file")
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(where, f"expected a JSON list of just-eval judgement items, got a {type(data).__name__}")
    if not data:
        raise InputError(where, "no judgement items (empty list)")
    return data


def prepare_file(path: str | Path, *, model: str | None = None, judge: str | None = None,
                 instructions: dict[str, dict[str, Any]] | None = None, run_id: str | None = None) -> PreparedFile:
    """Validate one judgement file and build its rows (nothing is written)."""
    path = Path(path)
    where = str(path)
    items = _read_items(path)
    responses: list[dict[str, Any]] = []
    judgements: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    prepared = PreparedFile(path=path, responses=responses, judgements=judgements)
    models: set[str] = set()
    judges: set[str] = set()
    for index, item in enumerate(items):
        rec = f"index {index}"
        if not isinstance(item, dict):
            raise InputError(where, f"expected a JSON object, got {type(item).__name__}", record=rec)
        for name in REQUIRED_FIELDS:
            if name not in item or item[name] is None:
                raise InputError(where, "missing (not a just-eval judgement file?)", record=rec, field=name)
        item_id = item["id"]
        if isinstance(item_id, bool) or not isinstance(item_id, (int, str)) or not str(item_id).strip():
            raise InputError(where, f"must be an integer or a non-empty string, got {item_id!r}", record=rec, field="id")
        item_id = str(item_id).strip()
        try:
            config = _literal(item["eval_config"])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise InputError(where, "not a Python/JSON dict literal", record=rec, field="eval_config") from None
        if not isinstance(config, dict):
            raise InputError(where, f"expected a dict, got {type(config).__name__}", record=rec, field="eval_config")
        mode = config.get("mode")
        if mode not in MODES:
            raise InputError(where, f"unknown mode {mode!r} (expected one of {', '.join(MODES)})",
                             record=rec, field="eval_config.mode")
        judge_name = judge or config.get("gpt")
        if not isinstance(judge_name, str) or not judge_name.strip():
            raise InputError(where, "missing judge model (pass --judge)", record=rec, field="eval_config.gpt")
        judge_name = judge_name.strip()
        output = item.get("output_cand")
        if not isinstance(output, str):
            raise InputError(where, "missing or not a string", record=rec, field="output_cand")
        meta = None
        if instructions is not None:
            meta = instructions.get(item_id)
            if meta is None:
                raise InputError(where, f"id {item_id} is not in the instructions file", record=rec, field="id")
        instruction = item.get("input")
        if not isinstance(instruction, str) or not instruction.strip():
            instruction = meta.get("instruction") if meta else None
            if not isinstance(instruction, str):
                raise InputError(where, "missing or not a string (and no --source to take it from)",
                                 record=rec, field="input")
        name = model or derive_model_name(item.get("generator_cand"), path)
        models.add(name)
        judges.add(judge_name)
        if (name, item_id) in seen:
            raise InputError(where, f"duplicate id {item_id} for model {name} (first at index {seen[(name, item_id)]})",
                             record=rec, field="id")
        seen[(name, item_id)] = index

        # scores: parsed_result first, the raw judge text when parsed_result is unusable
        expected = MODE_ASPECTS[mode]
        try:
            parsed = _aspects_from_parsed(_literal(item.get("parsed_result")))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = {}
        scored: dict[str, dict[str, Any]] = {}
        for aspect, entry in parsed.items():
            score, raw, error = convert_score(entry["score"])
            scored[aspect] = {"score": score, "raw_score": raw, "reason": entry["reason"], "error": error}
        if any(a not in scored for a in expected):
            prepared.fallbacks += 1
            fallback = _fallback_parse(item["result"], expected, where, index)
            for aspect in expected:
                scored.setdefault(aspect, fallback[aspect])
        rkey = run_key(model=name, method=METHOD)
        rid = response_id(rkey, item_id, LANG)
        category = (meta or {}).get("category") or MODE_CATEGORY[mode]
        responses.append({
            "response_id": rid, "run_key": rkey, "model": name, "method": METHOD, "lang": LANG,
            "item_id": item_id, "instruction": instruction, "category": category,
            "task": (meta or {}).get("task"), "topic": (meta or {}).get("topic"),
            "source_dataset": (meta or {}).get("dataset"), "difficulty": (meta or {}).get("difficulty"),
            "output": output, "raw_output": output, "finish_reason": FINISH_REASON,
            "backend": "just-eval", "generation_params": json.dumps({"generator_cand": item.get("generator_cand")}),
            "run_id": run_id,
        })
        for aspect in sorted(scored):
            entry = scored[aspect]
            if entry["error"] == NOT_APPLICABLE:
                prepared.not_applicable += 1
            judgements.append({
                "response_id": rid, "judge": judge_name, "protocol": MODES[mode], "aspect": aspect,
                "score": entry["score"], "raw_score": entry["raw_score"], "reason": entry["reason"],
                "error": entry["error"], "run_id": run_id,
            })
    prepared.models, prepared.judges = sorted(models), sorted(judges)
    return prepared


def load_instructions(source: str | Path) -> dict[str, dict[str, Any]]:
    """Instruction metadata by id (string) from a Just-Eval-Instruct source (validated)."""
    from benchmark.source import load_source

    return {str(r["id"]): r for r in load_source(str(source)).records}


_RESPONSE_COLUMNS = ("response_id", "run_key", "model", "method", "lang", "item_id", "instruction", "category",
                     "task", "topic", "source_dataset", "difficulty", "output", "raw_output", "finish_reason",
                     "backend", "generation_params", "run_id")
_JUDGEMENT_COLUMNS = ("response_id", "judge", "protocol", "aspect", "score", "raw_score", "reason", "error", "run_id")


def _arrow_tables(prepared: PreparedFile):
    import pyarrow as pa

    str_ = pa.string()
    resp_schema = pa.schema([(c, pa.list_(str_) if c in ("task", "topic") else str_) for c in _RESPONSE_COLUMNS])
    judg_schema = pa.schema([(c, pa.float64() if c == "score" else str_) for c in _JUDGEMENT_COLUMNS])
    return (pa.Table.from_pylist(prepared.responses, schema=resp_schema),
            pa.Table.from_pylist(prepared.judgements, schema=judg_schema))


def _check_conflicts(store, files: Sequence[PreparedFile]) -> None:
    """Refuse answers that differ from those already stored (or imported in the same batch) for one key."""
    outputs: dict[str, tuple[str, str, int]] = {}
    for pf in files:
        for index, row in enumerate(pf.responses):
            prev = outputs.get(row["response_id"])
            if prev is not None and prev[0] != row["output"]:
                raise InputError(str(pf.path), f"output differs from the answer of {row['model']} to item "
                                 f"{row['item_id']} in {prev[1]} (use --model to import it under another name)",
                                 record=f"index {index}", field="output_cand")
            outputs.setdefault(row["response_id"], (row["output"], str(pf.path), index))
    if not outputs:
        return
    import pyarrow as pa

    ids = pa.table({"response_id": list(outputs), "output": [v[0] for v in outputs.values()]})
    clashes = store.query(
        "SELECT r.response_id, r.model, r.item_id FROM responses r JOIN _import_check c USING (response_id) "
        "WHERE r.output <> c.output ORDER BY r.model, r.item_id LIMIT 1", tables={"_import_check": ids})
    if clashes:
        rid, model, item_id = clashes[0]
        path, index = outputs[rid][1], outputs[rid][2]
        raise InputError(path, f"output differs from the stored answer of {model} to item {item_id} "
                         "(use --model to import it under another name)", record=f"index {index}", field="output_cand")


def write_prepared(store, prepared: PreparedFile) -> None:
    """Upsert one validated file in one transaction."""
    responses, judgements = _arrow_tables(prepared)
    cols = ", ".join(_RESPONSE_COLUMNS)
    # Metadata already stored (e.g. from an import with --source) survives a re-import without it.
    keep = {"category", "task", "topic", "source_dataset", "difficulty"}
    updates = ", ".join(
        f"{c} = COALESCE(excluded.{c}, responses.{c})" if c in keep else f"{c} = excluded.{c}"
        for c in _RESPONSE_COLUMNS if c != "response_id")
    with store.transaction() as con:
        con.register("_import_responses", responses)
        con.register("_import_judgements", judgements)
        try:
            con.execute(f"INSERT INTO responses ({cols}) SELECT {cols} FROM _import_responses "
                        f"ON CONFLICT (response_id) DO UPDATE SET {updates}")
            jcols = ", ".join(_JUDGEMENT_COLUMNS)
            con.execute(f"INSERT OR REPLACE INTO judgements ({jcols}) SELECT {jcols} FROM _import_judgements")
        finally:
            con.unregister("_import_responses")
            con.unregister("_import_judgements")


def import_just_eval(store, paths: Iterable[str | Path], *, model: str | None = None, judge: str | None = None,
                     source: str | Path | None = None) -> ImportReport:
    """Validate every file, then write each in its own transaction. Returns what was imported.

    ``store`` may be a zero-argument callable returning the store: it is called only once every file
    is valid, so a bad file leaves no workspace behind."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise BenchError("no judgement files given")
    instructions = load_instructions(source) if source else None
    prepared = [prepare_file(p, model=model, judge=judge, instructions=instructions) for p in paths]
    if callable(store):
        store = store()
    _check_conflicts(store, prepared)
    run_id = store.start_run("results import-just-eval", {
        "files": [str(p) for p in paths], "model": model, "judge": judge, "source": str(source) if source else None})
    status = "failed"
    files = []
    try:
        for pf in prepared:
            for row in pf.responses:
                row["run_id"] = run_id
            for row in pf.judgements:
                row["run_id"] = run_id
            write_prepared(store, pf)
            files.append({"file": str(pf.path), "responses": len(pf.responses), "judgements": len(pf.judgements),
                          "not_applicable": pf.not_applicable, "parsed_from_result": pf.fallbacks,
                          "models": pf.models, "judges": pf.judges})
        status = "done"
    finally:
        store.finish_run(run_id, status)
    return ImportReport(run_id=run_id, files=files)
