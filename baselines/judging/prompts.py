"""The project's own LLM-judge prompts (multi-aspect and safety; English, French, Spanish).

Each prompt is a system message (role, rubric, language rule, output contract) and a user
message (the question and the answer between markers). The texts are template files in
``baselines/judging/templates/``:

* ``<protocol>.<lang>.txt``: the system message, read as is (trailing newlines trimmed);
* ``user.<lang>.txt``: the user message, with the fields ``{language}`` (the expected answer
  language), ``{instruction}`` and ``{output}`` filled in one pass (the item text is never
  re-read as a template). The French file uses no-break spaces before colons.

The output contract is the same in every language, with English keys, so
:func:`baselines.judging.parse.parse_judgement` reads it::

    {"<aspect>": {"reason": "...", "score": <integer 1-5>}, ...}

French and Spanish prompts judge the answer in its own language and penalise helpfulness and
clarity when the answer is not in the language of the question (unless the question asked for
another language). Other languages get the English prompt plus a line naming the expected
answer language.

Change :data:`PROMPT_VERSION` whenever a template file changes: it enters the prompt hash that
keys the judge-call cache.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from bench.errors import BenchError
from bench.languages import LANGUAGES
from baselines.judging.parse import MULTI_ASPECTS, SAFETY_ASPECTS

PROMPT_VERSION = "bench-judge-v1"

PROTOCOLS = ("multi-aspect", "safety")
JUDGE_LANGUAGES = ("en", "fr", "es")  # languages with their own prompt text
TEMPLATES_DIR = Path(__file__).with_name("templates")

_NATIVE_NAME = {"en": "English", "fr": "français", "es": "español"}


def aspects_for(protocol: str) -> tuple[str, ...]:
    """Aspects scored under a protocol: five for multi-aspect, one for safety."""
    if protocol == "multi-aspect":
        return MULTI_ASPECTS
    if protocol == "safety":
        return SAFETY_ASPECTS
    raise BenchError(f"unknown judge protocol '{protocol}'; known: {', '.join(PROTOCOLS)}")


def protocol_for_category(category: str | None) -> str:
    """'safety' for safety items (Just-Eval ids 800-999), 'multi-aspect' for everything else."""
    return "safety" if isinstance(category, str) and category.strip().lower() == "safety" else "multi-aspect"


def _read_template(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8").rstrip("\n")


@cache
def system_template(protocol: str, lang: str) -> str:
    """The system message of ``protocol`` in ``lang`` (one of :data:`JUDGE_LANGUAGES`).

    The file's output contract must name every aspect of the protocol, so a template cannot
    drift from the aspects the parser expects."""
    aspects = aspects_for(protocol)
    text = _read_template(f"{protocol}.{lang}.txt")
    missing = [a for a in aspects if f'"{a}": {{"reason"' not in text]
    if missing:
        raise BenchError(f"judge template {protocol}.{lang}.txt: output contract lacks {', '.join(missing)}")
    return text


@cache
def user_template(lang: str) -> str:
    """The user message template in ``lang`` (fields: language, instruction, output)."""
    return _read_template(f"user.{lang}.txt")


def _lang_code(lang: str) -> str:
    code = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    if not code:
        raise BenchError("judge prompt: no language given")
    return code


def _language_name(code: str) -> str:
    if code in _NATIVE_NAME:
        return _NATIVE_NAME[code]
    row = LANGUAGES.get(code)
    return row.name if row else code


def build_judge_messages(instruction: str, output: str, protocol: str, lang: str) -> list[dict]:
    """OpenAI chat messages asking the judge to score ``output`` as an answer to ``instruction``.

    ``protocol`` is "multi-aspect" or "safety"; ``lang`` is the ISO 639-1 code of the item's
    language (en, fr, es have their own text; others get English plus the expected language).
    """
    aspects_for(protocol)
    code = _lang_code(lang)
    text_lang = code if code in JUDGE_LANGUAGES else "en"
    system = system_template(protocol, text_lang)
    user = user_template(text_lang).format(language=_language_name(code), instruction=instruction, output=output)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


__all__ = [
    "PROMPT_VERSION", "PROTOCOLS", "JUDGE_LANGUAGES", "TEMPLATES_DIR",
    "aspects_for", "protocol_for_category", "build_judge_messages", "system_template", "user_template",
]
