"""Finding, fingerprinting and loading local language models (translation, generation, judging).

A model reference is a Hugging Face Hub id (``org/name``), a local model folder, or a
``.gguf`` file. :func:`resolve_model` turns it into a :class:`ModelRef` whose ``fingerprint``
identifies the weights for cache keys: ``hub:<id>@<commit or revision>`` for Hub ids, and a
sha256 over the config, tokenizer and weight files for folders and GGUF files (big files are
hashed once and remembered by path, size and mtime in ``<cache_dir>/model-hashes.json``).

:func:`load_causal_lm` and :func:`load_seq2seq` return ``(model, tokenizer)`` in eval mode on the
requested device; :func:`load_model` the weights alone, as a training run takes them. GGUF files
are dequantised once by transformers and saved as a safetensors copy under
``<cache_dir>/converted/<sha256>/``; later loads read that copy.

This module is the loading part of the language-model layer; :mod:`bench.chat` renders and
encodes prompts, :mod:`bench.decoding` knows stop tokens, context lengths and greedy batches.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from bench.errors import BenchError
from bench.hashing import sha256_file

ModelKind = Literal["hub", "local", "gguf"]
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")

# Files of a model folder that decide what it computes (config, tokenizer, weights, remote code).
FINGERPRINT_SUFFIXES = (
    ".json", ".safetensors", ".bin", ".model", ".spm", ".txt", ".jinja", ".py", ".tiktoken", ".pt", ".pth", ".gguf",
)
FINGERPRINT_SKIP = {".bench-tiny-model.json", "README.md", "trainer_state.json", "training_args.bin", "bench_training.json"}
HASH_MEMO_FILE = "model-hashes.json"
MEMO_MIN_SIZE = 1 << 20  # files smaller than this are simply rehashed
CONVERTED_MARKER = ".bench-converted.json"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    """A resolved model reference.

    ``ref``: what the user gave (a local path made absolute); ``kind``: ``hub``, ``local`` or
    ``gguf``; ``revision``: Hub commit (or the given revision / ``"main"`` when the local cache
    cannot tell), None for local models; ``fingerprint``: stable content id for cache keys.
    """

    ref: str
    kind: ModelKind
    revision: str | None
    fingerprint: str

    @property
    def path(self) -> str:
        """What ``from_pretrained`` gets: the Hub id, the folder, or the GGUF file."""
        return self.ref

    @property
    def digest(self) -> str:
        """Fingerprint as a file-name-safe string (hex digest for local models)."""
        return self.fingerprint.split(":", 1)[1] if self.fingerprint.startswith("sha256:") else \
            hashlib.sha256(self.fingerprint.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Resolving and fingerprinting


def resolve_model(ref: str, revision: str | None = None, *, cache_dir: str | os.PathLike | None = None) -> ModelRef:
    """Resolve a Hub id, local folder or ``.gguf`` file; fail with one line naming ``ref``.

    ``cache_dir`` (optional) keeps the memo of big-file hashes so they are not rehashed."""
    if not ref or not ref.strip():
        raise BenchError("empty model reference")
    ref = ref.strip()
    path = Path(ref).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise BenchError(f"model '{ref}': a file must be a .gguf model; give a model folder otherwise")
        path = path.resolve()
        return ModelRef(str(path), "gguf", None, "sha256:" + _hash_file(path, cache_dir))
    if path.is_dir():
        path = path.resolve()
        if not (path / "config.json").is_file():
            raise BenchError(f"model '{ref}': folder has no config.json (not a Hugging Face model folder)")
        return ModelRef(str(path), "local", None, "sha256:" + fingerprint_dir(path, cache_dir))
    looks_like_path = ref.startswith((".", "/", "~")) or ref.lower().endswith(".gguf") or ref.count("/") > 1 \
        or "\\" in ref
    if looks_like_path or not _HUB_ID.match(ref):
        raise BenchError(f"model '{ref}': no such file or folder")
    resolved = hub_revision(ref, revision)
    if resolved is None:
        if _offline():
            raise BenchError(f"model '{ref}': no such folder, and not in the local Hugging Face cache (offline)")
        resolved = revision or "main"
    return ModelRef(ref, "hub", resolved, f"hub:{ref}@{resolved}")


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE) or os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes")
    except ImportError:  # pragma: no cover
        return True


def hub_revision(repo_id: str, revision: str | None = None) -> str | None:
    """The commit the local HF cache has for ``repo_id`` at ``revision`` (default main), or None.

    A 40-hex ``revision`` is returned as is when its snapshot is cached."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover
        return None
    repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    if not repo_dir.is_dir():
        return None
    if revision and _COMMIT.match(revision):
        return revision if (repo_dir / "snapshots" / revision).is_dir() else None
    ref_file = repo_dir / "refs" / (revision or "main")
    if ref_file.is_file():
        commit = ref_file.read_text(encoding="utf-8").strip()
        if commit and (repo_dir / "snapshots" / commit).is_dir():
            return commit
    return None


def fingerprint_files(path: Path) -> list[Path]:
    """The top-level files of a model folder that enter its fingerprint."""
    return sorted(
        p for p in path.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name not in FINGERPRINT_SKIP
        and p.name.lower().endswith(FINGERPRINT_SUFFIXES)
    )


def fingerprint_dir(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> str:
    """sha256 (hex) over the names and contents of a model folder's config/tokenizer/weight files."""
    path = Path(path)
    files = fingerprint_files(path)
    if not files:
        raise BenchError(f"model '{path}': no model files in folder")
    with _HashMemo(cache_dir) as memo:
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}\0{memo.sha256(file)}\n".encode())
    return digest.hexdigest()


def _hash_file(path: Path, cache_dir: str | os.PathLike | None) -> str:
    with _HashMemo(cache_dir) as memo:
        return memo.sha256(path)


class _HashMemo:
    """sha256 of files, remembered by (absolute path, size, mtime_ns) in a JSON file."""

    def __init__(self, cache_dir: str | os.PathLike | None):
        self.file = Path(cache_dir) / HASH_MEMO_FILE if cache_dir else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False

    def __enter__(self) -> "_HashMemo":
        if self.file and self.file.is_file():
            try:
                self.entries = json.loads(self.file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}
        return self

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        if self.file is None or stat.st_size < MEMO_MIN_SIZE:
            return sha256_file(path)
        key = str(path.resolve())
        entry = self.entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return entry["sha256"]
        value = sha256_file(path)
        self.entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": value}
        self.dirty = True
        return value

    def __exit__(self, *exc: Any) -> None:
        if not (self.dirty and self.file):
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".model-hashes.", dir=self.file.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.entries, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.file)
        except OSError as exc:  # a memo that cannot be written only costs time
            log.warning("cannot write %s: %s", self.file, exc)


# ---------------------------------------------------------------------------------------------
# Devices and dtypes


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU fails."""
    import torch

    if device not in DEVICES and not device.startswith("cuda:"):
        raise BenchError(f"unknown device '{device}'; expected one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"device '{device}' requested but no CUDA GPU is available")
    return device


def resolve_dtype(dtype: str = "auto", device: str = "cpu") -> str:
    """``auto`` -> float32 on CPU, bfloat16 on GPUs that support it (else float16). (bfloat16 on a CPU is fast only
    with bf16 units, see :func:`cpu_has_bf16_units`, and ~100x slower without them.)"""
    import torch

    if dtype not in DTYPES:
        raise BenchError(f"unknown dtype '{dtype}'; expected one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def cpu_has_bf16_units() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX tiles), as torch reports it."""
    import torch

    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    try:
        return any(bool(check()) for check in checks if check is not None)
    except Exception:  # noqa: BLE001 - a torch without these probes: assume none
        return False


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def empty_cuda_cache(device: Any) -> None:
    """Give a released model's GPU memory back (call after dropping the last reference to it)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Loading


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and advisory warnings while loading."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled() if hasattr(hf_logging, "is_progress_bar_enabled") else None
    hf_logging.set_verbosity_error()
    if bars:
        hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _as_ref(ref: ModelRef | str, cache_dir: str | os.PathLike | None) -> ModelRef:
    return ref if isinstance(ref, ModelRef) else resolve_model(ref, cache_dir=cache_dir)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def model_source(ref: ModelRef | str, cache_dir: str | os.PathLike | None = None, *, task: str = "causal") -> tuple[str, dict[str, Any]]:
    """``(path, kwargs)`` to hand to ``from_pretrained`` for this model (GGUF: converted copy)."""
    ref = _as_ref(ref, cache_dir)
    if ref.kind == "gguf":
        return str(convert_gguf(ref, cache_dir, task=task)), {"use_safetensors": True}
    if ref.kind == "local":
        has_st = any(Path(ref.path).glob("*.safetensors"))
        return ref.path, ({"use_safetensors": True} if has_st else {})
    return ref.path, {"revision": ref.revision}


def load_config(ref: ModelRef | str, *, cache_dir: str | os.PathLike | None = None, trust_remote_code: bool = False,
                task: str = "causal") -> Any:
    from transformers import AutoConfig

    ref = _as_ref(ref, cache_dir)
    path, kwargs = model_source(ref, cache_dir, task=task)
    kwargs.pop("use_safetensors", None)
    try:
        with quiet_transformers():
            return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, **kwargs)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types; the user needs one line
        raise BenchError(f"cannot load config of model '{ref.ref}': {_one_line(exc)}") from exc


def load_tokenizer(ref: ModelRef | str, *, padding_side: str | None = None, cache_dir: str | os.PathLike | None = None,
                   trust_remote_code: bool = False, task: str = "causal") -> Any:
    """The model's tokenizer; ``padding_side`` set if given; pad token = eos when missing."""
    from transformers import AutoTokenizer

    ref = _as_ref(ref, cache_dir)
    path, kwargs = model_source(ref, cache_dir, task=task)
    kwargs.pop("use_safetensors", None)
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"cannot load tokenizer of model '{ref.ref}': {_one_line(exc)}") from exc
    if padding_side:
        tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(ref: ModelRef | str, *, task: str = "causal", dtype: Any = "auto",
               cache_dir: str | os.PathLike | None = None, trust_remote_code: bool = False) -> Any:
    """The weights alone, as ``AutoModelForCausalLM`` (``task="causal"``) or ``AutoModelForSeq2SeqLM``
    (``"seq2seq"``) loads them: ``dtype`` is a torch dtype or ``"auto"``; not moved to a device and not
    put in eval mode (training takes them so)."""
    import transformers

    ref = _as_ref(ref, cache_dir)
    path, kwargs = model_source(ref, cache_dir, task=task)
    auto_cls = transformers.AutoModelForSeq2SeqLM if task == "seq2seq" else transformers.AutoModelForCausalLM
    try:
        with quiet_transformers():
            return auto_cls.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"cannot load model '{ref.ref}': {_one_line(exc)}") from exc


def _load(ref: ModelRef | str, padding_side: str, task: str, dtype: str, device: str,
          cache_dir: str | os.PathLike | None, trust_remote_code: bool) -> tuple[Any, Any]:
    ref = _as_ref(ref, cache_dir)
    device = resolve_device(device)
    dtype_name = resolve_dtype(dtype, device)
    model = load_model(ref, task=task, dtype=torch_dtype(dtype_name), cache_dir=cache_dir,
                       trust_remote_code=trust_remote_code)
    model.to(device)
    model.eval()
    tokenizer = load_tokenizer(ref, padding_side=padding_side, cache_dir=cache_dir,
                               trust_remote_code=trust_remote_code, task=task)
    gen = getattr(model, "generation_config", None)
    if gen is not None and gen.pad_token_id is None and tokenizer.pad_token_id is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_causal_lm(ref: ModelRef | str, dtype: str = "auto", device: str = "auto",
                   cache_dir: str | os.PathLike | None = None, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a decoder-only model; tokenizer pads on the left."""
    return _load(ref, "left", "causal", dtype, device, cache_dir, trust_remote_code)


def load_seq2seq(ref: ModelRef | str, dtype: str = "auto", device: str = "auto",
                 cache_dir: str | os.PathLike | None = None, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for an encoder-decoder model; tokenizer pads on the right."""
    return _load(ref, "right", "seq2seq", dtype, device, cache_dir, trust_remote_code)


# ---------------------------------------------------------------------------------------------
# GGUF


def _gguf_storage_dtype(gguf_path: str) -> str:
    """float32 for F32 files, float16/bfloat16 for such files, bfloat16 for quantised ones."""
    try:
        import gguf

        reader = gguf.GGUFReader(gguf_path)
        types = {t.tensor_type for t in reader.tensors if len(t.shape) > 1} or {t.tensor_type for t in reader.tensors}
        q = gguf.GGMLQuantizationType
        if types <= {q.F32}:
            return "float32"
        if types <= {q.F32, q.F16}:
            return "float16"
    except Exception:  # noqa: BLE001 - fall back to a safe choice
        pass
    return "bfloat16"


def convert_gguf(ref: ModelRef | str, cache_dir: str | os.PathLike | None = None, *, task: str = "causal") -> Path:
    """Dequantise a GGUF model once into ``<cache_dir>/converted/<sha256>/`` (safetensors + tokenizer).

    Without ``cache_dir`` the copy goes to a temporary folder (converted again next run)."""
    import transformers

    ref = _as_ref(ref, cache_dir)
    if ref.kind != "gguf":
        raise BenchError(f"model '{ref.ref}' is not a .gguf file")
    root = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / f"bench-gguf-{os.getuid() if hasattr(os, 'getuid') else 0}"
    out = root / "converted" / ref.digest
    marker = out / CONVERTED_MARKER
    if marker.is_file():
        return out
    src = Path(ref.path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ref.digest[:12]}.", dir=out.parent))
    auto_cls = transformers.AutoModelForSeq2SeqLM if task == "seq2seq" else transformers.AutoModelForCausalLM
    storage = _gguf_storage_dtype(str(src))
    try:
        with quiet_transformers():
            model = auto_cls.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch_dtype(storage))
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            if hasattr(model, "is_quantized"):
                with contextlib.suppress(AttributeError):
                    model.is_quantized = False
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(
            json.dumps({"source": str(src), "fingerprint": ref.fingerprint, "dtype": storage}, indent=1),
            encoding="utf-8")
        tmp.chmod(0o755)
        if not marker.is_file():  # else another process finished the same conversion meanwhile
            if out.exists():
                shutil.rmtree(out)
            try:
                os.replace(tmp, out)
            except OSError:
                if not marker.is_file():
                    raise
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"cannot convert GGUF model '{ref.ref}': {_one_line(exc)}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------
# Batching helper shared by the local-model backends


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (OOM shows up at once).

    Callers put outputs back with the indices, so the order of results is the input order."""
    if batch_size < 1:
        raise BenchError(f"batch size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
