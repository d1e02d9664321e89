"""Translation QA: flags, number normalisation, CLI, and the labelled dev set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.errors import InputError
from bench.vocabulary import QA_FLAGS
from benchmark.qa import QAResult, TranslationQA
from benchmark.qa.flags import FLAG_CHECKS
from benchmark.qa.numbers import extract_numbers, interpret, match_numbers
from benchmark.qa.cli import qa

DEV = Path(__file__).parent / "data" / "qa_dev.jsonl"


@pytest.fixture(scope="module")
def checker() -> TranslationQA:
    return TranslationQA(["en", "fr", "es", "de"])


def flags(checker: TranslationQA, source: str, translation: str, lang: str) -> list[str]:
    result = checker.check(source, translation, lang)
    assert isinstance(result, QAResult)
    assert set(result.evidence) == set(result.flags)
    assert result.flags == [f for f in QA_FLAGS if f in result.flags]
    return result.flags


# ---------------------------------------------------------------- clean / hard negatives
@pytest.mark.parametrize(
    "source, translation, lang",
    [
        ("How do I plan a relaxing weekend in Paris on a budget?",
         "Comment organiser un weekend reposant à Paris avec un petit budget ?", "fr"),
        ("Give me a marketing plan for a small bakery.", "Dame un plan de marketing para una pequeña panadería.", "es"),
        ('Write a review of the movie "The Shawshank Redemption".',
         "Rédige une critique du film « The Shawshank Redemption ».", "fr"),
        ("Explain the difference between machine learning and deep learning to a 10-year-old.",
         "Explica la diferencia entre el machine learning y el deep learning a un niño de 10 años.", "es"),
        ("OK", "OK", "fr"),
        ("Barack Obama", "Barack Obama", "es"),
        ("42", "42", "fr"),
        ("https://example.com/docs", "https://example.com/docs", "es"),
        ("iPhone 15 Pro Max vs Samsung S24 Ultra", "iPhone 15 Pro Max vs Samsung S24 Ultra", "fr"),
        ("FAQ", "Foire aux questions (FAQ)", "fr"),
        ("What is the difference between `let` and `const` in JavaScript?",
         "¿Cuál es la diferencia entre `let` y `const` en JavaScript?", "es"),
        ('Continue this chant: "Go, go, go, team, go!"',
         'Continúa este cántico: "¡Vamos, vamos, vamos, equipo, vamos!"', "es"),
        ("Please, please, please help me write an apology to my best friend.",
         "Por favor, por favor, por favor, ayúdame a escribir una disculpa para mi mejor amiga.", "es"),
        ("Could you please tell me what the weather is usually like in Lisbon in April?",
         "¿Podrías decirme qué tiempo suele hacer en Lisboa en abril?", "es"),
        ("Complete this poem:\n\nRoses are red,\nViolets are blue,\n",
         "Complète ce poème :\n\nLes roses sont rouges,\nLes violettes sont bleues,\n", "fr"),
    ],
)
def test_clean_translations_have_no_flags(checker, source, translation, lang):
    assert flags(checker, source, translation, lang) == []


# ---------------------------------------------------------------- one test per flag
def test_registry_covers_qa_flags_in_order():
    assert [entry.flag for entry in FLAG_CHECKS] == list(QA_FLAGS)


def test_untranslated(checker):
    src = "Write a short story about a robot who learns to paint."
    assert flags(checker, src, src, "fr") == ["untranslated"]
    assert flags(checker, src, src.lower().rstrip("."), "es") == ["untranslated"]
    assert flags(checker, "How do I make my houseplants grow faster?",
                 "How can I make my house plants grow faster?", "fr") == ["untranslated"]
    partial = ("Mi perro ladra cada vez que alguien llama a la puerta. How can I train him to stop?")
    assert flags(checker, "My dog barks every time someone knocks on the door. How can I train him to stop?",
                 partial, "es") == ["untranslated"]
    assert "identical" in checker.check(src, src, "fr").evidence["untranslated"]


def test_wrong_language(checker):
    assert flags(checker, "What should I pack for a week-long hiking trip?",
                 "¿Qué debo llevar para una excursión de senderismo de una semana?", "fr") == ["wrong_language"]
    assert flags(checker, "Explain photosynthesis in simple terms.",
                 "Explique la photosynthèse en termes simples.", "es") == ["wrong_language"]
    # a neighbour language the caller did not list (Portuguese for Spanish)
    assert flags(checker, "What are the benefits of meditating every day?",
                 "Quais são os benefícios de meditar todos os dias?", "es") == ["wrong_language"]
    # one sentence in Spanish inside a French translation
    assert flags(checker, "I want to start running in the morning. How should I begin, and how often should I train?",
                 "Je veux commencer à courir le matin. ¿Cómo debo empezar y con qué frecuencia debo entrenar?",
                 "fr") == ["wrong_language"]


def test_wrong_language_needs_enough_text(checker):
    assert flags(checker, "Thanks!", "Danke!", "es") == []


def test_truncated(checker):
    assert flags(checker, "Give me a step-by-step guide to changing a flat tire.",
                 "Donne-moi un guide étape par étape pour changer un", "fr") == ["truncated"]
    assert flags(checker, "Explain the causes of the French Revolution, focusing on economic problems, social "
                 "inequality and the influence of Enlightenment ideas.",
                 "Explica las causas de la Revolución francesa, centrándote en los problemas económicos,",
                 "es") == ["truncated"]
    src = "What should I consider when buying a used car?\n- mileage\n- service history\n- rust\n- tyres"
    assert flags(checker, src, "¿Qué debo tener en cuenta al comprar un coche usado?\n- el kilometraje\n- el óxido",
                 "es") == ["truncated"]


def test_truncated_inside_code_is_not_code_altered(checker):
    src = "Why does this crash?\n\n```python\nimport json\ndata = json.load(open('x.json'))\n```\n\nThe file is valid."
    tr = "Pourquoi ce script plante-t-il ?\n\n```python\nimport json\n"
    assert flags(checker, src, tr, "fr") == ["truncated"]


def test_code_altered(checker):
    assert flags(checker, "What does `git stash` do?", "¿Qué hace `git guardar`?", "es") == ["code_altered"]
    assert flags(checker, "Write a welcome message template that uses the placeholders {name} and {company}.",
                 "Écris un modèle de message de bienvenue qui utilise les variables {nom} et {entreprise}.",
                 "fr") == ["code_altered"]
    assert flags(checker, "How do I add a folder to $PATH permanently on Linux?",
                 "¿Cómo añado una carpeta a $RUTA de forma permanente en Linux?", "es") == ["code_altered"]
    code = "```python\ndef double(x):\n    return x * 2\n```"
    assert flags(checker, "Fix this:\n\n" + code, "Corrige ceci :\n\n" + code.replace("    return", "return"),
                 "fr") == ["code_altered"]
    assert flags(checker, "Fix this:\n\n" + code, "Corrige ceci :\n\n" + code, "fr") == []
    ev = checker.check("Email me at info@company.com.", "Écris-moi à info@entreprise.com.", "fr").evidence
    assert "info@company.com" in ev["code_altered"]


def test_number_mismatch(checker):
    assert flags(checker, "A shirt costs $47.50. How much do three shirts cost?",
                 "Une chemise coûte 47,05 $. Combien coûtent trois chemises ?", "fr") == ["number_mismatch"]
    assert flags(checker, "Write a short article about the Moon landing in 1969.",
                 "Escribe un artículo corto sobre la llegada a la Luna en 1996.", "es") == ["number_mismatch"]
    assert flags(checker, "I swim 1,500 meters three times a week. Is that enough exercise?",
                 "Nado 1,5 metros tres veces por semana. ¿Es suficiente ejercicio?", "es") == ["number_mismatch"]
    ev = checker.check("Write a 500-word essay about climate change.",
                       "Rédige une dissertation sur le changement climatique.", "fr").evidence
    assert "500" in ev["number_mismatch"]


@pytest.mark.parametrize(
    "source, translation, lang",
    [
        ("A shirt costs $47.50.", "Une chemise coûte 47,50 $.", "fr"),
        ("I have 236,000 euros in savings.", "J'ai 236 000 euros d'économies.", "fr"),
        ("I have 236,000 euros in savings.", "J'ai 236\u202f000 euros d'économies.", "fr"),
        ("I have 236,000 euros in savings.", "J'ai 236\u00a0000 euros d'économies.", "fr"),
        ("I have 236,000 euros in savings.", "Tengo 236.000 euros de ahorros.", "es"),
        ("It takes 1.5 hours.", "Cela prend 1,5 heure.", "fr"),
        ("It grew from 1,250,000 to 1,430,500.", "Pasó de 1.250.000 a 1.430.500.", "es"),
        ("I sleep 8-10 hours.", "Je dors de 8 à 10 heures.", "fr"),
        ("The 21st century.", "Le XXIe siècle.", "fr"),
        ("The 16th president.", "El 16.º presidente.", "es"),
        ("List five ideas.", "Donne 5 idées.", "fr"),
        ("List 5 ideas.", "Donne cinq idées.", "fr"),
        ("The meeting is at 3 pm.", "La réunion est à 15 h.", "fr"),
        ("I owe $10k.", "Debo 10.000 $.", "es"),
        ("Music of the 1990s.", "La musique des années 90.", "fr"),
        ("Open 24/7.", "Ouvert 24 h/24, 7 j/7.", "fr"),
        ("What about COVID-19 and MP3 files?", "Et le COVID-19 et les fichiers MP3 ?", "fr"),
    ],
)
def test_number_normalisation_equal(checker, source, translation, lang):
    assert "number_mismatch" not in checker.check(source, translation, lang).flags


def test_number_parsing():
    assert interpret("47.50") == [frozenset({"47.50"})]
    assert interpret("47,50") == [frozenset({"47.50"})]
    assert interpret("236,000") == [frozenset({"236000", "236.000"})]
    assert interpret("1.250.000") == [frozenset({"1250000"})]
    assert interpret("1,234.56") == [frozenset({"1234.56"})]
    assert interpret("1.234,56") == [frozenset({"1234.56"})]
    assert interpret("236\u202f000") == [frozenset({"236000"})]
    missing, extra = match_numbers(extract_numbers("1,500 m", True), extract_numbers("1,5 m", False))
    assert [n.surface for n in missing] == ["1,500"] and [n.surface for n in extra] == ["1,5"]


def test_hallucinated_addition(checker):
    assert flags(checker, "How do I keep basil alive indoors?",
                 "Traducción: ¿Cómo mantengo viva la albahaca en interiores?", "es") == ["hallucinated_addition"]
    assert flags(checker, "Write a thank-you email to my colleague.",
                 "Voici la traduction : Rédige un e-mail de remerciement à mon collègue.", "fr") == ["hallucinated_addition"]
    assert flags(checker, "What is the capital of Canada?",
                 "¿Cuál es la capital de Canadá? La capital de Canadá es Ottawa, situada en la provincia de Ontario.",
                 "es") == ["hallucinated_addition"]
    # an added answer that adds a number is also a changed number (LABELS.md: "adds a number")
    assert flags(checker, "What is 12 times 8?", "¿Cuánto es 12 por 8? 12 por 8 es 96.", "es") == [
        "number_mismatch", "hallucinated_addition"]
    assert flags(checker, "Write a haiku about snow.",
                 "Écris un haïku sur la neige.\n\nFlocons silencieux\ntombent sur le toit endormi\nle monde s'efface",
                 "fr") == ["hallucinated_addition"]


def test_hallucination_hard_negatives(checker):
    assert flags(checker, "RSVP by Friday.", "Merci de confirmer votre présence avant vendredi.", "fr") == []
    assert flags(checker, "Sure, can you help me with my homework?",
                 "Bien sûr, peux-tu m'aider à faire mes devoirs ?", "fr") == []
    assert flags(checker, "**Note:** keep it short.", "**Remarque :** fais court.", "fr") == []


def test_repetition(checker):
    assert flags(checker, "Write a lullaby for a baby.", "Écris une berceuse pour un bébé bébé bébé bébé.",
                 "fr") == ["repetition"]
    assert flags(checker, "Explain how a rainbow forms.",
                 "Explica cómo se forma un arcoíris. Explica cómo se forma un arcoíris. Explica cómo se forma un arcoíris.",
                 "es") == ["repetition"]
    assert flags(checker, "It was a very, very long day.", "Fue un día muy, muy, muy, muy, muy largo.",
                 "es") == ["repetition"]
    assert flags(checker, "Describe a sunset on the beach.", "Describe una puesta de sol en la playa en la playa.",
                 "es") == ["repetition"]
    assert flags(checker, "Knock knock. Who's there? Finish this joke.",
                 "Toc toc. Qui est là ? Termine cette blague.", "fr") == []


def test_short_third_language_sentence(checker):
    # five words in Portuguese after a Spanish sentence; the detector is sure and rules Spanish out
    assert flags(checker, "I want to write a fantasy novel about the sea. Write an outline of the novel.",
                 "Quiero escribir una novela de fantasía sobre el mar. Escreva um esboço do romance.",
                 "es") == ["wrong_language"]
    # hard negative: a short French sentence that lingua finds ambiguous stays clean
    assert flags(checker, "Be brief, please. What is the capital of Canada?",
                 "Sois bref, s'il te plaît. Quelle est la capitale du Canada ?", "fr") == []


def test_restated_sentence_and_doubled_phrase(checker):
    assert flags(checker, "How can I get better sleep at night?",
                 "Comment puis-je mieux dormir la nuit ? Comment mieux dormir la nuit ?", "fr") == ["repetition"]
    assert flags(checker, "What is the best way to learn to swim?",
                 "¿Cuál es la mejor la mejor manera de aprender a nadar?", "es") == ["repetition"]
    # hard negatives: two parallel questions the source also asks; a hyphenated compound ("sous-sous-")
    assert flags(checker, "What are the advantages of solar power? What are the disadvantages of solar power?",
                 "Quels sont les avantages de l'énergie solaire ? Quels sont les inconvénients de l'énergie solaire ?",
                 "fr") == []
    assert flags(checker, "List the files in all subdirectories, sub-subdirectories and so on.",
                 "Liste les fichiers de tous les sous-dossiers, sous-sous-dossiers, etc.", "fr") == []


def test_month_and_weekday_changes(checker):
    assert flags(checker, "Write an invitation to dinner on Friday.",
                 "Écris une invitation à dîner samedi.", "fr") == ["number_mismatch"]
    assert flags(checker, "Plan a trip to Japan in April.", "Planifica un viaje a Japón en mayo.",
                 "es") == ["number_mismatch"]
    # hard negatives: the same month in the other language; "May I" is not the month; a repeated weekday
    assert flags(checker, "Plan a trip to Japan in April.", "Planifica un viaje a Japón en abril.", "es") == []
    assert flags(checker, "May I ask you for a vegetarian recipe?",
                 "¿Puedo pedirte una receta vegetariana?", "es") == []
    assert flags(checker, "Make a gym plan from Monday to Sunday.",
                 "Fais un programme de sport du lundi au dimanche, avec repos le dimanche.", "fr") == []


def test_identifier_made_up_and_number_only_change(checker):
    assert flags(checker, "Write a C++ function that returns a std::string.",
                 "Escribe una función en C++ que devuelva un std::cadena.", "es") == ["code_altered"]
    # a complexity bound whose number changed is a number change, not altered code
    assert flags(checker, "Sort the list in O(1) extra space.", "Trie la liste avec O(n) d'espace supplémentaire.",
                 "fr") == ["number_mismatch"]
    assert flags(checker, "Print the top-5 words of the file.", "Affiche le top 5 des mots du fichier.", "fr") == []


def test_truncated_ending_and_inline_backticks(checker):
    assert flags(checker, "Why do some people love spicy food, while others avoid it at all costs?",
                 "¿Por qué a algunas personas les encanta la comida picante, mientras que otras", "es") == ["truncated"]
    # four backticks inside a sentence open no code block
    assert flags(checker, "Write a Markdown code block. Don't forget the quadruple backticks.",
                 "Écris un bloc de code Markdown. N'oublie pas les quatre backticks (````).", "fr") == []


def test_enumeration_with_an_extra_item(checker):
    src = "Describe a market using sensory details such as smells, sounds, and colours."
    assert flags(checker, src, "Décris un marché avec des détails sensoriels comme les odeurs, les sons, les saveurs "
                 "et les couleurs.", "fr") == ["hallucinated_addition"]
    # hard negatives: the same three items (no serial comma in French); commas of an inserted phrase
    assert flags(checker, src, "Décris un marché avec des détails sensoriels comme les odeurs, les sons et les couleurs.",
                 "fr") == []
    assert flags(checker, "I bought a drone so I can film birds, squirrels or deer. Any tips?",
                 "Me compré un dron para, con suerte, filmar pájaros, ardillas o ciervos. ¿Algún consejo?", "es") == []


def test_directory_with_its_slash_is_code(checker):
    assert flags(checker, "Run the script on every file of the checkpoints/ directory.",
                 "Ejecuta el script sobre todos los archivos del directorio puntos_de_control/.", "es") == ["code_altered"]


def test_two_flags_in_order(checker):
    src = "Write a motivational quote for Monday morning."
    assert flags(checker, src, " ".join([src] * 3), "fr") == ["untranslated", "repetition"]
    assert flags(checker, "```python\nfor i in range(10):\n    print(i)\n```\nWhy does this print 10 numbers and not 11?",
                 "```python\npara i en rango(10):\n    imprimir(i)\n```\n¿Por qué imprime 10 números y no 12?",
                 "es") == ["code_altered", "number_mismatch"]


def test_check_many_matches_check(checker):
    rows = [
        ("Write a poem about autumn.", "Schreibe ein Gedicht über den Herbst.", "de"),
        ("What does `git stash` do?", "¿Qué hace `git guardar`?", "es"),
        ("Explain photosynthesis in simple terms.", "Explique la photosynthèse en termes simples.", "es"),
    ]
    many = checker.check_many(rows)
    assert [r.flags for r in many] == [checker.check(*row).flags for row in rows]


def test_unknown_or_missing_language(checker):
    with pytest.raises(ValueError):
        checker.check("Hello there my friend.", "Ciao amico mio.", "it")


# ---------------------------------------------------------------- CLI
def _write_jsonl(path: Path, rows: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")


def test_cli_translations_passes_fields_through(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "sub" / "out.jsonl"
    _write_jsonl(inp, [
        {"id": "a1", "source": "Write a poem about autumn.", "translation": "Écris un poème sur l'automne.",
         "target_lang": "fr", "meta": {"model": "x", "n": 3}},
        {"id": "a2", "source": "What does `git stash` do?", "translation": "¿Qué hace `git guardar`?",
         "target_lang": "es", "source_lang": "en"},
    ])
    result = CliRunner().invoke(qa, ["translations", "--input", str(inp), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["id"] == "a1" and rows[0]["meta"] == {"model": "x", "n": 3}
    assert rows[0]["qa_flags"] == [] and rows[0]["qa_evidence"] == {}
    assert rows[1]["qa_flags"] == ["code_altered"] and "git stash" in rows[1]["qa_evidence"]["code_altered"]
    assert "2 rows checked" in result.output
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "bad_line, record, field",
    [
        ("{not json", "line 2", None),
        ('{"source": "x", "translation": "y"}', "line 2", "target_lang"),
        ('{"source": "x", "translation": 5, "target_lang": "fr"}', "line 2", "translation"),
        ('{"source": "x", "translation": "y", "target_lang": "xx"}', "line 2", "target_lang"),
        ('["a", "b"]', "line 2", None),
    ],
)
def test_cli_translations_bad_input(tmp_path, bad_line, record, field):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = {"source": "Hello there my friend.", "translation": "Bonjour mon ami.", "target_lang": "fr"}
    _write_jsonl(inp, [good, bad_line, good])
    result = CliRunner().invoke(qa, ["translations", "--input", str(inp), "--out", str(out)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    message = str(result.exception)
    assert "\n" not in message and str(inp) in message and f"record {record}" in message
    if field:
        assert f"field '{field}'" in message
    assert not out.exists()


def test_cli_evaluate_json(tmp_path):
    dev = tmp_path / "dev.jsonl"
    _write_jsonl(dev, [
        {"source": "What does `git stash` do?", "translation": "¿Qué hace `git guardar`?", "target_lang": "es",
         "labels": ["code_altered"]},
        {"source": "Write a poem about autumn.", "translation": "Écris un poème sur l'automne.", "target_lang": "fr",
         "labels": []},
        {"source": "Write a lullaby.", "translation": "Écris une berceuse.", "target_lang": "fr",
         "labels": ["repetition"]},
    ])
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(dev), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["flags"]) == set(QA_FLAGS)
    assert report["flags"]["code_altered"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1,
                                              "tp": 1, "fp": 0, "fn": 0}
    assert report["flags"]["repetition"]["recall"] == 0.0
    assert report["micro"]["precision"] == 1.0 and report["micro"]["recall"] == 0.5


def test_cli_evaluate_rejects_unknown_label(tmp_path):
    dev = tmp_path / "dev.jsonl"
    _write_jsonl(dev, [{"source": "a b c", "translation": "a b c", "target_lang": "fr", "labels": ["typo"]}])
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(dev)])
    assert result.exit_code != 0 and "field 'labels'" in str(result.exception)


def test_cli_evaluate_table():
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(DEV)])
    assert result.exit_code == 0, result.output
    assert "micro avg" in result.output and "precision" in result.output


# ---------------------------------------------------------------- dev set
def test_dev_set_shape():
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150
    assert sum(1 for r in rows if not r["labels"]) / len(rows) >= 0.4
    for flag in QA_FLAGS:
        assert sum(1 for r in rows if flag in r["labels"]) >= 12, flag
    assert {r["target_lang"] for r in rows} >= {"fr", "es", "de"}
    assert any(len(r["labels"]) >= 2 for r in rows)


def test_dev_set_quality():
    result = CliRunner().invoke(qa, ["evaluate", "--dev", str(DEV), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["micro"]["precision"] >= 0.95
    assert report["micro"]["recall"] >= 0.95
    for flag, m in report["flags"].items():
        assert m["precision"] >= 0.85 and m["recall"] >= 0.8, (flag, m)
    assert report["clean_false_alarm_rate"] <= 0.05


def test_new_dev_split_scores():
    """The evaluation data's dev split (evaluation/translation_qa/dev.jsonl, the split the checks are tuned on;
    the sealed test split is never scored in tests), as a regression guard: macro-F1 >= 0.90, every flag F1 >=
    0.80, clean items flagged <= 5 %, per target language too. (The dev split grew on 2026-12-06 by 469 items
    written against the checks' known weak spots, omissions above all; the project's targets, 0.93 / 0.85,
    are for the sealed test split.)"""
    from bench.labelled_sets import shared_dir
    from benchmark.qa.cli import _read_rows, _run_checker, score

    if not (shared_dir() / "data" / "just-eval-instruct").is_dir():
        pytest.skip("../shared (the Just-Eval reference data) is not here")
    path = Path(__file__).resolve().parents[1] / "evaluation" / "translation_qa" / "dev.jsonl"
    rows = _read_rows(str(path), labelled=True)
    results = _run_checker(rows)
    report = score([r["labels"] for _, r in rows], [res.flags for res in results])
    assert report["macro"]["f1"] >= 0.90, report["macro"]
    assert all(m["f1"] >= 0.80 for m in report["flags"].values()), report["flags"]
    assert report["clean_false_alarm_rate"] <= 0.05
    for lang in ("fr", "es"):
        part = [(r, res) for (_, r), res in zip(rows, results) if r["target_lang"] == lang]
        clean = [res for r, res in part if not r["labels"]]
        assert len(clean) >= 60 and sum(1 for res in clean if res.flags) <= 0.05 * len(clean), lang
