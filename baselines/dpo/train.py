"""Align a base model with DPO (TRL's ``DPOTrainer``), optionally through a merged LoRA adapter.

The third arm of the study: small base LMs steered by in-context alignment (URIAL), their
instruction-tuned siblings, and the same base models trained with Direct Preference
Optimisation on preference pairs. :func:`train_dpo` takes

* a base model reference (Hub id, local folder or ``.gguf`` file; see :mod:`bench.models`),
* preference pairs: a local ``.jsonl`` / ``.json`` / ``.parquet`` file or a Hub preference dataset
  with ``prompt`` / ``chosen`` / ``rejected`` columns (UltraFeedback style: ``chosen`` and
  ``rejected`` may be strings or lists of chat messages whose last message is the answer),
* :class:`~baselines.dpo.settings.DPOSettings` (YAML via
  :func:`~baselines.dpo.settings.load_dpo_settings`, merged with CLI overrides),

and writes a plain transformers model folder (safetensors + tokenizer) that every stage loads
like any local model. With LoRA the adapter is merged into the base weights before saving.
``bench_training.json`` next to the weights records the base model fingerprint, the settings,
the preference data hash, the final trainer metrics and the library versions.

Prompt format: :mod:`baselines.dpo.prompt_format` (chat template when the base model has one,
else the generation stage's zero-shot frame). Preference files: :mod:`baselines.dpo.preference_files`.
Settings: :mod:`baselines.dpo.settings`.

Atomicity: training runs in ``<out>.tmp-<random>`` beside the output folder, renamed to
``<out>`` only once weights, tokenizer and ``bench_training.json`` are written; a killed run
leaves at most a ``.tmp-`` folder (safe to delete), never a half model under the final name.

Multi-GPU: ``accelerate launch -m bench.cli baselines train-dpo ...`` (see docs/dpo.md); only
the main process writes the output folder.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from baselines.dpo.preference_files import PreferenceData, PreferencePair, load_preferences
from baselines.dpo.prompt_format import PlainPromptFormat, plain_prompt_format
from baselines.dpo.settings import DPOSettings
from bench.chat import render_chat
from bench.errors import BenchError, ConfigError, InputError

TRAINING_FILE = "bench_training.json"
TRAINING_FORMAT = "bench-dpo-training/1"


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
            return render_chat(tokenizer, msgs, system_fallback=False)
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
    """:func:`bench.models.quiet_transformers` plus TRL's logger and datasets' progress bars."""
    import logging

    import datasets

    from bench.models import quiet_transformers

    trl_logger = logging.getLogger("trl")
    trl_level = trl_logger.level
    ds_bars = datasets.is_progress_bar_enabled()
    trl_logger.setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    try:
        with quiet_transformers():
            yield
    finally:
        trl_logger.setLevel(trl_level)
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

    from bench.chat import has_chat_template
    from bench.models import load_config, load_model, load_tokenizer, resolve_device, resolve_model, torch_dtype
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
    has_template = has_chat_template(tokenizer)
    plain = None if has_template else plain_prompt_format()
    records, truncated = _train_records(data.pairs, tokenizer, settings, plain)

    import transformers
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
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

    transformers.set_seed(settings.seed)
    train_dtype = "auto" if settings.dtype == "auto" else torch_dtype(settings.dtype)
    peft_config = None
    with _quiet_training():
        model = load_model(ref, dtype=train_dtype, cache_dir=cache_dir)
        ref_model = None
        if not use_lora and not settings.precompute_ref_log_probs:
            # explicit reference model: TRL would reload it from config._name_or_path (losing a Hub revision)
            ref_model = load_model(ref, dtype=train_dtype, cache_dir=cache_dir)
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
