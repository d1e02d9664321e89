"""Critical errors after the fourth dev round (2026-12-06): code asked for in French and Spanish ("implémente une
fonction", "una aplicación Android"), and a Markdown or HTML fence when the instruction is about that markup.
Positives and hard negatives in EN/FR/ES, written here."""
from __future__ import annotations

import pytest

from baselines.errors.critical_errors import CriticalErrorDetector
from baselines.errors.instruction_features import instruction_features

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
