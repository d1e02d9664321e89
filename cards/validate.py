"""Offline validation of dataset card metadata (the YAML front matter the Hub reads).

``huggingface_hub``'s ``RepoCard.validate`` posts the card to the Hub; this module checks the keys
the Hub uses for datasets without a network: ``license`` (a Hub license id), ``language`` (ISO
639-1 codes), ``task_categories`` (the Hub's task list), ``size_categories``, ``configs``
(``config_name`` + ``data_files``: a path, a list of paths or a list of ``{split, path}``),
``pretty_name`` (a string), plus the types of ``source_datasets``, ``tags``, ``task_ids``,
``multilinguality`` and the ``*_creators`` keys. Unknown keys are allowed (the Hub allows them).

:func:`card_problems` returns every problem found (empty list: valid); :func:`check_card` raises
an :class:`~bench.errors.InputError` naming the file and the first bad field.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Iterable

from bench.errors import InputError

# The license ids the Hub accepts in card metadata (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl open-mdw
openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license
fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma unknown other
""".split())

# ISO 639-1 two-letter language codes.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es
et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj
kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti
tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())

# The Hub's task categories (huggingface.js ``PIPELINE_DATA`` keys).
HUB_TASK_CATEGORIES = frozenset("""
text-classification token-classification table-question-answering question-answering zero-shot-classification
translation summarization feature-extraction text-generation text2text-generation fill-mask sentence-similarity
text-to-speech text-to-audio automatic-speech-recognition audio-to-audio audio-classification audio-text-to-text
voice-activity-detection depth-estimation image-classification object-detection image-segmentation text-to-image
image-to-text image-to-image image-to-video unconditional-image-generation video-classification
reinforcement-learning robotics tabular-classification tabular-regression tabular-to-text table-to-text
multiple-choice text-ranking text-retrieval time-series-forecasting text-to-video image-text-to-text
image-text-to-image image-text-to-video visual-question-answering document-question-answering
zero-shot-image-classification graph-ml mask-generation zero-shot-object-detection text-to-3d image-to-3d
image-feature-extraction video-text-to-text keypoint-detection visual-document-retrieval any-to-any video-to-video
other
""".split())

# The Hub's size_categories buckets, smallest first.
SIZE_CATEGORIES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B",
                   "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T")
MULTILINGUALITY = frozenset({"monolingual", "multilingual", "translation", "other"})
CREATORS = frozenset({"crowdsourced", "expert-generated", "found", "machine-generated", "no-annotation", "other"})
REQUIRED_KEYS = ("license", "language", "task_categories", "size_categories", "configs", "pretty_name")
_SPLIT_RE = re.compile(r"^\w+(\.\w+)*$")
_CONFIG_NAME_RE = re.compile(r"^[\w.-]+$")


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows (covers every bucket up to n>1T)."""
    bound = 1_000
    for label in SIZE_CATEGORIES[:-1]:
        if n < bound:
            return label
        bound *= 10
    return SIZE_CATEGORIES[-1]


def _str_list(meta: dict, key: str, problems: list[str], allowed: Iterable[str] | None = None,
              what: str = "value") -> list[str]:
    value = meta[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        problems.append(f"{key}: must be a non-empty string or list of strings (got {value!r})")
        return []
    if allowed is not None:
        allowed = set(allowed)
        for v in values:
            if v not in allowed:
                problems.append(f"{key}: {v!r} is not a known {what}")
    return values


def _data_file_paths(value: Any, where: str, problems: list[str]) -> list[str]:
    """Paths of one config's ``data_files`` (checks its structure)."""
    if isinstance(value, str):
        if not value:
            problems.append(f"{where}: empty path")
            return []
        return [value]
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: must be a path, a list of paths or a list of {{split, path}} (got {value!r})")
        return []
    paths: list[str] = []
    splits: set[str] = set()
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        if isinstance(entry, str) and entry:
            paths.append(entry)
        elif isinstance(entry, dict):
            extra = set(entry) - {"split", "path"}
            if extra:
                problems.append(f"{at}: unknown key(s) {sorted(extra)} (expected split, path)")
            split, path = entry.get("split"), entry.get("path")
            if not isinstance(split, str) or not _SPLIT_RE.match(split):
                problems.append(f"{at}.split: must be a split name like 'test' (got {split!r})")
            elif split in splits:
                problems.append(f"{at}.split: split {split!r} listed twice")
            else:
                splits.add(split)
            if isinstance(path, str) and path:
                paths.append(path)
            elif isinstance(path, list) and path and all(isinstance(p, str) and p for p in path):
                paths.extend(path)
            else:
                problems.append(f"{at}.path: must be a path or a list of paths (got {path!r})")
        else:
            problems.append(f"{at}: must be a path or a {{split, path}} mapping (got {entry!r})")
    return paths


def _check_configs(configs: Any, problems: list[str], root: Path | None) -> None:
    if not isinstance(configs, list) or not configs:
        problems.append(f"configs: must be a non-empty list (got {configs!r})")
        return
    names: set[str] = set()
    defaults = 0
    files = None
    if root is not None:
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    for index, config in enumerate(configs):
        where = f"configs[{index}]"
        if not isinstance(config, dict):
            problems.append(f"{where}: must be a mapping with config_name and data_files")
            continue
        name = config.get("config_name")
        if not isinstance(name, str) or not _CONFIG_NAME_RE.match(name):
            problems.append(f"{where}.config_name: must be a name of letters, digits, '_', '-', '.' (got {name!r})")
        elif name in names:
            problems.append(f"{where}.config_name: {name!r} listed twice")
        else:
            names.add(name)
        if "default" in config:
            if not isinstance(config["default"], bool):
                problems.append(f"{where}.default: must be true or false")
            defaults += bool(config["default"])
        if "data_files" not in config and "data_dir" not in config:
            problems.append(f"{where}: needs data_files")
            continue
        if "data_files" in config:
            for pattern in _data_file_paths(config["data_files"], f"{where}.data_files", problems):
                if pattern.startswith("/") or ".." in Path(pattern).parts:
                    problems.append(f"{where}.data_files: path {pattern!r} must be relative to the repo root")
                elif files is not None and not any(fnmatch.fnmatchcase(f, pattern) for f in files):
                    problems.append(f"{where}.data_files: no file matches {pattern!r}")
    if defaults > 1:
        problems.append("configs: more than one config has default: true")


def card_problems(meta: dict[str, Any], *, root: str | Path | None = None,
                  required: Iterable[str] = REQUIRED_KEYS) -> list[str]:
    """Every problem of a card's metadata (empty list: it is valid). ``root``: also check that
    every ``data_files`` pattern matches a file under this folder."""
    problems: list[str] = []
    if not isinstance(meta, dict):
        return ["metadata: the YAML front matter must be a mapping"]
    for key in required:
        if meta.get(key) in (None, "", []):
            problems.append(f"{key}: missing")
    if meta.get("license") is not None:
        _str_list(meta, "license", problems, HUB_LICENSES, "Hub license id")
    if meta.get("language") is not None:
        _str_list(meta, "language", problems, ISO_639_1, "ISO 639-1 language code")
    if meta.get("task_categories") is not None:
        _str_list(meta, "task_categories", problems, HUB_TASK_CATEGORIES, "Hub task category")
    if meta.get("size_categories") is not None:
        _str_list(meta, "size_categories", problems, SIZE_CATEGORIES, "size category")
    if meta.get("multilinguality") is not None:
        _str_list(meta, "multilinguality", problems, MULTILINGUALITY, "multilinguality value")
    for key in ("annotations_creators", "language_creators"):
        if meta.get(key) is not None:
            _str_list(meta, key, problems, CREATORS, "creator type")
    for key in ("source_datasets", "tags", "task_ids"):
        if meta.get(key) is not None:
            _str_list(meta, key, problems)
    if "pretty_name" in meta and meta["pretty_name"] is not None and (
            not isinstance(meta["pretty_name"], str) or not meta["pretty_name"].strip()):
        problems.append(f"pretty_name: must be a non-empty string (got {meta['pretty_name']!r})")
    if meta.get("configs") is not None:
        _check_configs(meta["configs"], problems, Path(root) if root is not None else None)
    return problems


def card_metadata(text: str) -> dict[str, Any]:
    """The metadata of a card's text, parsed as the Hub does (``huggingface_hub.DatasetCard``)."""
    from huggingface_hub import DatasetCard

    return DatasetCard(text).data.to_dict()


def check_card(path: str | Path, *, root: str | Path | None = None,
               required: Iterable[str] = REQUIRED_KEYS) -> dict[str, Any]:
    """Parse and validate a card file; returns its metadata or raises :class:`InputError`."""
    path = Path(path)
    try:
        meta = card_metadata(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # yaml errors are ValueError subclasses in huggingface_hub
        raise InputError(str(path), f"cannot parse the card: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends
        raise InputError(str(path), f"cannot parse the card: {str(exc).splitlines()[0]}") from exc
    problems = card_problems(meta, root=root, required=required)
    if problems:
        key = problems[0].split(":", 1)[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(str(path), problems[0].split(": ", 1)[1] + more, field=key)
    return meta
