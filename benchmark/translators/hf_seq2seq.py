"""``hf:<id or path>``: encoder-decoder MT models run locally with transformers.

The model family is read from the config and the tokenizer class (never from the model's
name), and decides how the languages are given to the model:

* ``marian``  - one language pair per model (checked against the tokenizer's declared
  ``source_lang``/``target_lang`` when it has them), or multilingual targets selected by a
  ``>>fra<<``/``>>fr<<`` token in front of the text when the vocabulary has such tokens;
* ``m2m100``  - ``tokenizer.src_lang = "en"``, ``forced_bos_token_id = get_lang_id("fr")``;
* ``nllb``    - M2M100 architecture + NllbTokenizer, FLORES-200 codes (``fra_Latn``);
* ``mbart50`` - ``en_XX``-style codes as ``src_lang`` and forced BOS;
* ``madlad``  - T5 architecture whose vocabulary has ``<2fr>`` tokens, put in front of the text;
* ``t5``      - other T5 models, with the original ``translate English to French:`` task prefix.

Decoding is greedy by default (``num_beams=1``), batched over length-sorted inputs; a greedy
batch gives the same outputs as one text at a time. ``max_new_tokens`` defaults to
``2 * input tokens + 16`` per text (capped at 512 and by the model's positions), so a
degenerate model cannot run forever.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from bench.errors import BenchError
from bench.languages import LANGUAGES, get_language
from bench.models import (
    empty_cuda_cache,
    length_sorted_batches,
    load_config,
    load_seq2seq,
    load_tokenizer,
    quiet_transformers,
)
from benchmark.translators.base import LocalModelTranslator

FAMILIES = ("marian", "m2m100", "nllb", "mbart50", "madlad", "t5")
MAX_NEW_TOKENS_CAP = 512
CODE_VERSION = "v1"

# ISO 639-2/B and macro-language codes some models use, beyond ISO 639-1 and the FLORES prefix.
EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "fr": ("fre",), "de": ("ger",), "nl": ("dut",), "ro": ("rum", "mol"), "eu": ("baq",),
    "zh": ("chi", "cmn", "zho", "cmn_Hans", "zho_Hans", "zh_cn"), "ar": ("ara",), "es": ("spa",),
    "pt": ("por",), "it": ("ita",), "ca": ("cat",), "gl": ("glg",), "pl": ("pol",), "ru": ("rus",),
    "uk": ("ukr",), "ja": ("jpn",), "ko": ("kor",), "hi": ("hin",), "tr": ("tur",), "sv": ("swe",),
    "en": ("eng",),
}


def language_aliases(code: str) -> list[str]:
    """Codes a model may use for an ISO 639-1 language: ``fr``, ``fra``, ``fre``, ``fra_Latn``."""
    info = get_language(code)
    names = [info.code, info.flores.split("_")[0], *EXTRA_ALIASES.get(info.code, ()), info.flores]
    return list(dict.fromkeys(names))


def iso_from_alias(value: str | None) -> str | None:
    """The ISO 639-1 code a model's declared language (``fr``, ``fra``, ``fra_Latn``...) stands for."""
    if not value:
        return None
    key = value.strip().lower().replace("-", "_")
    for code in LANGUAGES:
        aliases = {a.lower() for a in language_aliases(code)}
        if key in aliases or key.split("_")[0] in aliases:
            return code
    return None


# ---------------------------------------------------------------------------------------------
# Family detection and language codes (pure functions: unit-tested without models)


def detect_family(config: Any, tokenizer: Any) -> str:
    """Family from ``config.model_type`` and the tokenizer class."""
    model_type = getattr(config, "model_type", "")
    if getattr(config, "is_encoder_decoder", True) is False:
        raise BenchError(f"'{model_type}' is not an encoder-decoder model; use llm:<model> for decoder-only LMs")
    tok_classes = {cls.__name__ for cls in type(tokenizer).__mro__}
    if model_type == "marian":
        return "marian"
    if model_type in ("m2m_100", "nllb_moe", "nllb-moe"):
        if any(name.startswith("Nllb") for name in tok_classes):
            return "nllb"
        if any(name.startswith("M2M100") for name in tok_classes):
            return "m2m100"
        if _has_token(tokenizer, "fra_Latn"):
            return "nllb"
        return "m2m100"
    if model_type == "mbart" and (any(n.startswith("MBart") for n in tok_classes) or _has_token(tokenizer, "en_XX")):
        return "mbart50"
    if model_type in ("t5", "mt5", "umt5"):
        return "madlad" if _has_token(tokenizer, "<2fr>") or _has_token(tokenizer, "<2en>") else "t5"
    raise BenchError(
        f"unsupported seq2seq model type '{model_type}' (tokenizer {type(tokenizer).__name__}); "
        f"supported families: {', '.join(FAMILIES)}"
    )


def _vocab(tokenizer: Any) -> dict[str, int]:
    cached = getattr(tokenizer, "_bench_vocab", None)
    if cached is None:
        cached = tokenizer.get_vocab()
        try:
            tokenizer._bench_vocab = cached
        except AttributeError:  # pragma: no cover
            pass
    return cached


def _has_token(tokenizer: Any, token: str) -> bool:
    return token in _vocab(tokenizer)


def marian_language_tokens(tokenizer: Any) -> list[str]:
    codes = getattr(tokenizer, "supported_language_codes", None)
    if codes is None:
        codes = [t for t in _vocab(tokenizer) if t.startswith(">>") and t.endswith("<<")]
    return list(codes)


def marian_target_token(language_tokens: Sequence[str], target: str) -> str | None:
    """``>>fra<<``-style token selecting ``target``, or None if the vocabulary has none for it."""
    available = set(language_tokens)
    for alias in language_aliases(target):
        for token in (f">>{alias}<<", f">>{alias.lower()}<<"):
            if token in available:
                return token
    return None


def m2m100_code(tokenizer: Any, code: str) -> str:
    """M2M100 language code (ISO 639-1) that the tokenizer knows."""
    known = getattr(tokenizer, "lang_code_to_id", {}) or {}
    for alias in language_aliases(code):
        if alias in known:
            return alias
    raise BenchError(f"this M2M100 model has no language code for '{code}'")


def nllb_code(tokenizer: Any, code: str) -> str:
    flores = get_language(code).flores
    if not _has_token(tokenizer, flores):
        raise BenchError(f"this NLLB model has no language token '{flores}' for '{code}'")
    return flores


def mbart50_code(tokenizer: Any, code: str) -> str:
    """mBART-50 code such as ``fr_XX``/``de_DE`` for an ISO 639-1 code."""
    candidates = list(getattr(tokenizer, "lang_code_to_id", {}) or {}) or [
        t for t in _vocab(tokenizer) if len(t) == 5 and t[2] == "_" and t[3:].isupper()
    ]
    iso = get_language(code).code
    for token in candidates:
        if token.split("_")[0] == iso:
            return token
    raise BenchError(f"this mBART-50 model has no language code for '{code}'")


def madlad_prefix(tokenizer: Any, code: str) -> str:
    for alias in language_aliases(code):
        token = f"<2{alias}>"
        if _has_token(tokenizer, token):
            return token + " "
    raise BenchError(f"this MADLAD/T5 model has no target token '<2{code}>'")


class LanguagePlan(NamedTuple):
    """How to tell a model the languages: text prefix, tokenizer ``src_lang``, forced first token."""

    prefix: str = ""
    src_lang: str | None = None
    forced_bos_token_id: int | None = None
    lang_token_ids: frozenset[int] = frozenset()


def plan_languages(family: str, tokenizer: Any, source: str, target: str, model_name: str = "model") -> LanguagePlan:
    """Work out the language signals for ``family``; BenchError if the model cannot do the pair."""
    source, target = get_language(source).code, get_language(target).code
    if family == "marian":
        tokens = marian_language_tokens(tokenizer)
        declared_src = iso_from_alias(getattr(tokenizer, "source_lang", None))
        if declared_src and declared_src != source:
            raise BenchError(f"{model_name} translates from '{declared_src}', not from '{source}'")
        if tokens:
            token = marian_target_token(tokens, target)
            if token is None:
                sample = ", ".join(sorted(tokens)[:12])
                raise BenchError(f"{model_name} has no target language token for '{target}' (has: {sample}...)")
            ids = frozenset(tokenizer.convert_tokens_to_ids(t) for t in tokens)
            return LanguagePlan(prefix=token + " ", lang_token_ids=ids)
        declared_tgt = iso_from_alias(getattr(tokenizer, "target_lang", None))
        if declared_tgt and declared_tgt != target:
            raise BenchError(
                f"{model_name} only translates {declared_src or '?'}->{declared_tgt}; asked for {source}->{target}"
            )
        return LanguagePlan()
    if family == "m2m100":
        src, tgt = m2m100_code(tokenizer, source), m2m100_code(tokenizer, target)
        ids = frozenset((getattr(tokenizer, "lang_code_to_id", {}) or {}).values())
        return LanguagePlan(src_lang=src, forced_bos_token_id=tokenizer.get_lang_id(tgt), lang_token_ids=ids)
    if family == "nllb":
        src, tgt = nllb_code(tokenizer, source), nllb_code(tokenizer, target)
        ids = frozenset(i for t, i in _vocab(tokenizer).items() if len(t) == 8 and t[3] == "_" and t[4:].istitle())
        return LanguagePlan(src_lang=src, forced_bos_token_id=tokenizer.convert_tokens_to_ids(tgt), lang_token_ids=ids)
    if family == "mbart50":
        src, tgt = mbart50_code(tokenizer, source), mbart50_code(tokenizer, target)
        ids = frozenset((getattr(tokenizer, "lang_code_to_id", {}) or {}).values())
        return LanguagePlan(src_lang=src, forced_bos_token_id=tokenizer.convert_tokens_to_ids(tgt), lang_token_ids=ids)
    if family == "madlad":
        return LanguagePlan(prefix=madlad_prefix(tokenizer, target))
    if family == "t5":
        return LanguagePlan(prefix=f"translate {get_language(source).name} to {get_language(target).name}: ")
    raise BenchError(f"unknown seq2seq family '{family}'")


# ---------------------------------------------------------------------------------------------


class Seq2SeqTranslator(LocalModelTranslator):
    """Local encoder-decoder MT model (Marian, M2M100, NLLB, mBART-50, MADLAD/T5)."""

    unit = "segment"
    batch_size = 16

    def __init__(
        self,
        spec: str,
        target: str,
        *,
        batch_size: int | None = None,
        cache_dir: str | None = None,
        max_new_tokens: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        num_beams: int = 1,
    ):
        if num_beams < 1:
            raise BenchError(f"num_beams must be >= 1, got {num_beams}")
        super().__init__(spec, target, batch_size=batch_size, cache_dir=cache_dir, max_new_tokens=max_new_tokens,
                         device=device, dtype=dtype, revision=revision)
        self.num_beams = num_beams
        self.config = load_config(self.model_ref, cache_dir=cache_dir, task="seq2seq")
        self.tokenizer = load_tokenizer(self.model_ref, padding_side="right", cache_dir=cache_dir, task="seq2seq")
        self.family = detect_family(self.config, self.tokenizer)
        self._model: Any = None
        self._plans: dict[tuple[str, str], LanguagePlan] = {}

    @property
    def cache_key(self) -> str:
        return (
            f"hf:{self.model_ref.fingerprint}:{self.family}:beams={self.num_beams}:"
            f"max_new={self.max_new_tokens or 'auto'}:dtype={self.dtype}:{CODE_VERSION}"
        )

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model, _ = load_seq2seq(self.model_ref, dtype=self.dtype, device=self.device, cache_dir=self.cache_dir)
        return self._model

    def plan(self, source_lang: str, target_lang: str) -> LanguagePlan:
        key = (source_lang, target_lang)
        if key not in self._plans:
            self._plans[key] = plan_languages(self.family, self.tokenizer, source_lang, target_lang,
                                              f"model '{self.model_ref.ref}'")
        return self._plans[key]

    def _position_cap(self) -> int:
        cap = MAX_NEW_TOKENS_CAP
        for name in ("max_position_embeddings", "n_positions", "max_target_positions"):
            value = getattr(self.config, name, None)
            if isinstance(value, int) and value > 4:
                cap = min(cap, value - 2)
        return cap

    def translate_batch(
        self, texts: Sequence[str], source_lang: str, target_lang: str, ids: Sequence[str] | None = None
    ) -> list[str]:
        plan = self.plan(source_lang, target_lang)
        results = list(texts)  # blank texts are returned as they are
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return [str(t) for t in results]
        tok = self.tokenizer
        if plan.src_lang is not None:
            tok.src_lang = plan.src_lang
        inputs = [plan.prefix + texts[i] for i in todo]
        max_len = min(getattr(tok, "model_max_length", 512) or 512, self._position_cap() + 2)
        encoded = tok(inputs, add_special_tokens=True, truncation=True, max_length=max_len)["input_ids"]
        cap = self._position_cap()
        limits = [self.max_new_tokens or min(2 * len(e) + 16, cap) for e in encoded]
        skip_ids = set(tok.all_special_ids) | set(plan.lang_token_ids)
        for batch in length_sorted_batches([len(e) for e in encoded], self.batch_size):
            outputs = self._generate([encoded[j] for j in batch], [limits[j] for j in batch], plan)
            for j, seq in zip(batch, outputs):
                kept = [t for t in seq if t not in skip_ids]
                results[todo[j]] = tok.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False).strip()
        return results

    def _generate(self, batch_ids: list[list[int]], limits: list[int], plan: LanguagePlan) -> list[list[int]]:
        import torch

        model, tok = self.model, self.tokenizer
        padded = tok.pad({"input_ids": batch_ids}, padding=True, return_tensors="pt")
        padded = {k: v.to(model.device) for k, v in padded.items()}
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max(limits), num_beams=self.num_beams, do_sample=False,
            forced_eos_token_id=None,  # would change the last token depending on the batch's longest limit
        )
        if self.num_beams == 1:
            kwargs.update(early_stopping=False, length_penalty=1.0)
        if plan.forced_bos_token_id is not None:
            kwargs["forced_bos_token_id"] = plan.forced_bos_token_id
        with torch.inference_mode(), quiet_transformers():
            out = model.generate(**padded, **kwargs)
        start = 1 if model.config.is_encoder_decoder else padded["input_ids"].shape[1]
        return [row[start:start + limit].tolist() for row, limit in zip(out, limits)]

    def close(self) -> None:
        if self._model is not None:
            device = self._model.device
            self._model = None
            empty_cuda_cache(device)
