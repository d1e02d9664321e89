"""Language table: ISO 639-1 codes and what each backend calls them.

One row per language; add a row to support a new language everywhere
(NLLB/FLORES codes, lingua detector, names used in prompts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bench.errors import BenchError


@dataclass(frozen=True)
class LanguageInfo:
    code: str  # ISO 639-1, the code users type and the dataset config name
    name: str  # English name, used in prompts
    native: str  # endonym
    flores: str  # NLLB / FLORES-200 code
    lingua: str | None  # lingua.Language member name (None: lingua cannot detect it)


LANGUAGES: dict[str, LanguageInfo] = {
    row.code: row
    for row in [
        LanguageInfo("en", "English", "English", "eng_Latn", "ENGLISH"),
        LanguageInfo("fr", "French", "français", "fra_Latn", "FRENCH"),
        LanguageInfo("es", "Spanish", "español", "spa_Latn", "SPANISH"),
        LanguageInfo("de", "German", "Deutsch", "deu_Latn", "GERMAN"),
        LanguageInfo("it", "Italian", "italiano", "ita_Latn", "ITALIAN"),
        LanguageInfo("pt", "Portuguese", "português", "por_Latn", "PORTUGUESE"),
        LanguageInfo("ca", "Catalan", "català", "cat_Latn", "CATALAN"),
        LanguageInfo("eu", "Basque", "euskara", "eus_Latn", "BASQUE"),
        LanguageInfo("gl", "Galician", "galego", "glg_Latn", None),
        LanguageInfo("nl", "Dutch", "Nederlands", "nld_Latn", "DUTCH"),
        LanguageInfo("ro", "Romanian", "română", "ron_Latn", "ROMANIAN"),
        LanguageInfo("pl", "Polish", "polski", "pol_Latn", "POLISH"),
        LanguageInfo("ru", "Russian", "русский", "rus_Cyrl", "RUSSIAN"),
        LanguageInfo("uk", "Ukrainian", "українська", "ukr_Cyrl", "UKRAINIAN"),
        LanguageInfo("ar", "Arabic", "العربية", "arb_Arab", "ARABIC"),
        LanguageInfo("zh", "Chinese", "中文", "zho_Hans", "CHINESE"),
        LanguageInfo("ja", "Japanese", "日本語", "jpn_Jpan", "JAPANESE"),
        LanguageInfo("ko", "Korean", "한국어", "kor_Hang", "KOREAN"),
        LanguageInfo("hi", "Hindi", "हिन्दी", "hin_Deva", "HINDI"),
        LanguageInfo("tr", "Turkish", "Türkçe", "tur_Latn", "TURKISH"),
        LanguageInfo("sv", "Swedish", "svenska", "swe_Latn", "SWEDISH"),
    ]
}


def get_language(code: str) -> LanguageInfo:
    """Return the row for an ISO 639-1 code, or fail with the list of known codes."""
    key = code.strip().lower()
    if key not in LANGUAGES:
        raise BenchError(f"unknown language code '{code}'; known: {', '.join(sorted(LANGUAGES))}")
    return LANGUAGES[key]


def parse_languages(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """Parse 'fr,es' (or a list) into validated, de-duplicated ISO codes, order kept."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes: list[str] = []
    for item in items:
        if item.strip():
            code = get_language(item).code
            if code not in codes:
                codes.append(code)
    if not codes:
        raise BenchError("no language given")
    return codes


def lingua_detector(codes: Iterable[str]) -> tuple[Any, dict[Any, str]]:
    """A preloaded lingua detector over ``codes`` and its member -> ISO code map.

    The detector is ``None`` when fewer than two of the codes are known to lingua (its
    confidences mean nothing with a single candidate). Building one is slow: build once, reuse.
    """
    from lingua import Language, LanguageDetectorBuilder

    by_member: dict[Any, str] = {}
    for code in dict.fromkeys(codes):
        name = get_language(code).lingua
        if name and hasattr(Language, name):
            by_member[getattr(Language, name)] = code
    detector = (LanguageDetectorBuilder.from_languages(*by_member).with_preloaded_language_models().build()
                if len(by_member) >= 2 else None)
    return detector, by_member
