"""Align a base model with DPO (TRL's ``DPOTrainer``), optionally through a merged LoRA adapter.

The third arm of the study: small base LMs steered by in-context alignment (URIAL), their
instruction-tuned siblings, and the same base models trained with Direct Preference
Optimisation on preference pairs. :func:`train_dpo` takes

* a base model reference (Hub id, local folder or ``.gguf`` file; see :mod:`bench.models`),
* preference pairs: a local ``.jsonl`` / ``.json`` / ``.parquet`` file or a Hub preference dataset
  with ``prompt`` / ``chosen`` / ``rejected`` columns (UltraFeedback style: ``chosen`` and
  ``rejected`` may be strings or lists of chat messages whose last message is the answer),
* :class:`DPOSettings` (YAML via :func:`load_dpo_settings`, merged with CLI overrides),

and writes a plain transformers model folder (safetensors + tokenizer) that every stage loads
like any local model. With LoRA the adapter is merged into the base weights before saving.
``bench_training.json`` next to the weights records the base model fingerprint, the settings,
the preference data hash, the final trainer metrics and the library versions.

Prompt format
-------------
A base model with a chat template is trained on conversations (TRL applies the template).
A base model *without* one is trained on plain text in the generation stage's zero-shot frame
(``baselines.generation.urial.zero_shot_prompt``, what ``bench baselines run`` uses for method ``dpo`` on
a model without chat template; :data:`DPO_PROMPT_TEMPLATE` is the same frame, used when that
module is absent)::

    # Query:
    ```
    {instruction}
    ```

    # Answer:
    ```
    {answer}
    ```</s>

The answer block is closed by a fence and then the EOS token (``</s>``, appended by TRL), so
the model learns to close its answer and stop; ``clean_urial_output`` at generation time cuts
at that fence. The saved tokenizer is the base's, unchanged (no chat template is added: that
would switch generation to the chat path). System messages, rare in preference data, are
written first followed by a blank line; earlier turns of multi-turn prompts are written in the
same frame, each answer closed and followed by a blank line.

Atomicity: training runs in ``<out>.tmp-<random>`` beside the output folder, renamed to
``<out>`` only once weights, tokenizer and ``bench_training.json`` are written; a killed run
leaves at most a ``.tmp-`` folder (safe to delete), never a half model under the final name.

Multi-GPU: ``accelerate launch -m bench.cli baselines train-dpo ...`` (see docs/dpo.md); only
the main process writes the output folder.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.errors import BenchError, ConfigError, InputError
from bench.json_records import iter_jsonl, read_json

TRAINING_FILE = "bench_training.json"
TRAINING_FORMAT = "bench-dpo-training/1"
PREFERENCE_SUFFIXES = (".jsonl", ".json", ".parquet")
DEFAULT_LR_FULL = 5e-7
DEFAULT_LR_LORA = 5e-6

# ---------------------------------------------------------------------------------------------
# Settings


class DPOSettings(BaseModel):
    """DPO training settings (YAML keys = field names; CLI options override them)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    beta: float = Field(0.1, gt=0, description="DPO beta: strength of the KL penalty towards the base model "
                                              "(higher = stays closer to the base model).")
    loss_type: str = Field("sigmoid", description="TRL loss type: sigmoid (the DPO paper), ipo, hinge, robust, ...")
    learning_rate: float | None = Field(
        None, gt=0, description=f"Peak learning rate; default {DEFAULT_LR_FULL:g} for full fine-tuning, "
                                f"{DEFAULT_LR_LORA:g} with LoRA.")
    epochs: float = Field(1.0, gt=0, description="Passes over the preference pairs (ignored when max_steps is set).")
    max_steps: int | None = Field(None, gt=0, description="Optimizer steps to run; overrides epochs.")
    per_device_train_batch_size: int = Field(2, ge=1, description="Preference pairs per device per forward pass.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Forward passes accumulated per optimizer step "
                                                                  "(effective batch = batch x accumulation x devices).")
    max_length: int = Field(1024, ge=8, description="Maximum tokens of prompt + answer; longer answers are cut at "
                                                     "the end.")
    max_prompt_length: int | None = Field(
        512, ge=4, description="Maximum prompt tokens; longer prompts lose text at their start (the question and "
                               "the answer header are kept). null: no limit besides max_length.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of the steps with a linear learning-rate warmup.")
    lr_scheduler_type: str = Field("cosine", description="Learning-rate schedule after warmup: cosine, linear, "
                                                          "constant, ...")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    optim: str = Field("adamw_torch", description="transformers optimizer name (adamw_torch, adamw_torch_fused, "
                                                  "paged_adamw_8bit with bitsandbytes, ...).")
    seed: int = Field(0, ge=0, description="Seed for adapter init, data order and dropout.")
    lora: bool = Field(False, description="Train a LoRA adapter (merged into the weights before saving) instead of "
                                          "all weights.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha (scaling = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    lora_target_modules: list[str] | str = Field(
        "all-linear", description="Modules that get adapters: 'all-linear' (every linear layer except the LM head) "
                                  "or a list of module names such as [q_proj, k_proj, v_proj, o_proj].")
    bf16: bool | None = Field(None, description="bfloat16 mixed precision; null: on when training on a GPU that "
                                                "supports it, off on CPU.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass "
                                                            "(less memory, ~20% slower).")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32", description="dtype the weights are loaded and trained in. Keep float32 for full fine-tuning at "
                               "small learning rates: bfloat16 weights cannot hold updates of ~1e-7.")
    save_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="dtype of the saved weights; auto: the base model's own dtype (config), else float32.")
    device: Literal["cpu", "auto", "cuda"] = Field(
        "cpu", description="cpu (default), cuda, or auto (GPU when available). Under `accelerate launch` use auto "
                           "or cuda.")
    logging_steps: int = Field(1, ge=1, description="Optimizer steps between two trainer log entries.")
    max_pairs: int | None = Field(None, ge=1, description="Use only the first N preference pairs (after "
                                                           "validating all of them).")
    precompute_ref_log_probs: bool = Field(False, description="Compute the reference log-probabilities once "
                                                              "before training (frees the reference model's memory "
                                                              "in full fine-tuning).")

    @model_validator(mode="after")
    def _check(self) -> "DPOSettings":
        if self.max_prompt_length is not None and self.max_prompt_length >= self.max_length:
            raise ValueError(f"max_prompt_length ({self.max_prompt_length}) must be smaller than max_length "
                             f"({self.max_length})")
        return self

    def resolved_learning_rate(self, lora: bool) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LR_LORA if lora else DEFAULT_LR_FULL


def _pydantic_error(where: str, exc: ValidationError, *, option_names: dict[str, str] | None = None) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    name = loc[0] if loc else None
    if option_names and name in option_names:
        name = option_names[name]
    if err.get("type") == "extra_forbidden":
        message = f"unknown setting (expected one of: {', '.join(DPOSettings.model_fields)})"
    else:
        message = err.get("msg", "invalid value")
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if "input" in err and err.get("type") != "missing" and name is not None:
            message += f" (got {err['input']!r})"
    return ConfigError(where, message, field=name)


def load_dpo_settings(path: str | os.PathLike) -> DPOSettings:
    """Read a YAML mapping of :class:`DPOSettings` fields; one-line ConfigError naming file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(str(path), f"not valid UTF-8 ({exc.reason} at line {line}, byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"expected a mapping of settings, got {type(data).__name__}")
    try:
        return DPOSettings.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(str(path), exc) from None


def merge_settings(base: DPOSettings | None, overrides: dict[str, Any], *, where: str = "command line",
                   option_names: dict[str, str] | None = None) -> DPOSettings:
    """``base`` with the non-None ``overrides`` applied (validated; errors name the option)."""
    base = base or DPOSettings()
    values = base.model_dump(exclude_unset=True)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DPOSettings.model_validate(values)
    except ValidationError as exc:
        raise _pydantic_error(where, exc, option_names=option_names) from None


# ---------------------------------------------------------------------------------------------
# Prompt format


# The zero-shot frame of the generation stage (baselines.generation.urial.ZERO_SHOT_TEMPLATE): URIAL's
# query/answer blocks without examples. Kept here as the fallback when baselines.generation.urial is absent.
DPO_PROMPT_TEMPLATE = "# Query:\n```\n{instruction}\n```\n\n# Answer:\n```\n"
FENCE = "```"
_PROBE = "\u0000INSTRUCTION\u0000"


def dpo_prompt_format(instruction: str, lang: str = "en") -> str:
    """The zero-shot, URIAL-free prompt a base model without chat template is DPO-trained with.

    ``baselines.generation.urial.zero_shot_prompt`` when that module is there (what generation uses for
    method ``dpo`` on a model without chat template), else the same frame defined here. ``lang``
    is accepted for parity with ``zero_shot_prompt``; the frame is the same in every language."""
    return plain_prompt_format().user(instruction)


@dataclass(frozen=True)
class PlainPromptFormat:
    """``prefix + instruction + suffix``; answers get ``answer_suffix`` (closing the answer block)."""

    prefix: str
    suffix: str
    source: str

    @property
    def answer_suffix(self) -> str:
        """A newline and a closing fence when the prompt leaves a fenced answer block open, else ``""``."""
        return "\n" + FENCE if (self.prefix + self.suffix).count(FENCE) % 2 == 1 else ""

    def user(self, text: str) -> str:
        return f"{self.prefix}{text}{self.suffix}"

    def answer(self, text: str) -> str:
        return text.strip() + self.answer_suffix

    def render(self, messages: list[dict[str, str]]) -> str:
        """Prompt messages (system/user/assistant, ending with user) as plain text."""
        out: list[str] = []
        for msg in messages:
            if msg["role"] == "system":
                out.append(msg["content"].strip() + "\n\n")
            elif msg["role"] == "user":
                out.append(self.user(msg["content"]))
            else:
                out.append(self.answer(msg["content"]) + "\n\n")
        return "".join(out)


def plain_prompt_format() -> PlainPromptFormat:
    """The frame of ``baselines.generation.urial.zero_shot_prompt`` when importable, else :data:`DPO_PROMPT_TEMPLATE`."""
    try:  # the generation stage's zero-shot frame (language-independent: headings are English everywhere)
        from baselines.generation.urial import zero_shot_prompt  # type: ignore[import-not-found]

        probe = zero_shot_prompt(_PROBE, "en")
        if isinstance(probe, str) and probe.count(_PROBE) == 1:
            prefix, suffix = probe.split(_PROBE)
            return PlainPromptFormat(prefix, suffix, "baselines.generation.urial.zero_shot_prompt")
    except Exception:  # noqa: BLE001 - absent or incompatible: use the copy kept here
        pass
    prefix, suffix = DPO_PROMPT_TEMPLATE.format(instruction=_PROBE).split(_PROBE)
    return PlainPromptFormat(prefix, suffix, "baselines.dpo.train.DPO_PROMPT_TEMPLATE")


# ---------------------------------------------------------------------------------------------
# Preference data


@dataclass
class PreferencePair:
    """One validated pair: prompt messages (ending with a user turn) and two answers."""

    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    lang: str | None = None


@dataclass
class PreferenceData:
    source: str
    kind: Literal["file", "hub"]
    pairs: list[PreferencePair]
    sha256: str               # of the file bytes (files) or of the normalised pairs (Hub datasets)
    pairs_sha256: str         # of the normalised pairs, whatever the source
    split: str | None = None
    records: int = 0          # records read (before max_pairs)

    def languages(self) -> dict[str, int]:
        return dict(sorted(Counter(p.lang or "?" for p in self.pairs).items()))


def _messages(value: Any, where: str, rec: str, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError(where, "expected a non-empty string or a non-empty list of chat messages", record=rec,
                         field=name)
    out = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) or "content" not in msg:
            raise InputError(where, f"message {i} is not a {{role, content}} object", record=rec, field=name)
        content = msg["content"]
        if isinstance(content, list):  # [{"type": "text", "text": ...}] multimodal-style content
            parts = [c.get("text") for c in content if isinstance(c, dict) and c.get("type") == "text"]
            if len(parts) != len(content) or not all(isinstance(t, str) for t in parts):
                raise InputError(where, f"message {i} has non-text content", record=rec, field=f"{name}.content")
            content = "".join(parts)
        if not isinstance(content, str):
            raise InputError(where, f"message {i} content is not a string", record=rec, field=f"{name}.content")
        role = msg["role"]
        if role not in ("system", "user", "assistant"):
            raise InputError(where, f"message {i} has unsupported role {role!r}", record=rec, field=f"{name}.role")
        out.append({"role": role, "content": content})
    return out


def normalise_record(record: Any, where: str, rec: str) -> PreferencePair:
    """Validate one ``prompt``/``chosen``/``rejected`` record; strings or lists of chat messages."""
    if not isinstance(record, dict):
        raise InputError(where, f"expected an object with prompt, chosen, rejected; got {type(record).__name__}",
                         record=rec)
    for name in ("prompt", "chosen", "rejected"):
        if record.get(name) is None:
            raise InputError(where, "missing", record=rec, field=name)
    prompt_value = record["prompt"]
    if isinstance(prompt_value, str):
        if not prompt_value.strip():
            raise InputError(where, "empty", record=rec, field="prompt")
        prompt = [{"role": "user", "content": prompt_value}]
    else:
        prompt = _messages(prompt_value, where, rec, "prompt")
        if prompt[-1]["role"] != "user":
            raise InputError(where, "the last prompt message must be a user message", record=rec, field="prompt")
        if not prompt[-1]["content"].strip():
            raise InputError(where, "empty", record=rec, field="prompt")
    answers: dict[str, str] = {}
    for name in ("chosen", "rejected"):
        value = record[name]
        if isinstance(value, str):
            text = value
        else:
            msgs = _messages(value, where, rec, name)
            if msgs[-1]["role"] != "assistant":
                raise InputError(where, "the last message must be the assistant's answer", record=rec, field=name)
            text = msgs[-1]["content"]
        if not text.strip():
            raise InputError(where, "empty", record=rec, field=name)
        answers[name] = text
    lang = record.get("lang")
    return PreferencePair(prompt, answers["chosen"], answers["rejected"], lang if isinstance(lang, str) else None)


def _pairs_sha256(pairs: Iterable[PreferencePair]) -> str:
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps([p.prompt, p.chosen, p.rejected], ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _read_local(path: Path) -> Iterator[tuple[str, Any]]:
    where = str(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for n, value in iter_jsonl(path):
            yield f"line {n}", value
    elif suffix == ".json":
        data = read_json(path)
        if not isinstance(data, list):
            raise InputError(where, f"expected a JSON list of preference records, got {type(data).__name__}")
        for i, item in enumerate(data):
            yield f"index {i}", item
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
            raise InputError(where, f"cannot read parquet ({str(exc).splitlines()[0]})") from None
        for i, item in enumerate(table.to_pylist()):
            yield f"index {i}", item
    else:
        raise InputError(where, f"unsupported format '{suffix or '(none)'}'; expected one of "
                                f"{', '.join(PREFERENCE_SUFFIXES)} or a Hub dataset id")


def load_preferences(src: str | os.PathLike, *, split: str = "train", max_pairs: int | None = None) -> PreferenceData:
    """Read and validate every preference record of a local file or a Hub dataset (``split``)."""
    text = str(src).strip()
    path = Path(text).expanduser()
    looks_local = path.exists() or path.suffix.lower() in PREFERENCE_SUFFIXES or text.startswith((".", "/", "~"))
    if looks_local:
        if not path.is_file():
            raise InputError(str(path), "no such file")
        from bench.hashing import sha256_file

        records = list(_read_local(path))
        where, kind, file_sha, used_split = str(path), "file", sha256_file(path), None
    else:
        records = list(_read_hub(text, split))
        where, kind, file_sha, used_split = f"{text} [{split}]", "hub", None, split
    if not records:
        raise InputError(where, "no preference records")
    pairs = [normalise_record(item, where, rec) for rec, item in records]
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    pairs_sha = _pairs_sha256(pairs)
    return PreferenceData(where, kind, pairs, file_sha or pairs_sha, pairs_sha, used_split, len(records))


def _read_hub(dataset_id: str, split: str) -> Iterator[tuple[str, Any]]:
    from datasets import load_dataset

    where = f"{dataset_id} [{split}]"
    try:
        ds = load_dataset(dataset_id, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; the user needs one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InputError(where, f"cannot load the Hub dataset ({first})") from None
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in ds.column_names]
    if missing:
        raise InputError(where, f"no '{missing[0]}' column (columns: {', '.join(ds.column_names)})",
                         field=missing[0])
    columns = [c for c in ("prompt", "chosen", "rejected", "lang") if c in ds.column_names]
    for i, item in enumerate(ds.select_columns(columns)):
        yield f"index {i}", item


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainReport:
    out_dir: str
    base_model: str
    base_fingerprint: str
    lora: bool
    pairs: int
    steps: int
    epochs: float
    seconds: float
    learning_rate: float
    metrics: dict[str, float] = field(default_factory=dict)
    truncated_prompts: int = 0
    device: str = "cpu"
    is_main_process: bool = True   # False on the other ranks under `accelerate launch` (nothing written there)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _truncate_prompt(messages: list[dict[str, str]], render: Callable[[list[dict[str, str]]], str],
                     tokenizer: Any, limit: int) -> tuple[list[dict[str, str]], bool]:
    """Drop tokens from the start of the earliest messages until ``render(messages)`` fits ``limit``."""
    def length(msgs: list[dict[str, str]]) -> int:
        return len(tokenizer(render(msgs), add_special_tokens=False)["input_ids"])

    excess = length(messages) - limit
    if excess <= 0:
        return messages, False
    messages = [dict(m) for m in messages]
    for _ in range(64):  # usually one pass; re-rendering may merge tokens differently at the cut
        for i, msg in enumerate(messages):
            ids = tokenizer(msg["content"], add_special_tokens=False)["input_ids"]
            keep_min = 1 if i == len(messages) - 1 else 0  # the question itself keeps at least one token
            cut = min(len(ids) - keep_min, excess)
            if cut > 0:
                msg["content"] = tokenizer.decode(ids[cut:], skip_special_tokens=False)
                break
        else:
            break  # nothing left to cut: the template alone is longer than the limit
        messages = [m for i, m in enumerate(messages) if m["content"] or i == len(messages) - 1]
        excess = length(messages) - limit
        if excess <= 0:
            break
    return messages, True


def _train_records(pairs: list[PreferencePair], tokenizer: Any, settings: DPOSettings,
                   plain: PlainPromptFormat | None) -> tuple[list[dict[str, Any]], int]:
    """TRL records: conversational (chat template) or plain-text prompts; prompts cut to max_prompt_length."""
    if plain is None:
        def render(msgs: list[dict[str, str]]) -> str:
            return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    else:
        render = plain.render
    records, truncated = [], 0
    for pair in pairs:
        prompt = pair.prompt
        if settings.max_prompt_length is not None:
            prompt, cut = _truncate_prompt(prompt, render, tokenizer, settings.max_prompt_length)
            truncated += cut
        if plain is None:
            records.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": pair.chosen}],
                            "rejected": [{"role": "assistant", "content": pair.rejected}]})
        else:
            records.append({"prompt": render(prompt), "chosen": plain.answer(pair.chosen),
                            "rejected": plain.answer(pair.rejected)})
    return records, truncated


def _final_metrics(log_history: list[dict[str, Any]]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    step_logs = [e for e in log_history if "rewards/accuracies" in e and "train_loss" not in e]
    if step_logs:
        last = step_logs[-1]
        for key in ("loss", "rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected",
                    "logps/chosen", "logps/rejected", "learning_rate", "grad_norm", "epoch", "step"):
            if key in last and isinstance(last[key], (int, float)):
                metrics[key] = float(last[key])
    summary = [e for e in log_history if "train_loss" in e]
    if summary:
        for key in ("train_loss", "train_runtime", "train_samples_per_second"):
            if key in summary[-1]:
                metrics[key] = float(summary[-1][key])
    return metrics


def _finite(value: Any) -> Any:
    """NaN/inf (possible in trainer logs) as None, so the JSON file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _resolve_bf16(settings: DPOSettings, device: str) -> bool:
    if settings.bf16 is not None:
        return settings.bf16
    if device == "cpu":
        return False
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _save_dtype(settings: DPOSettings, config: Any) -> str:
    if settings.save_dtype != "auto":
        return settings.save_dtype
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(value).replace("torch.", "") if value is not None else ""
    return name if name in ("float32", "bfloat16", "float16") else "float32"


def _publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished ``tmp`` folder to ``out`` (moving an old ``out`` aside first when allowed)."""
    old = None
    if out.exists():
        if not overwrite:
            raise BenchError(f"{out}: already exists (pass --overwrite to replace it)")
        old = out.with_name(f"{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _quiet_training() -> Iterator[None]:
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    import datasets

    level = hf_logging.get_verbosity()
    trl_logger = logging.getLogger("trl")
    trl_level = trl_logger.level
    hf_bars = hf_logging.is_progress_bar_enabled()
    ds_bars = datasets.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    trl_logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()  # weight loading/saving bars (the trainer's own bar is separate)
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        trl_logger.setLevel(trl_level)
        if hf_bars:
            hf_logging.enable_progress_bar()
        if ds_bars:
            datasets.enable_progress_bars()


def _stderr_progress(base: type) -> Any:
    """transformers' ProgressCallback with its log lines on stderr (tqdm.write defaults to stdout)."""
    import sys

    class StderrProgressCallback(base):  # type: ignore[misc, valid-type]
        def on_log(self, *args: Any, **kwargs: Any) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return super().on_log(*args, **kwargs)

    return StderrProgressCallback()


def train_dpo(base_model: str, preferences: str | os.PathLike | PreferenceData, out_dir: str | os.PathLike, *,
              lora: bool | None = None, config: DPOSettings | None = None, cache_dir: str | os.PathLike | None = None,
              split: str = "train", overwrite: bool = False, progress: bool | None = None) -> TrainReport:
    """DPO-train ``base_model`` on ``preferences``; write a plain model folder at ``out_dir``.

    ``lora``: None follows ``config.lora``; True/False overrides it. ``preferences``: a local
    ``.jsonl``/``.json``/``.parquet`` file, a Hub dataset id (``split`` chooses the split), or
    an already loaded :class:`PreferenceData`. ``overwrite``: replace an existing ``out_dir``
    (default: refuse). ``progress``: trainer progress bar (default: on unless
    ``BENCH_NO_PROGRESS=1``). Returns a :class:`TrainReport`.
    """
    settings = config or DPOSettings()
    use_lora = settings.lora if lora is None else bool(lora)
    if use_lora != settings.lora:
        settings = settings.model_copy(update={"lora": use_lora})
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not overwrite:
        raise BenchError(f"{out}: already exists (pass --overwrite to replace it)")
    if progress is None:
        progress = os.environ.get("BENCH_NO_PROGRESS") != "1"

    from bench.models import load_config, load_tokenizer, model_source, resolve_device, resolve_model, torch_dtype
    from bench.store import library_versions

    started_at, t0 = _utc(), time.perf_counter()
    data = preferences if isinstance(preferences, PreferenceData) else \
        load_preferences(preferences, split=split, max_pairs=settings.max_pairs)
    if isinstance(preferences, PreferenceData) and settings.max_pairs is not None:
        data = replace(data, pairs=data.pairs[:settings.max_pairs])
    ref = resolve_model(base_model, cache_dir=cache_dir)
    device = resolve_device(settings.device)
    base_config = load_config(ref, cache_dir=cache_dir)
    tokenizer = load_tokenizer(ref, cache_dir=cache_dir)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    plain = None if has_template else plain_prompt_format()
    records, truncated = _train_records(data.pairs, tokenizer, settings, plain)

    import transformers
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PrinterCallback, ProgressCallback
    from trl import DPOConfig, DPOTrainer

    lr = settings.resolved_learning_rate(use_lora)
    tmp = out.with_name(f"{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    cfg_fields = {f.name for f in dataclass_fields(DPOConfig)}
    kwargs: dict[str, Any] = dict(
        output_dir=str(tmp / "trainer"), beta=settings.beta, loss_type=[settings.loss_type], learning_rate=lr,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, max_length=settings.max_length,
        lr_scheduler_type=settings.lr_scheduler_type, weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm, optim=settings.optim, seed=settings.seed, data_seed=settings.seed,
        bf16=_resolve_bf16(settings, device), fp16=False,
        logging_steps=settings.logging_steps, save_strategy="no", report_to="none", use_cpu=device == "cpu",
        disable_tqdm=not progress, dataloader_num_workers=0,
        precompute_ref_log_probs=settings.precompute_ref_log_probs,
    )
    if "activation_checkpointing" in cfg_fields:  # transformers >= 5.x renamed gradient_checkpointing
        kwargs["activation_checkpointing"] = settings.gradient_checkpointing
    else:
        kwargs["gradient_checkpointing"] = settings.gradient_checkpointing
    if "warmup_ratio" in cfg_fields:  # transformers < 5
        kwargs["warmup_ratio"] = settings.warmup_ratio
    else:  # transformers 5: a float in [0, 1) is a ratio
        kwargs["warmup_steps"] = settings.warmup_ratio
    try:
        with _quiet_training():
            args = DPOConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError("settings", str(exc).splitlines()[0]) from None

    path, load_kwargs = model_source(ref, cache_dir)
    transformers.set_seed(settings.seed)
    train_dtype = "auto" if settings.dtype == "auto" else torch_dtype(settings.dtype)
    peft_config = None
    with _quiet_training():
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=train_dtype, **load_kwargs)
            ref_model = None
            if not use_lora and not settings.precompute_ref_log_probs:
                # explicit reference model: TRL would reload it from config._name_or_path (losing a Hub revision)
                ref_model = AutoModelForCausalLM.from_pretrained(path, dtype=train_dtype, **load_kwargs)
        except Exception as exc:  # noqa: BLE001
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise BenchError(f"cannot load model '{ref.ref}': {first}") from exc
        if use_lora:
            from peft import LoraConfig

            targets = settings.lora_target_modules
            peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                                     lora_dropout=settings.lora_dropout, task_type="CAUSAL_LM",
                                     target_modules=targets if isinstance(targets, str) else list(targets))
        train_ds = Dataset.from_list(records)
        try:
            trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=train_ds,
                                 processing_class=tokenizer, peft_config=peft_config)
        except ValueError as exc:
            raise ConfigError("settings", str(exc).splitlines()[0]) from None
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        if progress:  # the bar and the log lines go to stderr: stdout stays for --json
            trainer.add_callback(_stderr_progress(ProgressCallback))
        if len(trainer.train_dataset) == 0:
            raise InputError(data.source, f"no pair fits max_length={settings.max_length} (every prompt fills it)")
        main = args.should_save
        try:
            trainer.train()
            trainer.accelerator.wait_for_everyone()
            if main:
                final = trainer.accelerator.unwrap_model(trainer.model)
                if use_lora:
                    final = final.merge_and_unload()
                save_dtype = _save_dtype(settings, base_config)
                final = final.to(torch_dtype(save_dtype))
                final.config.use_cache = True
                shutil.rmtree(tmp / "trainer", ignore_errors=True)
                tmp.mkdir(parents=True, exist_ok=True)
                final.save_pretrained(tmp, safe_serialization=True)
                load_tokenizer(ref, cache_dir=cache_dir).save_pretrained(tmp)  # unchanged (no template added)
                seconds = time.perf_counter() - t0
                metrics = _final_metrics(trainer.state.log_history)
                info = {
                    "format": TRAINING_FORMAT,
                    "method": "dpo",
                    "base_model": {"ref": ref.ref, "kind": ref.kind, "revision": ref.revision,
                                   "fingerprint": ref.fingerprint},
                    "lora": use_lora,
                    "settings": settings.model_dump(mode="json"),
                    "learning_rate": lr,
                    "device": device,
                    "world_size": args.world_size,
                    "effective_batch_size": settings.per_device_train_batch_size
                    * settings.gradient_accumulation_steps * args.world_size,
                    "saved_dtype": save_dtype,
                    "preferences": {"source": data.source, "kind": data.kind, "split": data.split,
                                    "sha256": data.sha256, "pairs_sha256": data.pairs_sha256,
                                    "records": data.records, "pairs": len(data.pairs),
                                    "pairs_trained": len(trainer.train_dataset), "languages": data.languages(),
                                    "truncated_prompts": truncated},
                    "prompt_format": (
                        {"kind": "chat_template"} if plain is None else
                        {"kind": "plain", "source": plain.source, "prefix": plain.prefix, "suffix": plain.suffix,
                         "answer_suffix": plain.answer_suffix + "<eos>"}),
                    "metrics": metrics,
                    "steps": trainer.state.global_step,
                    "epochs": trainer.state.epoch,
                    "log_history": trainer.state.log_history,
                    "versions": library_versions(),
                    "started_at": started_at,
                    "finished_at": _utc(),
                    "seconds": round(seconds, 3),
                }
                text = json.dumps(_finite(info), indent=1, ensure_ascii=False, default=str)
                (tmp / TRAINING_FILE).write_text(text, encoding="utf-8")
                _publish(tmp, out, overwrite)
            trainer.accelerator.wait_for_everyone()
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    metrics = _final_metrics(trainer.state.log_history)
    return TrainReport(
        out_dir=str(out), base_model=ref.ref, base_fingerprint=ref.fingerprint, lora=use_lora,
        pairs=len(data.pairs), steps=trainer.state.global_step, epochs=float(trainer.state.epoch or 0.0),
        seconds=round(time.perf_counter() - t0, 3), learning_rate=lr,
        metrics={k: v for k, v in metrics.items() if math.isfinite(v)}, truncated_prompts=truncated, device=device,
        is_main_process=main,
    )
