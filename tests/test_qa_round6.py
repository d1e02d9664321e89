"""Translation QA after the sixth dev round (2026-12-06): a sentence of source words kept in English when language
ID names a third language, titles the source quotes between reversed quotes, abbreviated months next to a number,
sentences not split after "Nov." or "e.g.", a clause lost at the end of the last sentence, a tool's name translated
as a word. Positives and hard negatives in FR and ES; the sentences are written here, not taken from the evaluation
data."""
from __future__ import annotations

import pytest

from benchmark.qa import TranslationQA
from benchmark.qa.align import translated_names
from benchmark.qa.calendar_names import calendar_names
from benchmark.qa.features import sentences


@pytest.fixture(scope="module")
def checker() -> TranslationQA:
    return TranslationQA(["en", "fr", "es"])


def flags(checker: TranslationQA, source: str, translation: str, lang: str) -> list[str]:
    return checker.check(source, translation, lang).flags


# ---------------------------------------------------------------- untranslated
@pytest.mark.parametrize("source, translation, lang, flagged", [
    ("My wife is a total Tolkein nerd. Can you help me write her a birthday card?",
     "My wife is a total Tolkein nerd. ¿Me ayudas a escribirle una tarjeta de cumpleaños?", "es", True),
    ("My wife is a total Tolkein nerd. Can you help me write her a birthday card?",
     "My wife is a total Tolkein nerd. Peux-tu m'aider à lui écrire une carte d'anniversaire ?", "fr", True),
    ("Introduce the ”financial markets and institutions“ by Frederic S. Mishkin",
     "Présentez l'ouvrage « Financial Markets and Institutions » de Frederic S. Mishkin.", "fr", False),
    ("Introduce the ”financial markets and institutions“ by Frederic S. Mishkin",
     "Presenta el libro «Financial Markets and Institutions» de Frederic S. Mishkin.", "es", False),
])
def test_copied_sentences_and_quoted_titles(checker, source, translation, lang, flagged):
    assert ("untranslated" in flags(checker, source, translation, lang)) is flagged


# ---------------------------------------------------------------- dates and sentences
def test_abbreviated_months_count_next_to_a_number():
    assert calendar_names("released on Nov. 18, 2019 and in Feb 2018", "en") == {("month", 11): 1, ("month", 2): 1}
    assert calendar_names("sorti le 18 nov. 2019", "fr") == {("month", 11): 1}
    assert calendar_names("the Sun rose; Mar the table; Sat down", "en") == {}  # words, not months


def test_abbreviations_and_lower_case_words_end_no_sentence():
    assert sentences("Released on Nov. 18, 2019, it was great. Fig. 3 shows it.") == [
        "Released on Nov. 18, 2019, it was great.", "Fig. 3 shows it."]
    assert len(sentences("Bring fruit, e.g. apples or pears. Then rest.")) == 2
    assert len(sentences("Is retinoid effective on acne? because I have a lot of it")) == 2  # a question ends one


@pytest.mark.parametrize("source, translation, lang, flagged", [
    ("Evaluate these reviews:\n1. This movie released on Nov. 18, 2019, was phenomenal.\n2. Released in Feb 2018, "
     "it was quite ordinary.",
     "Evalúa estas reseñas:\n1. Esta película, estrenada el 18 de noviembre de 2019, fue fenomenal.\n2. Estrenada en "
     "febrero de 2018, fue bastante corriente.", "es", False),
    ("Evaluate these reviews:\n1. This movie released on Nov. 18, 2019, was phenomenal.\n2. Released in Feb 2018, "
     "it was quite ordinary.",
     "Évalue ces critiques :\n1. Ce film, sorti le 18 décembre 2019, était phénoménal.\n2. Sorti en février 2018, "
     "il était assez ordinaire.", "fr", True),
])
def test_dates_with_abbreviated_months(checker, source, translation, lang, flagged):
    result = flags(checker, source, translation, lang)
    assert ("number_mismatch" in result) is flagged
    assert "truncated" not in result


# ---------------------------------------------------------------- truncated: the end of the last sentence
SOURCE = ("Write an opinion piece about why diversity and inclusion matter for the tech industry. The essay should "
          "be aimed at engineers, should avoid alienating them and appeal to their logic, and it should explain how "
          "the inclusion of women and immigrants could benefit them and their teams specifically.")


@pytest.mark.parametrize("translation, lang, flagged", [
    ("Rédigez une tribune expliquant pourquoi la diversité et l'inclusion comptent pour le secteur de la tech. "
     "L'essai doit s'adresser aux ingénieurs.", "fr", True),
    ("Escribe un artículo de opinión sobre por qué la diversidad y la inclusión importan en la industria "
     "tecnológica. El ensayo debe dirigirse a los ingenieros.", "es", True),
    ("Rédigez une tribune expliquant pourquoi la diversité et l'inclusion comptent pour le secteur de la tech. "
     "L'essai doit s'adresser aux ingénieurs, éviter de les braquer et faire appel à leur logique, et expliquer "
     "en quoi l'inclusion des femmes et des immigrés peut leur être utile, à eux et à leurs équipes.", "fr", False),
])
def test_a_clause_lost_at_the_end(checker, translation, lang, flagged):
    assert ("truncated" in flags(checker, SOURCE, translation, lang)) is flagged


def test_a_short_last_question_is_not_judged_by_its_length(checker):
    source = ("Here is a Python function that finds the longest common subsequence of two strings and returns its "
              "length to the caller. Can you identify any bug in this function?")
    translation = ("Voici une fonction Python qui trouve la plus longue sous-séquence commune de deux chaînes et "
                   "renvoie sa longueur à l'appelant. Vois-tu un bug ?")
    assert "truncated" not in flags(checker, source, translation, "fr")


# ---------------------------------------------------------------- code_altered: a tool's name
def test_translated_names():
    assert translated_names("Write tests in Cypress that use Docker.", "Escribe pruebas en Ciprés que usen Docker.") \
        == ["Cypress"]
    assert translated_names("I teach aikido in Belgium.", "J'enseigne l'aïkido en Belgique.") == []
    assert translated_names("Write tests in Cypress that use Docker.", "Escribe pruebas que usen Docker.") == []


@pytest.mark.parametrize("source, translation, lang, flagged", [
    ("Write me a testing framework in Cypress that uses Docker and Cypress screenshots.",
     "Escríbeme un framework de pruebas en Ciprés que use Docker y las capturas de Ciprés.", "es", True),
    ("Write me a testing framework in Cypress that uses Docker and Cypress screenshots.",
     "Écris-moi un framework de test en Cypress qui utilise Docker et les captures d'écran de Cypress.", "fr", False),
    ("Write a Python script that lists the files of a folder in Germany's time zone.",
     "Escribe un script de Python que liste los archivos de una carpeta en la zona horaria de Alemania.", "es", False),
])
def test_a_tool_name_translated_as_a_word(checker, source, translation, lang, flagged):
    assert ("code_altered" in flags(checker, source, translation, lang)) is flagged


# ---------------------------------------------------------------- technical translations of round 7
@pytest.mark.parametrize("source, translation, lang, expected", [
    ("which libraries are the best for deep learning scripts in python?",
     "Quelles bibliothèques sont les meilleures pour le deep learning en python, comme TensorFlow ou PyTorch ?", "fr",
     "hallucinated_addition"),                                            # examples added: no code was changed
    ("which libraries are the best for deep learning scripts in python?",
     "¿Qué bibliotecas son las mejores para el deep learning en python, como TensorFlow o PyTorch?", "es",
     "hallucinated_addition"),
])
def test_names_the_translation_adds_are_an_addition(checker, source, translation, lang, expected):
    found = flags(checker, source, translation, lang)
    assert expected in found and "code_altered" not in found


@pytest.mark.parametrize("source, translation, lang, flagged", [
    ("If a square has a diagonal of length 10, what is its area?", "Un cuadrado tiene una diagonal de longitud 10.",
     "es", True),
    ("If a square has a diagonal of length 10, what is its area?", "Un carré a une diagonale de longueur 10.",
     "fr", True),
    ("Can you explain how a binary search works on a sorted list of numbers?",
     "Explica cómo funciona una búsqueda binaria en una lista ordenada de números.", "es", False),  # asked, not lost
])
def test_the_question_dropped(checker, source, translation, lang, flagged):
    assert ("truncated" in flags(checker, source, translation, lang)) is flagged
