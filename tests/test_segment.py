"""Segmentation, protection and reassembly of instructions around machine translation."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmark.segment import (
    MASK_PATTERN, MAX_REQUEST_CHARS, AssembleResult, ItemPlan, Unit, mask, plan_item, protect, restore,
)

SOURCE = (Path(__file__).resolve().parents[2] / "shared" / "data" / "just-eval-instruct"
          / "just_eval_instruct.jsonl")


def identity(plan: ItemPlan) -> dict[str, str]:
    return {r: r for r in plan.requests()}


def translate(plan: ItemPlan, fn, max_rounds: int = 3) -> AssembleResult:
    """Drive ``assemble`` like the builder: translate missing requests until done."""
    translations: dict[str, str] = {}
    pending = plan.requests()
    for _ in range(max_rounds):
        translations.update({r: fn(r) for r in pending})
        res = plan.assemble(translations)
        if res.text is not None:
            return res
        assert res.missing and not set(res.missing) & translations.keys()
        pending = res.missing
    raise AssertionError("did not converge")


def drop_markers_upper(text: str) -> str:
    """An adversarial MT system: uppercases everything and loses every marker."""
    return MASK_PATTERN.sub("", text).upper()


def all_spans(plan: ItemPlan) -> list[str]:
    return [s for u in plan.units for s in u.spans]


@pytest.fixture(scope="module")
def real_instructions() -> list[str]:
    if not SOURCE.is_file():
        pytest.skip(f"real source data not found at {SOURCE} (needs the shared/ folder next to the repo)")
    with SOURCE.open(encoding="utf-8") as f:
        texts = [json.loads(line)["instruction"] for line in f if line.strip()]
    assert len(texts) == 1000
    return texts


# ---------------------------------------------------------------------------------------------
# Real data


def test_identity_round_trip_on_real_instructions(real_instructions):
    plans = [plan_item(t) for t in real_instructions]
    for text, plan in zip(real_instructions, plans):
        res = plan.assemble(identity(plan))
        assert res.missing == [] and res.fallbacks == 0
        assert res.text == text
        for r in plan.requests():
            assert r == r.strip() and any(c.isalpha() for c in r)
            assert len(r) <= MAX_REQUEST_CHARS or "." not in r.rstrip(".")  # long ones only if unsplittable


def test_adversarial_translator_keeps_spans_and_code_on_real_instructions(real_instructions):
    for text in real_instructions:
        plan = plan_item(text)
        res = translate(plan, drop_markers_upper)
        assert res.text is not None
        for span in all_spans(plan):
            assert span in res.text
        for block in re.findall(r"```.*?```", text, re.S):
            assert block in res.text
        assert res.text.count("\n") == text.count("\n")


def test_real_code_is_kept(real_instructions):
    by_start = {t[:40]: t for t in real_instructions}
    latex = next(t for k, t in by_start.items() if k.startswith("What is the output of the given LATEX"))
    plan = plan_item(latex)
    assert plan.requests() == ["What is the output of the given LATEX code?"]
    sql = next(t for t in real_instructions if "left join Address" in t)
    reqs = plan_item(sql).requests()
    assert not any("join" in r or "select" in r for r in reqs)
    assert "Implementation:" in reqs and "Column Name" in reqs and "varchar" not in reqs
    java = next(t for t in real_instructions if t.startswith("What is the error with this code"))
    assert plan_item(java).requests() == ["What is the error with this code: ⟦0⟧"]


# ---------------------------------------------------------------------------------------------
# protect / restore


@pytest.mark.parametrize("text, masked, spans", [
    ("Use `git status` to check.", "Use ⟦0⟧ to check.", ("`git status`",)),
    ("Use ``a ` b`` and ```x```.", "Use ⟦0⟧ and ⟦1⟧.", ("``a ` b``", "```x```")),
    ("see https://x.org/a.", "see ⟦0⟧.", ("https://x.org/a",)),
    ("Read (https://en.wikipedia.org/wiki/Python_(language)), then go.",
     "Read (⟦0⟧), then go.", ("https://en.wikipedia.org/wiki/Python_(language)",)),
    ("Visit www.example.com, or https://a.b/c?q=1&r=2!", "Visit ⟦0⟧, or ⟦1⟧!",
     ("www.example.com", "https://a.b/c?q=1&r=2")),
    ("Mail john.doe+x@mail.example.co.uk.", "Mail ⟦0⟧.", ("john.doe+x@mail.example.co.uk",)),
    ("Dear {name}, your code is {{code}}.", "Dear ⟦0⟧, your code is ⟦1⟧.", ("{name}", "{{code}}")),
    ("Print %s items and %d users, %(n)d left.", "Print ⟦0⟧ items and ⟦1⟧ users, ⟦2⟧ left.",
     ("%s", "%d", "%(n)d")),
    ("Set $HOME and ${PATH} first.", "Set ⟦0⟧ and ⟦1⟧ first.", ("$HOME", "${PATH}")),
    ("Click [LINK] and sign as <NAME>.", "Click ⟦0⟧ and sign as ⟦1⟧.", ("[LINK]", "<NAME>")),
    ("Given a <span> in HTML, style <a href=\"x\">it</a>.", "Given a ⟦0⟧ in HTML, style ⟦1⟧it⟦2⟧.",
     ("<span>", "<a href=\"x\">", "</a>")),
    ("what does \\multirow{5}{*} do", "what does ⟦0⟧ do", ("\\multirow{5}{*}",)),
    ("Solve $x^2 = 4$ now.", "Solve ⟦0⟧ now.", ("$x^2 = 4$",)),
    ("Run preprocess.py on checkpoints/ and ~/data.", "Run ⟦0⟧ on ⟦1⟧ and ⟦2⟧.",
     ("preprocess.py", "checkpoints/", "~/data")),
    ("Why is new_list = my_list shared?", "Why is ⟦0⟧ = ⟦1⟧ shared?", ("new_list", "my_list")),
    ("Literal ⟦0⟧ stays.", "Literal ⟦0⟧ stays.", ("⟦0⟧",)),
    ("What is the error with this code: int x = 0;", "What is the error with this code: ⟦0⟧",
     ("int x = 0;",)),
])
def test_protect(text, masked, spans):
    unit = protect(text)
    assert unit == Unit(masked, spans)
    assert restore(unit.masked, unit) == text


@pytest.mark.parametrize("text", [
    "I paid $47.50, a 14% tip, for 99% of the time.",
    "My friend(s) and I (Anna, Bob) bought 3 apples.",
    "Is 5 < 7 and 9 > 2?",
    "Use and/or carefully, e.g. at 240mg/day, i.e. often.",
    "The U.S. and J.R.R. Tolkien; an iPhone on eBay.",
    "Why did the government(USA) vote?",
    "How can it be revamped/",
    "Write [Your Name] in the {} box.",
])
def test_ordinary_text_is_not_over_protected(text):
    unit = protect(text)
    assert unit.spans in ((), ("{}",))


def test_restore_tolerates_marker_variants():
    unit = protect("Explain `x` and `y` briefly.")
    assert unit.masked == "Explain ⟦0⟧ and ⟦1⟧ briefly."
    for out in ["Explique ⟦ 1 ⟧ et ⟦0⟧ brièvement.", "Explique 〚1〛 et [[ 0 ]] brièvement.",
                "Explique ⟦١⟧ et ⟦٠⟧ brièvement."]:
        assert restore(out, unit) == "Explique `y` et `x` brièvement."


@pytest.mark.parametrize("out", [
    "Explique ⟦0⟧ brièvement.",             # missing
    "Explique ⟦0⟧ et ⟦0⟧ ⟦1⟧.",              # duplicated
    "Explique ⟦0⟧ et ⟦1⟧ et ⟦2⟧.",           # unknown
])
def test_restore_rejects_bad_markers(out):
    unit = protect("Explain `x` and `y` briefly.")
    assert restore(out, unit) is None


def test_restore_without_spans():
    unit = protect("Hello there.")
    assert unit.spans == () and restore("Bonjour.", unit) == "Bonjour."
    assert restore("Bonjour ⟦0⟧.", unit) is None


def test_mask_pattern():
    assert mask(3) == "⟦3⟧" and MASK_PATTERN.fullmatch("⟦12⟧")


# ---------------------------------------------------------------------------------------------
# assemble: rounds and fallback


def test_assemble_reports_missing_then_completes():
    plan = plan_item("Explain `ls -la` please.\n\nAnd `pwd` too.")
    reqs = plan.requests()
    assert reqs == ["Explain ⟦0⟧ please.", "And ⟦0⟧ too."]
    res = plan.assemble({reqs[0]: "Explique ⟦0⟧ s'il te plaît."})
    assert res.text is None and res.missing == [reqs[1]]
    res = plan.assemble({reqs[0]: "Explique ⟦0⟧ s'il te plaît.", reqs[1]: "  Et ⟦0⟧ aussi.\n"})
    assert res.text == "Explique `ls -la` s'il te plaît.\n\nEt `pwd` aussi."


def test_fallback_when_markers_dropped():
    text = "  Send the file to a@b.com, then open https://x.org/a. Done?  "
    plan = plan_item(text)
    (req,) = plan.requests()
    assert req == "Send the file to ⟦0⟧, then open ⟦1⟧. Done?"
    res = plan.assemble({req: "Envoie le fichier, puis ouvre. Fini ?"})
    assert res.text is None and res.fallbacks == 1
    assert res.missing == ["Send the file to", "then open", "Done?"]  # punctuation next to spans is copied
    translations = {req: "Envoie le fichier, puis ouvre. Fini ?", "Send the file to": "Envoie le fichier à",
                    "then open": "puis ouvre", "Done?": "Fini ?"}
    res = plan.assemble(translations)
    assert res.text == "  Envoie le fichier à a@b.com, puis ouvre https://x.org/a. Fini ?  "


def test_fallback_on_hallucinated_marker_without_spans():
    plan = plan_item("Write a poem.")
    res = plan.assemble({"Write a poem.": "Écris un ⟦0⟧ poème."})
    assert res.text == "Écris un poème." and res.fallbacks == 1


def test_adversarial_translator_keeps_every_span():
    text = ("Fix `foo()` in main.py, see https://docs.python.org/3/ and mail me@x.io.\n"
            "- Use {user} and %s\n  - nested `bar` item\n\n```python\nprint('hi')\n```\n")
    plan = plan_item(text)
    res = translate(plan, drop_markers_upper)
    assert res.fallbacks >= 1
    for span in ["`foo()`", "main.py", "https://docs.python.org/3/", "me@x.io", "{user}", "%s", "`bar`",
                 "```python\nprint('hi')\n```\n"]:
        assert span in res.text
    assert res.text.startswith("FIX `foo()` IN main.py")
    assert "\n- USE {user} AND %s\n  - NESTED `bar` ITEM\n\n```python" in res.text


# ---------------------------------------------------------------------------------------------
# segmentation


def test_paragraphs_lists_and_whitespace():
    text = ("\n  Intro line:\n\n1. First step.\n2. Second step\n   * nested a\n   * nested b\n"
            "a) option\n# Heading\n> quoted text\n- [ ] todo item\n\n\nLast paragraph.  \n")
    plan = plan_item(text)
    assert plan.requests() == ["Intro line:", "First step.", "Second step", "nested a", "nested b", "option",
                               "Heading", "quoted text", "todo item", "Last paragraph."]
    assert plan.assemble(identity(plan)).text == text
    upper = plan.assemble({r: r.upper() for r in plan.requests()}).text
    assert upper == text.replace("Intro line", "INTRO LINE").replace("First step", "FIRST STEP") \
        .replace("Second step", "SECOND STEP").replace("nested a", "NESTED A").replace("nested b", "NESTED B") \
        .replace("option", "OPTION").replace("Heading", "HEADING").replace("quoted text", "QUOTED TEXT") \
        .replace("todo item", "TODO ITEM").replace("Last paragraph", "LAST PARAGRAPH")


def test_fenced_code_is_verbatim_including_unclosed():
    text = "Fix this:\n\n~~~js\nlet x = 'hello world';\n~~~\nAnd this:\n```\nfoo bar baz\nmore text"
    plan = plan_item(text)
    assert plan.requests() == ["Fix this:", "And this:"]
    res = plan.assemble({"Fix this:": "Corrige ceci :", "And this:": "Et ceci :"})
    assert res.text == ("Corrige ceci :\n\n~~~js\nlet x = 'hello world';\n~~~\nEt ceci :\n```\nfoo bar baz\n"
                        "more text")


def test_inline_triple_backticks_are_not_a_fence():
    plan = plan_item("```x = 1``` changes ```y```.\nWhy?")
    assert plan.requests() == ["⟦0⟧ changes ⟦1⟧.", "Why?"]


def test_windows_and_old_mac_line_endings():
    text = "First line.\r\n\r\n- item one\r\n- item two\r\n```\r\ncode here\r\n```\r\nEnd.\rOld mac."
    plan = plan_item(text)
    assert plan.requests() == ["First line.", "item one", "item two", "End.", "Old mac."]
    assert all("\r" not in r for r in plan.requests())
    assert plan.assemble(identity(plan)).text == text
    out = plan.assemble({r: r.upper() for r in plan.requests()}).text
    assert out == "FIRST LINE.\r\n\r\n- ITEM ONE\r\n- ITEM TWO\r\n```\r\ncode here\r\n```\r\nEND.\rOLD MAC."


def test_br_tags_split_segments():
    text = "Why is it?<br>Consider this:<br><br>100g = 400kCal<br>"
    plan = plan_item(text)
    assert plan.requests() == ["Why is it?", "Consider this:", "100g = 400kCal"]
    assert plan.assemble(identity(plan)).text == text


def test_unfenced_code_lines_are_kept():
    text = ("Identify and fix bugs in the given code\n\nfor i in range(10)\n    print(Answer is:)\n    print(i)\n\n"
            "if (x > 1) {\n  printf(\"x is big\");\n}\nExplain the bug in one sentence.")
    plan = plan_item(text)
    assert plan.requests() == ["Identify and fix bugs in the given code", "Explain the bug in one sentence."]


def test_long_paragraph_split_at_sentences():
    sentences = [f"Sentence number {i} talks about Dr. Smith and the U.S. economy, e.g. taxes." for i in range(12)]
    text = "Intro.\n\n" + " ".join(sentences) + "  \nTail."
    plan = plan_item(text)
    reqs = plan.requests()
    assert len(reqs) > 4
    assert all(len(r) <= MAX_REQUEST_CHARS for r in reqs)
    body = [r for r in reqs if r not in ("Intro.", "Tail.")]
    assert " ".join(body) == " ".join(sentences)
    assert all(r.endswith("taxes.") for r in body)  # never cut after Dr. / U.S. / e.g.
    assert plan.assemble(identity(plan)).text == text


def test_long_paragraph_does_not_split_inside_protected_spans():
    code = "`a. B c. D`"
    text = ("Word " * 90).strip() + f". Then use {code} here. " + ("More words here. " * 10).strip()
    plan = plan_item(text)
    assert any(code in u.spans for u in plan.units)
    assert plan.assemble(identity(plan)).text == text


def test_requests_without_letters_are_not_sent():
    text = "`x`\n\n42.\n\n---\n\n- `y`, `z`\n\nReal text."
    plan = plan_item(text)
    assert plan.requests() == ["Real text."]
    assert plan.assemble({"Real text.": "Vrai texte."}).text == text.replace("Real text.", "Vrai texte.")


def test_table_cells():
    text = "| Column Name | Type |\n|---|---|\n| personId | int |\n| Big city | varchar |"
    plan = plan_item(text)
    assert plan.requests() == ["Column Name", "Type", "Big city"]
    assert plan.assemble(identity(plan)).text == text


def test_requests_are_distinct_and_empty_text():
    plan = plan_item("Yes.\n\nYes.\n")
    assert plan.requests() == ["Yes."]
    assert plan.assemble({"Yes.": "Oui."}).text == "Oui.\n\nOui.\n"
    empty = plan_item("")
    assert empty.requests() == [] and empty.assemble({}).text == ""


@pytest.mark.parametrize("text, requests", [
    ("Rewrite this:\nThe cat (a small one) sat on the mat;",
     ["Rewrite this:", "The cat (a small one) sat on the mat;"]),
    ("if you can, please help me {urgent}", ["if you can, please help me ⟦0⟧"]),
    ("Rate from 1-10 => explain.", ["Rate from 1-10 => explain."]),
    ("Fix this code (Python)\nx = 1\nprint(x)", ["Fix this code (Python)"]),
    ("Explain this code:\nfor item in items:\n    total += item\nreturn total", ["Explain this code:"]),
    ("What does this do?\nSELECT name FROM users WHERE id = 1;\nThanks!", ["What does this do?", "Thanks!"]),
    ("public class Main {\n  public static void main(String[] args) {\n    System.out.println(\"Hi there\");\n  }\n}",
     []),
    ("<div>\n  <p>Hello world, this is my page.</p>\n</div>\nWhat does this HTML render?",
     ["What does this HTML render?"]),
])
def test_code_versus_prose_lines(text, requests):
    plan = plan_item(text)
    assert plan.requests() == requests
    assert plan.assemble(identity(plan)).text == text


def test_random_texts_round_trip_and_keep_spans():
    """Property: identity gives the text back; a marker-dropping translator never loses a span."""
    import random

    rng = random.Random(7)
    atoms = ["Hello", "world", " ", "  ", "\n", "\r\n", "\r", "\n\n", "`code`", "`", "```", "```py\n", "~~~",
             "https://x.org/a.", "a@b.co", "{name}", "%s", "$HOME", "<br>", "<span>", "- ", "1. ", "* ", "    ", "\t",
             "|", " | ", "x = 1;", "if (a) {", "}", "⟦0⟧", "⟦", "⟧", "〚", "[[1]]", "[[", "0", ".", "?", "Dr.",
             "U.S.",
             "\\begin{x}", "\\end{x}", "é", "日本", "\xa0", "(", ")", ":", "foo_bar", "The cat sat.", "Why? ",
             "A" * 60 + ". ", "select a", "from b", "$", "x$"]
    for _ in range(2000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 40)))
        plan = plan_item(text)
        res = plan.assemble(identity(plan))
        assert res.text == text and res.fallbacks == 0, text
        res = translate(plan, drop_markers_upper, max_rounds=2)
        for span in all_spans(plan):
            assert span in res.text, (text, span)
        for part in plan.parts:
            if isinstance(part, str):
                assert part in res.text, (text, part)
