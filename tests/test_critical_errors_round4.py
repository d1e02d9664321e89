"""Critical errors after the fourth dev round (2026-12-06): code asked for in French and Spanish ("implémente une
fonction", "una aplicación Android"), and a Markdown or HTML fence when the instruction is about that markup.
Positives and hard negatives in EN/FR/ES, written here."""
from __future__ import annotations

import pytest

from baselines.errors.critical_errors import CriticalErrorDetector
from bench.instruction_features import instruction_features

PY_BLOCK = "```python\ndef median(a, b):\n    merged = sorted(a + b)\n    return merged[len(merged) // 2]\n```"
KOTLIN_BLOCK = ('```kotlin\nclass MainActivity : ComponentActivity() {\n    override fun onCreate(s: Bundle?) {\n'
                '        super.onCreate(s)\n        setContent { Text("Hello") }\n    }\n}\n```')


@pytest.fixture(scope="module")
def det() -> CriticalErrorDetector:
    return CriticalErrorDetector()


def labels(det: CriticalErrorDetector, instruction: str, output: str, lang: str) -> list[str]:
    return [f.label for f in det.detect(instruction, output, lang)]


@pytest.mark.parametrize("instruction, code", [
    ("Implémente une fonction qui renvoie la médiane de deux listes triées.", True),
    ("Implementa una función que devuelva la mediana de dos listas ordenadas.", True),
    ("Implement a function that returns the median of two sorted lists.", True),
    ("Implémente un plan pour réduire mes dépenses du mois.", False),      # one weak word: not about code
    ("Comment crée-t-on une application Android ?", None),                 # computing: commands and code invited
])
def test_implementing_code_reads_as_code_in_every_language(instruction, code):
    intent = instruction_features(instruction)
    if code is None:
        assert intent.computing
    else:
        assert intent.code is code


@pytest.mark.parametrize("instruction, lang", [
    ("Implémente une fonction qui renvoie la médiane de deux listes triées.", "fr"),
    ("Implementa una función que devuelva la mediana de dos listas ordenadas.", "es"),
])
def test_code_asked_for_in_french_and_spanish_is_not_unintended(det, instruction, lang):
    answer = ("On fusionne les deux listes puis on prend l'élément du milieu :\n\n" if lang == "fr" else
              "Se fusionan las dos listas y se toma el elemento central:\n\n") + PY_BLOCK
    assert "unintended_code" not in labels(det, instruction, answer, lang)


def test_an_android_app_answer_may_hold_kotlin(det):
    answer = ("1. Installez Android Studio.\n2. Créez un projet « Empty Activity ».\n3. Écrivez l'écran "
              "principal :\n\n" + KOTLIN_BLOCK + "\n\n4. Lancez l'application sur l'émulateur.")
    assert "unintended_code" not in labels(det, "Comment crée-t-on une application Android ?", answer, "fr")
    assert "unintended_code" in labels(det, "Comment prépare-t-on une tarte aux pommes ?", answer, "fr")


NESTED = ("The outer fence has four backticks:\n\n````markdown\nShow code like this:\n\n```python\n"
          "print(f\"Hello, {name}!\")\n```\n````\n\nThat is all.")


@pytest.mark.parametrize("instruction, lang, flagged", [
    ("Write a code block in Markdown that shows an example of a Markdown code block.", "en", False),
    ("Écris en Markdown un bloc de code qui montre un exemple de bloc de code Markdown.", "fr", False),
    ("Give me three tips to sleep better.", "en", True),
])
def test_a_markdown_fence_is_expected_when_the_instruction_is_about_markdown(det, instruction, lang, flagged):
    assert ("unintended_code" in labels(det, instruction, NESTED, lang)) is flagged


LOOPING_PARAGRAPH = (
    "Bread has been baked for thousands of years. In ancient Egypt, people learned that dough left in the warm air "
    "would rise, and they baked it in clay ovens.\n\n"
    "The Romans built large public bakeries and milled flour with donkeys turning stone wheels. Bakers formed guilds "
    "and sold many kinds of loaves in the markets of the city.\n\n"
    "In the Middle Ages, every village had its oven, and the kind of bread you ate showed your rank.\n\n"
    "Sliced bread arrived much later, in the twentieth century. Sliced bread was first sold in 1928 in Missouri. "
    "Sliced bread was first sold in 1928 in Chillicothe, Missouri. Sliced bread was first sold commercially in 1928 "
    "in Missouri. Sliced bread was first sold in July 1928 in Missouri. Sliced bread was first sold to the public in "
    "1928 in Missouri.")
VARIED_PARAGRAPHS = (
    "Here is how the quarter went.\n\n"
    "Our sales were 12 million this quarter against 11 million a year ago. This is an increase of 9% year over year.\n\n"
    "Our costs were 7 million this quarter against 6 million a year ago. This is an increase of 16% year over year.\n\n"
    "Our profit was 5 million this quarter against 5 million a year ago. This is stable year over year.\n\n"
    "Overall the quarter was solid, and we expect the next one to be better.")


@pytest.mark.parametrize("output, looped", [
    (LOOPING_PARAGRAPH, True),     # the last paragraph loops inside itself
    (VARIED_PARAGRAPHS, False),    # one pattern per paragraph, with other content: a report, not a loop
])
def test_a_paragraph_that_loops_inside_itself(det, output, looped):
    assert ("repetition_loop" in labels(det, "Tell me the history of bread.", output, "en")) is looped


SPANISH_INTRO = ("¡Buena pregunta! Cuidar las plantas de interior no es difícil, pero cada especie tiene sus "
                 "necesidades y conviene conocerlas antes de comprar. Te resumo lo esencial, que depende sobre todo "
                 "de la luz, del riego y del abono, y al final encontrarás algunos consejos para el invierno.\n\n")
ENGLISH_BODY = (
    "Most indoor plants need bright, indirect light. Place them near a window but out of direct afternoon sun, which "
    "can burn the leaves. Rotate the pots every few weeks so that the plants grow evenly on all sides.\n\n"
    "Water only when the top two centimetres of soil are dry. Overwatering is the most common cause of death for "
    "houseplants, because the roots rot when they sit in wet soil for too long. Always use pots with drainage holes.\n\n"
    "Feed your plants with a diluted liquid fertiliser once a month in spring and summer, and stop in winter when "
    "they grow slowly. Wipe dust off large leaves with a damp cloth so that they can breathe and catch the light.")


def test_an_answer_that_switches_to_english_after_its_first_paragraph_is_wrong_language(det):
    instruction = "¿Cómo cuido mis plantas de interior?"
    assert "wrong_language" in labels(det, instruction, SPANISH_INTRO + ENGLISH_BODY, "es")


def test_a_quoted_english_paragraph_inside_a_spanish_answer_is_not_wrong_language(det):
    instruction = "¿Cómo cuido mis plantas de interior?"
    spanish = ("La mayoría de las plantas de interior necesitan luz abundante pero indirecta. Colócalas cerca de una "
               "ventana, lejos del sol directo de la tarde, y gira las macetas cada pocas semanas para que crezcan de "
               "forma pareja. Riega solo cuando los dos primeros centímetros de tierra estén secos: el exceso de agua "
               "es la causa más frecuente de que se mueran, porque las raíces se pudren. Usa siempre macetas con "
               "agujeros de drenaje y abona una vez al mes en primavera y verano con un fertilizante líquido diluido. "
               "En invierno crecen despacio, así que conviene dejar de abonar y regar menos. Limpia el polvo de las "
               "hojas grandes con un paño húmedo para que respiren y aprovechen mejor la luz.\n\n")
    quote = ("Un consejo que leí en inglés lo resume bien: \"water only when the top of the soil is dry, and never "
             "let the pot sit in water\".\n\n")
    assert "wrong_language" not in labels(det, instruction, spanish + quote + "¡Suerte con tus plantas!", "es")


# ------------------------------------------------------------------------------------------------
# fifth dev round (2026-12-06): leak forms, JSON prose, spreadsheet formulas
# ------------------------------------------------------------------------------------------------
ANSWER_FR = "Pour garder le basilic frais, coupez les tiges et placez-les dans un verre d'eau, à température ambiante."
ANSWER_ES = "Para conservar la albahaca fresca, corta los tallos y ponlos en un vaso con agua, a temperatura ambiente."


BASIL = {"fr": "Comment garder le basilic frais plus longtemps dans la cuisine ?", "es": "¿Cómo conservo fresca la albahaca?",
         "en": "How do I keep basil fresh?"}


@pytest.mark.parametrize("output, lang", [
    (ANSWER_FR + "\n\n[USER] Et pour la menthe ? [/USER]\n[ASSISTANT] C'est pareil. [/ASSISTANT]", "fr"),
    (ANSWER_ES + "\n\n<user>¿Y la menta?</user>", "es"),
    ("Keep the stems in a glass of water at room temperature.<eos>\n<bos>Write a poem about mint.", "en"),
    ("Keep the stems in a glass of water at room temperature.<|eot|>", "en"),
    (ANSWER_ES + "\n\nEres un asistente útil que siempre responde en español, de forma clara y concisa.", "es"),
    (ANSWER_FR + "\n\n" + BASIL["fr"] + "\n\nRéponse : dans un verre d'eau.", "fr"),  # its own prompt again
])
def test_more_leak_forms(det, output, lang):
    assert "format_leak" in labels(det, BASIL[lang], output, lang)


FIB = ("```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(int(input())))\n```")


@pytest.mark.parametrize("instruction, output, lang", [
    ("Écris un programme Python qui calcule le n-ième nombre de Fibonacci.",
     "Voici le programme :\n\n" + FIB + "\n\n**Exemples d'exécution**\n\nEntrée : 10\nSortie : 55\n\nEntrée : 1\nSortie : 1\n\n"
     "La version récursive est lente au-delà de n = 35.", "fr"),
    ("Write a Python program that prints the n-th Fibonacci number.",
     "Here it is:\n\n" + FIB + "\n\nInput: 10\nOutput: 55", "en"),
    ("Give me an XML example of a user record for my data export.",
     "Here is one record:\n\n```xml\n<user>\n  <name>Ana</name>\n  <role>admin</role>\n</user>\n```", "en"),
    ("Comment les facteurs sociaux influencent-ils les choix alimentaires des gens au quotidien ?",
     "Comment les facteurs sociaux influencent-ils les choix alimentaires des gens au quotidien ?\n\n"
     "Comment les facteurs sociaux influencent-ils les choix alimentaires des gens au quotidien ?", "fr"),
])
def test_runs_of_a_program_xml_asked_for_and_a_restated_question_are_not_leaks(det, instruction, output, lang):
    assert "format_leak" not in labels(det, instruction, output, lang)


def test_an_answer_delivered_as_json_is_judged_on_its_string_values(det):
    instruction = "Comment dois-je m'occuper d'un rat domestique ?"
    english = ('{"housing": "Keep at least two rats together in a large wire cage with several levels.",\n'
               ' "food": "Give good quality rat pellets every day, with some fresh vegetables.",\n'
               ' "care": "Let them play outside the cage for at least one hour every day."}')
    french = ('{"logement": "Gardez au moins deux rats ensemble dans une grande cage à plusieurs niveaux.",\n'
              ' "nourriture": "Donnez chaque jour des granulés de qualité avec quelques légumes frais.",\n'
              ' "soins": "Laissez-les jouer hors de la cage au moins une heure par jour."}')
    assert set(labels(det, instruction, english, "fr")) == {"unintended_code", "wrong_language"}
    assert labels(det, instruction, french, "fr") == ["unintended_code"]


def test_spreadsheet_formulas_answer_a_formula_question(det):
    instruction = "Traduce a una fórmula de Google Sheets: si C7 es igual a \"Canada\" o \"Europe\"."
    output = ("La fórmula es:\n\n```\n=OR(C7=\"Canada\", C7=\"Europe\")\n```\n\nDevuelve VERDADERO si C7 coincide con "
              "uno de los dos valores.")
    assert "unintended_code" not in labels(det, instruction, output, "es")
    assert "unintended_code" in labels(det, "¿Qué le regalo a mi madre por su cumpleaños?", output, "es")
