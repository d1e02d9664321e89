"""The generation grid: which models, methods, languages and decoding settings ``bench baselines run`` covers.

A grid is a YAML file (see ``configs/paper/grid.yaml`` and ``configs/examples/tiny-cpu.yaml``)::

    dataset: ../../data/just-eval-multilingual   # folder from `bench build-dataset`, or a Hub dataset id
    languages: [en, fr, es]
    backend: transformers                        # transformers | vllm | openai:<model>@<base_url>
    batch_size: 8
    decoding: {max_new_tokens: 1024, repetition_penalty: 1.0}
    models:
      - {name: qwen2.5-0.5b, path: Qwen/Qwen2.5-0.5B, kind: base, methods: [zero-shot, urial]}
      - {name: qwen2.5-0.5b-instruct, path: Qwen/Qwen2.5-0.5B-Instruct, kind: instruct, methods: [chat]}

Every mapping rejects unknown keys, so a typo fails loudly. :func:`load_grid` reports the first
problem as one :class:`~bench.errors.ConfigError` line naming the file, the YAML path of the field
(``models[1].methods[0]``) and the problem. Relative paths (models, dataset, URIAL prompts) are
relative to the grid file's folder. A model ``path`` that exists locally is a local model (folder or
``.gguf``); one that looks like a path (``./``, ``../``, ``/``, ``~``, ``.gguf``, more than one
``/``) must exist; anything else of the form ``org/name`` is a Hub id (checked when the model loads).

Methods: ``zero-shot`` and ``urial`` (base models, text prompts), ``chat`` (instruction-tuned
models, their own chat template), ``dpo`` (a model folder written by ``bench baselines train-dpo``:
the entry's ``path`` points to it; prompted with its chat template when it has one, else with the
zero-shot frame). Methods default by ``kind``: base -> zero-shot + urial, instruct -> chat.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from bench.config_files import field_path
from bench.errors import BenchError, ConfigError

Method = Literal["zero-shot", "urial", "chat", "dpo"]
METHODS: tuple[str, ...] = ("zero-shot", "urial", "chat", "dpo")
DEFAULT_METHODS = {"base": ["zero-shot", "urial"], "instruct": ["chat"]}
DEFAULT_LANGUAGES = ["en", "fr", "es"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ModelEntry(_Strict):
    """One model of the grid."""

    name: str | None = Field(None, description="Display name stored as `model` (default: Hub id or folder name).")
    path: str = Field(..., description="Hub id (org/name), local model folder, .gguf file, or a train-dpo output folder.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit); ignored for local models.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype: auto = float32 on CPU, bfloat16 on GPUs that support it.")
    kind: Literal["base", "instruct"] = Field("base", description="base (pretrained only) or instruct (instruction-tuned).")
    methods: list[Method] | None = Field(
        None, description="zero-shot | urial | chat | dpo; default: base -> [zero-shot, urial], instruct -> [chat].")
    backend: str | None = Field(None, description="Backend for this model only (default: the grid's backend).")
    skip_if_missing: bool = Field(
        False, description="Skip this entry (with a note) when its local path does not exist yet, e.g. a DPO model "
                           "not trained yet; otherwise a missing path is an error.")
    trust_remote_code: bool = Field(False, description="Allow custom model code from the Hub (off by default).")

    _missing: bool = PrivateAttr(False)

    @property
    def display_name(self) -> str:
        return self.name or self.path

    @property
    def method_list(self) -> list[str]:
        return list(self.methods) if self.methods is not None else list(DEFAULT_METHODS[self.kind])

    @property
    def missing(self) -> bool:
        """True when ``skip_if_missing`` is set and the local path does not exist."""
        return self._missing


class Decoding(_Strict):
    """Decoding settings shared by every model and method (greedy by default)."""

    max_new_tokens: int = Field(1024, ge=1, description="Cap on generated tokens per answer (also capped by context).")
    repetition_penalty: float = Field(1.0, gt=0, description="HF/vLLM repetition penalty; 1.0 = none.")
    temperature: float = Field(0.0, ge=0, description="0 = greedy decoding; > 0 samples.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling (only when temperature > 0).")
    stop: list[str] = Field(default_factory=list,
                            description="Extra stop sequences (zero-shot/urial always stop at '# Query').")
    seed: int = Field(0, description="Sampling seed (only when temperature > 0; recorded with every response).")

    def params(self, extra_stop: tuple[str, ...] = ()):
        from baselines.generation.generators import GenerationParams

        stops = list(dict.fromkeys([*extra_stop, *self.stop]))
        return GenerationParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
                                repetition_penalty=self.repetition_penalty, stop=tuple(stops), seed=self.seed)


class VLLMOptions(_Strict):
    """Options of the vllm backend (passed to vllm.LLM)."""

    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model replica (tensor parallelism).")
    data_parallel_size: int = Field(1, ge=1, description="Model replicas (data parallelism), when vLLM supports it offline.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may use.")
    max_model_len: int | None = Field(None, ge=1, description="Context length cap (default: the model's).")
    enable_prefix_caching: bool = Field(True, description="Reuse the KV cache of shared prompt prefixes (URIAL).")
    chunk_size: int = Field(256, ge=1, description="Prompts per vLLM call (each call's results are committed at once).")
    engine_args: dict[str, Any] = Field(default_factory=dict, description="Any other vllm.LLM argument, passed as is.")


class OpenAIOptions(_Strict):
    """Options of openai:<model>@<base_url> backends."""

    concurrency: int = Field(8, ge=1, description="Requests in flight.")
    timeout: float = Field(300, gt=0, description="Seconds per request.")
    max_retries: int = Field(6, ge=0, description="Retries per item (429, 5xx, timeouts, dropped connections).")


class Grid(_Strict):
    """A generation grid (see the module docstring)."""

    models: list[ModelEntry] = Field(..., min_length=1, description="Models to run, each with its methods.")
    dataset: str = Field(..., description="Dataset folder written by `bench build-dataset`, or the release's Hub id.")
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES),
                                 description="ISO 639-1 codes of the dataset configs to answer.")
    urial_prompts: dict[str, str] = Field(
        default_factory=dict,
        description="Per language: a URIAL prompt file (official or ours), read as is; default: the shipped "
                    "baselines/generation/prompts/urial/urial_<lang>.txt.")
    decoding: Decoding = Field(default_factory=Decoding, description="Decoding settings.")
    backend: str = Field("transformers", description="transformers | vllm | openai:<model>@<base_url>.")
    batch_size: int = Field(8, ge=1, description="Prompts per batch (transformers) / per commit.")
    device: str = Field("auto", description="auto | cpu | cuda (transformers backend).")
    prefix_cache: bool = Field(True, description="Reuse the URIAL prefix's KV cache (transformers backend).")
    vllm: VLLMOptions = Field(default_factory=VLLMOptions, description="vllm backend options.")
    openai: OpenAIOptions = Field(default_factory=OpenAIOptions, description="openai backend options.")

    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        """The YAML file this grid was loaded from."""
        return self._source

    def backend_for(self, entry: ModelEntry) -> str:
        return entry.backend or self.backend

    def urial_prompt_path(self, lang: str) -> Path:
        if lang in self.urial_prompts:
            return Path(self.urial_prompts[lang])
        from baselines.generation.urial import default_urial_prompt

        return default_urial_prompt(lang)

    @property
    def dataset_is_local(self) -> bool:
        return Path(self.dataset).exists()


# --------------------------------------------------------------------------- loading


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Known keys of the mapping at ``loc`` (for 'unknown key' messages)."""
    cls: Any = Grid
    for part in loc:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if hasattr(cls, "model_fields") else None
        if field is None:
            break
        annotation = field.annotation
        args = getattr(annotation, "__args__", ()) or ()
        nested = [a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            break
        cls = nested[0]
    return list(cls.model_fields)


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = loc[:-1]
        known = ", ".join(_fields_at(parent))
        return field_path(loc), f"unknown key '{loc[-1]}' (known keys: {known})"
    if kind == "missing":
        return field_path(loc), "required key is missing"
    if kind == "literal_error" and len(loc) >= 2 and loc[-2] == "methods":
        return field_path(loc), f"unknown method '{value}'; expected one of {', '.join(METHODS)}"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return field_path(loc), f"bad value '{value}'; expected {expected}"
    return field_path(loc), str(err.get("msg", "invalid value")).removeprefix("Value error, ")


def _looks_like_path(value: str) -> bool:
    return (value.startswith((".", "/", "~")) or value.lower().endswith(".gguf") or value.count("/") > 1
            or "\\" in value or not _HUB_ID.match(value))


def _local(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _resolve_ref(value: str, base: Path) -> tuple[str, Literal["local", "missing", "hub"]]:
    """A model/dataset reference: an existing local path (made absolute), a missing one, or a Hub id."""
    candidate = _local(value, base)
    if candidate.exists():
        return str(candidate.resolve()), "local"
    if _looks_like_path(value):
        return os.path.normpath(candidate), "missing"
    return value, "hub"


def load_grid(path: str | Path, *, check_paths: bool = True) -> Grid:
    """Read and validate a grid YAML file; raise :class:`ConfigError` (one line) on the first problem.

    ``check_paths=False`` skips the existence checks of local paths (to validate a grid on another
    machine)."""
    from bench.config_files import YamlWording, load_yaml_model

    def describe(exc: ValidationError) -> tuple[str, str]:
        errors = exc.errors()
        field, message = _describe(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        return field, message + more

    wording = YamlWording(missing=None, unreadable="cannot read the grid file ({reason})",
                          invalid="not valid YAML: {problem}{where}", at=" (line {line}, column {column})",
                          not_mapping="a grid file must be a YAML mapping (models, dataset, languages, ...)",
                          empty_is_mapping=False)
    path = Path(path)
    grid = load_yaml_model(path, Grid, describe=describe, wording=wording)
    grid._source = path.resolve()
    _check(grid, path.resolve().parent, str(path), check_paths)
    return grid


def _check(grid: Grid, base: Path, file: str, check_paths: bool) -> None:
    from bench.languages import get_language

    # languages
    seen: set[str] = set()
    for i, code in enumerate(grid.languages):
        try:
            lang = get_language(code).code
        except BenchError as exc:
            raise ConfigError(file, str(exc), field=f"languages[{i}]") from None
        if lang in seen:
            raise ConfigError(file, f"language '{lang}' is listed twice", field=f"languages[{i}]")
        seen.add(lang)
        grid.languages[i] = lang
    if not grid.languages:
        raise ConfigError(file, "no language given", field="languages")
    for code in list(grid.urial_prompts):
        try:
            get_language(code)
        except BenchError as exc:
            raise ConfigError(file, str(exc), field=f"urial_prompts.{code}") from None

    # backends
    _check_backend(grid.backend, file, "backend")
    if grid.backend.startswith("openai:") and len(grid.models) > 1:
        raise ConfigError(file, "an openai:<model>@<base_url> backend serves one model; with several models set "
                                "`backend` on each model entry", field="backend")
    for i, entry in enumerate(grid.models):
        if entry.backend is not None:
            _check_backend(entry.backend, file, f"models[{i}].backend")

    # models
    names: dict[str, int] = {}
    for i, entry in enumerate(grid.models):
        original = entry.path.strip()
        if not original:
            raise ConfigError(file, "empty model path", field=f"models[{i}].path")
        resolved, kind = _resolve_ref(original, base)
        if kind == "missing" and check_paths:
            if not entry.skip_if_missing:
                raise ConfigError(file, f"model path '{original}' does not exist (resolved to {resolved}); give a "
                                        "local model folder, a .gguf file or a Hub id (org/name)",
                                  field=f"models[{i}].path")
            entry._missing = True
        entry.path = resolved
        if entry.name is None:
            entry.name = original if kind == "hub" else (
                Path(resolved).stem if resolved.lower().endswith(".gguf") else Path(resolved).name)
        methods = entry.method_list
        if not methods:
            raise ConfigError(file, "no method given", field=f"models[{i}].methods")
        for k, method in enumerate(methods):
            if method in methods[:k]:
                raise ConfigError(file, f"method '{method}' is listed twice", field=f"models[{i}].methods[{k}]")
        if entry.name in names:
            raise ConfigError(file, f"model name '{entry.name}' is used twice (models[{names[entry.name]}] and "
                                    f"models[{i}]); set distinct `name`s", field=f"models[{i}].name")
        names[entry.name] = i

    # URIAL prompts for every language a urial method needs
    needs_urial = any("urial" in e.method_list for e in grid.models)
    for code, value in list(grid.urial_prompts.items()):
        resolved_prompt = _local(value, base)
        if check_paths and not resolved_prompt.is_file():
            raise ConfigError(file, f"URIAL prompt file '{value}' does not exist", field=f"urial_prompts.{code}")
        grid.urial_prompts[code] = str(resolved_prompt.resolve() if resolved_prompt.exists() else resolved_prompt)
    if needs_urial:
        for i, code in enumerate(grid.languages):
            if code not in grid.urial_prompts and not grid.urial_prompt_path(code).is_file():
                raise ConfigError(file, f"no URIAL prompt for language '{code}' (the project ships en, fr, es): add "
                                        f"urial_prompts.{code}: <file>", field=f"languages[{i}]")

    # dataset
    if not grid.dataset.strip():
        raise ConfigError(file, "empty dataset", field="dataset")
    resolved, kind = _resolve_ref(grid.dataset.strip(), base)
    if check_paths and kind == "missing":
        raise ConfigError(file, f"dataset folder '{grid.dataset}' does not exist (resolved to {resolved}); give the "
                                "folder written by `bench build-dataset` or a Hub dataset id", field="dataset")
    grid.dataset = resolved
    if check_paths and Path(resolved).is_dir():
        from benchmark.dataset_dir import PARQUET_NAME

        for i, code in enumerate(grid.languages):
            if not (Path(resolved) / code / PARQUET_NAME).is_file():
                raise ConfigError(file, f"dataset folder has no '{code}/{PARQUET_NAME}' (languages built: "
                                        f"{', '.join(sorted(p.parent.name for p in Path(resolved).glob('*/' + PARQUET_NAME))) or 'none'})",
                                  field=f"languages[{i}]")


def _check_backend(value: str, file: str, field: str) -> None:
    from bench.specs import backends, parse_spec, usages

    if value.partition(":")[0] not in backends("generator"):
        raise ConfigError(file, f"unknown backend '{value}'; expected {' | '.join(usages('generator'))}", field=field)
    try:
        parse_spec("generator", value)
    except BenchError as exc:
        raise ConfigError(file, str(exc), field=field) from None
