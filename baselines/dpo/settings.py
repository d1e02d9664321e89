"""DPO training settings (:class:`DPOSettings`): YAML files and command-line overrides.

``configs/dpo/*.yaml`` are mappings of :class:`DPOSettings` fields (unknown keys are errors);
:func:`load_dpo_settings` reads one, :func:`merge_settings` applies the options of ``bench baselines
train-dpo`` on top. Every problem is one :class:`~bench.errors.ConfigError` line naming the file (or
``command line``) and the field or option.
"""
from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.config_files import YamlWording, load_yaml_model
from bench.errors import ConfigError

DEFAULT_LR_FULL = 5e-7
DEFAULT_LR_LORA = 5e-6
_WORDING = YamlWording(not_mapping="expected a mapping of settings, got {type}")


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
                               "the answer header are kept). null (YAML): no limit besides max_length.")
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
                                  "or module names: a YAML list, or comma-separated on the command line "
                                  "(q_proj,k_proj,v_proj,o_proj).")
    bf16: bool | None = Field(None, description="bfloat16 mixed precision; unset (null): on when training on a "
                                                "GPU that supports it, off on CPU.")
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


def _describe(exc: ValidationError, option_names: dict[str, str] | None = None) -> tuple[str | None, str]:
    """The first error as (setting, or the option the user typed; one-line message)."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    name = loc[0] if loc else None
    if option_names and name in option_names:
        name = option_names[name]
    if err.get("type") == "extra_forbidden":
        return name, f"unknown setting (expected one of: {', '.join(DPOSettings.model_fields)})"
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if "input" in err and err.get("type") != "missing" and name is not None:
        message += f" (got {err['input']!r})"
    return name, message


def load_dpo_settings(path: str | os.PathLike) -> DPOSettings:
    """Read a YAML mapping of :class:`DPOSettings` fields (empty file: defaults); one-line ConfigError naming
    file and field."""
    return load_yaml_model(path, DPOSettings, describe=_describe, wording=_WORDING)


def merge_settings(base: DPOSettings | None, overrides: dict[str, Any], *, where: str = "command line",
                   option_names: dict[str, str] | None = None) -> DPOSettings:
    """``base`` with the non-None ``overrides`` applied (validated; errors name the option)."""
    base = base or DPOSettings()
    values = base.model_dump(exclude_unset=True)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DPOSettings.model_validate(values)
    except ValidationError as exc:
        name, message = _describe(exc, option_names)
        raise ConfigError(where, message, field=name) from None
