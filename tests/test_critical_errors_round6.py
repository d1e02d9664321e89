"""Critical errors after the sixth dev round (2026-12-06): Markdown-headed chat turns ("### Human:"), a role line
opening the answer ("model"), a sentence of the project's own prompt preamble copied, the assistant described as a
preamble does, an invented question closing the answer; YAML answers with nested keys, an HTML page for a brand
name ("iPhone" is no camelCase identifier), a program's "scripts" are not a dialogue; a quotation left open; a
phrase loop ending on a whole word; answers in Portuguese or Catalan read through lingua. Positives and hard
negatives in EN/FR/ES, written here."""
from __future__ import annotations

import pytest

from baselines.errors.code_signals import structured_data
from baselines.errors.critical_errors import CriticalErrorDetector
from bench.instruction_features import instruction_features

ANSWER_EN = ("A seventh birthday is a great age for gifts that build skills. A LEGO set of a few hundred pieces, a "
             "beginner's science kit or a first chapter-book series are all good choices, and an outing to a zoo or "
             "a trampoline park is a gift he will remember.")
ANSWER_FR = ("Pour lutter contre une récession, l'État peut augmenter ses dépenses et baisser les impôts, tandis que "
             "la banque centrale baisse ses taux directeurs. Ces deux politiques sont plus efficaces lorsqu'elles "
             "sont combinées.")
ANSWER_ES = ("Para publicar una reseña anónima, usa las opciones de la plataforma, crea una cuenta que no te "
             "identifique y cíñete a los hechos. El anonimato no es absoluto en caso de difamación.")


@pytest.fixture(scope="module")
def det() -> CriticalErrorDetector:
    return CriticalErrorDetector()


def labels(det: CriticalErrorDetector, instruction: str, output: str, lang: str) -> list[str]:
    return [f.label for f in det.detect(instruction, output, lang)]


# ---------------------------------------------------------------- format_leak
@pytest.mark.parametrize("instruction, output, lang", [
    ("What should I buy my son for his seventh birthday?",
     ANSWER_EN + "\n\n### Human: What about a gift for my daughter?\n\n### Assistant: A craft kit or a camera.", "en"),
    ("¿Cómo publicar una reseña anónima?",
     ANSWER_ES + "\n\n## Usuario: ¿Y cómo la borro después?", "es"),
    ("Quelles sont les meilleures bibliothèques Python pour l'apprentissage profond ?",
     "model\n" + ANSWER_FR, "fr"),                                        # a program's question: not a dialogue
    ("What should I buy my son for his seventh birthday?", "assistant\n" + ANSWER_EN, "en"),
    ("Comment lutter contre une récession ?",
     ANSWER_FR + "\n\nL'assistant répond toujours dans la langue de la question.", "fr"),   # the project's preamble
    ("¿Cómo publicar una reseña anónima?",
     ANSWER_ES + "\n\nEl asistente es útil y nunca da información peligrosa.", "es"),
    ("Comment lutter contre une récession ?",
     ANSWER_FR + "\n\nQuestion : Quelle est la différence entre une politique budgétaire et monétaire ?", "fr"),
])
def test_scaffolding_of_round6_is_a_leak(det, instruction, output, lang):
    assert "format_leak" in labels(det, instruction, output, lang)


@pytest.mark.parametrize("instruction, output, lang", [
    ("Write a short scene between a customer and a shop assistant.",
     "Customer: Hello, do you sell umbrellas?\nAssistant: Yes, they are by the door.", "en"),
    ("Explain how to hire an executive assistant.",
     "Write a clear job description first. The assistant will manage your calendar, so test their organisation "
     "skills during the interview and check two references.", "en"),          # the assistant named by the instruction
    ("Dame una lista de preguntas para una entrevista de trabajo.",
     "1. ¿Por qué quieres este puesto?\n2. ¿Cuál es tu mayor logro?\n\nPregunta: ¿Qué sabes de la empresa?", "es"),
    ("Quel modèle choisir pour débuter en photographie ?",
     "Pour débuter, un hybride d'entrée de gamme suffit. Le modèle le plus vendu reste un bon choix.", "fr"),
    ("What are the duties of a dental assistant?",
     "A dental assistant prepares the room, sterilises instruments and takes X-rays. The assistant also keeps "
     "patient records up to date.", "en"),
])
def test_look_alikes_of_round6_are_no_leak(det, instruction, output, lang):
    assert "format_leak" not in labels(det, instruction, output, lang)


def test_program_scripts_are_code_not_dialogue():
    assert not instruction_features("Best libraries for deep learning scripts in Python?").dialogue
    assert instruction_features("Write a short script for a play about two friends.").dialogue
    assert not instruction_features("The year is 2025. Write an article about the new iPhone 17.").code
    assert instruction_features("Why does myList.append() return None?").code


# ---------------------------------------------------------------- unintended_code
YAML_ANSWER = ("tool: Coffee Darkness Meter\ndescription: Measures how dark the roast is.\nmaterials:\n  electronics:\n"
               "    - microcontroller\n    - colour sensor\n  case:\n    - 3D-printed box\n    - black foam\n"
               "tools:\n  - soldering iron\n  - pliers")
RECIPE_LIST = ("Ingredients:\n- 200 g flour\n- 2 eggs\n- 30 cl milk\n\nSteps:\n- Mix the flour and eggs.\n"
               "- Add the milk slowly.")


def test_yaml_with_nested_keys_is_data_and_a_markdown_list_is_not():
    assert structured_data(YAML_ANSWER) == "YAML"
    assert structured_data(RECIPE_LIST) is None
    assert structured_data("Ingrédients :\n  - farine\n  - œufs\nÉtapes :\n  - mélanger\n  - cuire") is None


@pytest.mark.parametrize("instruction, output, lang, code", [
    ("List the materials needed to build a coffee darkness meter.", YAML_ANSWER, "en", True),
    ("The year is 2025. Can you write an article about the new iPhone 17?",
     "<!DOCTYPE html>\n<html>\n<head><title>iPhone 17</title></head>\n<body>\n<h1>iPhone 17</h1>\n"
     "<p>Apple unveiled the iPhone 17 in September.</p>\n</body>\n</html>", "en", True),
    ("Donne-moi une recette de crêpes.", RECIPE_LIST, "fr", False),
    ("Escribe una página web sencilla para mi panadería.",
     "<!DOCTYPE html>\n<html>\n<head><title>Panadería</title></head>\n<body>\n<h1>Panadería Sol</h1>\n"
     "<p>Pan recién hecho cada mañana.</p>\n</body>\n</html>", "es", False),  # a web page asked for
])
def test_structured_answers_of_round6(det, instruction, output, lang, code):
    assert ("unintended_code" in labels(det, instruction, output, lang)) is code


# ---------------------------------------------------------------- truncated
@pytest.mark.parametrize("output, lang, cut", [
    ('Here is the corrected paragraph:\n\nShe said, "Can you?" and I answered, "Maybe." He asked, "What? Did you',
     "en", True),
    ('Voici le paragraphe corrigé :\n\nElle a dit : "Tu peux ?" et il a demandé : "Quoi ? Tu as', "fr", True),
    ('Here is the corrected paragraph:\n\nShe said, "Can you?" and I answered, "Maybe, but I am not sure."',
     "en", False),
    ("The shelf is 5'11\" high and fits in the corner of the room without any problem at all", "en", False),
    ("For a cellular automaton like Rule 30 there is no formula for the state after a million steps. You have to "
     "compute every step, one after the other, step by step by step by step by step by step by step by step by step",
     "en", False),                                                           # a phrase loop ending on a whole word
    ("Para un autómata celular como la regla 30 no hay fórmula para el estado tras un millón de pasos. Hay que "
     "calcular cada paso, uno tras otro, paso a paso a paso a paso a paso a paso a paso a paso a paso", "es", False),
])
def test_open_quotes_and_phrase_loops(det, output, lang, cut):
    assert ("truncated" in labels(det, "Answer the question.", output, lang)) is cut


# ---------------------------------------------------------------- wrong_language: Romance neighbours
PORTUGUESE = ("Nos próximos dez anos, a inteligência artificial deve estar presente em quase todos os aspectos da "
              "nossa vida. Sistemas de IA vão ajudar os médicos a diagnosticar doenças mais cedo e muitas tarefas "
              "repetitivas serão automatizadas. Será preciso lidar com a desinformação e a privacidade dos dados.")
CATALAN = ("Sé que parlar en públic no és el teu fort, però deixa'm explicar-te una cosa. La biblioteca del barri "
           "busca un convidat per a la jornada del mes que ve, i he pensat en tu de seguida. Ningú no sap tant de "
           "jardineria urbana com tu, i la gent té moltes ganes d'aprendre'n.")
SPANISH = ("En los próximos diez años, la inteligencia artificial estará presente en casi todos los aspectos de "
           "nuestra vida. Los sistemas de IA ayudarán a los médicos a diagnosticar enfermedades antes y muchas "
           "tareas repetitivas se automatizarán.")


@pytest.mark.parametrize("instruction, output, lang, wrong", [
    ("¿Cómo será el futuro de la IA dentro de 10 años?", PORTUGUESE, "es", True),
    ("Escribe un correo para convencer a tu amigo de hablar en público.", CATALAN, "es", True),
    ("À quoi ressemblera l'avenir de l'IA dans 10 ans ?", PORTUGUESE, "fr", True),
    ("¿Cómo será el futuro de la IA dentro de 10 años?", SPANISH, "es", False),
    ("Traduis ce paragraphe en portugais.", PORTUGUESE, "fr", False),        # another language asked for
])
def test_portuguese_and_catalan_answers(det, instruction, output, lang, wrong):
    assert ("wrong_language" in labels(det, instruction, output, lang)) is wrong


# ---------------------------------------------------------------- Gemma-3-270M answers of round 6's generation part
UNIVERSITIES = "\n".join(f"{k}. The University of {name}" for k, name in enumerate(
    "Tennessee Virginia Florida Georgia Hawaii Kansas Maryland Missouri Nevada Oregon Utah Arizona Colorado "
    "Delaware Indiana Iowa".split(), start=1)) + "\n17. The University of Kentucky is also a good choice."
UNIVERSIDADES = "\n".join(f"{k}. Universidad de {name}" for k, name in enumerate(
    "Virginia Washington Arizona Oregon Pennsylvania Tennessee Wisconsin Victoria Washington Iowa Kansas Ohio "
    "Oklahoma Nebraska".split(), start=1)) + "\n15. Universidad de Chile, una gran opción."
STEPS = "\n".join(f"{k}. Étape {k} : remuer la sauce." for k in range(1, 15))
COUNTS = "\n".join(f"Il y a {w} façons de le faire." for w in
                   "deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze".split())


@pytest.mark.parametrize("instruction, output, lang, loop", [
    ("What are some of the best universities for studying robotics?", UNIVERSITIES, "en", False),
    ("¿Cuáles son las mejores universidades para estudiar robótica?", UNIVERSIDADES, "es", False),  # a name twice
    ("Comment faire une sauce ?", STEPS, "fr", True),                    # the slot counts: a loop
    ("Combien de façons y a-t-il ?", COUNTS, "fr", True),                # number words count too
])
def test_a_list_of_different_names_is_no_loop(det, instruction, output, lang, loop):
    assert ("repetition_loop" in labels(det, instruction, output, lang)) is loop


@pytest.mark.parametrize("output, cut", [
    ("La valeur est 2" + "0" * 200, False),                  # a one-character loop has no unit to cut
    ("El número es 99." + "9" * 150, False),
    ("La respuesta es que el número de formas posibles depende de la tabla y de los valores que", True),
])
def test_a_character_loop_at_the_token_limit_is_not_cut(det, output, cut):
    found = [f.label for f in det.detect("Donne la valeur.", output, "fr" if "valeur" in output else "es", "length")]
    assert ("truncated" in found) is cut


def test_gemma_image_tokens_are_special_tokens(det):
    output = "1. École polytechnique de Paris\n2. École polytechnique de Lausanne <start_of_image>"
    assert "format_leak" in labels(det, "Quelles sont les meilleures écoles d'ingénieurs ?", output, "fr")


@pytest.mark.parametrize("output, lang, cut", [
    ("Les sciences comprennent les domaines de physique" + ", de physique" * 40 + ",", "fr", False),
    ("Universities:\n" + "- University of Oklahoma\n" * 8 + "- University of", "en", True),   # a line cut mid-line
])
def test_a_phrase_loop_at_the_token_limit(det, output, lang, cut):
    assert ("truncated" in [f.label for f in det.detect("List the sciences.", output, lang, "length")]) is cut


def test_a_spanish_loop_is_not_read_as_portuguese(det):
    output = "Para limpiar la alfombra:\n" + "".join(f"{k}. Use un aspirador de pelo suave y limpio.\n"
                                                 for k in range(1, 18))
    found = labels(det, "¿Cómo limpio una alfombra?", output, "es")
    assert "wrong_language" not in found and "repetition_loop" in found
