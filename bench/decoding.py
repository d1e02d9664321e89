"""Decoding with a local causal LM: where a completion ends, how long a prompt may be, greedy batches.

Shared by the ``llm:`` translator, the local judge and the generation backends, so that the
stop tokens, the context length and a padded greedy batch are worked out the same way everywhere.
"""
from __future__ import annotations

from typing import Any, Sequence

from bench.models import quiet_transformers

# End-of-turn tokens of common chat formats; extra stop tokens for chat prompts when the tokenizer
# has them (GGUF files record only one EOS id).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "<turn|>")
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length")


def eos_token_ids(model: Any | None, tokenizer: Any, *, end_of_turn: bool, added_tokens: bool = False) -> list[int]:
    """Token ids that end a completion, in order, without repeats.

    The model's ``generation_config`` EOS id(s) (none when ``model`` is None), the tokenizer's EOS id
    and, with ``end_of_turn``, the :data:`END_OF_TURN_TOKENS` the tokenizer has as special tokens.
    ``added_tokens`` also takes end-of-turn tokens that are added but not special, and leaves out
    ids the tokenizer maps to its unknown token (the generation backends' lookup)."""
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is not None:
            ids.extend(value if isinstance(value, (list, tuple)) else [value])
    if end_of_turn:
        known = set(tokenizer.all_special_tokens)
        if added_tokens:
            known |= set(getattr(tokenizer, "added_tokens_encoder", {}) or {})
        for token in END_OF_TURN_TOKENS:
            if token not in known:
                continue
            idx = tokenizer.convert_tokens_to_ids(token)
            if added_tokens and not (isinstance(idx, int) and idx != tokenizer.unk_token_id):
                continue
            if idx is not None:
                ids.append(idx)
    return list(dict.fromkeys(int(i) for i in ids))


def context_length(config: Any, *, text_config: bool = False) -> int | None:
    """The model's context length from its config (None when it does not say).

    ``text_config``: read the text model's part of a multimodal config (``get_text_config``)."""
    if text_config and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for name in CONTEXT_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def generate_greedy(model: Any, tokenizer: Any, batch_ids: Sequence[Sequence[int]], /, *, max_new_tokens: int,
                    eos_ids: Sequence[int], **options: Any) -> list[list[int]]:
    """Greedy decoding of left-padded prompts in one batch; the new tokens of each row.

    Rows are not cut at EOS (the caller does); ``options`` go to ``generate`` (e.g. ``stop_strings``
    with ``tokenizer``)."""
    import torch

    padded = tokenizer.pad({"input_ids": [list(ids) for ids in batch_ids]}, padding=True, return_tensors="pt")
    padded = {k: v.to(model.device) for k, v in padded.items()}
    with torch.inference_mode(), quiet_transformers():
        out = model.generate(**padded, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=list(eos_ids) or None,
                             temperature=None, top_p=None, top_k=None, **options)
    start = padded["input_ids"].shape[1]
    return [row[start:].tolist() for row in out]


def batch_inputs(batch_ids: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` of a left-padded batch."""
    import torch

    width = max(len(ids) for ids in batch_ids)
    input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, ids in enumerate(batch_ids):
        input_ids[i, width - len(ids):] = torch.tensor(list(ids), dtype=torch.long)
        mask[i, width - len(ids):] = 1
    return input_ids, mask


def next_token_probs(model: Any, tokenizer: Any, prompts: Sequence[Sequence[int]], suffixes: Sequence[Sequence[int]],
                     token_ids: Sequence[int], /, *, reuse_prompt: bool = True, prefix_cache: Any = None,
                     prefix_len: int = 0) -> list[list[list[float]]]:
    """Next-token probabilities after every ``prompt + suffix``: ``out[row][suffix][k]`` is the softmax
    probability (over the whole vocabulary, in float32) of ``token_ids[k]`` right after prompt ``row``
    followed by suffix ``suffix``.

    Prompts are left-padded into one batch. ``reuse_prompt``: the prompts run once and their keys/values
    serve every suffix (one short forward per suffix, the cache cropped back after each); only for models
    whose layers all attend to the full context (the caller checks). Otherwise every ``prompt + suffix``
    is one row of a single batch. Both give the same numbers up to float rounding.

    With ``reuse_prompt``, ``prefix_len`` > 0 and a prefix cache (``PrefixCache`` of the generation stage),
    the first ``prefix_len`` tokens, the same in every prompt (a judge's system prompt), come from that
    cache (computed once per prefix) and only the rest of each prompt is run: same numbers again."""
    import torch

    if not suffixes or any(len(s) == 0 for s in suffixes):
        raise ValueError("next_token_probs: every suffix needs at least one token")
    ids = [list(p) for p in prompts]
    select = torch.tensor(list(token_ids), dtype=torch.long)
    with torch.inference_mode(), quiet_transformers():
        if not reuse_prompt:
            rows = [p + list(s) for p in ids for s in suffixes]
            padded = tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt")
            mask = padded["attention_mask"].to(model.device)
            logits = model(input_ids=padded["input_ids"].to(model.device), attention_mask=mask,
                           position_ids=(mask.long().cumsum(-1) - 1).clamp(min=0), logits_to_keep=1).logits[:, -1]
            probs = torch.softmax(logits.float(), dim=-1)[:, select.to(logits.device)].cpu()
            return probs.view(len(ids), len(suffixes), len(select)).tolist()
        input_ids, mask = batch_inputs(ids, tokenizer.pad_token_id)  # left-padded: the prefix cache's layout
        width = input_ids.shape[1]
        cache, start = None, 0
        if prefix_cache is not None and prefix_len > 0:
            cache = prefix_cache.batch(tuple(ids[0][:prefix_len]), [width - len(p) for p in ids])
            start = prefix_len if cache is not None else 0  # None: not reusable, full prefill
        input_ids, mask = input_ids.to(model.device), mask.to(model.device)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=input_ids[:, start:], attention_mask=mask, position_ids=positions[:, start:],
                    past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache, lengths = out.past_key_values, mask.long().sum(-1, keepdim=True)
        result = torch.empty(len(ids), len(suffixes), len(select))
        for j, suffix in enumerate(suffixes):
            n = len(suffix)
            step = torch.tensor([list(suffix)] * len(ids), dtype=torch.long, device=model.device)
            full_mask = torch.cat([mask, torch.ones(len(ids), n, dtype=mask.dtype, device=mask.device)], dim=1)
            position = lengths + torch.arange(n, device=mask.device)
            logits = model(input_ids=step, attention_mask=full_mask, position_ids=position, past_key_values=cache,
                           use_cache=True, logits_to_keep=1).logits[:, -1]
            result[:, j] = torch.softmax(logits.float(), dim=-1)[:, select.to(logits.device)].cpu()
            cache.crop(-n)  # back to the prompts alone (a negative count: every transformers version)
        return result.tolist()
