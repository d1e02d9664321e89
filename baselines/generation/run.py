"""Run a generation grid into the store (``bench baselines run``) and export the responses.

:func:`run_grid` covers every model x method x language of a :class:`~baselines.generation.grid.Grid`:

* a setting is identified by its **run key** (:func:`bench.ids.run_key`) over the model fingerprint
  and revision, the method, the prompt format and ``prompt_hash``, the decoding parameters that
  decide the outputs, the backend and the dtype; each response by ``response_id(run_key, item, lang)``;
* the items of the setting that already have a response are skipped (resume: a killed run redoes
  nothing it committed), the others are generated in batches and **each batch is committed in one
  transaction** with its full provenance (model and revision, method, prompt hash, language,
  decoding parameters, backend, prompt/completion tokens, finish reason, seconds, library versions,
  seed, raw and cleaned text, run id);
* each model is loaded once for the whole grid (all its methods and languages), and not at all when
  every one of its settings is already complete (only its tokenizer is read, for the chat template
  hash).

:func:`export_responses` writes the stored responses as a Hub-ready ``responses`` config
(``DIR/responses/test-00000-of-00001.parquet``) in the just-eval layout (id, instruction, output,
generator, ...) plus provenance columns; the same rows always give the same bytes.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from bench.errors import BenchError, InputError
from bench.ids import response_id, run_key
from baselines.generation.generators import Generation, GenerationFailure, GenerationParams, Generator, Prompt
from baselines.generation.grid import Grid, ModelEntry
from baselines.generation.urial import (
    URIAL_STOP,
    ZERO_SHOT_HASH,
    chat_messages,
    clean_urial_output,
    load_urial_prompt,
    sha256_text,
    zero_shot_prompt,
)

COMMAND = "baselines run"
CODE_VERSION = "gen-v1"
RESPONSES_CONFIG = "responses"
PARQUET_NAME = "test-00000-of-00001.parquet"
OPENAI_CHAT_HASH = sha256_text("openai-compatible server: its own chat template")


# --------------------------------------------------------------------------- dataset


def load_items(dataset: str, lang: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of one language config (sorted by id): a ``build-dataset`` folder or a Hub dataset id."""
    path = Path(dataset)
    if path.is_dir():
        from benchmark.dataset_dir import PARQUET_NAME as DATA_PARQUET, read_config

        file = path / lang / DATA_PARQUET
        if not file.is_file():
            raise InputError(str(path), f"no '{lang}/{DATA_PARQUET}' config in the dataset folder")
        rows = read_config(path, lang)
        where = str(file)
    else:
        try:
            from datasets import load_dataset

            rows = load_dataset(dataset, lang, split="test").to_list()
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; one line for the user
            raise BenchError(f"cannot load dataset '{dataset}' config '{lang}': {str(exc).splitlines()[0][:200]}") from exc
        where = f"{dataset}[{lang}]"
    for index, row in enumerate(rows):
        for key in ("id", "instruction"):
            if row.get(key) is None or (key == "instruction" and not str(row[key]).strip()):
                raise InputError(where, f"missing {key}", record=row.get("id", index), field=key)
    rows.sort(key=lambda r: (0, r["id"], "") if isinstance(r["id"], int) else (1, 0, str(r["id"])))
    return rows[:limit] if limit is not None else rows


def select_items(rows: list[dict[str, Any]], item_ids: Sequence[str] | None, limit: int | None,
                 where: str) -> list[dict[str, Any]]:
    """``rows`` restricted to ``item_ids`` (compared as text; an id the dataset lacks fails in one line), then
    to the first ``limit``."""
    if item_ids:
        wanted = [str(i).strip() for i in item_ids if str(i).strip()]
        have = {str(r["id"]) for r in rows}
        missing = [i for i in wanted if i not in have]
        if missing:
            raise BenchError(f"{where}: no item with id {', '.join(missing)} (--items)")
        keep = set(wanted)
        rows = [r for r in rows if str(r["id"]) in keep]
    return rows[:limit] if limit is not None else rows


# --------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class MethodPlan:
    """How one method turns an instruction into a prompt and a completion into an answer."""

    method: str
    prompt_format: str  # urial | zero-shot | chat
    prompt_hash: str
    stops: tuple[str, ...]
    build: Callable[[str], Prompt]
    clean: Callable[[str], str]
    shared_prefix: str | None = None
    prompt_file: str | None = None


def plan_method(method: str, lang: str, grid: Grid, chat_hash: str | None, model: str) -> MethodPlan:
    """``chat_hash``: sha256 of the model's chat template (None: it has none)."""
    if method == "urial":
        prompt = load_urial_prompt(grid.urial_prompt_path(lang))
        return MethodPlan("urial", "urial", prompt.sha256, (URIAL_STOP,), prompt.build, clean_urial_output,
                          shared_prefix=prompt.prefix, prompt_file=str(prompt.path))
    zero_shot = MethodPlan(method, "zero-shot", ZERO_SHOT_HASH, (URIAL_STOP,),
                           lambda instruction: zero_shot_prompt(instruction, lang), clean_urial_output)
    chat = MethodPlan(method, "chat", chat_hash or "", (), chat_messages, str.strip)
    if method == "zero-shot":
        return zero_shot
    if method == "chat":
        if chat_hash is None:
            raise BenchError(f"model '{model}' has no chat template: method chat needs an instruction-tuned model "
                             "(use zero-shot or urial for base models)")
        return chat
    if method == "dpo":  # a train-dpo output: its chat template when it has one, else the zero-shot frame
        return chat if chat_hash is not None else zero_shot
    raise BenchError(f"unknown method '{method}'")


# --------------------------------------------------------------------------- report


@dataclass
class SettingReport:
    model: str
    method: str
    lang: str
    run_key: str
    items: int = 0  # dataset items (after --limit)
    existing: int = 0  # already in the store before this run
    generated: int = 0
    failed: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_length: int = 0  # generated answers cut by max_new_tokens


@dataclass
class RunReport:
    run_id: str
    settings: list[SettingReport] = field(default_factory=list)
    skipped_models: list[str] = field(default_factory=list)  # skip_if_missing entries whose path is absent
    loaded_models: list[str] = field(default_factory=list)
    replaced: int = 0  # superseded responses deleted by --replace
    seconds: float = 0.0

    @property
    def generated(self) -> int:
        return sum(s.generated for s in self.settings)

    @property
    def existing(self) -> int:
        return sum(s.existing for s in self.settings)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.settings)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "generated": self.generated, "existing": self.existing,
                "failed": self.failed, "replaced": self.replaced, "seconds": round(self.seconds, 3),
                "skipped_models": self.skipped_models,
                "loaded_models": self.loaded_models, "settings": [asdict(s) for s in self.settings]}


# --------------------------------------------------------------------------- running


@dataclass
class _Setting:
    entry: ModelEntry
    lang: str
    plan: MethodPlan
    params: GenerationParams
    key: str
    identity: dict[str, Any]
    todo: list[dict[str, Any]]
    report: SettingReport


def make_generator(grid: Grid, entry: ModelEntry, ref: Any, cache_dir: Any) -> Generator:
    """The generator of one grid entry (loads the model); the backend comes from the spec table."""
    from bench.specs import parse_spec

    return parse_spec("generator", grid.backend_for(entry)).factory()(grid, entry, ref, cache_dir)


def transformers_generator(grid: Grid, entry: ModelEntry, ref: Any, cache_dir: Any) -> Generator:
    """``backend: transformers``: the model in this process (batched, URIAL prefix cache)."""
    from baselines.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(ref, dtype=entry.dtype, device=grid.device, cache_dir=cache_dir,
                                 batch_size=grid.batch_size, prefix_cache=grid.prefix_cache,
                                 trust_remote_code=entry.trust_remote_code)


def vllm_generator(grid: Grid, entry: ModelEntry, ref: Any, cache_dir: Any) -> Generator:
    """``backend: vllm``: the vLLM engine (optional extra), options from the grid's ``vllm:`` block."""
    from baselines.generation.vllm_backend import VLLMGenerator

    o = grid.vllm
    return VLLMGenerator(ref, dtype=entry.dtype, cache_dir=cache_dir, tensor_parallel_size=o.tensor_parallel_size,
                         data_parallel_size=o.data_parallel_size, gpu_memory_utilization=o.gpu_memory_utilization,
                         max_model_len=o.max_model_len, enable_prefix_caching=o.enable_prefix_caching,
                         seed=grid.decoding.seed, chunk_size=o.chunk_size,
                         trust_remote_code=entry.trust_remote_code, engine_args=o.engine_args)


def openai_generator(grid: Grid, entry: ModelEntry, ref: Any, cache_dir: Any) -> Generator:
    """``backend: openai:<model>@<base_url>``: an OpenAI-compatible server, options from ``openai:``."""
    from baselines.generation.openai_backend import OpenAIGenerator

    o = grid.openai
    return OpenAIGenerator(grid.backend_for(entry), concurrency=o.concurrency, timeout=o.timeout,
                           max_retries=o.max_retries)


def _model_identity(grid: Grid, entry: ModelEntry, cache_dir: Any) -> tuple[Any, dict[str, Any], str | None]:
    """``(model ref or None, identity for the run key, chat template hash)`` without loading weights."""
    backend = grid.backend_for(entry)
    if backend.startswith("openai:"):
        from bench.openai_client import parse_openai_spec

        served, url = parse_openai_spec(backend)
        identity = {"model": f"openai:{served}", "revision": entry.revision, "backend": f"openai:{served}@{url}",
                    "dtype": None}
        return None, identity, OPENAI_CHAT_HASH
    from bench.chat import has_chat_template
    from bench.models import load_tokenizer, resolve_device, resolve_dtype, resolve_model
    from baselines.generation.urial import chat_template_hash

    ref = resolve_model(entry.path, entry.revision, cache_dir=cache_dir)
    if backend == "transformers":
        dtype = resolve_dtype(entry.dtype, resolve_device(grid.device))
    else:
        dtype = entry.dtype
    identity = {"model": ref.fingerprint, "revision": ref.revision, "backend": backend, "dtype": dtype}
    tokenizer = load_tokenizer(ref, cache_dir=cache_dir, trust_remote_code=entry.trust_remote_code)
    chat_hash = chat_template_hash(tokenizer) if has_chat_template(tokenizer) else None
    return ref, identity, chat_hash


def _existing_items(store: Any, key: str, lang: str) -> set[str]:
    rows = store.query("SELECT item_id FROM responses WHERE run_key = ? AND lang = ?", [key, lang])
    return {r[0] for r in rows}


_OTHER_SETTINGS = """SELECT run_key, COUNT(*) FROM responses
WHERE model = ? AND method = ? AND lang = ? AND run_key <> ? GROUP BY run_key ORDER BY run_key"""
# rows that hang off a response, deleted with it by --replace (the judge-call cache is kept: it is keyed by prompt)
_DEPENDENT_TABLES = ("judgements", "critical_error_checks", "error_annotations")


def _superseded(store: Any, settings: Sequence["_Setting"]) -> list[tuple["_Setting", str, int]]:
    """Responses stored under a setting's display name, method and language by another run key."""
    found = []
    for s in settings:
        for key, count in store.query(_OTHER_SETTINGS, [s.entry.display_name, s.plan.method, s.lang, s.key]):
            found.append((s, key, int(count)))
    return found


def _forget(store: Any, stale: Sequence[tuple["_Setting", str, int]]) -> int:
    """Delete the superseded responses and what hangs off them, in one transaction; returns how many."""
    with store.transaction() as con:
        for s, key, _ in stale:
            ids = "SELECT response_id FROM responses WHERE run_key = ? AND lang = ? AND model = ? AND method = ?"
            args = [key, s.lang, s.entry.display_name, s.plan.method]
            for table in _DEPENDENT_TABLES:
                con.execute(f"DELETE FROM {table} WHERE response_id IN ({ids})", args)
            con.execute("DELETE FROM responses WHERE run_key = ? AND lang = ? AND model = ? AND method = ?", args)
    return sum(count for _, _, count in stale)


def run_grid(ws: Any, grid: Grid, limit: int | None = None, languages: Sequence[str] | None = None, *,
             progress: bool = True, replace: bool = False, item_ids: Sequence[str] | None = None) -> RunReport:
    """Generate every missing response of the grid; see the module docstring.

    A display name stands for one setting: when the store already holds responses of the same
    model name, method and language from another run key (the model files, prompt, decoding or
    backend changed), the leaderboard would mix both, so the run stops before any work unless
    ``replace`` deletes those responses (with their judgements, checks and annotations) first.
    ``item_ids``: only these dataset ids (every one must exist in every language; ``limit`` then applies)."""
    from bench.languages import parse_languages
    from bench.store import library_versions

    if limit is not None and limit < 0:
        raise BenchError(f"limit must be >= 0, got {limit}")
    langs = list(grid.languages)
    if languages:
        wanted = parse_languages(list(languages))
        unknown = [code for code in wanted if code not in langs]
        if unknown:
            raise BenchError(f"language(s) {', '.join(unknown)} not in the grid ({', '.join(langs)})")
        langs = [code for code in langs if code in wanted]
    items = {lang: select_items(load_items(grid.dataset, lang), item_ids, limit, f"{grid.dataset}[{lang}]")
             for lang in langs}  # validated before any model loads
    store = ws.store  # opened (the workspace created) only once the inputs are known to be good
    cache_dir = ws.cache_dir
    params_run = {"grid": str(grid.source) if grid.source else None, "limit": limit, "languages": langs,
                  "items": list(item_ids) if item_ids else None,
                  "models": [e.display_name for e in grid.models]}
    run_id = store.start_run(COMMAND, params_run)
    report = RunReport(run_id=run_id)
    versions = library_versions()
    started = time.perf_counter()
    status = "failed"
    try:
        planned: list[tuple[ModelEntry, Any, list[_Setting]]] = []
        for entry in grid.models:
            if entry.missing:
                report.skipped_models.append(entry.display_name)
                continue
            ref, identity, chat_hash = _model_identity(grid, entry, cache_dir)
            settings: list[_Setting] = []
            with store.session():  # what is already stored, in one open of the store
                for method in entry.method_list:
                    for lang in langs:
                        plan = plan_method(method, lang, grid, chat_hash, entry.display_name)
                        params = grid.decoding.params(plan.stops)
                        key_fields = {**identity, "method": method, "prompt_format": plan.prompt_format,
                                      "prompt_hash": plan.prompt_hash, "decoding": params.key(), "code": CODE_VERSION}
                        key = run_key(**key_fields)
                        done = _existing_items(store, key, lang)
                        todo = [row for row in items[lang] if str(row["id"]) not in done]
                        rep = SettingReport(entry.display_name, method, lang, key, items=len(items[lang]),
                                            existing=len(items[lang]) - len(todo))
                        report.settings.append(rep)
                        settings.append(_Setting(entry, lang, plan, params, key, identity, todo, rep))
            planned.append((entry, ref, settings))
        stale = _superseded(store, [s for _, _, settings in planned for s in settings])
        if stale and not replace:
            s, key, count = stale[0]
            more = f" (+{len(stale) - 1} more setting(s))" if len(stale) > 1 else ""
            raise BenchError(
                f"model '{s.entry.display_name}' {s.plan.method} {s.lang}: the store holds {count} response(s) of "
                f"another setting under this name (run key {key[:12]}; model files, prompt, decoding or backend "
                f"changed){more}; give the model another name in the grid, or rerun with --replace to delete them")
        if stale:
            report.replaced = _forget(store, stale)
        for entry, ref, settings in planned:
            pending = [s for s in settings if s.todo]
            if not pending:
                continue
            generator = make_generator(grid, entry, ref, cache_dir)
            report.loaded_models.append(entry.display_name)
            try:
                with _Progress(entry.display_name, sum(len(s.todo) for s in pending), enabled=progress) as bar:
                    for setting in pending:
                        bar.describe(f"{entry.display_name} {setting.plan.method} {setting.lang}")
                        _run_setting(store, generator, setting, grid, run_id, versions, bar)
            finally:
                generator.close()
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        store.finish_run(run_id, status)
    return report


def _run_setting(store: Any, generator: Generator, s: _Setting, grid: Grid, run_id: str,
                 versions: dict[str, str], bar: "_Progress") -> None:
    prompts = [s.plan.build(row["instruction"]) for row in s.todo]
    gen_params = {**s.params.key(), "top_p": s.params.top_p, "seed": s.params.seed,
                  "prompt_format": s.plan.prompt_format, "prompt_file": s.plan.prompt_file,
                  "dtype": s.identity.get("dtype"), "model_fingerprint": s.identity["model"],
                  "model_path": s.entry.path, "batch_size": grid.batch_size,
                  "prefix_cache": bool(grid.prefix_cache and s.plan.shared_prefix and generator.supports_prefix_cache),
                  "code": CODE_VERSION}
    gen_params_json = json.dumps(gen_params, sort_keys=True, ensure_ascii=False)
    versions_json = json.dumps(versions, sort_keys=True)
    revision = s.identity.get("revision") or (s.identity["model"] if not s.identity["model"].startswith("hub:") else None)
    for indices, outcomes in generator.generate_iter(prompts, s.params, shared_prefix=s.plan.shared_prefix):
        rows = []
        tokens = 0
        for i, outcome in zip(indices, outcomes):
            if isinstance(outcome, GenerationFailure):
                s.report.failed += 1
                continue
            assert isinstance(outcome, Generation)
            item = s.todo[i]
            rows.append(_row(s, item, outcome, revision, gen_params_json, versions_json, run_id))
            tokens += outcome.completion_tokens
            s.report.generated += 1
            s.report.completion_tokens += outcome.completion_tokens
            s.report.seconds += outcome.seconds
            s.report.finish_length += outcome.finish_reason == "length"
        if rows:
            _insert(store, rows)
        bar.advance(len(indices), tokens)


RESPONSE_COLUMNS = (
    "response_id", "run_key", "model", "model_revision", "method", "lang", "item_id", "instruction", "category",
    "task", "topic", "source_dataset", "difficulty", "output", "raw_output", "finish_reason", "prompt_tokens",
    "completion_tokens", "backend", "prompt_hash", "generation_params", "seconds", "seed", "versions", "run_id",
)


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _row(s: _Setting, item: dict[str, Any], gen: Generation, revision: str | None, gen_params: str, versions: str,
         run_id: str) -> tuple:
    lang = s.lang
    return (
        response_id(s.key, item["id"], lang), s.key, s.entry.display_name, revision, s.plan.method, lang,
        str(item["id"]), item["instruction"], item.get("category"), _as_list(item.get("task")),
        _as_list(item.get("topic")), item.get("dataset"), item.get("difficulty"), s.plan.clean(gen.text_raw),
        gen.text_raw, gen.finish_reason, gen.prompt_tokens, gen.completion_tokens, s.identity["backend"],
        s.plan.prompt_hash, gen_params, round(gen.seconds, 6), s.params.seed, versions, run_id,
    )


def _insert(store: Any, rows: list[tuple]) -> None:
    cols = ", ".join(RESPONSE_COLUMNS)
    marks = ", ".join("?" for _ in RESPONSE_COLUMNS)
    with store.transaction() as con:
        con.executemany(f"INSERT OR IGNORE INTO responses ({cols}) VALUES ({marks})", rows)


class _Progress:
    """A rich bar on stderr: answers done / total and generated tokens per second."""

    def __init__(self, description: str, total: int, enabled: bool = True):
        import os

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from bench.progress import console

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=not enabled or os.environ.get("BENCH_NO_PROGRESS") == "1",
        )
        self._total = total
        self._description = description
        self._tokens = 0
        self._start = time.perf_counter()
        self._task: Any = None

    def __enter__(self) -> "_Progress":
        self._progress.__enter__()
        self._task = self._progress.add_task(self._description, total=self._total, rate="- tok/s")
        return self

    def describe(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def advance(self, items: int, tokens: int) -> None:
        self._tokens += tokens
        elapsed = time.perf_counter() - self._start
        rate = f"{self._tokens / elapsed:,.1f} tok/s" if elapsed > 0 else ""
        self._progress.update(self._task, advance=items, rate=rate)

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)


# --------------------------------------------------------------------------- export


def export_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("instruction", pa.string()), ("output", pa.string()), ("generator", pa.string()),
        ("lang", pa.string()), ("method", pa.string()), ("model", pa.string()), ("model_revision", pa.string()),
        ("category", pa.string()), ("task", pa.list_(pa.string())), ("topic", pa.list_(pa.string())),
        ("dataset", pa.string()), ("difficulty", pa.string()), ("raw_output", pa.string()),
        ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
        ("backend", pa.string()), ("prompt_hash", pa.string()), ("generation_params", pa.string()),
        ("seed", pa.int64()), ("seconds", pa.float64()), ("versions", pa.string()), ("run_key", pa.string()),
        ("response_id", pa.string()),
    ])


def generator_name(model: str, method: str) -> str:
    """The just-eval ``generator`` of a response: model and method."""
    return f"{model}+{method}"


def export_responses(ws: Any, out_dir: str | Path, runs: Iterable[str] | dict[str, Any] | None = None) -> tuple[Path, int]:
    """Write ``out_dir/responses/test-00000-of-00001.parquet``; returns ``(path, rows)``.

    ``runs``: filters as for ``bench baselines judge --runs`` (``model=X``, ``method=urial``,
    ``lang=fr``, ``run_key=K``...). Rows are sorted (model, method, lang, id, run key) and ``id``
    is an int64 column when every item id is an integer, so the same rows give the same bytes. The file is
    published (a release's ``responses`` config): model and backend names are in public form (no local
    paths, no credentials: :func:`bench.public_names.public_name`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.atomic import atomic_path
    from bench.public_names import public_name
    from baselines.run_filters import FILTER_FIELDS, parse_run_filters

    filters = parse_run_filters(runs if runs else None)
    where, params = [], []
    for key, values in filters.items():
        if key not in FILTER_FIELDS:
            raise BenchError(f"unknown run filter '{key}'")
        where.append(f"{key} IN ({', '.join('?' for _ in values)})")
        params += list(values)
    sql = ("SELECT * FROM responses" + (" WHERE " + " AND ".join(where) if where else "") +
           " ORDER BY model, method, lang, TRY_CAST(item_id AS BIGINT) NULLS LAST, item_id, run_key, response_id")
    rows = ws.store.query_dicts(sql, params)
    out_rows = []
    for r in rows:
        r["model"], r["backend"] = public_name(r["model"]), public_name(r["backend"])
        out_rows.append({
            "id": r["item_id"], "instruction": r["instruction"], "output": r["output"],
            "generator": generator_name(r["model"], r["method"]), "lang": r["lang"], "method": r["method"],
            "model": r["model"], "model_revision": r["model_revision"], "category": r["category"], "task": r["task"],
            "topic": r["topic"], "dataset": r["source_dataset"], "difficulty": r["difficulty"],
            "raw_output": r["raw_output"], "finish_reason": r["finish_reason"], "prompt_tokens": r["prompt_tokens"],
            "completion_tokens": r["completion_tokens"], "backend": r["backend"], "prompt_hash": r["prompt_hash"],
            "generation_params": _json_text(r["generation_params"]), "seed": r["seed"], "seconds": r["seconds"],
            "versions": _json_text(r["versions"]), "run_key": r["run_key"], "response_id": r["response_id"],
        })
    schema = export_schema()
    if out_rows and all(str(r["id"]).lstrip("-").isdigit() for r in out_rows):
        for r in out_rows:
            r["id"] = int(r["id"])
        schema = schema.set(0, pa.field("id", pa.int64()))
    table = pa.Table.from_pylist(out_rows, schema=schema)
    target = Path(out_dir) / RESPONSES_CONFIG / PARQUET_NAME
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
        tmp.chmod(0o644)
    return target, len(out_rows)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
