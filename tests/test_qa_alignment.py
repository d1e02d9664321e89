"""Translation QA, source/translation alignment: formulas, identifiers, language names, number words, units,
lost sentences, English runs, third languages and short stutters (FR and ES, positives and hard negatives)."""
from __future__ import annotations

import pytest

from benchmark.qa import TranslationQA
from benchmark.qa.align import formulas, identifiers, language_names, missing_counterparts
from benchmark.qa.features import protected_spans
from benchmark.qa.numbers import extract_numbers, word_numbers
from benchmark.qa.units import quantities, unconverted


@pytest.fixture(scope="module")
def checker() -> TranslationQA:
    return TranslationQA(["en", "fr", "es", "de"])


def check(checker: TranslationQA, source: str, translation: str, lang: str) -> tuple[list[str], dict[str, str]]:
    result = checker.check(source, translation, lang)
    return result.flags, result.evidence


# ---------------------------------------------------------------- features
def test_formulas_and_identifiers():
    assert formulas("Solve 2y^2 + 3y = 7, then plot g(y).") == ("2y^2 + 3y = 7", "g(y)")
    assert formulas("Open 24/7, call 555 1234 on 12/05.") == ()
    assert identifiers("Edit ~/notes/todo.md and set max_retries in os.path with psycopg3.") == [
        "~/notes/todo.md", "max_retries", "os.path", "psycopg3"]
    assert identifiers("Use e.g. and/or 3rd 10km i.e. U.S. 5pm") == []
    assert language_names("Port this Rust crate to C++. Python is fine too.") == ["Rust", "C++"]


def test_inline_triple_backticks_are_inline_code():
    spans, _ = protected_spans("Compare ```a = b``` with ```c``` here.")
    assert [s[2] for s in spans] == ["```a = b```", "```c```"]
    spans, prose = protected_spans("Run:\n\n```sh\nls -la\n```\n\nThen stop.")
    assert [s[2] for s in spans] == ["```sh\nls -la\n```"] and "Then stop." in prose


def test_missing_counterparts_names_what_is_missing():
    assert missing_counterparts("Is 3k + 1 > 2k true?", "¿Es 3k + 1 ≥ 2k cierto?") == ["3k + 1 > 2k"]
    assert missing_counterparts("Is 3k+1 > 2k true?", "¿Es 3k + 1 > 2k verdadero?") == []
    assert missing_counterparts("Write it in Go, not Java.", "Écris-le en Go, pas en Kotlin.") == [
        "Java", "Kotlin (not in source)"]


def test_number_words_and_units():
    assert word_numbers("Lancez trois dés, une fois, pour un total de neuf", "fr", strict=True) == {"3"}
    assert word_numbers("cinquante-deux cartes", "fr", strict=True) == set()
    assert "52" in word_numbers("fifty-two cards", "en", strict=False)
    assert word_numbers("a triple window, two panes", "en", strict=True) == {"3", "2"}
    assert word_numbers("dix pour cent", "fr", strict=True) == {"10"}
    assert [q.unit for q in quantities("It costs $15 for 3 miles, or 12 euros.")] == ["mile", "EUR", "USD"]
    assert unconverted("a 20 mile ride", "un trajet de 20 km") == ["20 mile -> 20 km"]
    assert unconverted("a 20 mile ride", "un trajet de 32 km") == []
    assert [n.surface for n in extract_numbers("Steps:\n1. Mix 200 g\n2. Bake", False)] == ["200"]


# ---------------------------------------------------------------- code_altered
@pytest.mark.parametrize("source, translation, lang", [
    ("Find all roots of y^4 - 5y^2 + 4 = 0.", "Trouvez toutes les racines de y4 - 5y2 + 4 = 0.", "fr"),
    ("Which values of n satisfy 2n - 7 < 15?", "¿Qué valores de n cumplen 2n - 7 ≤ 15?", "es"),
    ("Back up the folder ~/photos/2020 every night.", "Sauvegardez le dossier ~/fotos/2020 chaque nuit.", "fr"),
    ("Why does read_config() return None?", "¿Por qué leer_config() devuelve None?", "es"),
    ("How do I install numpy2 in a venv?", "Comment installer numpy 2 dans un venv ?", "fr"),
    ("Write a Rust function that reverses a string.", "Escribe una función en Go que invierta una cadena.", "es"),
    ("Explain closures in F# with an example.", "Explique les fermetures en F dièse avec un exemple.", "fr"),
])
def test_code_altered_categories(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "code_altered" in flags, evidence
    assert "no counterpart" in evidence["code_altered"]


@pytest.mark.parametrize("source, translation, lang", [
    ("Find all roots of y^4 - 5y^2 + 4 = 0.", "Trouvez toutes les racines de y^4 − 5y^2 + 4 = 0.", "fr"),
    ("If 2.5x = 10, what is x?", "Si 2,5x = 10, ¿cuánto vale x?", "es"),
    ("Back up the folder ~/photos/2020 every night.", "Sauvegardez le dossier ~/photos/2020 chaque nuit.", "fr"),
    ("Why does read_config() return None in Python?", "¿Por qué read_config() devuelve None en Python?", "es"),
    ("Is it true that he/she must sign, e.g. by 5pm?", "Est-il vrai qu'il/elle doit signer, p. ex. avant 17 h ?", "fr"),
    ("Red or blue: which colour suits a kitchen?", "Rojo o azul: ¿qué color queda mejor en una cocina?", "es"),
    ("While ```a = b``` holds, ```b``` changes too. Why?", "Mientras ```a = b``` se cumple, ```b``` cambia también. ¿Por qué?", "es"),
])
def test_code_altered_hard_negatives(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "code_altered" not in flags, evidence


# ---------------------------------------------------------------- number_mismatch
@pytest.mark.parametrize("source, translation, lang", [
    ("Pick two cards from a deck of 52. What are the odds?", "Tirez trois cartes d'un jeu de 52. Quelles sont les chances ?", "fr"),
    ("My house has a double garage.", "Mi casa tiene un garaje triple.", "es"),
    ("The hike is 12 miles long.", "La randonnée fait 12 km.", "fr"),
    ("Each ticket costs $40.", "Cada entrada cuesta 40 €.", "es"),
    ("Let g(t) = 3t^2 - 5t + 2. Find g(1).", "Soit g(t) = 3t^2 + 5t + 2. Trouvez g(1).", "fr"),
    ("Summarise the plot.\n\nThe Wire (2002-2008)", "Resume la trama.", "es"),
    ("How do I boil an egg?", "¿Cómo cuezo un huevo? Hiérvelo 9 minutos.", "es"),
])
def test_number_mismatch_categories(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "number_mismatch" in flags, evidence


@pytest.mark.parametrize("source, translation, lang", [
    ("Pick two cards from a deck of 52.", "Tirez 2 cartes d'un jeu de cinquante-deux (52).", "fr"),
    ("Both options cost the same.", "Les deux options coûtent pareil.", "fr"),
    ("I bought a new computer.", "J'ai acheté un ordinateur neuf.", "fr"),
    ("Sales grew ten percent.", "Las ventas crecieron un diez por ciento.", "es"),
    ("The hike is 12 miles (about 19 km) long.", "La randonnée fait 12 miles (environ 19 km).", "fr"),
    ("List three fruits:\n1. apple\n2. pear\n3. plum", "Enumera tres frutas:\n- manzana\n- pera\n- ciruela", "es"),
])
def test_number_mismatch_hard_negatives(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "number_mismatch" not in flags, evidence


# ---------------------------------------------------------------- truncated
@pytest.mark.parametrize("source, translation, lang", [
    ("My neighbour plays loud music every night until two in the morning. What can I legally do about it?",
     "Mi vecino pone música alta todas las noches hasta las dos de la madrugada.", "es"),
    ("We are planning a family trip to the mountains in winter. Suggest a packing list for the kids.",
     "Nous prévoyons un voyage en famille à la montagne en hiver.", "fr"),
])
def test_truncated_lost_sentence(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "truncated" in flags and "no counterpart" in evidence["truncated"], evidence


@pytest.mark.parametrize("source, translation, lang", [
    ("I love baking. Give me a recipe for a lemon tart that a beginner can follow.",
     "Me encanta la repostería: dame una receta de tarta de limón que pueda seguir una persona principiante.", "es"),
    ("Is it safe? I mean, can I swim there after a storm?",
     "Est-ce sans danger, c'est-à-dire puis-je m'y baigner après un orage ?", "fr"),
])
def test_truncated_merged_sentences_hard_negatives(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "truncated" not in flags, evidence


# ---------------------------------------------------------------- untranslated
@pytest.mark.parametrize("source, translation, lang", [
    ("What are the pros and cons of renting an apartment instead of buying a house?",
     "¿Cuáles son los pros y los contras of renting an apartment instead of buying a house?", "es"),
    ("Describe a sunset over the sea. Make sure to use at least three colours in your description.",
     "Décris un coucher de soleil sur la mer. Make sure to use at least three colours in your description.", "fr"),
])
def test_untranslated_english_run(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "untranslated" in flags, evidence


@pytest.mark.parametrize("source, translation, lang", [
    ("Fix the spelling in this text.\n\nThe weathr was realy nice on saturday.",
     "Corrige l'orthographe de ce texte.\n\nThe weathr was realy nice on saturday.", "fr"),
    ("What does the saying 'the early bird catches the worm' mean?",
     "¿Qué significa el dicho 'the early bird catches the worm'?", "es"),
    ("Why does this line fail: for item in my_list: print item",
     "Pourquoi cette ligne échoue-t-elle : for item in my_list: print item", "fr"),
    ("Review the novel The Catcher in the Rye for teenagers.",
     "Reseña la novela The Catcher in the Rye para adolescentes.", "es"),
])
def test_untranslated_hard_negatives(checker, source, translation, lang):
    flags, evidence = check(checker, source, translation, lang)
    assert "untranslated" not in flags, evidence


# ---------------------------------------------------------------- wrong_language and repetition
def test_wrong_language_german_and_parenthetical(checker):
    flags, _ = check(checker, "Where can I find cheap flights to Rome?",
                     "Wo finde ich günstige Flüge nach Rom?", "es")
    assert "wrong_language" in flags
    flags, evidence = check(
        checker, "write a short story about a lighthouse keeper (it should be sad but end with hope), for children",
        "écris une courte histoire sur un gardien de phare (dovrebbe essere triste ma finire con speranza), pour enfants",
        "fr")
    assert "wrong_language" in flags, evidence


@pytest.mark.parametrize("translation, lang, expected", [
    ("Explique-moi la la théorie des cordes.", "fr", True),
    ("¿Qué es es la teoría de cuerdas?", "es", True),
    ("Nous nous demandons ce qu'est la théorie des cordes.", "fr", False),
])
def test_short_doubled_words(checker, translation, lang, expected):
    source = "We wonder: what is string theory?" if translation.startswith("Nous") else "Explain string theory to me."
    flags, evidence = check(checker, source, translation, lang)
    assert ("repetition" in flags) is expected, evidence
