"""``format_leak``: the answer runs on into in-context scaffolding (``# Query:``, ``### Instruction``,
``User:`` turns, ``<|im_start|>``, ``</s>``, prompt preambles ...).
"""
from __future__ import annotations

import re
from functools import lru_cache

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding
from baselines.errors.text_features import clip
from bench.text_similarity import near_identical

# special tokens of chat templates: any <|name|>, Llama's </s> [INST] <<SYS>>, Gemma's <start_of_turn> (and
# <start_of_image> ...), bare <eos>/<bos>/<pad>
_LEAK_TOKEN_RE = re.compile(
    r"<\|[a-z][a-z0-9_]{1,30}\|>|</s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_[a-z]+>|<(?:eos|bos|pad|unk|eot)>")
# role tags some templates (or models imitating them) wrap turns in: [USER] ... [/USER], <assistant>, </user>
_ROLE_TAG_RE = re.compile(r"\[/?(?:USER|ASSISTANT|SYSTEM|HUMAN|BOT)\]|</?(?:user|assistant|system|human|bot)>",
                          re.I)
_LEAK_HEADER_RE = re.compile(
    r"(?im)^[ \t>]*(?:```[ \t]*\n\s*)?(?:"
    r"\#{1,3}[ \t]*(?:Query|Answer|Requ[êe]te|R[ée]ponse|Consulta|Respuesta|Pregunta|Question|Demande)(?:[ \t]*\d+)?[ \t]*:"
    r"|\#{2,4}[ \t]*(?:Instruction|Response|Input|Consigne|R[ée]ponse|Respuesta|Instrucci[oó]n|Entr[ée]e|Entrada"
    r"|Human|Assistant|User|Utilisateur|Usuario|Asistente|Humano|Humain)[ \t]*:?[ \t]*$)")
_LEAK_TURN_RE = re.compile(
    r"(?m)^[ \t>*#]*(?:User|USER|Human|HUMAN|Assistant|ASSISTANT|AI|Bot|Utilisateur|UTILISATEUR|Humain|Usuario|"
    r"USUARIO|Humano|Asistente|ASISTENTE|Assistante|Système|System|Sistema)[ \t]*\**[ \t]*:\**[ \t]*\S?")
_LEAK_PREAMBLE_RE = re.compile(
    r"(?i)below is an instruction that describes a task|a chat between a curious (?:user|human)|"
    r"ci-dessous (?:se trouve )?une instruction qui d[ée]crit une t[âa]che|"
    r"a continuaci[oó]n (?:se muestra |hay )?una instrucci[oó]n que describe una tarea|"
    r"users place their queries under|les utilisateurs (?:placent|posent) leurs (?:requêtes|questions) sous|"
    r"los usuarios (?:colocan|escriben) sus (?:consultas|preguntas) (?:bajo|debajo)")


# a fabricated few-shot continuation: an "Input:" line, then an "Output:" line (EN / FR / ES)
_EXAMPLE_PAIR_RE = re.compile(r"(?ms)^[ \t>*]*(?:Input|Entr[ée]e|Entrada)[ \t]*\**:.*?^[ \t>*]*(?:Output|Sortie|Salida)"
                              r"[ \t]*\**:")
# an invented few-shot pair: a question line, then an answer line, labelled the way in-context examples are
# ("Question 2: ... / Answer 2: ...", "Q: / A:", "P: / R:", "Pregunta: / Respuesta:"), after the answer began
_PAIR_LABELS = r"(?:Q|P|Question|Pregunta|Query|Requ[êe]te|Consulta|Instruction|Instrucci[oó]n)"
_ANSWER_LABELS = r"(?:A|R|Answer|R[ée]ponse|Respuesta|Response)"
_QA_PAIR_RE = re.compile(rf"(?m)^[ \t>*#]*{_PAIR_LABELS}[ \t]*\d*[ \t]*\**[ \t]*:.*\n(?:.*\n)??"
                         rf"[ \t>*#]*{_ANSWER_LABELS}[ \t]*\d*[ \t]*\**[ \t]*:")
# a question-and-answer layout the instruction itself asks for
_QA_ASKED_RE = re.compile(r"(?i)\bfaq\b|\bquiz\b|q ?& ?a|questions?[- ](?:and|et|y)[- ](?:answers?|r[ée]ponses?|"
                          r"respuestas?)|preguntas? y respuestas?|questions?[- ]r[ée]ponses?|flash ?cards?|"
                          r"interview|entrevista|riddles?|devinettes?|adivinanzas?")
# role names left alone on a line when a chat template's special tokens were stripped ("user" / "model")
_ROLE_NAMES = ("user", "model", "assistant", "system", "human")
_BARE_ROLE_RE = re.compile(r"(?im)^[ \t]*(?:user|model|assistant|system|human)[ \t]*$")
# the system prompt copied at the start of the answer ("You are a helpful, respectful and honest assistant")
_SYSTEM_PROMPT_RE = re.compile(r"(?im)^\W*(?:you are|you're|tu es|vous [êe]tes|eres|usted es) (?:a|an|un|une|una) "
                               r"[^.\n]{0,80}\b(?:assistant|asistente|AI|IA)\b")
# the assistant described in the third person, as a system preamble does ("The assistant always replies in ...",
# "L'assistant répond toujours ...", "El asistente es útil ...")
_ASSISTANT_RULE_RE = re.compile(
    r"(?im)(?:^|(?<=[.!?]\s))[ \t*]*(?:the|an?|l['’]|el|un|une|una)\s*(?:AI\s+)?(?:assistant|assistante|asistente)"
    r"(?:\s+(?:d['’]IA|de IA|IA|AI|virtuel|virtual))?\s+(?:is|always|never|will|should|must|gives|provides|answers|"
    r"replies|responds|est|répond|donne|doit|fournit|ne|es|responde|da|debe|proporciona|nunca|siempre|toujours|jamais)\b")
# a chat template's role line whose special tokens were stripped, opening the answer ("model\n", "assistant\n")
_OPENING_ROLE_RE = re.compile(r"\A\s*(?:assistant|model)[ \t]*:?[ \t]*\n\s*\S", re.I)
# an invented question label opening the answer's last line, after the answer ("Question : Quelle est ...")
_TRAILING_QUESTION_RE = re.compile(r"(?m)^[ \t>*#]*(?:Question|Pregunta|Query|Requ[êe]te|Consulta)[ \t]*\d*[ \t]*"
                                   r"\**[ \t]*:[ \t]*\S[^\n]*\Z")
_SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD_RE = re.compile(r"\w+")
PREAMBLE_SIMILARITY = 0.7  # difflib ratio of words: a sentence of one of the project's prompt preambles, copied
_PREAMBLE_KEYS = ("describes a task", "curious user", "curious human", "crit une t", "describe una tarea",
                  "their queries", "leurs requ", "leurs questions", "sus consultas", "sus preguntas")


_LABEL_LINE_RE = re.compile(rf"^[ \t>*#]*(?:{_PAIR_LABELS}|{_ANSWER_LABELS})[ \t]*\d*[ \t]*\**[ \t]*:")


def _runs_on_in_pairs(output: str, start: int) -> bool:
    """From ``start`` to the end the answer is question/answer pairs (most lines labelled), not announced by the
    line before ("Exemple de FAQ :") nor under a heading: the model ran on into new examples."""
    before = [ln for ln in output[:start].split("\n") if ln.strip()]
    last = before[-1].strip() if before else ""
    if last.rstrip(" *").endswith(":") or re.fullmatch(r"\*\*[^*]+\*\*|#{1,6}\s+\S.*", last):
        return False  # announced, or under a heading of its own ("**Self-test flashcards**")
    tail = [ln for ln in output[start:].split("\n") if ln.strip()]
    return sum(1 for ln in tail if _LABEL_LINE_RE.match(ln)) >= 0.6 * len(tail)


def _input_is_task(output: str, start: int) -> bool:
    """The ``Input:`` line at ``start`` holds a request in words (six or more), not data for a program to run on."""
    line = output[start:].split("\n", 1)[0]
    content = line.split(":", 1)[1] if ":" in line else ""
    return len(re.findall(r"[^\W\d_]{2,}", content)) >= 6


# the instruction's opening, this many words or more, is looked for after the answer began
ECHO_MIN_WORDS = 6
ECHO_SIMILARITY = 0.8


def _echoed_instruction(instruction: str, output: str) -> int | None:
    """Where the answer repeats its own instruction (near-)verbatim, as a line of its own, after it began answering: a
    base model running on into the next in-context example. The instruction's first sentence, compared as words
    with every window of as many words of the answer's later lines (difflib ratio); None when it is not repeated."""
    first = re.split(r"(?<=[.!?])\s|\n", instruction.strip(), maxsplit=1)[0]
    want = re.findall(r"\w+", first.lower())
    if len(want) < ECHO_MIN_WORDS:
        return None
    nl = output.find("\n")
    rest = output[nl:].lower() if nl >= 0 else ""
    if sum(w in rest for w in (want[0], want[len(want) // 2], want[-1])) < 2:
        return None  # (cheap: the instruction's first, middle and last words mostly absent from the later lines)
    head = set(want)
    for m in re.finditer(r"[^\n]+", output):
        if m.group(0).lstrip()[:1] in "\"'`#/<{[(=":
            continue  # a docstring, comment or string holding the instruction: code, not a new prompt
        words = re.findall(r"\w+", m.group(0).lower())
        if not len(want) - 2 <= len(words) <= 1.3 * len(want) + 2 or len(head & set(words)) < 0.7 * len(head):
            continue  # a line of its own, as a new prompt (an answer's sentence restating the question is not)
        if any(near_identical(want, words[i:i + len(want)], ECHO_SIMILARITY)
               for i in range(0, max(1, len(words) - len(want) + 1))):
            # the answer opening by restating its question loops on it: later copies are no new prompt
            return m.start() if output[:m.start()].strip() else None
    return None


@lru_cache(maxsize=1)
def _preamble_vocabulary() -> frozenset[str]:
    """Every word of the preamble sentences."""
    return frozenset(w for sentence in _preamble_sentences() for w in sentence)


@lru_cache(maxsize=1)
def _preamble_anchors() -> frozenset[str]:
    """The longest word of each preamble sentence: a copy of the sentence holds it."""
    return frozenset(max(sentence, key=len) for sentence in _preamble_sentences())


@lru_cache(maxsize=1)
def _preamble_sentences() -> tuple[tuple[str, ...], ...]:
    """The sentences (as lower-case words, six or more) of the system preambles of the project's own URIAL prompts,
    every language: what a model prompted with them may copy."""
    from baselines.generation.urial import URIAL_DIR

    out = []
    for path in sorted(URIAL_DIR.glob("*.txt")):
        head = re.split(r"(?m)^# Query:", path.read_text(encoding="utf-8"), maxsplit=1)[0].replace("# Instruction", " ")
        for sentence in re.split(r"(?<=[.!?])\s+|\n", head):
            words = tuple(re.findall(r"\w+", sentence.lower()))
            if len(words) >= 6:
                out.append(words)
    return tuple(out)


def _copied_preamble(output: str) -> int | None:
    """Where the answer copies (near-verbatim) a sentence of the project's prompt preambles, after it began."""
    low = output.lower()
    if not any(word in low for word in _preamble_anchors()):
        return None  # (cheap: not one preamble sentence's longest word)
    vocab = _preamble_vocabulary()
    for m in _SENTENCE_RE.finditer(low):
        words = _WORD_RE.findall(m.group(0))
        if len(words) < 6:
            continue
        distinct = set(words)
        if len(distinct & vocab) < 0.6 * len(distinct):
            continue  # (cheap: most of its words are not in any preamble)
        if output[:m.start()].strip() and any(near_identical(words, s, PREAMBLE_SIMILARITY)
                                                for s in _preamble_sentences()):
            return m.start()
    return None


def detect(ctx: AnswerContext) -> Finding | None:
    """The answer runs on into prompt scaffolding: special tokens, headers, chat turns, preambles."""
    if ctx.is_empty:
        return None  # special tokens only: the answer is empty, nothing leaked into an answer
    instruction, output = ctx.instruction, ctx.output
    hits: list[tuple[float, int, str]] = []
    instr_low = instruction.lower()
    features = ctx.instruction_features
    meta, dialogue = features.about_prompts, features.dialogue  # a question about prompt formats may show them
    for m in ([] if meta else _LEAK_TOKEN_RE.finditer(output)):
        tok = m.group(0)
        if tok.lower() in instr_low:
            continue
        if tok == "</s>" and re.search(r"<s>", output[: m.start()]) and not re.search(r"\[INST\]", output):
            continue  # HTML strikethrough <s>...</s>
        hits.append((0.95, m.start(), f"special token {tok}"))
        break
    for m in ([] if meta else _LEAK_HEADER_RE.finditer(output)):
        marker = m.group(0).strip().strip("`").strip()
        if marker.lower().rstrip(": ") in instr_low:
            continue
        score = 0.95 if re.search(r"(?i)query|answer|requ|consulta|instruction|response|instrucci", marker) else 0.8
        hits.append((score, m.start(), f"scaffolding header {marker!r}"))
        break
    if not dialogue:
        turns = list(_LEAK_TURN_RE.finditer(output))
        if turns:
            m = turns[0]
            marker = m.group(0).strip()
            at_start = not output[: m.start()].strip()
            if re.search(r"(?i)^(?:ai|bot|system|système|sistema)\b", marker.strip("*> ")) and len(turns) < 2:
                pass  # a lone "AI:" or "System:" line is too ambiguous
            else:
                score = 0.9 if (len(turns) >= 2 or not at_start) else 0.65
                hits.append((score, m.start(), f"chat turn {clip(marker, 30)!r}"))
    example = _EXAMPLE_PAIR_RE.search(output)
    if example and not _EXAMPLE_PAIR_RE.search(instruction) and not re.search(r"(?i)\b(?:input|output|entr[ée]e|"
                                                                              r"sortie|entrada|salida)\b", instruction) \
            and not (features.code and not _input_is_task(output, example.start())):
        # (a program asked for: Input/Output lines are its runs, unless the Input is a new task in words)
        hits.append((0.8, example.start(), "an invented Input:/Output: example"))
    if not meta and not dialogue:
        tag = _ROLE_TAG_RE.search(output)
        if tag and not _ROLE_TAG_RE.search(instruction) and not (features.markup or features.data or features.code):
            hits.append((0.9, tag.start(), f"role tag {tag.group(0)}"))
        echo = _echoed_instruction(instruction, output)
        if echo is not None:
            hits.append((0.85, echo, "the instruction repeated after the answer"))
    low = output.lower()
    pair = _QA_PAIR_RE.search(output) if ":" in output else None
    if (pair and output[:pair.start()].strip() and not _QA_PAIR_RE.search(instruction) and not dialogue
            and not _QA_ASKED_RE.search(instruction) and _runs_on_in_pairs(output, pair.start())):
        hits.append((0.8, pair.start(), "an invented question/answer example"))
    roles = list(_BARE_ROLE_RE.finditer(output)) if any(f"\n{r}" in low for r in _ROLE_NAMES) else []
    if len(roles) >= 2 and output[:roles[0].start()].strip() and not dialogue and not meta:
        hits.append((0.85, roles[0].start(), f"bare chat roles ({len(roles)} lines such as {roles[0].group(0).strip()!r})"))
    m = _SYSTEM_PROMPT_RE.search(output)
    if m and not meta and not _SYSTEM_PROMPT_RE.search(instruction):
        hits.append((0.85, m.start(), f"the system prompt copied: {clip(m.group(0), 50)!r}"))
    if not meta and "assistant" not in instr_low and "asistente" not in instr_low:
        copied = _copied_preamble(output)
        if copied is not None:
            hits.append((0.9, copied, "a sentence of the prompt's preamble copied"))
        rule = _ASSISTANT_RULE_RE.search(output) if ("assist" in low or "asistente" in low) else None
        if rule and output[:rule.start()].strip():
            hits.append((0.75, rule.start(), f"the assistant described as a preamble does: {clip(rule.group(0), 40)!r}"))
        opening = _OPENING_ROLE_RE.match(output)
        if opening and not dialogue:
            hits.append((0.8, 0, f"the answer opens with a role line {opening.group(0).split()[0]!r}"))
    trailing = _TRAILING_QUESTION_RE.search(output) if ":" in output else None
    if (trailing and output[:trailing.start()].strip() and not dialogue and not _QA_ASKED_RE.search(instruction)
            and not re.search(r"(?i)\b(?:question|pregunta)s?\b", instruction)):
        hits.append((0.7, trailing.start(), "an invented question after the answer"))
    m = _LEAK_PREAMBLE_RE.search(output) if any(k in low for k in _PREAMBLE_KEYS) else None
    if m and not _LEAK_PREAMBLE_RE.search(instruction):
        hits.append((0.9, m.start(), f"prompt preamble {clip(m.group(0), 50)!r}"))
    if not hits:
        return None
    hits.sort(key=lambda h: (h[1], -h[0]))
    score = max(h[0] for h in hits)
    start = hits[0][1]
    evidence = hits[0][2] + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else "")
    return Finding("format_leak", score, (start, len(output)), evidence + f": {clip(output[start:], 60)!r}")
