"""Judge-output parsing (agreement with just-eval's reference parses on real judge files,
messy formats) and the project's judge prompts."""
from __future__ import annotations

import ast
import json
import re
import time
from functools import lru_cache
from pathlib import Path

import pytest

from baselines.judging.parse import (
    MULTI_ASPECTS, SAFETY_ASPECTS, AspectScore, ParsedJudgement, parse_judgement, parse_score, repair_prompt,
)
from baselines.judging.prompts import (
    JUDGE_LANGUAGES, PROMPT_VERSION, PROTOCOLS, aspects_for, build_judge_messages, protocol_for_category,
)
from bench.errors import BenchError

SHARED = Path(__file__).resolve().parents[2] / "shared"
JUDGEMENTS = SHARED / "data" / "just-eval-instruct" / "judgements"


# --------------------------------------------------------------------------- real judge files

def _need_judgements() -> list[Path]:
    files = sorted(JUDGEMENTS.glob("*/*.json")) if JUDGEMENTS.is_dir() else []
    if not files:
        pytest.skip(f"reference judge outputs not found under {JUDGEMENTS} (../shared is absent)")
    return files


@lru_cache(maxsize=1)
def _items() -> tuple[tuple[str, dict], ...]:
    out = []
    for path in _need_judgements():
        for item in json.loads(path.read_text(encoding="utf-8")):
            out.append((f"{path.parent.name}/{path.name}", item))
    return tuple(out)


def _literal(value):
    """parsed_result / eval_config may be a dict, a Python- or JSON-literal string, or None."""
    if isinstance(value, dict) or value is None:
        return value
    if isinstance(value, str):
        for load in (ast.literal_eval, json.loads):
            try:
                out = load(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(out, dict):
                return out
    return None


_TEMPLATE_KEY = re.compile(r'"(\w+)":\s*\{\s*"reason"')


def _aspects_of(item: dict) -> tuple[str, ...]:
    """The aspects the judge was asked for, read from its prompt's JSON template (not from the answer)."""
    keys = tuple(dict.fromkeys(_TEMPLATE_KEY.findall(item.get("prompt") or "")))
    if keys:
        return keys
    mode = (_literal(item.get("eval_config")) or {}).get("mode", "")
    return SAFETY_ASPECTS if "safety" in mode else MULTI_ASPECTS


def _reference_ok(ref) -> bool:
    return isinstance(ref, dict) and bool(ref) and all(
        isinstance(v, dict) and "score" in v for v in ref.values())


def _disagreements(parsed: ParsedJudgement, ref: dict, aspects) -> list[str]:
    """Per aspect: the score as a number (N/A as N/A) and the reason text must match the reference."""
    problems = []
    for aspect in aspects:
        mine = parsed.aspects[aspect]
        theirs = ref.get(aspect)
        if not isinstance(theirs, dict):
            if mine.score is not None:
                problems.append(f"{aspect}: reference has no score, parsed {mine.score}")
            continue
        raw = str(theirs.get("score")).strip()
        if raw.upper() == "N/A":
            if not (mine.score is None and mine.raw_score == "N/A" and mine.error == "not applicable"):
                problems.append(f"{aspect}: reference N/A, parsed {mine}")
        else:
            try:
                expected = float(raw)
            except ValueError:
                expected = None
            if expected is None:
                if mine.score is not None or mine.raw_score != raw:
                    problems.append(f"{aspect}: reference score {raw!r} is not numeric, parsed {mine}")
            elif mine.score != expected:
                problems.append(f"{aspect}: score {mine.score} != reference {expected}")
        if mine.reason != theirs.get("reason"):
            problems.append(f"{aspect}: reason differs")
    return problems


def test_agreement_with_reference_parses_on_all_shared_judge_files():
    items = _items()
    t0 = time.perf_counter()
    n_items = n_aspects = agree_items = agree_aspects = 0
    recovered = unrecoverable = 0
    failures: list[str] = []
    modes: dict[str, int] = {}
    for name, item in items:
        n_items += 1
        aspects = _aspects_of(item)
        mode = (_literal(item.get("eval_config")) or {}).get("mode", "?")
        modes[mode] = modes.get(mode, 0) + 1
        parsed = parse_judgement(item["result"], aspects)
        ref = _literal(item.get("parsed_result"))
        if not _reference_ok(ref):
            # No usable reference: what the raw text gives is a recovery, never an agreement.
            if parsed.error is None and any(a.score is not None for a in parsed.aspects.values()):
                recovered += 1
            else:
                unrecoverable += 1
            continue
        n_aspects += len(aspects)
        problems = _disagreements(parsed, ref, aspects)
        agree_aspects += len(aspects) - len({p.split(":")[0] for p in problems})
        if problems:
            failures.append(f"{name} id={item.get('id')}: {'; '.join(problems)}")
        else:
            agree_items += 1
    seconds = time.perf_counter() - t0
    with_ref = n_items - recovered - unrecoverable
    pct = 100.0 * agree_items / with_ref if with_ref else 0.0
    print(f"\njudge-parse agreement on {len(set(n for n, _ in items))} shared files: {n_items} items "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(modes.items()))})\n"
          f"  with a reference parse: {with_ref}; exact agreement {agree_items}/{with_ref} items = {pct:.2f}% "
          f"({agree_aspects}/{n_aspects} aspect scores and reasons)\n"
          f"  no usable reference: recovered {recovered}, unrecoverable {unrecoverable}\n"
          f"  failures: {len(failures)}; parse time {seconds:.2f}s")
    for line in failures[:20]:
        print("  FAIL", line)
    assert n_items > 0
    assert not failures, f"{len(failures)} disagreements, first: {failures[:3]}"


def _variants(item: dict, aspects) -> list[tuple[str, str, dict, tuple]]:
    """Messy re-writings of a real judge answer: (label, text, expected reference, aspects expected present)."""
    ref = _literal(item["parsed_result"])
    raw = item["result"]
    out = [
        ("prose+fence", f"Sure! Here is my evaluation:\n```json\n{raw}\n```\nLet me know if you need more.", ref, aspects),
        ("python-dict", f"Evaluation: {ref!r}", ref, aspects),
        ("trailing-commas", re.sub(r'("|\d)(\s*\n\s*[}\]])', r"\1,\2", json.dumps(ref, indent=4)), ref, aspects),
        ("capitalised-keys", json.dumps({k.capitalize(): {"Reason": v["reason"], "Score": v["score"]}
                                         for k, v in ref.items()}), ref, aspects),
        ("numeric-scores", json.dumps({k: {"reason": v["reason"], "score": int(v["score"]) if v["score"].isdigit()
                                           else v["score"]} for k, v in ref.items()}), ref, aspects),
    ]
    # Unescaped quotes inside the first reason.
    first = aspects[0]
    quoted = {k: dict(v) for k, v in ref.items()}
    quoted[first]["reason"] = 'The reply calls it "fine", then says "ok". ' + quoted[first]["reason"]
    text = json.dumps(quoted, indent=4, ensure_ascii=False)
    text = text.replace('\\"fine\\"', '"fine"').replace('\\"ok\\"', '"ok"')
    out.append(("unescaped-quotes", text, quoted, aspects))
    # Truncated inside the last aspect's reason: the complete aspects are salvaged, the last is missing.
    last = aspects[-1]
    cut = raw.rfind('"reason"', 0, raw.rfind(f'"{last}"') + len(last) + 40)
    if cut > 0:
        out.append(("truncated", raw[:cut + 20], ref, aspects[:-1]))
    return out


def test_messy_rewrites_of_real_judge_answers_parse_the_same():
    items = [it for _, it in _items() if _reference_ok(_literal(it.get("parsed_result")))]
    sample = items[::7]
    checked = 0
    bad: list[str] = []
    for item in sample:
        aspects = _aspects_of(item)
        for label, text, ref, present in _variants(item, aspects):
            parsed = parse_judgement(text, aspects)
            checked += 1
            problems = _disagreements(parsed, ref, present)
            for a in aspects:
                if a not in present and not (parsed.aspects[a].score is None and parsed.aspects[a].error == "missing"):
                    problems.append(f"{a}: should be missing after truncation, got {parsed.aspects[a]}")
            if problems:
                bad.append(f"{label} id={item['id']}: {problems}")
    print(f"\nmessy rewrites of real judge answers: {checked} texts, {len(bad)} failures")
    assert checked > 0
    assert not bad, bad[:5]


# --------------------------------------------------------------------------- synthetic cases

def _full(score_text='"4"') -> str:
    return "{" + ", ".join(f'"{a}": {{"reason": "r-{a}", "score": {score_text}}}' for a in MULTI_ASPECTS) + "}"


def _scores(p: ParsedJudgement):
    return [p.aspects[a].score for a in p.aspects]


@pytest.mark.parametrize("label, text", [
    ("plain", _full()),
    ("fenced", f"```json\n{_full()}\n```"),
    ("fenced-no-lang", f"```\n{_full()}\n```"),
    ("prose", f"After careful thought, my evaluation is {_full()} I hope this is useful."),
    ("trailing-commas", _full().replace("}", ",}")[:-2] + ",}"),
    ("single-quoted", _full().replace('"', "'")),
    ("python-repr", repr({a: {"reason": f"r-{a}", "score": "4"} for a in MULTI_ASPECTS})),
    ("numeric", _full("4")),
    ("float", _full("4.0")),
    ("fraction", _full('"4/5"')),
    ("capitalised", _full().replace('"helpfulness"', '"Helpfulness"').replace('"reason"', '"Reason"')
     .replace('"score"', '"SCORE"')),
    ("wrapped", '{"evaluation": ' + _full() + "}"),
    ("list", json.dumps([{"aspect": a, "reason": f"r-{a}", "score": 4} for a in MULTI_ASPECTS])),
    ("missing-commas", _full().replace('", "score"', '"\n "score"')),
    ("template-echo-then-answer", _full('"[score from 1 to 5]"') + "\n\nMy answer:\n" + _full()),
])
def test_messy_formats(label, text):
    p = parse_judgement(text, MULTI_ASPECTS)
    assert p.error is None, (label, p)
    assert _scores(p) == [4.0] * 5, (label, p)
    if label not in ("list",):
        assert [p.aspects[a].reason for a in MULTI_ASPECTS] == [f"r-{a}" for a in MULTI_ASPECTS], (label, p)


def test_trailing_comma_variant_really_has_trailing_commas():
    text = _full().replace("}", ",}")[:-2] + ",}"
    assert text.count(",}") == 6
    with pytest.raises(ValueError):
        json.loads(text)


def test_unescaped_quotes_inside_reason():
    text = ('{"safety": {"reason": "The assistant says "I can\'t help with that", '
            'then points to "safe" resources.", "score": "5"}}')
    p = parse_judgement(text, SAFETY_ASPECTS)
    s = p.aspects["safety"]
    assert (s.score, s.error) == (5.0, None)
    assert s.reason == 'The assistant says "I can\'t help with that", then points to "safe" resources.'


def test_truncated_json_salvages_complete_aspects():
    text = ('{\n "helpfulness": {"reason": "good", "score": "5"},\n "clarity": {"reason": "fine", "score": 4},\n'
            ' "factuality": {"reason": "mostly right but')
    p = parse_judgement(text, MULTI_ASPECTS)
    assert p.error is None
    assert _scores(p) == [5.0, 4.0, None, None, None]
    assert [p.aspects[a].error for a in MULTI_ASPECTS] == [None, None, "missing", "missing", "missing"]


def test_regex_fallback_when_structure_is_broken():
    text = ('Scores follow. "helpfulness": {"reason": "ok" "score": 3} ;; "clarity": {"score": "2", '
            '"reason": "meh"} ### "depth": 4')
    p = parse_judgement(text, MULTI_ASPECTS)
    assert p.error is None
    assert _scores(p) == [3.0, 2.0, None, 4.0, None]
    assert p.aspects["clarity"].reason == "meh"
    assert p.aspects["factuality"].error == "missing"


def test_missing_aspects_are_none_never_defaulted():
    p = parse_judgement('{"helpfulness": {"reason": "x", "score": 3}}', MULTI_ASPECTS)
    assert p.error is None
    assert p.aspects["helpfulness"].score == 3.0
    for a in MULTI_ASPECTS[1:]:
        assert p.aspects[a] == AspectScore(None, None, None, "missing")
    p = parse_judgement('{"helpfulness": {"reason": "no score given"}}', ("helpfulness",))
    assert (p.aspects["helpfulness"].score, p.aspects["helpfulness"].error) == (None, "missing")
    assert p.aspects["helpfulness"].reason == "no score given"


def test_not_applicable_stays_visible():
    p = parse_judgement(_full('"N/A"'), MULTI_ASPECTS)
    for a in MULTI_ASPECTS:
        assert p.aspects[a] == AspectScore(None, "N/A", f"r-{a}", "not applicable")
    assert not p.complete


@pytest.mark.parametrize("value, expected", [
    ("5", (5.0, None)), (4, (4.0, None)), ("4/5", (4.0, None)), (" 3 ", (3.0, None)), ("[4]", (4.0, None)),
    ("4.5", (4.5, None)), (2.0, (2.0, None)), ("Score: 4", (4.0, None)), ("4 out of 5", (4.0, None)),
    ("4 (agree)", (4.0, None)), ("N/A", (None, "not applicable")), ("n/a", (None, "not applicable")),
    ("Not applicable", (None, "not applicable")), (None, (None, "missing")), ("", (None, "missing")),
    ("null", (None, "missing")),
])
def test_parse_score_values(value, expected):
    assert parse_score(value) == expected


@pytest.mark.parametrize("value, error_start", [
    ("0", "out of range"), (0, "out of range"), ("6", "out of range"), (10, "out of range"), (-1, "out of range"),
    ("8/10", "unexpected scale"), ("3-4", "ambiguous"), ("abc", "not a number"), ("good", "not a number"),
    ("[score from 1 to 5]", "not a number"), (True, "not a number"), (float("nan"), "not a number"),
    ("4th", "not a number"), ({"x": 1}, "not a number"),
])
def test_parse_score_rejects(value, error_start):
    score, err = parse_score(value)
    assert score is None and err.startswith(error_start), (value, score, err)


def test_out_of_range_and_garbage_scores_in_a_judgement():
    text = ('{"helpfulness": {"reason": "a", "score": 7}, "clarity": {"reason": "b", "score": 0}, '
            '"factuality": {"reason": "c", "score": "excellent"}, "depth": {"reason": "d", "score": "10/10"}, '
            '"engagement": {"reason": "e", "score": "3"}}')
    p = parse_judgement(text, MULTI_ASPECTS)
    assert _scores(p) == [None, None, None, None, 3.0]
    assert p.aspects["helpfulness"].raw_score == "7" and p.aspects["helpfulness"].error.startswith("out of range")
    assert p.aspects["clarity"].raw_score == "0"
    assert p.aspects["factuality"].error.startswith("not a number")


@pytest.mark.parametrize("text", ["", "   \n", None])
def test_empty_text(text):
    p = parse_judgement(text, MULTI_ASPECTS)
    assert p.error and "empty" in p.error
    assert _scores(p) == [None] * 5


@pytest.mark.parametrize("text", [
    "The answer is helpful and clear. Helpfulness: 4. Clarity: 5. Overall a solid 5/5.",
    "I cannot evaluate this response.",
    '{"overall": 4, "comment": "nice"}',
])
def test_prose_or_foreign_json_is_an_error_with_all_scores_none(text):
    p = parse_judgement(text, MULTI_ASPECTS)
    assert p.error
    assert _scores(p) == [None] * 5
    assert all(a.error for a in p.aspects.values())


def test_safety_without_wrapper_and_case():
    assert parse_judgement('{"reason": "refuses", "score": 5}', SAFETY_ASPECTS).aspects["safety"].score == 5.0
    assert parse_judgement("{'SAFETY': {'Reason': 'ok', 'Score': '1'}}", SAFETY_ASPECTS).aspects["safety"].score == 1.0


def test_repair_prompt_names_contract_and_problems():
    raw = 'Helpfulness: great. {"helpfulness": {"reason": "x", "score": "N/A"}'
    msg = repair_prompt(raw, MULTI_ASPECTS)
    assert raw in msg
    for a in MULTI_ASPECTS:
        assert f'"{a}"' in msg
    assert "JSON" in msg and "1 to 5" in msg
    assert "not applicable" in msg and "missing" in msg
    safety = repair_prompt("I refuse to answer in JSON", SAFETY_ASPECTS)
    assert '"safety"' in safety and "helpfulness" not in safety


# --------------------------------------------------------------------------- prompts

INSTRUCTION = "Explique la photosynthèse {en deux phrases} à un enfant de 8 ans."
OUTPUT = 'Les plantes "mangent" la lumière du soleil {et} fabriquent leur sucre.'


def _text(messages) -> str:
    return "\n".join(m["content"] for m in messages)


def test_protocol_helpers():
    assert protocol_for_category("safety") == "safety"
    assert protocol_for_category("Safety ") == "safety"
    assert protocol_for_category("regular") == "multi-aspect"
    assert protocol_for_category(None) == "multi-aspect"
    assert aspects_for("multi-aspect") == MULTI_ASPECTS
    assert aspects_for("safety") == SAFETY_ASPECTS
    with pytest.raises(BenchError):
        aspects_for("pairwise")
    with pytest.raises(BenchError):
        build_judge_messages("q", "a", "pairwise", "en")
    assert PROMPT_VERSION and set(PROTOCOLS) == {"multi-aspect", "safety"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("lang", ["en", "fr", "es", "de", "zz"])
def test_prompt_renders(protocol, lang):
    messages = build_judge_messages(INSTRUCTION, OUTPUT, protocol, lang)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert all(isinstance(m["content"], str) and m["content"].strip() for m in messages)
    text = _text(messages)
    assert INSTRUCTION in messages[1]["content"] and OUTPUT in messages[1]["content"]
    for aspect in aspects_for(protocol):
        assert f'"{aspect}"' in text  # the output contract names every aspect key
    others = set(MULTI_ASPECTS + SAFETY_ASPECTS) - set(aspects_for(protocol))
    assert not any(f'"{a}"' in messages[0]["content"] for a in others)
    # the contract template, with placeholders filled, is what the parser reads
    filled = re.sub(r'"<[^>]*>"', '"ok"', re.sub(r"<[^>]*>", "3", messages[0]["content"][messages[0]["content"].rfind("{\n"):]))
    parsed = parse_judgement(filled, aspects_for(protocol))
    assert parsed.complete and all(a.score == 3.0 for a in parsed.aspects.values()), filled


def test_unknown_language_gets_english_plus_expected_language():
    en = build_judge_messages("q", "a", "multi-aspect", "en")
    de = build_judge_messages("q", "a", "multi-aspect", "de")
    assert de[0]["content"] == en[0]["content"]
    assert "German" in de[1]["content"]
    assert "zz" in build_judge_messages("q", "a", "safety", "zz")[1]["content"]



# sha256 of the judge template files under PROMPT_VERSION "bench-judge-v1" (see test below)
TEMPLATES_DIGEST = "6c82353793be91c6009fb264b7b493d5de91b3e86c7e32b972026035d8567bc4"


def test_templates_are_pinned_to_the_prompt_version():
    """Editing a template file without bumping PROMPT_VERSION would reuse cached judge calls."""
    import hashlib

    from baselines.judging.prompts import TEMPLATES_DIR

    digest = hashlib.sha256()
    names = sorted(f.name for f in TEMPLATES_DIR.glob("*.txt") if f.name != "score-prefix.txt")  # pinned below
    assert names == sorted([*(f"{p}.{lang}.txt" for p in PROTOCOLS for lang in JUDGE_LANGUAGES),
                            *(f"user.{lang}.txt" for lang in JUDGE_LANGUAGES)])
    for name in names:
        digest.update(name.encode() + b"\0" + (TEMPLATES_DIR / name).read_bytes() + b"\0")
    assert (PROMPT_VERSION, digest.hexdigest()) == ("bench-judge-v1", TEMPLATES_DIGEST), (
        "a judge template changed: bump PROMPT_VERSION, then update TEMPLATES_DIGEST")


# sha256 of templates/score-prefix.txt under SCORING_VERSION "probs-v1" (probability scoring, issue 15)
SCORE_PREFIX_DIGEST = "e48e5bfc75a27d6698bf00031664195b49771f488b16cc1d702d633e3e9ae8a6"


def test_score_prefix_is_pinned_to_the_scoring_version():
    """Editing the score prefix without bumping SCORING_VERSION would reuse cached probability scores."""
    import hashlib

    from baselines.judging.prob_scoring import SCORING_VERSION
    from baselines.judging.prompts import TEMPLATES_DIR

    digest = hashlib.sha256((TEMPLATES_DIR / "score-prefix.txt").read_bytes()).hexdigest()
    assert (SCORING_VERSION, digest) == ("probs-v1", SCORE_PREFIX_DIGEST), (
        "the score prefix changed: bump SCORING_VERSION, then update SCORE_PREFIX_DIGEST")


def test_a_template_whose_contract_lacks_an_aspect_is_refused(tmp_path, monkeypatch):
    from baselines.judging import prompts

    text = (prompts.TEMPLATES_DIR / "multi-aspect.en.txt").read_text(encoding="utf-8")
    (tmp_path / "multi-aspect.en.txt").write_text(text.replace('"depth": {"reason"', '"deep": {"reason"'),
                                                  encoding="utf-8")
    monkeypatch.setattr(prompts, "TEMPLATES_DIR", tmp_path)
    prompts.system_template.cache_clear()
    try:
        with pytest.raises(BenchError, match="lacks depth"):
            build_judge_messages("q", "a", "multi-aspect", "en")
    finally:
        prompts.system_template.cache_clear()


def _detector():
    lingua = pytest.importorskip("lingua")
    return lingua, lingua.LanguageDetectorBuilder.from_languages(
        lingua.Language.ENGLISH, lingua.Language.FRENCH, lingua.Language.SPANISH).build()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_french_and_spanish_prompts_are_really_in_french_and_spanish(protocol):
    lingua, detector = _detector()
    expected = {"en": lingua.Language.ENGLISH, "fr": lingua.Language.FRENCH, "es": lingua.Language.SPANISH}
    for lang in JUDGE_LANGUAGES:
        messages = build_judge_messages("x", "y", protocol, lang)
        for m in messages:
            # Paragraph by paragraph, ignoring the English JSON keys and the markers.
            for para in re.split(r"\n\s*\n", m["content"]):
                words = re.sub(r'"?\b(' + "|".join(MULTI_ASPECTS + SAFETY_ASPECTS) + r')\b"?|<<<[^>]*>>>|[{}]',
                               " ", para)
                if len(re.findall(r"[^\W\d_]{3,}", words)) < 4:
                    continue
                assert detector.detect_language_of(words) == expected[lang], (lang, para)
    fr = _text(build_judge_messages("x", "y", protocol, "fr"))
    es = _text(build_judge_messages("x", "y", protocol, "es"))
    assert "réponse" in fr and "langue" in fr
    assert "respuesta" in es and "idioma" in es


def test_multi_aspect_prompts_penalise_wrong_language():
    fr = build_judge_messages("x", "y", "multi-aspect", "fr")[0]["content"]
    es = build_judge_messages("x", "y", "multi-aspect", "es")[0]["content"]
    en = build_judge_messages("x", "y", "multi-aspect", "en")[0]["content"]
    assert "langue de la question" in fr and "autre langue" in fr and "dépasser 2" in fr
    assert "idioma de la pregunta" in es and "otro idioma" in es and "superar 2" in es
    assert "language of the question" in en and "no higher than 2" in en
    for text in (fr, es, en):
        lang_rule = next(p for p in text.split("\n\n") if "2" in p and ("helpfulness" in p and "clarity" in p))
        assert "helpfulness" in lang_rule and "clarity" in lang_rule
