"""Critical-error detectors (baselines/errors/: the orchestrator in critical_errors.py, one module per label in
detectors/) and the ``errors`` CLI (baselines/errors/cli.py).

The labelled data is ``evaluation/critical_errors/dev.jsonl`` (the split the detectors are tuned on; the
sealed ``test`` split is never scored here). Dev-split thresholds asserted below, a regression guard
with a margin under what the detectors reach (see ``bench errors evaluate``): macro-F1 >= 0.92, every
label F1 >= 0.85, clean items flagged <= 5 %; per language, each label's positives mostly found and
hard negatives mostly left alone.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.errors.critical_errors import DETECTOR_VERSION, LABELS, CriticalErrorDetector, Finding, evaluate
from bench.instruction_features import is_technical, requests_language
from bench.labelled_sets import shared_dir
from tests.helpers import run_main

DEV = Path(__file__).resolve().parents[1] / "evaluation" / "critical_errors" / "dev.jsonl"
HAS_SHARED = (shared_dir() / "data" / "just-eval-instruct").is_dir()


@pytest.fixture(scope="module")
def det() -> CriticalErrorDetector:
    return CriticalErrorDetector()


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    """The dev split, text resolved by the command's own reader (records pointing into ../shared need it)."""
    if not HAS_SHARED:
        pytest.skip("../shared (the Just-Eval reference data) is not here")
    from baselines.errors.cli import read_records

    return [dict(r, lang=r["lang"]) for _, r in read_records(str(DEV), ("en", "fr", "es"), labelled=True)]


def labels(det, instruction, output, lang, finish_reason=None) -> list[str]:
    return [f.label for f in det.detect(instruction, output, lang, finish_reason)]


# ------------------------------------------------------------------------------------------------
# API shape
# ------------------------------------------------------------------------------------------------

def test_api_shape(det):
    assert LABELS == ("repetition_loop", "unintended_code", "wrong_language", "format_leak", "empty", "truncated")
    assert DETECTOR_VERSION.startswith("ce-")
    loop = "Je pense que " * 30 + "je pen"  # a loop cut mid-word (one ending on a whole unit is a loop only)
    found = det.detect("Que penses-tu du vélo ?", loop, "fr", "length")
    assert [f.label for f in found] == ["repetition_loop", "truncated"]  # LABELS order
    for f in found:
        assert isinstance(f, Finding) and 0.0 <= f.score <= 1.0 and f.evidence
        assert f.span is None or (0 <= f.span[0] <= f.span[1] <= len(loop))
        d = f.to_dict()
        assert set(d) == {"label", "score", "span", "evidence"}
    with pytest.raises(ValueError, match="de"):
        det.detect("x", "y", "de")


def test_registry_covers_error_labels_in_order():
    """The orchestrator runs DETECTORS: one detector per ERROR_LABELS label, same order, each in its own module."""
    from baselines.errors.detectors import DETECTORS
    from bench.vocabulary import ERROR_LABELS

    assert tuple(DETECTORS) == ERROR_LABELS
    assert [fn.__module__ for fn in DETECTORS.values()] == [f"baselines.errors.detectors.{label}" for label in ERROR_LABELS]


def test_detect_many_matches_detect(det, dev):
    sample = dev[::9]
    many = det.detect_many([(r["instruction"], r["output"], r["lang"], r.get("finish_reason")) for r in sample])
    for rec, found in zip(sample, many):
        one = det.detect(rec["instruction"], rec["output"], rec["lang"], rec.get("finish_reason"))
        assert [f.label for f in found] == [f.label for f in one], rec["id"]
    assert det.detect_many([("q", "a", "en")]) == [det.detect("q", "a", "en")]  # 3-tuples accepted


def test_worker_processes_give_the_same_findings(det, dev):
    """A batch large enough for the forked workers gives the findings (labels, spans, evidence, scores to 3 decimals:
    lingua's own confidences differ in the last bits from run to run) and order of one process."""
    from baselines.errors import critical_errors

    rows = [(r["instruction"], r["output"], r["lang"], r.get("finish_reason")) for r in dev]
    assert len(rows) >= 2 * critical_errors.PARALLEL_MIN_ROWS
    one = [[f.to_dict() for f in found] for found in CriticalErrorDetector(workers=1).detect_many(rows)]
    two = [[f.to_dict() for f in found] for found in CriticalErrorDetector(workers=2).detect_many(rows)]
    assert two == one
    assert sum(map(bool, one)) > 100  # the comparison covers real findings
    assert critical_errors._BATCH == ()  # nothing of the batch is kept after it


def test_languages_parameter():
    two = CriticalErrorDetector(("en", "fr"))
    assert labels(two, "Pourquoi le ciel est-il bleu ?", "The sky is blue because air molecules scatter blue "
                  "light more than red light, which is called Rayleigh scattering.", "fr") == ["wrong_language"]
    with pytest.raises(ValueError):
        two.detect("¿Qué?", "Sí.", "es")


# ------------------------------------------------------------------------------------------------
# repetition_loop
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,instruction,output", [
    ("en", "What do you think about remote work?", "I think that " * 30 + "I th"),
    ("fr", "Que penses-tu de l'IA ?", "Je pense que " * 25),
    ("es", "¿Qué opinas del cine?", "Creo que el cine es arte. " + "Es muy bonito. " * 15),
    ("fr", "Quels sont les bienfaits du thé ?", "1. Antioxydants.\n" + "".join(f"{i}. Il aide à la digestion.\n" for i in range(2, 14))),
    ("es", "¿Cómo se hace un flan?", "Paso 1: Caramelo.\n" + "".join(f"Paso {i}: Batir.\n" for i in range(2, 15))),
    ("en", "Give me a link.", "https://example.com/" + "Kj" * 200),
    ("en", "Tips?", "\n\n".join(["Sleep well, eat well and walk every day because it helps a lot with stress and mood."] * 4)),
    # counting loops: the same line with a number (or one word) varying, run on past any list that was asked for
    ("es", "¿Cuánto es 5 + 3?", "".join(f"{i}. 5 + 3 = {i + 7}\n" for i in range(1, 22)) + "22. 5 + 3 ="),
    ("fr", "Quel pourcentage de gens aime le café ?", "".join(f"{i}. {max(10, 100 - 5 * i)}%\n" for i in range(1, 34))),
])
def test_repetition_positive(det, lang, instruction, output):
    assert "repetition_loop" in labels(det, instruction, output, lang)


@pytest.mark.parametrize("lang,instruction,output", [
    ("en", "Write a song about friendship with a chorus.",
     "Verse 1:\nWe met one day\n\nChorus:\nFriends forever, side by side,\nThrough the storm and through the tide\n\n"
     "Verse 2:\nYou lift me high\n\nChorus:\nFriends forever, side by side,\nThrough the storm and through the tide\n\n"
     "Verse 3:\nYears go by\n\nChorus:\nFriends forever, side by side,\nThrough the storm and through the tide"),
    ("fr", "Quelles sont les paroles de Frère Jacques ?",
     "Frère Jacques, frère Jacques,\nDormez-vous ? Dormez-vous ?\nSonnez les matines, sonnez les matines,\nDing, dang, dong. Ding, dang, dong."),
    ("es", "Nombra 20 animales.", "\n".join(f"{i}. {a}" for i, a in enumerate(
        "Perro Gato León Tigre Elefante Jirafa Cebra Caballo Vaca Oveja Cabra Conejo Delfín Ballena Tiburón Águila "
        "Búho Serpiente Tortuga Pingüino".split(), 1))),
    ("en", "Write a Python function that prints the first 5 Fibonacci numbers with tests.",
     "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
     + "".join(f"print(fib({i}))  # Output: {i}\n" for i in range(8)) + "```"),
    ("fr", "Compare trois forfaits.", "**Forfait A**\n**Avantages :** prix bas.\n**Inconvénients :** peu de données.\n\n"
     "**Forfait B**\n**Avantages :** 100 Go.\n**Inconvénients :** engagement.\n\n**Forfait C**\n**Avantages :** appels illimités.\n"
     "**Inconvénients :** cher."),
    ("en", "Make a LaTeX table template.", "\\begin{tabular}{lll}\nData 1 & Data 2 & Data 3 \\\\\nData 4 & Data 5 & Data 6 \\\\\n"
     "Data 7 & Data 8 & Data 9 \\\\\nData 10 & Data 11 & Data 12 \\\\\n\\end{tabular}"),
    ("es", "¿Cómo te ríes?", "¡Jajaja! Me río así."),
])
def test_repetition_hard_negative(det, lang, instruction, output):
    assert "repetition_loop" not in labels(det, instruction, output, lang)


# ------------------------------------------------------------------------------------------------
# unintended_code
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,instruction,output", [
    ("en", "How do I make banana bread?", "```python\ndef banana_bread():\n    print('Mash bananas')\n    return 'Bake 60 min'\n```"),
    ("fr", "Que visiter à Lyon ?", "<p>Lyon est belle !</p>\n<ul>\n<li>Fourvière</li>\n<li>Le Vieux Lyon</li>\n</ul>"),
    ("es", "¿Quién descubrió América?", "Colón, en 1492.\n\nconsole.log(\"Colón zarpó en 1492\");\nconsole.log(\"Llegó en octubre\");"),
    ("fr", "Comment entretenir un potager ?", "{\n  \"arrosage\": \"le soir\",\n  \"paillage\": \"paille\",\n  \"récolte\": \"souvent\"\n}"),
    # a script a "#!" line opens, commands after a shell prompt, one SQL statement, a CSV dump; "j'ai" is not "AI"
    ("en", "How do I clean an oven?", "Let it cool first.\n\n#!/bin/sh\necho \"cleaning\"\nsleep 60\ndone_msg=ok\n\nThen wipe it."),
    ("en", "What does a baker earn?", "Run:\n\n$ curl -s https://example.org/pay?job=baker\n31000"),
    ("es", "¿Qué le regalo a mi hermana?", "Depende de sus gustos.\n\nSELECT regalo FROM ideas WHERE edad = 30 LIMIT 3;\n\nUn libro siempre gusta."),
    ("fr", "Quels fleuves traversent la France ?", "fleuve;longueur;source\nLoire;1006 km;Mont Gerbier\nSeine;777 km;"
     "Source-Seine\nRhône;812 km;glacier du Rhône"),
    ("fr", "J'ai faim, que puis-je cuisiner ?", "Voici :\n\nplats = [\"omelette\", \"pâtes\"]\nfor p in plats:\n    print(p)"),
])
def test_code_positive(det, lang, instruction, output):
    assert "unintended_code" in labels(det, instruction, output, lang)


@pytest.mark.parametrize("lang,instruction,output", [
    ("fr", "Écris une fonction Python qui calcule la moyenne.", "```python\ndef moyenne(v):\n    return sum(v) / len(v)\n```"),
    ("es", "Escribe una consulta SQL que cuente los clientes.", "```sql\nSELECT COUNT(*) FROM clientes;\n```"),
    ("en", "Regex for a US zip code?", "`^\\d{5}(-\\d{4})?$`"),
    ("fr", "Quelle formule Excel pour additionner A1 à A10 ?", "=SOMME(A1:A10)"),
    ("en", "Solve x^2 - 5x + 6 = 0.", "$\\Delta = 25 - 24 = 1$, so $x = \\frac{5 \\pm 1}{2}$: $x = 2$ or $x = 3$."),
    ("en", "If a square has a diagonal of 10, what is its area?", "Side = 10 / sqrt(2)\nArea = Side x Side\nArea = (10 / sqrt(2))^2\nArea = 50"),
    ("es", "¿Qué significa la etiqueta <s> en HTML?", "Marca texto tachado:\n\n```html\n<p><s>50 €</s> 35 €</p>\n```"),
    ("fr", "Quels romans américains me conseilles-tu ?", "- « The Great Gatsby » de F. Scott Fitzgerald ;\n"
     "- « To Kill a Mockingbird » de Harper Lee ;\n- « Of Mice and Men » de John Steinbeck ;\n- « Beloved » de Toni Morrison."),
    # inline LaTeX maths in a list; comma-separated lines in the layout the instruction set
    ("en", "Estimate each parameter of the Drake equation.", "- $R_*$ (star formation): $1.5$–$3$ per year\n"
     "- $f_p$ (planets): $0.8$–$1$\n- $L$ (lifetime): $10^2$–$10^6$ years"),
    ("en", "List three rivers in the format \"river, length, country\", one river per line.",
     "Nile, 6650 km, Egypt\nAmazon, 6400 km, Brazil\nYangtze, 6300 km, China"),
    # a Markdown list of labelled lines parses as YAML but is not data
    ("es", "Demuestra que 5 + 3 = 9.", "Vamos a resolverlo paso a paso.\n\n- Lunes: 5 + 3 = 9.\n- Martes: 3 + 5 = 7.\n"
     "- Tarde: 3 + 5 = 7.\n- Total: 5 + 3 + 7 = 16."),
])
def test_code_hard_negative(det, lang, instruction, output):
    assert "unintended_code" not in labels(det, instruction, output, lang)


def test_is_technical():
    assert is_technical("Write a python script") and is_technical("Écris une requête SQL")
    assert is_technical("¿Qué fórmula de Excel uso?") and is_technical("x+y = 4z, express x-y in z")
    assert not is_technical("Comment faire une quiche lorraine ?") and not is_technical("¿Cómo se prepara una paella?")
    assert not is_technical("Write a poem about the sea")


# ------------------------------------------------------------------------------------------------
# wrong_language
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,instruction,output", [
    ("fr", "Quels sont les avantages du vélo en ville ?", "Cycling in the city is good for your health, it is cheap and it "
     "does not pollute. You can also avoid traffic jams and park easily."),
    ("es", "¿Cómo puedo aprender a nadar?", "Pour apprendre à nager, il faut d'abord se sentir à l'aise dans l'eau et "
     "s'entraîner à flotter avec un moniteur."),
    ("en", "How can I sleep better?", "Para dormir mejor, acuéstate siempre a la misma hora y evita las pantallas antes de dormir."),
    ("en", "What sound does this make?\n\n好", "这个汉字的拼音是“好”，发音类似于英文中的“hǎo”。"),
    ("es", "¿Cuál es la mejor manera de aprender a cocinar?", "A melhor maneira de aprender a cozinhar é começar com "
     "receitas simples, cozinhar todos os dias e não ter medo de errar. Assistir a vídeos também ajuda muito."),
    ("es", "¿Cuándo se fabricaron los primeros teléfonos inteligentes?", "The first phones were made in 1976."),
    ("fr", "Explique l'inflation.", "L'inflation est la hausse des prix. In other words, your money buys less over time. "
     "Central banks try to keep it around two percent per year by changing interest rates, and when it is too high "
     "people lose purchasing power."),
])
def test_wrong_language_positive(det, lang, instruction, output):
    assert "wrong_language" in labels(det, instruction, output, lang)


@pytest.mark.parametrize("lang,instruction,output", [
    ("fr", "Que faire ce week-end à Bordeaux ?", "Ce week-end, flâne sur les quais, fais du shopping et profite d'un "
     "happy hour avec des concerts live. Pense à réserver ton parking."),
    ("es", "¿Cómo mejorar el marketing de mi tienda?", "Cuida el SEO, publica en redes sociales, colabora con influencers "
     "y envía una newsletter: el email marketing sigue siendo rentable."),
    ("fr", "Traduis en anglais : « Je voudrais réserver une table pour deux. »", "I would like to book a table for two."),
    ("es", "Traduce al inglés: «¿Dónde está la estación?»", "Where is the station?"),
    ("en", "How do you say good evening in French?", "\"Bonsoir.\""),
    ("fr", "Quels romans américains me conseilles-tu ?", "Voici quelques classiques :\n- « The Great Gatsby » de "
     "F. Scott Fitzgerald ;\n- « To Kill a Mockingbird » de Harper Lee ;\n- « The Catcher in the Rye » de J. D. Salinger."),
    ("es", "¿Qué cantantes británicos son famosos?", "Algunos son:\n1. Freddie Mercury\n2. Elton John\n3. Adele\n"
     "4. Ed Sheeran\n5. David Bowie\n6. Amy Winehouse"),
    ("fr", "Quelle est la capitale de la France ?", "Paris."),
    ("es", "¿Quién pintó Las Meninas?", "Diego Velázquez"),
    ("en", "Give me a quote.", "\"Carpe diem.\" - Horace"),
    # too few words to tell a language; an identifier is code, not English prose
    ("fr", "Écris une fonction C++ qui convertit du Markdown en HTML.", "C++ : 10 points\nMarkdown : 5 points\nhtml : 5 points"),
    ("fr", "Estime le salaire moyen d'un opérateur de saisie.", "$python query_data_income_salary_average_wage_"
     "median_month_year_employer_pay_per_hour_by_city_country_zip_code_state_province"),
])
def test_wrong_language_hard_negative(det, lang, instruction, output):
    assert "wrong_language" not in labels(det, instruction, output, lang)


def test_requests_language():
    assert requests_language("Traduis en anglais : bonjour") and requests_language("Translate into Spanish: hi")
    assert requests_language("Réponds en anglais.") and requests_language("¿Cómo se dice gracias en francés?")
    assert not requests_language("Quelle est la capitale de l'Espagne ?")


# ------------------------------------------------------------------------------------------------
# format_leak
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,instruction,output", [
    ("en", "Tips for London?", "Use the Tube.\n```\n\n# Query:\n```What to pack for Iceland?```\n\n# Answer:\n```\nPack"),
    ("fr", "Comment faire pousser des tomates ?", "Un grand pot.\n\n### Instruction:\nÉcris un poème.\n\n### Response:\nLe printemps"),
    ("es", "¿Me recomiendas una película?", "«El orfanato».\n\nUsuario: ¿Y una comedia?\nAsistente: «Ocho apellidos vascos»."),
    ("fr", "Symptômes de la grippe ?", "Fièvre et toux.<|im_end|>\n<|im_start|>user\nEt la soigner ?"),
    ("en", "Why do cats purr?", "Cats purr when they are content.</s>"),
    ("es", "Explica la fotosíntesis.", "Las plantas usan la luz.\n```\n\n# Consulta:\n```¿Y la respiración?```"),
    ("en", "Tallest mountain in Africa?", "Kilimanjaro.\n\nHuman: And in Europe?\n\nAssistant: Elbrus."),
    # invented few-shot pairs, role names left bare by stripped special tokens, the system prompt copied
    ("fr", "Quelle est la capitale du Pérou ?", "Lima.\n\nQuestion 2 : Quelle est la capitale du Chili ?\nRéponse 2 : "
     "Santiago.\n\nQuestion 3 : Et de l'Argentine ?\nRéponse 3 : Buenos Aires."),
    ("es", "¿Cuántas patas tiene una araña?", "Ocho.\n\nP: ¿Y un insecto?\nR: Seis.\n\nP: ¿Y un ciempiés?\nR: Muchas."),
    ("en", "What should I call you?", "Call me anything you like.\nuser\nOk, Sam. Your favourite colour?\nmodel\nBlue."),
    ("es", "¿Cómo consuelo a un amigo?", "Eres un asistente útil, respetuoso y honesto. Escúchalo y acompáñalo."),
])
def test_format_leak_positive(det, lang, instruction, output):
    assert "format_leak" in labels(det, instruction, output, lang)


@pytest.mark.parametrize("lang,instruction,output", [
    ("en", "Write a sample conversation between a user and an AI assistant.", "User: Hi!\nAssistant: Hello, how can I help?"),
    ("fr", "Écris un dialogue entre un client et un vendeur.", "Client : Bonjour.\nVendeur : Bonjour, que désirez-vous ?"),
    ("fr", "Explique le format de prompt ChatML.", "```\n<|im_start|>user\nBonjour<|im_end|>\n```\nLe modèle s'arrête au jeton <|im_end|>."),
    ("en", "What does the </s> token mean?", "`</s>` is the end-of-sequence token."),
    ("en", "How do I make pumpkin pie?", "### Ingredients:\n- 1 can pumpkin\n\n### Instructions:\n1. Preheat the oven.\n2. Bake."),
    ("fr", "Définis quelques termes.", "- Utilisateur : personne qui utilise un service.\n- Assistant : programme qui aide."),
    ("es", "¿Qué significa <s> en HTML?", "Texto tachado: `<s>50 €</s>`, por ejemplo <s>viejo</s> nuevo."),
    # Q/A pairs the instruction asks for, or under a heading of their own; a role word inside a sentence
    ("en", "Write a short FAQ for a bakery website.", "Q: Do you bake gluten-free bread?\nA: Yes, on Fridays.\n"
     "Q: Do you deliver?\nA: Within 5 km."),
    ("fr", "Des notes d'étude sur la Révolution française ?", "- 1789 : prise de la Bastille.\n- 1792 : la République.\n\n"
     "**Fiches de révision**\nQ : Quand la Bastille est-elle prise ?\nR : En 1789."),
    ("en", "How do I add a user on Linux?", "Run adduser as root, then set a password for the new user."),
])
def test_format_leak_hard_negative(det, lang, instruction, output):
    assert "format_leak" not in labels(det, instruction, output, lang)


# ------------------------------------------------------------------------------------------------
# empty and truncated
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["", "   \n\t", "...", "…", "```\n```", "- - -", "<|im_end|>"])
def test_empty_positive(det, output):
    assert "empty" in labels(det, "Question ?", output, "fr")


@pytest.mark.parametrize("lang,output", [("fr", "Paris."), ("es", "366"), ("en", "😊"), ("en", "No")])
def test_empty_negative(det, lang, output):
    assert "empty" not in labels(det, "Q?", output, lang)


@pytest.mark.parametrize("lang,output,finish_reason", [
    ("fr", "Pour préparer un entretien, entraîne-toi à voix haute. Le jour J, respire profondément et", "length"),
    ("en", "Vaccines train the immune system to recognise a pathogen without causing disease, so that", None),
    ("fr", "Le système immunitaire comporte l'immunité innée et l'immunité adaptative, qui produit des anticorps (par exemple", None),
    ("es", "Aquí tienes tres ideas:\n\n1. Una cena para dos.\n2. Un álbum de fotos personalizado.\n3. Una vajilla de", None),
    ("en", "It is not", None),
    ("en", "Remember to rest. Enjoy! ... (truncated)", None),
])
def test_truncated_positive(det, lang, output, finish_reason):
    assert "truncated" in labels(det, "Question?", output, lang, finish_reason)


def test_truncation_is_judged_before_a_leak(det):
    # the answer before the leaked turn is complete and the leak stops on a bare label: no cut
    assert labels(det, "Tallest mountain in Africa?", "Kilimanjaro.\n\nHuman: And in Europe?\n\nAssistant: Elbrus.\n\nHuman:",
                  "en") == ["format_leak"]
    # the answer stops mid-sentence where a special token starts the leak: both
    assert labels(det, "Comment faire du tahini ?", "Faites griller le sésame puis mixez-le avec de l'huile et<|im_end|>\n"
                  "<|im_start|>user\nEt la sauce ?", "fr") == ["format_leak", "truncated"]


@pytest.mark.parametrize("lang,output,finish_reason", [
    ("fr", "Pour préparer un entretien, entraîne-toi à voix haute. Le jour J, respire profondément et", "stop"),
    ("es", "Un motor eléctrico transforma la energía eléctrica en energía mecánica.", "length"),  # limit at a full stop
    ("en", "Drink water.\nDrink water.\nDrink water.\nDrink water.", "length"),  # a loop ending on a whole unit
    ("en", "Tokyo", None),
    ("fr", "Victor Hugo", None),
    ("es", "Hojas amarillas\ncaen sobre el camino\nsilencio de tarde", None),
    ("en", "1. Hugh Jackman\n2. Meryl Streep\n3. Nathan Lane\n4. Idina Menzel", None),
    ("fr", "Je t'aime fort ❤️🎂", None),
    ("es", "Asunto: Día libre\n\nHola, Carlos:\n\nTe pido el viernes libre.\n\nUn saludo,\nAna García", None),
    ("en", "Here is the code:\n\n```python\nprint('hi')\n```", None),
    ("en", "What a day! *adjusts wig*", None),
    ("en", "#Architect #TechLover", None),
    ("fr", "| Pronom | Aller |\n|---|---|\n| Je | vais |\n| Nous | allons |", None),
])
def test_truncated_hard_negative(det, lang, output, finish_reason):
    assert "truncated" not in labels(det, "Question?", output, lang, finish_reason)


def test_long_output_is_bounded(det):
    text = ("Une phrase différente numéro %d pour remplir le texte. " * 3000) % tuple(range(3000))
    found = det.detect("Écris un long texte.", text, "fr")
    assert "wrong_language" not in [f.label for f in found]


# ------------------------------------------------------------------------------------------------
# dev set
# ------------------------------------------------------------------------------------------------

def test_dev_set_scores(det, dev):
    report = evaluate(dev, det)
    assert report["macro"]["f1"] >= 0.92, report["macro"]
    for label, m in report["labels"].items():
        assert m["f1"] >= 0.85, (label, m)
    assert report["clean_flagged_rate"] <= 0.05, report["clean_flagged_rate"]


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_dev_positives_and_hard_negatives_per_language(det, dev, lang):
    """Each detector on the dev split's items of one language: its positives mostly found (labels with at
    least 3 of them), and the hard negatives (written to look suspicious, labelled clean) mostly left alone."""
    rows = [r for r in dev if r["lang"] == lang]
    found = det.detect_many([(r["instruction"], r["output"], r["lang"], r.get("finish_reason")) for r in rows])
    predicted = [{f.label for f in fs} for fs in found]
    for label in LABELS:
        positives = [p for r, p in zip(rows, predicted) if label in r["labels"]]
        if len(positives) >= 3:
            assert sum(label in p for p in positives) >= 0.7 * len(positives), (lang, label)
    hard = [p for r, p in zip(rows, predicted) if r["made"] == "written" and not r["labels"]]
    assert len(hard) >= 15 and sum(1 for p in hard if p) <= 0.1 * len(hard), (lang, len(hard))


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------

def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_cli_detect_passes_fields_through(tmp_path):
    rows = [
        {"id": "a", "model": "m1", "instruction": "Que penses-tu du vélo ?", "output": "Je pense que " * 30 + "je pen",
         "lang": "fr",
         "finish_reason": "length", "extra": {"k": [1, 2]}},
        {"id": "b", "instruction": "Capital of France?", "output": "Paris.", "lang": "en", "finish_reason": None},
        {"id": "c", "instruction": "¿Cómo se hace un gazpacho?", "output": "```python\ndef gazpacho():\n    print('x')\n```",
         "lang": "ES"},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "sub" / "out.jsonl"
    result = run_main("errors", "detect", "--input", str(src), "--out", str(out))
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(got) == 3
    for before, after in zip(rows, got):
        assert {k: after[k] for k in before} == before  # every input field unchanged
        assert list(after)[: len(before)] == list(before)
        assert set(after) - set(before) == {"critical_errors", "critical_error_evidence"}
    assert got[0]["critical_errors"] == ["repetition_loop", "truncated"]
    assert got[1]["critical_errors"] == [] and got[1]["critical_error_evidence"] == []
    assert got[2]["critical_errors"] == ["unintended_code"]
    ev = got[0]["critical_error_evidence"][0]
    assert set(ev) == {"label", "score", "span", "evidence"} and ev["label"] == "repetition_loop"
    assert "repetition_loop" in result.stderr and "fr" in result.stderr  # rate table on stderr
    assert result.stdout == ""
    assert not [p for p in out.parent.iterdir() if p.name != "out.jsonl"]  # no temp file left


@pytest.mark.parametrize("line,where,field", [
    ('{"instruction": "q", "output": "a", "lang": "en"', "line 2", None),  # invalid JSON
    ('["not", "an", "object"]', "line 2", None),
    ('{"instruction": "q", "lang": "en"}', "line 2", "output"),
    ('{"instruction": 3, "output": "a", "lang": "en"}', "line 2", "instruction"),
    ('{"instruction": "q", "output": "a", "lang": "de"}', "line 2", "lang"),
    ('{"instruction": "q", "output": "a", "lang": "en", "finish_reason": 5}', "line 2", "finish_reason"),
])
def test_cli_detect_bad_input(tmp_path, line, where, field):
    src = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": "q", "output": "a", "lang": "en"}, line])
    out = tmp_path / "out.jsonl"
    result = run_main("errors", "detect", "--input", str(src), "--out", str(out))
    assert result.exit_code != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "bad.jsonl" in message and where in message
    if field:
        assert f"'{field}'" in message
    assert "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_cli_detect_missing_and_empty_file(tmp_path):
    out = tmp_path / "out.jsonl"
    result = run_main("errors", "detect", "--input", str(tmp_path / "nope.jsonl"), "--out", str(out))
    assert result.exit_code != 0 and "nope.jsonl" in result.stderr and not out.exists()
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    result = run_main("errors", "detect", "--input", str(empty), "--out", str(out))
    assert result.exit_code != 0 and "no records" in result.stderr and not out.exists()


def test_cli_existing_output_kept_on_error(tmp_path):
    out = write_jsonl(tmp_path / "out.jsonl", [{"keep": True}])
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "q", "output": "a", "lang": "xx"}])
    result = run_main("errors", "detect", "--input", str(src), "--out", str(out))
    assert result.exit_code != 0
    assert json.loads(out.read_text()) == {"keep": True}


def test_cli_evaluate_json(dev):
    result = run_main("errors", "evaluate", "--dev", str(DEV), "--json", "--split", "dev", "--show-misses")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["items"] == len(dev)
    assert {"macro", "confusion", "clean_flagged_rate"} <= set(report) and report["errors"]
    assert set(report["errors"][0]) == {"id", "missed", "spurious", "evidence"}
    assert set(report["labels"]) == set(LABELS)
    assert {"precision", "recall", "f1", "support"} <= set(report["micro"])


def test_cli_evaluate_table_and_bad_labels(tmp_path, dev):
    result = run_main("errors", "evaluate", "--dev", str(DEV))
    assert result.exit_code == 0 and "micro avg" in result.stdout and "macro avg" in result.stdout
    bad = write_jsonl(tmp_path / "dev.jsonl", [{"instruction": "q", "output": "a", "lang": "en", "labels": ["loop"]}])
    result = run_main("errors", "evaluate", "--dev", str(bad))
    assert result.exit_code != 0 and "line 1" in result.stderr and "'labels'" in result.stderr
