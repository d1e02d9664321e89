"""Prefix KV-cache reuse for the ``transformers`` backend (all URIAL prompts of a language share a prefix).

The prefix is run once, alone, and the keys/values of every layer kept in full (a few prefixes, LRU:
:class:`PrefixCache`). A batch is laid out exactly as without reuse, left-padded
(:func:`bench.decoding.batch_inputs`); with ``W`` the batch width and ``b = W - len(row)`` a row's padding::

    columns  0 .. b-1      b .. b+P-1       b+P .. W-1
    row      [pad ... pad][prefix tokens P][suffix tokens]      attention_mask = [0]*b + [1]*(W-b)

and only columns ``P..W-1`` are computed: :meth:`PrefixCache.batch` builds the cache of columns
``0..P-1`` of every row from the kept prefix, shifted right by the row's ``b`` (masked zeros in
front, the prefix's first ``P-b`` tokens after them); the row's last ``b`` prefix tokens are
computed again with its suffix (``b`` is small: batches are sorted by length). Nothing is thus
different from the run without reuse but where the first ``P`` columns' keys/values come from:
``generate`` derives ``position_ids`` from the cumulative attention mask (prefix 0..P-1 in every
row, then the suffix), and attention distances are column distances with no padding between real
tokens, so a sliding-window layer (Gemma 2/3, Mistral) sees the same window as in a full prefill.
The cache has the model's own layer kinds (``DynamicCache(config=...)``): a full-attention layer
holds all ``P`` columns, a sliding-window layer only its last ``window - 1`` (with the prefix's
length as its position), as a full prefill leaves them. Models with other layer kinds (chunked or
linear attention, shared KV) or a transformers version without per-layer caches (< 4.56) are not
reused (:func:`cache_layer_windows` is None; full prefill, same outputs).

The prefix token ids are those of the tokenized full prompts (the longest common token prefix of the
prefix text's encoding and every prompt: :func:`shared_prefix_len`), so a BPE merge across the
prefix/suffix boundary cannot make the cached tokens differ from the uncached run. Greedy outputs
are identical with and without reuse (tests/test_generation.py checks it on a real URIAL prompt, for
a Llama and for a Gemma-3-style model whose sliding window is shorter than the prefix).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from bench.chat import encode_text

MIN_PREFIX_TOKENS = 8  # shorter shared prefixes are not worth a cache
PREFIX_CACHE_ENTRIES = 4
_REUSABLE_LAYER_TYPES = {"full_attention", "sliding_attention"}


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def shared_prefix_len(tokenizer: Any, encoded: Sequence[Sequence[int]], shared_prefix: str) -> int:
    """Tokens of ``shared_prefix`` that every encoded prompt starts with (0 when too few to cache)."""
    return shared_prefix_ids_len(encode_text(tokenizer, shared_prefix), encoded)


def shared_prefix_ids_len(prefix_ids: Sequence[int], encoded: Sequence[Sequence[int]]) -> int:
    """Tokens of ``prefix_ids`` that every encoded prompt starts with (0 when too few to cache)."""
    n = min(common_prefix_len(prefix_ids, ids) for ids in encoded)
    n = min(n, min(len(ids) for ids in encoded) - 1)  # every row keeps at least one token to compute
    return n if n >= MIN_PREFIX_TOKENS else 0


def cache_layer_windows(config: Any) -> list[int | None] | None:
    """Per decoder layer, its sliding window (None: full attention); None when the prefix cannot be reused
    (a layer of another kind, or a transformers version without per-layer dynamic caches)."""
    try:
        from transformers.cache_utils import DynamicCache, DynamicLayer, DynamicSlidingWindowLayer

        layers = DynamicCache(config=config).layers
    except (ImportError, TypeError, AttributeError):
        return None
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None) or []
    if getattr(text, "attention_chunk_size", None) or any(t not in _REUSABLE_LAYER_TYPES for t in layer_types):
        return None  # chunked attention shares the sliding layers' cache class but not their mask
    windows: list[int | None] = []
    for layer in layers:
        if type(layer) is DynamicLayer:
            windows.append(None)
        elif type(layer) is DynamicSlidingWindowLayer:
            windows.append(int(layer.sliding_window))
        else:
            return None
    return windows or None


def _shifted(states: Any, pads: Sequence[int], keep: int) -> Any:
    """Columns ``P-keep..P-1`` of every row's cache: ``states`` (``[1, heads, P, dim]``, the prefix alone)
    shifted right by the row's padding, zeros (masked) where the padding is."""
    prefix_len = states.shape[2]
    out = states.new_zeros((len(pads), states.shape[1], keep, states.shape[3]))
    first = prefix_len - keep  # column of out[..., 0, :]
    for row, pad in enumerate(pads):
        if pad >= prefix_len:
            continue  # this row's prefix is all in the computed columns
        start = max(0, pad - first)  # columns before the row's first prefix token stay zero
        out[row, :, start:] = states[0, :, first + start - pad: prefix_len - pad]
    return out


class PrefixCache:
    """The keys/values of a few prefixes of one model (LRU), each computed once, and per-batch caches built
    from them (:meth:`batch`). ``windows`` is None where the model's cache cannot be reused."""

    def __init__(self, model: Any, entries: int = PREFIX_CACHE_ENTRIES):
        import inspect

        self.model = model
        self.entries = entries
        self.forward_calls = 0  # prefixes computed (tests, benchmarks)
        self.windows = cache_layer_windows(model.config)
        self._states: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"  # transformers 5.x renamed it

    @property
    def supported(self) -> bool:
        """Whether this model's prefix cache can be reused (exactly)."""
        return self.windows is not None

    def get(self, prefix: tuple[int, ...]) -> list[tuple[Any, Any]] | None:
        """The prefix's ``(keys, values)`` of every layer, all ``len(prefix)`` positions (computed on first use);
        None, and reuse off for this model, if the model's cache is not the one expected."""
        import torch
        from transformers import DynamicCache

        states = self._states.get(prefix)
        if states is not None:
            self._states.move_to_end(prefix)
            return states
        cache = DynamicCache()  # full layers everywhere: sliding layers keep the whole prefix (rows shift it)
        ids = torch.tensor([list(prefix)], device=self.model.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1,
                             **{self.cache_kw: cache})
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None) or cache
        states = [(getattr(layer, "keys", None), getattr(layer, "values", None))
                  for layer in getattr(cache, "layers", ())]
        if len(states) != len(self.windows or ()) or any(k is None or k.shape[2] != len(prefix) for k, _ in states):
            self.windows = None  # not a cache this module knows how to lay out: full prefill from now on
            return None
        self.forward_calls += 1
        self._states[prefix] = states
        while len(self._states) > self.entries:
            self._states.popitem(last=False)
        return states

    def batch(self, prefix: tuple[int, ...], pads: Sequence[int]) -> Any:
        """The cache of the first ``len(prefix)`` columns of a left-padded batch whose rows have ``pads``
        padding tokens (the module's layout), with the model's layer kinds; None when not :attr:`supported`
        (the caller then runs a full prefill of the same batch)."""
        import torch
        from transformers import DynamicCache

        prefix_len = len(prefix)
        states = self.get(prefix) if self.supported else None
        if states is None:
            return None
        with torch.inference_mode():
            cache = DynamicCache(config=self.model.config)
            for layer, window, (keys, values) in zip(cache.layers, self.windows or (), states):
                keep = prefix_len if window is None else min(prefix_len, window - 1)
                layer.update(_shifted(keys, pads, keep), _shifted(values, pads, keep))
                if window is not None:
                    layer.cumulative_length = prefix_len  # the layer's position: it has seen the whole prefix
        if any(cache.get_seq_length(i) != prefix_len for i in range(len(cache.layers))):
            self.windows = None  # a layer did not take the prefix's length: full prefill from now on
            return None
        return cache

    def clear(self) -> None:
        """Forget the computed prefixes (each is computed again on next use)."""
        self._states.clear()

    def close(self) -> None:
        """Drop the prefixes and the model (so that its memory can be given back)."""
        self._states.clear()
        self.model = None
