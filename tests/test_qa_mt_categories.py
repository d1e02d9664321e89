"""Translation QA: categories of machine-translation errors (issue 14), each with positives and hard negatives."""
from __future__ import annotations

import pytest

from benchmark.qa import TranslationQA


@pytest.fixture(scope="module")
def checker() -> TranslationQA:
    return TranslationQA(["en", "fr", "es", "de"])


def flags(checker: TranslationQA, source: str, translation: str, lang: str) -> list[str]:
    return checker.check(source, translation, lang).flags


# ---------------------------------------------------------------- hallucinated_addition
@pytest.mark.parametrize(
    "source, translation, lang",
    [
        # a code block the source does not have (the task answered)
        ("Write a Python function that returns the largest of three numbers.",
         "Escribe una función en Python que devuelva el mayor de tres números.\n\n```python\n"
         "def mayor(a, b, c):\n    return max(a, b, c)\n```", "es"),
        # a URL the source does not have
        ("Explain how a bicycle gear works.\n\n```\ngear_ratio = front / rear\n```",
         "Explique comment fonctionne un dérailleur de vélo.\nhttps://www.example.org/velo\n\n```\n"
         "gear_ratio = front / rear\n```", "fr"),
        # a language label a few-shot continuation writes
        ("Tell me a short story about a lighthouse keeper.",
         "Raconte-moi une courte histoire sur un gardien de phare.\nFrench: Raconte-moi une histoire.", "fr"),
        # a source that stops mid-sentence, completed by the translation
        ("Finish this product blurb:\nOur bakery in Lyon bakes sourdough bread, pastries and",
         "Termina esta descripción de producto:\nNuestra panadería de Lyon hornea pan de masa madre, bollería y "
         "tartas de temporada, todo elaborado cada mañana con harina ecológica de molinos de la región.", "es"),
    ],
)
def test_added_content_categories(checker, source, translation, lang):
    assert "hallucinated_addition" in flags(checker, source, translation, lang)


@pytest.mark.parametrize(
    "source, translation, lang",
    [
        # the source's code block kept
        ("Why does this loop never stop?\n\n```\nwhile x > 0:\n    print(x)\n```",
         "¿Por qué este bucle nunca se detiene?\n\n```\nwhile x > 0:\n    print(x)\n```", "es"),
        # the source's own code put in a fence: formatting, not an addition
        ("Fix this line: total = price * qty",
         "Corrige cette ligne :\n```\ntotal = price * qty\n```", "fr"),
        # a URL changed is code_altered, not an addition
        ("Summarise the page at https://example.com/report for me.",
         "Resume la página https://example.com/informe para mí.", "es"),
        # a language label the source asks for
        ("Translate into French and write the result after 'French:'.\nFrench:",
         "Traduis en français et écris le résultat après « Français : ».\nFrançais :", "fr"),
        # an open-ended source kept open
        ("Finish this product blurb:\nOur bakery in Lyon bakes sourdough bread, pastries and",
         "Termine ce texte de présentation :\nNotre boulangerie lyonnaise cuit du pain au levain, des viennoiseries et",
         "fr"),
    ],
)
def test_added_content_hard_negatives(checker, source, translation, lang):
    assert "hallucinated_addition" not in flags(checker, source, translation, lang)


# ---------------------------------------------------------------- repetition
@pytest.mark.parametrize(
    "source, translation, lang",
    [
        # a line repeated under a label, its last copy cut
        ("Please list the main causes of soil erosion in dry regions",
         "Merci de lister les causes principales de l'érosion\nFrench: Merci de lister les causes principales de "
         "l'érosion\nFrench: Merci de lister les causes principales de", "fr"),
        # a phrase joined to itself by a conjunction
        ("What are the benefits of learning to play the piano as an adult?",
         "¿Cuáles son las ventajas y las ventajas de tocar el piano?", "es"),
        ("Describe the rules of chess for a beginner.",
         "Décris les règles des échecs et les règles des échecs pour un débutant.", "fr"),
    ],
)
def test_repetition_categories(checker, source, translation, lang):
    assert "repetition" in flags(checker, source, translation, lang)


@pytest.mark.parametrize(
    "source, translation, lang",
    [
        # one word joined to itself is an idiom ("again and again")
        ("She read the letter again and again before answering.",
         "Elle a relu la lettre encore et encore avant de répondre.", "fr"),
        ("Prices keep rising more and more every year.",
         "Los precios suben más y más cada año.", "es"),
        # the source joins a phrase to itself
        ("Write a chant: the red team and the red team again!",
         "Escribe un cántico: ¡el equipo rojo y el equipo rojo otra vez!", "es"),
        # two lines starting alike but saying different things
        ("Write a poem about the sea\nWrite a poem about the mountains and their lakes",
         "Écris un poème sur la mer\nÉcris un poème sur les montagnes et leurs lacs", "fr"),
    ],
)
def test_repetition_hard_negatives(checker, source, translation, lang):
    assert "repetition" not in flags(checker, source, translation, lang)


def test_numbers_added_beside_a_loop(checker):
    """A number written once in a looping translation is added; a loop counting up is the loop only."""
    source = "Give me a slogan for a bicycle shop."
    added = "Dame un eslogan para una tienda de bicicletas en 1998. La mejor tienda. La mejor tienda. La mejor tienda."
    assert set(flags(checker, source, added, "es")) >= {"number_mismatch", "repetition"}
    counting = "Donne-moi un slogan pour un magasin de vélos : 1 vélo 2 vélos 3 vélos 4 vélos vélos vélos vélos"
    assert "number_mismatch" not in flags(checker, source, counting, "fr")


# ---------------------------------------------------------------- code_altered
@pytest.mark.parametrize(
    "source, translation, lang",
    [
        ("Why does calling getcount() return zero here?",
         "Pourquoi l'appel à obtenircompte() renvoie-t-il zéro ici ?", "fr"),
        ("What does parse(text, 2) do with the second argument?",
         "¿Qué hace analizar(text, 2) con el segundo argumento?", "es"),
    ],
)
def test_call_names_are_identifiers(checker, source, translation, lang):
    assert "code_altered" in flags(checker, source, translation, lang)


@pytest.mark.parametrize(
    "source, translation, lang",
    [
        ("Why does calling getcount() return zero here?",
         "¿Por qué la llamada a getcount() devuelve cero aquí?", "es"),
        ("List the name of each friend(s) you invited to the party.",
         "Indique le nom de chaque ami(e) que vous avez invité à la fête.", "fr"),
    ],
)
def test_call_names_hard_negatives(checker, source, translation, lang):
    assert "code_altered" not in flags(checker, source, translation, lang)


# ---------------------------------------------------------------- truncated
def test_sentence_left_out_before_the_question_is_not_a_cut(checker):
    source = ("My sister moved to a new city last month. She does not know anyone there yet. "
              "How can I help her make friends?")
    omitted = "Mi hermana se mudó a otra ciudad el mes pasado. ¿Cómo puedo ayudarla a hacer amigos?"
    assert "truncated" not in flags(checker, source, omitted, "es")
    cut = ("My sister moved to a new city last month. How can she meet people? "
           "Which clubs or classes would you suggest for her?")
    assert "truncated" in flags(checker, source=cut,
                                translation="Ma sœur a déménagé le mois dernier. Comment peut-elle rencontrer des gens ?",
                                lang="fr")


def test_identifiers_of_a_lost_tail_are_truncation(checker):
    source = "How do I read a spreadsheet in Python and then group the rows with read_excel and group_rows"
    tail_lost = "Comment lire une feuille de calcul en Python ?"
    assert flags(checker, source, tail_lost, "fr") == ["truncated"]
    changed = ("¿Cómo leo una hoja de cálculo en Python y luego agrupo las filas con leer_excel y "
               "group_rows?")
    assert flags(checker, source, changed, "es") == ["code_altered"]
