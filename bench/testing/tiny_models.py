"""Tiny, randomly initialised but real models and tokenizers, built locally (no downloads).

Used by the tests and the offline demo. Every builder writes a complete Hugging Face model
folder (safetensors weights, config, tokenizer files) that ``from_pretrained`` loads like any
downloaded checkpoint, takes a second or two, is deterministic for a given seed, and is
idempotent: a folder that already holds a complete build with the same parameters is left
as it is. Outputs are gibberish (the weights are random); what is real is the architecture,
the tokenizer and every code path around them.

Builders:

* :func:`build_tiny_marian`  - MarianMTModel + MarianTokenizer (sentencepiece), one pair or
  multilingual targets selected by ``>>fr<<`` tokens.
* :func:`build_tiny_m2m100`  - M2M100ForConditionalGeneration + M2M100Tokenizer (``__fr__``).
* :func:`build_tiny_nllb`    - the same architecture + NllbTokenizer (``fra_Latn``).
* :func:`build_tiny_causal_lm` - LlamaForCausalLM + byte-level BPE fast tokenizer, with or
  without a chat template (or a Gemma-3-style model with sliding-window layers).
* :func:`write_tiny_gguf`    - an unquantised (F32) llama GGUF file made from a tiny causal LM.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bench.errors import BenchError

MARKER = ".bench-tiny-model.json"
BUILDER_VERSION = 2

# Markers the dataset builder puts around protected spans; tokenizers must keep them whole.
PLACEHOLDER_CHARS = ["⟦", "⟧"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# ---------------------------------------------------------------------------------------------
# A small built-in EN/FR/ES corpus (generated from templates) to train the tokenizers on.

_SUBJECTS = {
    "en": ["The cat", "My friend", "The teacher", "A small dog", "The old man", "Our neighbour",
           "The child", "This company", "The doctor", "Her sister"],
    "fr": ["Le chat", "Mon ami", "Le professeur", "Un petit chien", "Le vieil homme", "Notre voisin",
           "L'enfant", "Cette entreprise", "Le médecin", "Sa sœur"],
    "es": ["El gato", "Mi amigo", "El profesor", "Un perro pequeño", "El anciano", "Nuestro vecino",
           "El niño", "Esta empresa", "El médico", "Su hermana"],
}
_PREDICATES = {
    "en": ["eats an apple", "reads a book", "writes a letter", "drinks water", "sees the sea",
           "likes the music", "opens the door", "buys 3 bananas", "walks 12 km", "sings a song"],
    "fr": ["mange une pomme", "lit un livre", "écrit une lettre", "boit de l'eau", "voit la mer",
           "aime la musique", "ouvre la porte", "achète 3 bananes", "marche 12 km", "chante une chanson"],
    "es": ["come una manzana", "lee un libro", "escribe una carta", "bebe agua", "ve el mar",
           "le gusta la música", "abre la puerta", "compra 3 plátanos", "camina 12 km", "canta una canción"],
}
_TOPICS = {
    "en": ["the sea", "the city", "winter", "friendship", "a river", "the moon", "coffee", "the forest"],
    "fr": ["la mer", "la ville", "l'hiver", "l'amitié", "une rivière", "la lune", "le café", "la forêt"],
    "es": ["el mar", "la ciudad", "el invierno", "la amistad", "un río", "la luna", "el café", "el bosque"],
}
_INSTRUCTIONS = {
    "en": ["Write a short poem about {t}.", "Explain {t} in two sentences.", "Give me 5 facts about {t}.",
           "Why do people like {t}?"],
    "fr": ["Écris un court poème sur {t}.", "Explique {t} en deux phrases.", "Donne-moi 5 faits sur {t}.",
           "Pourquoi les gens aiment-ils {t} ?"],
    "es": ["Escribe un poema corto sobre {t}.", "Explica {t} en dos frases.", "Dame 5 datos sobre {t}.",
           "¿Por qué a la gente le gusta {t}?"],
}
_PLACEHOLDER_LINES = {
    "en": "Explain ⟦{i}⟧ briefly and keep ⟦{j}⟧ unchanged.",
    "fr": "Explique ⟦{i}⟧ brièvement et garde ⟦{j}⟧ tel quel.",
    "es": "Explica ⟦{i}⟧ brevemente y deja ⟦{j}⟧ sin cambios.",
}


def tiny_corpus(langs: Sequence[str] = ("en", "fr", "es")) -> list[str]:
    """A few hundred short sentences per language, deterministic."""
    lines: list[str] = []
    for lang in langs:
        for i, subject in enumerate(_SUBJECTS[lang]):
            for j, predicate in enumerate(_PREDICATES[lang]):
                lines.append(f"{subject} {predicate}.")
                if (i + j) % 3 == 0:
                    lines.append(f"{subject} {predicate} {i * 7 + j} fois." if lang == "fr" else
                                 f"{subject} {predicate} {i * 7 + j} times." if lang == "en" else
                                 f"{subject} {predicate} {i * 7 + j} veces.")
        for template in _INSTRUCTIONS[lang]:
            for topic in _TOPICS[lang]:
                lines.append(template.format(t=topic))
        for i in range(10):
            lines.append(_PLACEHOLDER_LINES[lang].format(i=i, j=(i + 3) % 10))
        lines.extend(f"{n} + {n + 1} = {2 * n + 1}" for n in range(0, 100, 7))
    # every ASCII/Latin-1 punctuation mark, so BPE vocabularies without byte fallback cover them
    lines.append("Yes, no; maybe: (really?) \"quoted\" 'single' - — – … « » ¿ ¡ % / * # @ & = + < > [ ] { } _ | ~ ^ $ € £ ` \\")
    return lines


def _prompt_corpus() -> list[str]:
    """Text the causal LM tokenizer should cover well: the translation prompts themselves."""
    try:
        from benchmark.translators import prompts
    except ImportError:  # pragma: no cover - the package is always importable in this repo
        return []
    lines = [prompts.SYSTEM_PROMPT]
    for pairs in prompts.FEW_SHOT.values():
        for src, tgt in pairs:
            lines += [src, tgt]
    lines += ["English:", "French:", "Spanish:", "German:"]
    return lines


# ---------------------------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch for model initialisation without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _complete(marker: Path, params: dict[str, Any]) -> bool:
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == params
    except (OSError, ValueError):
        return False


def _build(out_dir: str | os.PathLike, params: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """Run ``build(tmp)`` and move the result to ``out_dir``, unless it is already complete."""
    out = Path(out_dir)
    marker = out / MARKER
    params = {"builder_version": BUILDER_VERSION, **params}
    if _complete(marker, params):
        return out
    if out.exists() and any(out.iterdir()) and not marker.is_file():
        raise BenchError(f"{out}: exists and is not a tiny-model folder; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        from bench.models import quiet_transformers

        with quiet_transformers():
            build(tmp)
        (tmp / MARKER).write_text(json.dumps(params, sort_keys=True), encoding="utf-8")
        tmp.chmod(0o755)
        if not _complete(marker, params):  # else another process finished the same build meanwhile
            if out.exists():
                shutil.rmtree(out)
            try:
                os.replace(tmp, out)
            except OSError:
                if not marker.is_file():
                    raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _train_spm(lines: Sequence[str], vocab_size: int, *, bos: bool = True, extra_symbols: Sequence[str] = ()) -> bytes:
    """Train a sentencepiece unigram model in memory; digits split, ⟦ ⟧ kept whole, byte fallback."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        user_defined_symbols=list(PLACEHOLDER_CHARS) + list(extra_symbols),
        hard_vocab_limit=False,
        num_threads=1,
        unk_id=0,
        bos_id=1 if bos else -1,
        eos_id=2 if bos else 1,
        pad_id=-1,
        minloglevel=2,
    )
    return model.getvalue()


def _spm_pieces(model_bytes: bytes) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def _save_generation_config(model: Any, **values: Any) -> None:
    for key, value in values.items():
        setattr(model.generation_config, key, value)


# ---------------------------------------------------------------------------------------------
# Marian


def build_tiny_marian(
    out_dir: str | os.PathLike,
    source_lang: str = "en",
    target_lang: str = "fr",
    *,
    target_langs: Sequence[str] | None = None,
    seed: int = 0,
    d_model: int = 32,
    vocab_size: int = 600,
) -> Path:
    """A MarianMTModel + MarianTokenizer (source.spm, target.spm, vocab.json).

    One pair (``source_lang`` -> ``target_lang``, recorded in tokenizer_config.json like the
    opus-mt models) or, with ``target_langs``, a multilingual-target model whose vocabulary
    holds ``>>fr<<``-style tokens and whose ``target_lang`` is ``"mul"``.
    """
    params = {"kind": "marian", "source_lang": source_lang, "target_lang": target_lang,
              "target_langs": list(target_langs or []), "seed": seed, "d_model": d_model,
              "vocab_size": vocab_size}

    def build(tmp: Path) -> None:
        from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

        spm_bytes = _train_spm(tiny_corpus(), vocab_size, bos=False)
        (tmp / "source.spm").write_bytes(spm_bytes)
        (tmp / "target.spm").write_bytes(spm_bytes)
        vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
        for code in target_langs or []:
            vocab[f">>{code}<<"] = len(vocab)
        for piece in _spm_pieces(spm_bytes):
            if piece not in vocab and piece not in ("<s>", "<pad>"):
                vocab[piece] = len(vocab)
        vocab["<pad>"] = len(vocab)
        pad_id = vocab["<pad>"]
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
        tokenizer = MarianTokenizer(
            source_spm=str(tmp / "source.spm"), target_spm=str(tmp / "target.spm"), vocab=str(tmp / "vocab.json"),
            source_lang=source_lang, target_lang="mul" if target_langs else target_lang, model_max_length=256,
        )
        tokenizer.save_pretrained(tmp)
        config = MarianConfig(
            vocab_size=len(vocab), d_model=d_model, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * d_model,
            decoder_ffn_dim=2 * d_model, max_position_embeddings=512, pad_token_id=pad_id,
            decoder_start_token_id=pad_id, eos_token_id=0, forced_eos_token_id=0, scale_embedding=True,
            dropout=0.0, init_std=0.2,
        )
        with _seeded(seed):
            model = MarianMTModel(config).eval()
        model.generation_config = GenerationConfig(
            pad_token_id=pad_id, eos_token_id=0, decoder_start_token_id=pad_id, forced_eos_token_id=0,
            bad_words_ids=[[pad_id]], num_beams=1, max_length=512,
        )
        model.save_pretrained(tmp, safe_serialization=True)

    return _build(out_dir, params, build)


# ---------------------------------------------------------------------------------------------
# M2M100 and NLLB (same architecture, different tokenizers and language codes)


def _m2m100_model(vocab_size: int, pad: int, bos: int, eos: int, seed: int, d_model: int) -> Any:
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    config = M2M100Config(
        vocab_size=vocab_size, d_model=d_model, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model, max_position_embeddings=512, pad_token_id=pad, bos_token_id=bos,
        eos_token_id=eos, decoder_start_token_id=eos, dropout=0.0, attention_dropout=0.0,
        encoder_layerdrop=0.0, decoder_layerdrop=0.0, init_std=0.2,
    )
    with _seeded(seed):
        model = M2M100ForConditionalGeneration(config).eval()
    _save_generation_config(model, pad_token_id=pad, bos_token_id=bos, eos_token_id=eos,
                            decoder_start_token_id=eos, num_beams=1, max_length=512)
    return model


def build_tiny_m2m100(out_dir: str | os.PathLike, *, seed: int = 0, d_model: int = 32, vocab_size: int = 600) -> Path:
    """M2M100ForConditionalGeneration + M2M100Tokenizer (language tokens ``__fr__``)."""
    params = {"kind": "m2m100", "seed": seed, "d_model": d_model, "vocab_size": vocab_size}

    def build(tmp: Path) -> None:
        from transformers import M2M100Tokenizer

        spm_bytes = _train_spm(tiny_corpus(), vocab_size)
        (tmp / "sentencepiece.bpe.model").write_bytes(spm_bytes)
        vocab: dict[str, int] = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for piece in _spm_pieces(spm_bytes):
            vocab.setdefault(piece, len(vocab))
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
        tokenizer = M2M100Tokenizer(vocab_file=str(tmp / "vocab.json"), spm_file=str(tmp / "sentencepiece.bpe.model"),
                                    model_max_length=256)
        tokenizer.save_pretrained(tmp)
        # language tokens live after the sentencepiece vocabulary, then 8 "madeup words" (fairseq)
        size = max(len(tokenizer), max(tokenizer.lang_code_to_id.values()) + 1 + tokenizer.num_madeup_words)
        model = _m2m100_model(size, pad=1, bos=0, eos=2, seed=seed, d_model=d_model)
        model.save_pretrained(tmp, safe_serialization=True)

    return _build(out_dir, params, build)


def build_tiny_nllb(out_dir: str | os.PathLike, *, seed: int = 0, d_model: int = 32, vocab_size: int = 400) -> Path:
    """M2M100ForConditionalGeneration + NllbTokenizer (FLORES-200 codes such as ``fra_Latn``)."""
    params = {"kind": "nllb", "seed": seed, "d_model": d_model, "vocab_size": vocab_size}

    def build(tmp: Path) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import NllbTokenizer

        specials = ["<s>", "<pad>", "</s>", "<unk>"]
        bpe = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
        bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        bpe.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + PLACEHOLDER_CHARS,
                                      show_progress=False)
        bpe.train_from_iterator(tiny_corpus(), trainer=trainer)
        state = json.loads(bpe.to_str())["model"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
        tokenizer = NllbTokenizer(vocab=state["vocab"], merges=merges, model_max_length=256)
        tokenizer.save_pretrained(tmp)
        model = _m2m100_model(len(tokenizer), pad=1, bos=0, eos=2, seed=seed, d_model=d_model)
        model.save_pretrained(tmp, safe_serialization=True)

    return _build(out_dir, params, build)


# ---------------------------------------------------------------------------------------------
# Causal LM


CAUSAL_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]


def _byte_level_bpe(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=CAUSAL_SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(tiny_corpus() + _prompt_corpus(), trainer=trainer)
    return tok


def build_tiny_causal_lm(
    out_dir: str | os.PathLike,
    chat_template: bool = True,
    *,
    seed: int = 0,
    hidden_size: int = 32,
    vocab_size: int = 512,
    sliding_window: int | None = None,
) -> Path:
    """LlamaForCausalLM (2 layers) + byte-level BPE fast tokenizer; ChatML template if asked.

    Special tokens: bos ``<s>``, eos ``</s>``, pad ``<pad>``, unk ``<unk>``, and ``<|im_start|>`` /
    ``<|im_end|>`` (the chat model also stops at ``<|im_end|>``). No BOS is added automatically.
    With ``sliding_window``: a Gemma-3-style model instead (Gemma3ForCausalLM, 3 layers: sliding-window,
    full and sliding-window attention, that window in tokens, an 8k context).
    """
    params = {"kind": "causal_lm", "chat_template": chat_template, "seed": seed,
              "hidden_size": hidden_size, "vocab_size": vocab_size}
    if sliding_window is not None:
        params["sliding_window"] = sliding_window

    def build(tmp: Path) -> None:
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        tok = _byte_level_bpe(vocab_size)
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
            additional_special_tokens=["<|im_start|>", "<|im_end|>"], model_max_length=2048,
            clean_up_tokenization_spaces=False,
        )
        if chat_template:
            tokenizer.chat_template = CHATML_TEMPLATE
        tokenizer.save_pretrained(tmp)
        ids = {t: tok.token_to_id(t) for t in CAUSAL_SPECIAL_TOKENS}
        special = dict(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"])
        if sliding_window is None:
            config = LlamaConfig(
                vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                tie_word_embeddings=False, rms_norm_eps=1e-5, initializer_range=0.2, **special,
            )
            model_class = LlamaForCausalLM
        else:
            from transformers import Gemma3ForCausalLM, Gemma3TextConfig

            config = Gemma3TextConfig(
                vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=hidden_size // 4,
                query_pre_attn_scalar=hidden_size // 4, max_position_embeddings=8192, sliding_window=sliding_window,
                layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                tie_word_embeddings=False,  # tied, the scaled embeddings make a random model repeat its input
                rms_norm_eps=1e-5, initializer_range=0.2, **special,
            )
            model_class = Gemma3ForCausalLM
        with _seeded(seed):
            model = model_class(config).eval()
        eos = [ids["</s>"], ids["<|im_end|>"]] if chat_template else ids["</s>"]
        _save_generation_config(model, bos_token_id=ids["<s>"], eos_token_id=eos, pad_token_id=ids["<pad>"],
                                do_sample=False)
        model.save_pretrained(tmp, safe_serialization=True)

    return _build(out_dir, params, build)


def write_tiny_gguf(model_dir: str | os.PathLike, gguf_path: str | os.PathLike) -> Path:
    """Write the llama model in ``model_dir`` (from :func:`build_tiny_causal_lm`) as an F32 GGUF file.

    Follows llama.cpp's convert_hf_to_gguf for llama: tensor names, the q/k row permutation,
    a ``gpt2`` (byte-level BPE) tokenizer with merges, special token ids and chat template.
    """
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    model_dir, gguf_path = Path(model_dir), Path(gguf_path)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    tok_json = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    chat_template = tok_config.get("chat_template")
    if chat_template is None and (model_dir / "chat_template.jinja").is_file():
        chat_template = (model_dir / "chat_template.jinja").read_text(encoding="utf-8")
    tensors = load_file(str(model_dir / "model.safetensors"))

    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config["hidden_size"] // n_head

    def permute(w: Any, heads: int) -> Any:
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    gguf_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(gguf_path), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = tok_json["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tok_json.get("added_tokens", [])}
    size = config["vocab_size"]
    tokens = [""] * size
    for token, idx in {**vocab, **added}.items():
        tokens[idx] = token
    types = [gguf.TokenType.CONTROL if t in added else gguf.TokenType.NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(added["<s>"])
    writer.add_eos_token_id(added["</s>"])
    writer.add_pad_token_id(added["<pad>"])
    writer.add_unk_token_id(added["<unk>"])
    writer.add_add_bos_token(False)
    if chat_template:
        writer.add_chat_template(chat_template)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight", "input_layernorm.weight": "attn_norm.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
    }
    for i in range(config["num_hidden_layers"]):
        for hf, gg in per_layer.items():
            names[f"model.layers.{i}.{hf}"] = f"blk.{i}.{gg}"
    for hf_name, array in tensors.items():
        if hf_name not in names:
            continue
        data = np.ascontiguousarray(array.astype(np.float32))
        if hf_name.endswith("q_proj.weight"):
            data = permute(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = permute(data, n_kv)
        writer.add_tensor(names[hf_name], np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return gguf_path
