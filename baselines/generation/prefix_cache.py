"""Prefix KV-cache reuse for the ``transformers`` backend (all URIAL prompts of a language share a prefix).

The prefix is run once and its ``DynamicCache`` kept (a few prefixes, LRU: :class:`PrefixCache`).
For a batch, the cache is copied and repeated to the batch size and only the suffixes are
computed. Layout of one batch row (:func:`batch_inputs`)::

    [prefix tokens P][pad ... pad][suffix tokens]      attention_mask = [1]*P + [0]*pad + [1]*len

i.e. the suffixes are right-aligned *after* the shared prefix and the padding sits between the
two, masked out. ``generate`` derives ``position_ids`` from the cumulative attention mask, so
every real token gets the position it has without padding (prefix 0..P-1, suffix P..), and the
masked pads are invisible to attention: the computation is the one of the unpadded prompt.
Padding on the left of the whole row is impossible here (the cached prefix starts at position
0 for every row), and left-padding the suffixes with positions counted from the row start
would shift them. The prefix token ids are those of the tokenized full prompts (the longest
common token prefix of the prefix text's encoding and every prompt: :func:`shared_prefix_len`),
so a BPE merge across the prefix/suffix boundary cannot make the cached tokens differ from the
uncached run. The cache is not used when a sliding-window layer could see past its window
(:func:`fits_sliding_window`). Greedy outputs are identical with and without reuse
(tests/test_generation.py checks it on a real URIAL prompt).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from bench.chat import encode_text

MIN_PREFIX_TOKENS = 8  # shorter shared prefixes are not worth a cache
PREFIX_CACHE_ENTRIES = 4


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def shared_prefix_len(tokenizer: Any, encoded: Sequence[Sequence[int]], shared_prefix: str) -> int:
    """Tokens of ``shared_prefix`` that every encoded prompt starts with (0 when too few to cache)."""
    prefix_ids = encode_text(tokenizer, shared_prefix)
    n = min(common_prefix_len(prefix_ids, ids) for ids in encoded)
    n = min(n, min(len(ids) for ids in encoded) - 1)  # every row keeps at least one token to compute
    return n if n >= MIN_PREFIX_TOKENS else 0


def fits_sliding_window(config: Any, total: int) -> bool:
    """False when a sliding-window layer of the model could not see ``total`` tokens at once."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    window = getattr(config, "sliding_window", None)
    layer_types = getattr(config, "layer_types", None) or []
    uses_window = window and (any("sliding" in str(t) for t in layer_types) or not layer_types)
    return not uses_window or total < window


def batch_inputs(batch_ids: Sequence[Sequence[int]], prefix_len: int, pad: int) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` of a batch: the layout above when ``prefix_len``, else left padding."""
    import torch

    n_rows = len(batch_ids)
    if prefix_len:
        prefix = tuple(batch_ids[0][:prefix_len])
        suffixes = [ids[prefix_len:] for ids in batch_ids]
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((n_rows, prefix_len + width), pad, dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        input_ids[:, :prefix_len] = torch.tensor(prefix, dtype=torch.long)
        mask[:, :prefix_len] = 1
        for i, suffix in enumerate(suffixes):
            input_ids[i, prefix_len + width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
            mask[i, prefix_len + width - len(suffix):] = 1
        return input_ids, mask
    width = max(len(ids) for ids in batch_ids)
    input_ids = torch.full((n_rows, width), pad, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for i, ids in enumerate(batch_ids):
        input_ids[i, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        mask[i, width - len(ids):] = 1
    return input_ids, mask


class PrefixCache:
    """The KV caches of a few prefixes of one model (LRU), each computed once."""

    def __init__(self, model: Any, entries: int = PREFIX_CACHE_ENTRIES):
        import inspect

        self.model = model
        self.entries = entries
        self.forward_calls = 0  # prefixes computed (tests, benchmarks)
        self._caches: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"  # transformers 5.x renamed it

    def get(self, prefix: tuple[int, ...]) -> Any:
        """The prefix's cache (computed on first use)."""
        import torch
        from transformers import DynamicCache

        cached = self._caches.get(prefix)
        if cached is not None:
            self._caches.move_to_end(prefix)
            return cached
        try:
            cache = DynamicCache(config=self.model.config)  # per-layer kinds (sliding windows) as generate makes them
        except TypeError:  # transformers < 4.56
            cache = DynamicCache()
        ids = torch.tensor([list(prefix)], device=self.model.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1,
                             **{self.cache_kw: cache})
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None) or cache
        self.forward_calls += 1
        self._caches[prefix] = cache
        while len(self._caches) > self.entries:
            self._caches.popitem(last=False)
        return cache

    def batch(self, prefix: tuple[int, ...], rows: int) -> Any:
        """A copy of the prefix's cache repeated for ``rows`` batch rows (the kept one stays unchanged)."""
        import copy

        import torch

        with torch.inference_mode():
            cache = copy.deepcopy(self.get(prefix))
            cache.batch_repeat_interleave(rows)
        return cache

    def clear(self) -> None:
        """Forget the computed caches (each is computed again on next use)."""
        self._caches.clear()

    def close(self) -> None:
        """Drop the caches and the model (so that its memory can be given back)."""
        self._caches.clear()
        self.model = None
