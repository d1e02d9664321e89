"""``bench baselines train-dpo`` and ``bench baselines make-preferences`` (see :mod:`baselines.dpo.train`).

Standalone click commands; the integrator mounts them in the ``baselines`` group. Both read
``ctx.obj.workspace`` when present (cache folder, store) and work without it for train-dpo.
"""
from __future__ import annotations

import json

import click

from baselines.dpo.settings import DPOSettings
from bench.cli_options import json_option, languages_option, settings_option_labels, settings_options

# DPOSettings fields whose option is not plain --field-name (--x/--no-x for booleans)
_OPTION_NAMES = {"learning_rate": ("--learning-rate", "--lr"), "per_device_train_batch_size": ("--batch-size",),
                 "gradient_accumulation_steps": ("--grad-accum",), "lora": ("--lora/--full",)}
# DPOSettings field -> the option that sets it (error messages name the option the user typed)
_OPTIONS = settings_option_labels(DPOSettings, names=_OPTION_NAMES)


def _workspace(ctx: click.Context):
    return getattr(ctx.obj, "workspace", None)


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


@click.command("train-dpo")
@click.option("--model", "base_model", required=True, metavar="BASE",
              help="Base model: Hub id, local model folder or .gguf file.")
@click.option("--preferences", required=True, metavar="SRC",
              help="Preference pairs: a local .jsonl/.json/.parquet file (prompt, chosen, rejected) or a Hub "
                   "dataset id (UltraFeedback-style; see --split).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Output model folder (written atomically; a plain transformers model folder).")
@click.option("--split", default="train", show_default=True, help="Split of a Hub preference dataset "
              "(e.g. train_prefs for HuggingFaceH4/ultrafeedback_binarized).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="YAML",
              help="DPO settings file (configs/dpo/*.yaml); options below override it.")
@settings_options(DPOSettings, names=_OPTION_NAMES, metavars={"lora_target_modules": "all-linear|M1,M2"})
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@json_option("Print the report as one JSON object on stdout.")
@click.pass_context
def train_dpo_cmd(ctx, base_model, preferences, out_dir, split, config_path, as_json, overwrite,
                  lora_target_modules, **overrides) -> None:
    """DPO-align a base model on preference pairs (TRL); save a plain model folder + bench_training.json."""
    from baselines.dpo.settings import load_dpo_settings, merge_settings
    from baselines.dpo.train import train_dpo

    settings = load_dpo_settings(config_path) if config_path else None
    if lora_target_modules is not None:
        targets = _csv(lora_target_modules) or []
        overrides["lora_target_modules"] = targets[0] if targets == ["all-linear"] else targets
    settings = merge_settings(settings, overrides, option_names=_OPTIONS)
    workspace = _workspace(ctx)
    # not workspace.cache_dir (which creates the folder): a bad input must leave no workspace behind
    cache_dir = workspace.root / "cache" if workspace is not None else None
    report = train_dpo(base_model, preferences, out_dir, config=settings, cache_dir=cache_dir, split=split,
                       overwrite=overwrite)
    if not report.is_main_process:
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"DPO {'LoRA (merged)' if report.lora else 'full'}: {report.out_dir}")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    m = report.metrics
    rows = [
        ("base model", report.base_model),
        ("pairs", f"{report.pairs:,}" + (f" ({report.truncated_prompts:,} prompts truncated)"
                                         if report.truncated_prompts else "")),
        ("steps / epochs", f"{report.steps:,} / {report.epochs:.2f}"),
        ("learning rate", f"{report.learning_rate:g}"),
        ("device", report.device),
        ("final loss", _fmt(m.get("loss"))),
        ("mean train loss", _fmt(m.get("train_loss"))),
        ("rewards/accuracies", _fmt(m.get("rewards/accuracies"))),
        ("rewards/margins", _fmt(m.get("rewards/margins"))),
        ("time", f"{report.seconds:,.1f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command("make-preferences")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Output JSONL (prompt, chosen, rejected, lang, item_id, chosen_model, rejected_model, margin).")
@click.option("--judge", default=None, help="Judge whose scores rank the responses (required when the store "
              "holds several).")
@languages_option("Only these languages (comma-separated).", metavar="fr,es")
@click.option("--min-margin", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Minimum difference of mean aspect scores between chosen and rejected.")
@click.option("--aspects", default=None, metavar="A,B",
              help="Aspects averaged (default: helpfulness,clarity,factuality,depth,engagement).")
@click.option("--methods", default=None, metavar="M,N", help="Only responses of these methods (zero-shot, urial, "
              "chat, published, ...).")
@json_option("Print the counts as one JSON object on stdout.")
@click.pass_context
def make_preferences_cmd(ctx, out_path, judge, languages, min_margin, aspects, methods, as_json) -> None:
    """Build DPO preference pairs (best vs worst judged response per item and language) from the store."""
    from baselines.dpo.preferences import ASPECTS, PreferenceStats, make_preferences

    workspace = _workspace(ctx)
    if workspace is None:
        raise click.UsageError("make-preferences needs the bench workspace (run it as `bench baselines ...`)")
    stats = PreferenceStats()
    if judge:  # a judge name or the spec it was run with
        from baselines.judging.naming import judge_name

        judge = judge_name(judge)
    count = make_preferences(workspace.store, out_path, judge=judge, languages=_csv(languages),
                             min_margin=min_margin, aspects=_csv(aspects) or ASPECTS, methods=_csv(methods),
                             stats=stats)
    if as_json:
        click.echo(json.dumps({"out": out_path, **stats.to_dict()}, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"preference pairs -> {out_path}")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("judge", stats.judge or "(no judged responses)"),
        ("items x languages judged", f"{stats.groups:,}"),
        ("pairs written", f"{count:,}"),
        ("  by language", ", ".join(f"{k} {v:,}" for k, v in stats.languages.items()) or "-"),
        ("skipped: one response", f"{stats.single_response:,}"),
        (f"skipped: margin < {min_margin:g}", f"{stats.below_margin:,}"),
        ("skipped: same answer", f"{stats.same_output:,}"),
        ("responses with a missing score", f"{stats.incomplete_responses:,}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
