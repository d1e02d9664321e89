"""``repetition_loop``: degenerate repetition (token, phrase, sentence, list item, paragraph), as of a
base model that never stops; refrains, ASCII art and long varied lists are not loops.
"""
from __future__ import annotations

import math
import re
import zlib

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding
from baselines.errors.text_features import clip, norm_line
from bench.text_similarity import near_identical
from benchmark.qa.numbers import is_number_word

_TOKEN_RE = re.compile(r"\w+|[^\w\s]+")
_CHAR_LOOP_RE = re.compile(r"(\S{1,12}?)\1{14,}")
_MAX_TOKENS = 8000
_LIST_NUMBER_RE = re.compile(r"(?m)^([ \t]*)\d+(?=[.)][ \t])")


def _token_spans(text: str, tail_tokens: int | None) -> list[tuple[int, int]]:
    """Character spans of the tokens of ``text`` (only the last ``tail_tokens`` when given)."""
    spans = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    return spans[-tail_tokens:] if tail_tokens is not None else spans


def find_repetition(output: str, verse: bool, art: bool, technical: bool = False) -> Finding | None:
    """The strongest repetition in ``output``; stricter for verse and art, digits kept when technical."""
    n_chars = len(output)
    if n_chars < 20:
        return None
    best: tuple[float, int, int, str] | None = None  # score, start, end, evidence

    def consider(score: float, start: int, end: int, evidence: str) -> None:
        nonlocal best
        if best is None or score > best[0]:
            best = (score, start, end, evidence)

    strict = 2 if (verse or art) else 1
    # tokens: words and punctuation runs, lower-cased
    low = output.lower()
    words = _TOKEN_RE.findall(low)
    if len(words) > _MAX_TOKENS:
        words = words[-_MAX_TOKENS:]  # bounded cost: loops run on to the end
        offset_tokens = True
    else:
        offset_tokens = False

    # 1. a short unit repeated inside one long "word" (KjKjKj, 0000, 1010, ┌─┐┌─┐, .....)
    if words and max(map(len, words)) >= 30:
        for big in re.finditer(r"\S{30,}", output):
            for m in _CHAR_LOOP_RE.finditer(big.group(0)):
                unit, span = m.group(1), m.end() - m.start()
                reps = span // max(1, len(unit))
                has_alnum = any(ch.isalnum() for ch in unit)
                start = big.start() + m.start()
                if has_alnum and span >= 30 * strict and reps >= 15:
                    consider(min(0.99, 0.7 + span / 2000), start, start + span, f"{unit!r} repeated {reps}x")
                elif not has_alnum and span >= 300 * strict and reps >= 60:
                    consider(0.6, start, start + span, f"{unit!r} repeated {reps}x")

    # 1b. a long "word" whose end repeats a chunk of up to 150 characters (digit chunks of a fake pi, ...)
    for w in words:
        if len(w) >= 120 and any(ch.isalnum() for ch in w[:20]):
            for p_ in range(13, min(151, len(w) // 3 + 1)):
                if w[-p_:] == w[-2 * p_:-p_] == w[-3 * p_:-2 * p_]:
                    k = 3
                    while (k + 1) * p_ <= len(w) and w[-(k + 1) * p_:-k * p_] == w[-p_:]:
                        k += 1
                    start = output.lower().rfind(w) + len(w) - k * p_
                    consider(min(0.95, 0.65 + 0.05 * k), start, start + k * p_, f"a {p_}-character chunk repeated {k}x")
                    break

    # 2. periodic runs of tokens: a constant copy distance d over a stretch = a unit of d tokens repeated
    n = 3
    repeated_grams = 0
    if len(words) >= 8:
        if _LIST_NUMBER_RE.search(low):
            # list numbers are masked ("38. Foo / 55. Foo"); same token count, so spans still line up
            words = _TOKEN_RE.findall(_LIST_NUMBER_RE.sub(r"\g<1>0", low))
            if offset_tokens:
                words = words[-_MAX_TOKENS:]
        grams = list(zip(words, words[1:], words[2:]))
        repeated_grams = len(grams) - len(set(grams))
        if repeated_grams >= 5:
            last: dict[tuple[str, str, str], int] = {}
            get = last.get
            runs: list[tuple[int, int, int]] = []  # (d, first i, last i)
            cur_d, run_s = 0, 0
            spans = None
            for i, g in enumerate(grams):
                p = get(g)
                last[g] = i
                # an ongoing run of period cur_d continues while the newest word repeats the one cur_d before
                if cur_d and words[i + n - 1] == words[i + n - 1 - cur_d]:
                    continue
                if cur_d:
                    runs.append((cur_d, run_s, i - 1))
                cur_d, run_s = (i - p, i) if p is not None else (0, i)
            if cur_d:
                runs.append((cur_d, run_s, len(grams) - 1))
            for d, s_, e, bridged in _merge_slot_gaps(runs):
                lo, hi = s_ - d, e + n  # tokens [lo, hi) are a repeated region
                length = hi - lo
                cycles = length / d
                if lo < 0 or cycles < (3 if bridged else 2):
                    continue
                unit = words[lo:lo + d]
                if bridged and not _one_slot(words, lo, hi, d):
                    continue  # several tokens vary per cycle: records or test lines, not one slot in a loop
                if bridged and _distinct_names(words, lo, hi, d):
                    continue  # "N. The University of Iowa / ... of Oregon": a list of different things
                alpha = [w for w in unit if len(w) >= 2 and (w[0].isalpha() or w[-1].isalpha())]
                alpha_tokens = len(alpha)
                if alpha_tokens and len(set(alpha)) < 2 and any(w.isdigit() for w in unit):
                    alpha_tokens = 0  # "Data 1 & Data 2 & ...": numbered placeholders, not a loop
                span_chars = sum(len(w) for w in words[lo:hi]) + (hi - lo - 1)  # approximate
                frac = min(1.0, span_chars / n_chars)
                if alpha_tokens == 0:
                    ok = cycles >= 20 * strict and span_chars >= 200 * strict
                elif d == 1:
                    ok = cycles >= 8 * strict
                elif d < 40:
                    alpha_total = alpha_tokens * cycles
                    ok = ((cycles >= 4 * strict and alpha_total >= 10 and span_chars >= 40) or
                          (cycles >= 3 * strict and length >= 24 and span_chars >= 80))
                else:
                    ok = cycles >= (3 if verse else 2) and span_chars >= 300 and (cycles >= 3 or frac >= 0.3)
                if ok:
                    score = min(0.99, 0.6 + 0.08 * math.log2(cycles) + 0.3 * frac)
                    if best is None or score > best[0]:
                        if spans is None:
                            spans = _token_spans(output, len(words) if offset_tokens else None)
                        c_start, c_end = spans[lo][0], spans[min(hi, len(spans)) - 1][1]
                        unit_text = clip(output[c_start:spans[lo + d - 1][1]], 50)
                        consider(score, c_start, c_end, f"{unit_text!r} repeated {cycles:.1f}x")

    # 3. the same lines (list items, sentences, paragraphs) recur all over the answer
    lines = []
    pos = 0
    for raw in output.split("\n"):
        st = raw.strip()
        if len(st) >= 3 and not st.startswith("```") and not re.fullmatch(r"[-*_=|:\s]+", st):
            # numbers are masked ("Step 14: Stir." = "Step 15: Stir.") unless numbers may be the point (maths, code)
            lines.append((pos, norm_line(raw, mask_digits=not technical)))
        pos += len(raw) + 1
    if len(lines) >= 10:
        seen: dict[str, int] = {}
        dup = 0
        first_dup = None
        for p, ln in lines:
            if ln in seen and len(ln) >= 3:
                dup += 1
                if first_dup is None:
                    first_dup = p
            else:
                seen[ln] = p
        frac_dup = dup / len(lines)
        need = 0.7 if (verse or art) else 0.6
        if frac_dup >= need and dup >= 6:
            consider(min(0.95, 0.5 + frac_dup * 0.45), first_dup or 0, n_chars,
                     f"{dup} of {len(lines)} lines are repeats")

    # 4. a template loop: three or more units in a row (lines, else sentences) near-identical to the one
    # one, two or three before, with a slot or two varying ("... la hepatitis B." / "... la hepatitis C.")
    # (near-identical units share word trigrams: without repeated trigrams there is no template loop)
    template = _template_loop(output, 5 if (verse or art) else 3) if repeated_grams >= 4 else None
    if template is not None:
        consider(*template)

    # 5. very long and very compressible: a loop with small variations ("Your Yummy ..., Your Yummy ...")
    if n_chars >= 1500 and not art:
        raw = output.encode("utf-8")
        ratio = len(zlib.compress(raw, 1)) / len(raw)
        if ratio < 0.10:
            consider(0.6 + (0.10 - ratio) * 3, 0, n_chars, f"text compresses to {ratio:.0%} of its size")

    if best is None:
        return None
    return Finding("repetition_loop", best[0], (best[1], best[2]), best[3])


# Runs of one period split by one differing token (a slot that varies: "hay tres / cuatro / cinco maneras",
# "19. 5 + 3 = 24 / 20. 5 + 3 = 25", "Étape 7 : Remuer.") are one loop, of three cycles at least, when no more
# than one token per cycle differs (SLOT_GAP_SHARE of the tokens for periods of SLOT_LONG_PERIOD or more):
# records whose fields all vary are not. One token breaks the trigram run for SLOT_GAP_MIN positions.
SLOT_GAP_MIN = 4
DISTINCT_SHARE = 0.8  # varying words this distinct make a list of different things, not a loop
SLOT_LONG_PERIOD = 20
SLOT_GAP_SHARE = 0.1


def _one_slot(words: list[str], lo: int, hi: int, d: int) -> bool:
    """Tokens [lo, hi) repeat with period ``d`` except for one token per cycle (SLOT_GAP_SHARE of a long period)."""
    mismatches = sum(1 for j in range(lo + d, hi) if words[j] != words[j - d])
    cycles = (hi - lo) / d
    return mismatches <= max(1.0, SLOT_GAP_SHARE * d if d >= SLOT_LONG_PERIOD else 1.0) * max(1.0, cycles - 1)


def _distinct_names(words: list[str], lo: int, hi: int, d: int) -> bool:
    """The tokens that vary from cycle to cycle are all different words, none a number or number word: one item
    per cycle of a list ("University of Iowa / Oregon / Kansas"), not a slot counting up in a loop ("Step 7",
    "tres / cuatro / cinco maneras")."""
    return _names_only([words[j] for j in range(lo + d, hi) if words[j] != words[j - d]])


def _names_only(slot: list[str]) -> bool:
    """Two or more varying words, nearly all different (a name may come back once in a long list), none a number
    or a number word."""
    return (len(slot) >= 2 and len(set(slot)) >= DISTINCT_SHARE * len(slot)
            and all(w.isalpha() and len(w) >= 3 and not is_number_word(w) for w in slot))


def _merge_slot_gaps(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int, bool]]:
    """Runs ``(d, first, last, bridged)``: consecutive runs of the same period ``d`` merged across small gaps."""
    merged: list[tuple[int, int, int, bool]] = []
    for d, s_, e in runs:
        if merged:
            pd, ps, pe, _ = merged[-1]
            gap = SLOT_GAP_MIN + (int(d * SLOT_GAP_SHARE) if d >= SLOT_LONG_PERIOD else 0)
            if pd == d and 0 <= s_ - pe <= gap:
                merged[-1] = (d, ps, max(pe, e), True)
                continue
        merged.append((d, s_, e, False))
    return merged


_SENTENCE_RE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|$)")
_UNIT_WORDS = 5  # units shorter than this (list entries, headings) are too short to call near-identical
SIMILAR = 0.8  # word-sequence similarity (difflib ratio) from which two units are near-identical (chosen on dev)


def _units(output: str, sentences: bool = False) -> list[tuple[int, list[str]]]:
    """(start, normalised words) of the answer's lines, or of its sentences when it has few lines or ``sentences``."""
    lines = [] if sentences else [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]+", output)]
    if len(lines) < 4:
        lines = [(m.start(), m.group(0)) for m in _SENTENCE_RE.finditer(output)]
    out = []
    for start, raw in lines[-400:]:
        words = [w for w in re.findall(r"\w+", norm_line(raw, mask_digits=True)) if not w.isdigit()]
        if words:
            out.append((start, words))
    return out


def _template_loop(output: str, need: int) -> tuple[float, int, int, str] | None:
    """The longest run of ``need``+ consecutive units each near-identical to one 1-3 units before: lines, or the
    sentences of one paragraph that loops inside itself."""
    units = _units(output)
    found = _template_run(units, need, output)
    if found is not None or len(units) < 4:
        return found  # (under four lines, the units were sentences already)
    for m in re.finditer(r"[^\n]+", output):
        line = m.group(0)
        if len(line) < 120:
            continue
        sentences = _SENTENCE_RE.findall(line)
        if len(sentences) < need:
            continue
        starts = [" ".join(x.lower().split()[:3]) for x in sentences]  # a loop repeats its sentences' openings
        if max(starts.count(x) for x in set(starts)) < need:
            continue
        inner = _template_run(_units(line, sentences=True), need, line)
        if inner is not None and (found is None or inner[0] > found[0]):
            found = (inner[0], m.start() + inner[1], m.start() + inner[2], inner[3])
    return found


def _template_run(units: list[tuple[int, list[str]]], need: int, output: str) -> tuple[float, int, int, str] | None:
    """The longest run of ``need``+ consecutive ``units`` each near-identical to one 1-3 units before."""
    if len(units) < need:
        return None
    best = None
    run_start, run_len = 0, 0
    for i in range(1, len(units)):
        words = units[i][1]
        similar = len(words) >= _UNIT_WORDS and any(
            i - k >= 0 and len(units[i - k][1]) >= _UNIT_WORDS and near_identical(units[i - k][1], words, SIMILAR)
            for k in (1, 2, 3))
        if similar:
            if run_len == 0:
                run_start, run_len = i - 1, 1
            run_len += 1
            if run_len >= need and (best is None or run_len > best[0]):
                best = (run_len, run_start, i)
        else:
            run_len = 0
    if best is None:
        return None
    n, first, last = best
    start = units[first][0]
    end = units[last][0] + len(" ".join(units[last][1]))
    score = min(0.95, 0.55 + 0.05 * n)
    return score, start, min(len(output), end), f"{n} near-identical units in a row, e.g. {clip(' '.join(units[first][1]), 50)!r}"


def detect(ctx: AnswerContext) -> Finding | None:
    """Repetition in the answer, judged against what the instruction asks for.

    An ``empty`` answer (punctuation only) is still scanned, without instruction context.
    """
    if ctx.is_empty:
        return find_repetition(ctx.output, False, False) if ctx.output.strip() else None
    features = ctx.instruction_features
    return find_repetition(ctx.output, features.verse, features.art, features.technical)
