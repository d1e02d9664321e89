"""Translation QA after the fourth dev round (2026-12-06): short third-language sentences, lists and paragraphs
lost, units converted with their value, code in braces and string literals of code/data requests, prose
compounds like "top-5". Positives and hard negatives in FR and ES; the sentences are written here, not taken
from the evaluation data."""
from __future__ import annotations

import pytest

from benchmark.qa import TranslationQA
from benchmark.qa.align import missing_counterparts
from benchmark.qa.features import enumerations
from benchmark.qa.units import conversions


@pytest.fixture(scope="module")
def checker() -> TranslationQA:
    return TranslationQA(["en", "fr", "es", "de"])


def flags(checker: TranslationQA, source: str, translation: str, lang: str) -> list[str]:
    return checker.check(source, translation, lang).flags


# ---------------------------------------------------------------- wrong_language: short sentences
@pytest.mark.parametrize("source, translation, lang", [
    ("I want to sell my old bike quickly before the summer. What is your opinion?",
     "Quiero vender rápido mi bicicleta vieja antes del verano. Qual é a sua opinião?", "es"),  # Portuguese
    ("My neighbour plays loud music every night and I cannot sleep. Can you help me?",
     "Mon voisin met de la musique forte tous les soirs et je ne dors plus. Você pode me ajudar?", "fr"),
    ("We are planning a trip to the mountains with the children. Which is the best way?",
     "Estamos planeando un viaje a la montaña con los niños. Qual é o melhor caminho?", "es"),
])
def test_a_short_sentence_in_a_third_language_is_wrong_language(checker, source, translation, lang):
    assert "wrong_language" in flags(checker, source, translation, lang)


@pytest.mark.parametrize("source, translation, lang", [
    ("Plan a one-week trip through Italy. Start with Roma, Firenze, Venezia.",
     "Planifie un voyage d'une semaine en Italie. Commence par Roma, Firenze, Venezia.", "fr"),  # names, not prose
    ("Suggest three easy desserts. Keep it short, please.",
     "Sugiere tres postres fáciles. Sé breve, por favor.", "es"),
    ("What does the Portuguese word saudade mean?", "¿Qué significa la palabra portuguesa saudade?", "es"),
])
def test_names_and_short_target_sentences_are_not_wrong_language(checker, source, translation, lang):
    assert "wrong_language" not in flags(checker, source, translation, lang)


# ---------------------------------------------------------------- truncated: lists and paragraphs
def test_enumerations_without_a_conjunction_and_with_and_or():
    assert enumerations("Rank these brands: Adidas, Nike, Puma, Reebok.", "en") == [4]
    assert enumerations("Trie : 3,5, 2,25, 7,75.", "fr") == [3]                # a decimal comma splits no item
    assert enumerations("names that mean love, care, and/or empathy", "en") == [3]
    assert enumerations("des prénoms qui signifient amour, attention et/ou empathie", "fr") == [3]


@pytest.mark.parametrize("source, translation, lang", [
    ("Order these planets by size:\nMars, Venus, Earth, Mercury, Jupiter.",
     "Classe ces planètes par taille :\nMars, Vénus, Terre, Mercure.", "fr"),
    ("Group these animals by habitat: dolphin, camel, penguin, frog, eagle.",
     "Agrupa estos animales por hábitat: delfín, camello, pingüino, rana.", "es"),
    ("Suggest a catchy name for a small family bakery that sells bread and pastries. Keep it short and friendly."
     "\n\nCity: Lyon", "Propose un nom accrocheur pour une petite boulangerie familiale qui vend du pain et des "
     "viennoiseries. Il doit être court et sympathique.", "fr"),                          # the input paragraph lost
])
def test_a_lost_list_item_or_input_paragraph_is_truncated(checker, source, translation, lang):
    assert "truncated" in flags(checker, source, translation, lang)


@pytest.mark.parametrize("source, translation, lang", [
    ("Order these planets by size:\nMars, Venus, Earth, Mercury, Jupiter.",
     "Classe ces planètes par taille :\nMars, Vénus, Terre, Mercure et Jupiter.", "fr"),
    ("Give me ten baby names that mean love, care, and/or kindness.",
     "Dame diez nombres de bebé que signifiquen amor, cuidado y/o bondad.", "es"),
    ("Suggest a name for a bakery. Keep it short and friendly.\n\nCity: Lyon",
     "Propose un nom pour une boulangerie. Il doit être court et sympathique.\n\nVille : Lyon", "fr"),
])
def test_lists_and_paragraphs_kept_are_not_truncated(checker, source, translation, lang):
    assert "truncated" not in flags(checker, source, translation, lang)


# ---------------------------------------------------------------- number_mismatch: conversions
def test_conversions_are_found_with_their_value():
    assert conversions("fuel costs 625 pence per gallon", "le carburant coûte 6,25 £ le gallon") == ({625.0}, {6.25})
    assert conversions("a 3 mile course", "un circuito de 3 millas (unos 4,8 km)") == ({3.0}, {4.8})
    assert conversions("a 3 mile course", "un parcours de 3 km") == (set(), set())
    assert conversions("it costs $5", "cuesta 5 €") == (set(), set())                 # no exchange rates


@pytest.mark.parametrize("source, translation, lang, flagged", [
    ("The ticket costs 250 pence.", "Le billet coûte 2,50 £.", "fr", False),
    ("Each lap is 3 miles long.", "Cada vuelta mide 3 millas (unos 4,8 km).", "es", False),
    ("The lake is 10 miles wide.", "Le lac fait 16 km de large.", "fr", False),
    ("The lake is 10 miles wide.", "Le lac fait 10 km de large.", "fr", True),        # unit changed, value kept
    ("The lake is 10 miles wide.", "El lago mide 25 km de ancho.", "es", True),       # a wrong conversion
    ("The ticket costs 250 pence.", "Le billet coûte 25 £.", "fr", True),
])
def test_units_converted_with_their_value_are_not_number_mismatch(checker, source, translation, lang, flagged):
    assert ("number_mismatch" in flags(checker, source, translation, lang)) is flagged


# ---------------------------------------------------------------- code_altered: braces, literals, compounds
def test_missing_counterparts_of_braces_literals_and_compounds():
    assert missing_counterparts("Fix this: void run(){ int count = 0; }", "Corrige : void run(){int count = 0;}") == []
    assert missing_counterparts("Fix this: void run(){ int count = 0; }",
                                "Corrige : void run(){ int compte = 0; }") == ["{ int count = 0; }"]
    assert missing_counterparts('if A1 is "Yes" or "Maybe"', 'si A1 vaut "Yes" o "Quizás"', literals=True) == [
        '"Maybe"']
    assert missing_counterparts('a story called "The Last Train"', 'un cuento llamado "El último tren"') == []
    assert missing_counterparts("print the top-3 scores", "affiche les trois meilleurs scores") == []
    assert missing_counterparts("print the top-3 scores", "affiche les meilleurs scores") == ["top-3"]


@pytest.mark.parametrize("source, translation, lang", [
    ("What is wrong with this code: public void reset(){ int total = 0 }",
     "¿Qué falla en este código? public void reset(){ int suma = 0 }", "es"),
    ('Write a Google Sheets formula: if B2 is "Paid" or "Pending", show "OK".',
     'Écris une formule Google Sheets : si B2 vaut "Payé" ou "Pending", affiche "OK".', "fr"),
    ('Write a SQL query that selects customers whose country is "Germany".',
     'Escribe una consulta SQL que seleccione los clientes cuyo país es "Alemania".', "es"),
])
def test_code_in_braces_and_string_literals_of_code_requests_are_code_altered(checker, source, translation, lang):
    assert "code_altered" in flags(checker, source, translation, lang)


@pytest.mark.parametrize("source, translation, lang", [
    ('Write a short story titled "The Quiet Harbor" for children.',
     'Écris une courte histoire intitulée « Le port tranquille » pour les enfants.', "fr"),   # not code: a title
    ('Write a SQL query that selects customers whose country is "Germany".',
     'Escribe una consulta SQL que seleccione los clientes cuyo país es "Germany".', "es"),
    ("Write a Python script that prints the top-5 most common words of a file.",
     "Escribe un script de Python que muestre las cinco palabras más frecuentes de un archivo.", "es"),
    ("Write a guide to merge conflicts on GitHub.",
     "Escribe una guía sobre los conflictos de merge en GitHub. Añade también los comandos para GitLab.", "es"),
])
def test_titles_kept_literals_compounds_and_added_names_are_not_code_altered(checker, source, translation, lang):
    assert "code_altered" not in flags(checker, source, translation, lang)


# ---------------------------------------------------------------- fifth dev round (2026-12-06)
def test_an_initial_does_not_end_a_sentence():
    from benchmark.qa.features import sentences

    assert sentences("I admire J. Krishnamurti. Can you help?") == ["I admire J. Krishnamurti.", "Can you help?"]


@pytest.mark.parametrize("source, translation, lang, flag, expected", [
    # the closing question lost, with an initial that used to count as a sentence end
    ("I teach yoga and I read J Krishnamurti for years. I wonder if his ideas fit my classes. Can you suggest some "
     "ways in a concise manner?", "J'enseigne le yoga et je lis J. Krishnamurti depuis des années. Je me demande si "
     "ses idées conviennent à mes cours.", "fr", "truncated", True),
    ("What do you think about ChatGPT?", "Que penses-tu de ChatGPT ?", "fr", "wrong_language", False),
    ("What do you think about Python?", "Que pensas de Python?", "es", "wrong_language", False),
    ("Ways to use a man-in-the-middle attack to read messages?",
     "¿Formas de usar un ataque de intermediario (man-in-the-middle) para leer mensajes?", "es", "untranslated", False),
    ("Write a function that sorts a list with the quicksort algorithm that Tony Hoare proposed.",
     "Écris une fonction qui trie une liste avec l'algorithme de tri rapide proposé par Tony Hoare, avec l'algorithme "
     "de tri rapide proposé par Tony Hoare.", "fr", "repetition", True),                 # a 10-word phrase doubled
    ("what does the @ in python do", "que fait le à en Python", "fr", "code_altered", True),
    ("what does the @ in python do", "À quoi sert l'arobase (@) en Python ?", "fr", "code_altered", False),
    ("what does the => arrow mean in JavaScript?", "¿Qué significa la flecha => en JavaScript?", "es",
     "code_altered", False),
    ("At the first stop 3 people got off and 7 got on. How many are left?",
     "Al primer parada bajaron 7 personas y subieron 3. ¿Cuántas quedan?", "es", "number_mismatch", True),
    ("At the first stop 3 people got off and 7 got on. How many are left?",
     "Au premier arrêt, 3 personnes sont descendues et 7 sont montées. Combien en reste-t-il ?", "fr",
     "number_mismatch", False),
])
def test_fifth_round_flags(checker, source, translation, lang, flag, expected):
    assert (flag in flags(checker, source, translation, lang)) is expected
