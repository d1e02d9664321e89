"""The yes/no question a judge is asked about an uncertain QA flag (``bench qa translations --judge``).

The machinery (which flags are asked, the cache, the judge backends) is the critical-error detectors' second
opinion (:mod:`baselines.errors.second_opinion`); this module gives it the flags' definitions, from
``evaluation/LABELS.md``, and shows the judge the source and the translation.
"""
from __future__ import annotations

from typing import Any, Sequence

from bench.languages import get_language

QUESTION_VERSION = "qa-so-v1"
_CLIP = 2500  # characters of each text shown

DEFINITIONS = {
    "untranslated": "the translation is the source text, or keeps whole sentences of it in the source language "
                    "(names, titles, code and quoted text the source quotes do not count)",
    "wrong_language": "the translation is, wholly or in one whole sentence, in a third language, neither the source's "
                      "nor the target language (loanwords and names do not count)",
    "truncated": "the translation stops early: the last sentences, list items, paragraphs or the actual question of "
                 "the source are missing, with or without a cut mid-sentence (a terser wording does not count)",
    "code_altered": "the translation changes code, commands, identifiers, string literals, type names, LaTeX commands, "
                    "file names, paths, URLs, e-mail addresses or placeholders of the source (translated comments "
                    "and prose around the code do not count)",
    "number_mismatch": "the translation changes, drops or adds a number, a date or month, a time or a price, or "
                       "converts a unit without converting the quantity (digits written as words do not count)",
    "hallucinated_addition": "the translation adds content the source does not have: an answer to the instruction, a "
                             "translator's note or preamble, extra list items, hashtags or explanations",
    "repetition": "the translation repeats words, phrases, sentences or lines that the source does not repeat",
}


def _clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[:_CLIP // 2] + "\n[...]\n" + text[-_CLIP // 2:]


def translation_question(row: Sequence[Any], flag: str) -> list[dict[str, str]]:
    """Chat messages asking whether the translation in ``row`` = (source, translation, target_lang[, source_lang])
    shows ``flag``."""
    source, translation, target = row[0], row[1], row[2]
    src_lang = row[3] if len(row) > 3 else "en"
    names = get_language(src_lang).name, get_language(target).name
    return [
        {"role": "system", "content": "You review translations for one kind of error. Reply with one word: yes or no."},
        {"role": "user", "content": f"Source ({names[0]}):\n{_clip(source)}\n\nTranslation ({names[1]}):\n"
                                    f"{_clip(translation)}\n\nError '{flag}': {DEFINITIONS[flag]}.\n"
                                    f"Does the translation show this error? Reply yes or no."},
    ]
