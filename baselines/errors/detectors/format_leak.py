"""``format_leak``: the answer runs on into in-context scaffolding (``# Query:``, ``### Instruction``,
``User:`` turns, ``<|im_start|>``, ``</s>``, prompt preambles ...).
"""
from __future__ import annotations

import re

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding
from baselines.errors.text_features import clip

_LEAK_TOKEN_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|user|assistant|system|end|"
    r"endofprompt|begin_of_text|end_of_text)\|>|</s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>")
_LEAK_HEADER_RE = re.compile(
    r"(?im)^[ \t>]*(?:```[ \t]*\n\s*)?(?:"
    r"\#{1,3}[ \t]*(?:Query|Answer|Requ[êe]te|R[ée]ponse|Consulta|Respuesta|Pregunta|Question|Demande)(?:[ \t]*\d+)?[ \t]*:"
    r"|\#{2,4}[ \t]*(?:Instruction|Response|Input|Consigne|R[ée]ponse|Respuesta|Instrucci[oó]n|Entr[ée]e|Entrada"
    r"|Human|Assistant|User|Utilisateur|Usuario|Asistente|Humano|Humain)[ \t]*:?[ \t]*$)")
_LEAK_TURN_RE = re.compile(
    r"(?m)^[ \t>*]*(?:User|USER|Human|HUMAN|Assistant|ASSISTANT|AI|Bot|Utilisateur|UTILISATEUR|Humain|Usuario|"
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
_PREAMBLE_KEYS = ("describes a task", "curious user", "curious human", "crit une t", "describe una tarea",
                  "their queries", "leurs requ", "leurs questions", "sus consultas", "sus preguntas")


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
                                                                              r"sortie|entrada|salida)\b", instruction):
        hits.append((0.8, example.start(), "an invented Input:/Output: example"))
    low = output.lower()
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
