"""``unintended_code``: program code, structured data or markup the instruction did not ask for.

The answer is read through a Markdown parser (:mod:`baselines.errors.answer_structure`) and its spans
tried by parsers and a lexer (:mod:`baselines.errors.code_signals`): the whole answer or a block
parsing as JSON / a Python literal / YAML / XML / HTML / a LaTeX document; fenced blocks whose
content is code; runs of unfenced lines that lex as code or parse as Python statements. What counts
as unintended depends on the instruction's intent: program code is expected when it is about
programming or computing, data formats when it is about data, markup when it is about web pages or
documents; LaTeX maths is never code.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from baselines.errors.answer_context import AnswerContext
from baselines.errors.answer_structure import answer_structure
from baselines.errors.code_signals import (code_line_score, html_tags, python_statements, shell_line_score,
                                           structured_data)
from baselines.errors.finding import Finding
from bench.instruction_features import InstructionFeatures
from baselines.errors.text_features import clip

LINE_CODE = 0.5  # a line lexing at least this code-shaped counts as a code line (chosen on dev)
_DATA_KINDS = {"JSON", "Python literal", "YAML", "CSV"}
_MARKUP_KINDS = {"XML", "HTML", "LaTeX document"}
_BLOCK_ENDS = {"done", "fi", "esac", "end", "end if", "});", "};"}  # a code block's closing line
_PROSE_TAGS = {"", "text", "txt", "plain", "plaintext", "markdown", "md"}
_MARKUP_TAGS = {"markdown", "md", "html", "xml", "css", "latex", "tex", "rst"}  # fences of markup asked for


# the instruction sets an output format or layout: comma-separated lines are what it asked for
_FORMAT_RE = re.compile(r"(?i)\b(?:formats?|formato|one \w+ per line|une? \w+ par ligne|una? \w+ por l[ií]nea)\b")


class CodeSpan(NamedTuple):
    kind: str  # "code", or a structured_data kind
    start: int  # source line
    end: int
    lines: int  # code lines found
    evidence: str
    program: bool = True  # a program (loops, definitions, output calls, statements), not formulas worked out
    tag: str = ""  # a fenced block's language tag


def _program(block: list[str]) -> bool:
    """Whether code lines are a program rather than a worked-out formula (``Area = (10 / sqrt(2))^2``)."""
    text = "\n".join(block)
    return (python_statements(block, structure_only=True) or any(c in text for c in "{};\"'")
            or "=>" in text or any(shell_line_score(ln) >= LINE_CODE for ln in block))


_FORMULA_RE = re.compile(r"\s*=\s*[A-Za-z][A-Za-z0-9_.]*\(")  # =OR(...), =SUMIF(...), =ISNUMBER(MATCH(...))


def _formulas_only(lines: list[str]) -> bool:
    """Every non-empty line is a spreadsheet formula (an ``=`` then a function call)."""
    body = [ln for ln in lines if ln.strip()]
    return bool(body) and all(_FORMULA_RE.match(ln) for ln in body)


def _expected(span: CodeSpan, intent: InstructionFeatures) -> bool:
    """Whether content of this kind is what the instruction asks for or invites."""
    kind = span.kind
    if intent.code or (intent.markup and span.tag in _MARKUP_TAGS):
        return True
    if kind == "formula":  # spreadsheet formulas: what a data (or maths, computing) question asks for
        return intent.data or intent.math or intent.computing
    if kind == "code" and (intent.math or intent.markup or intent.art) and not span.program:
        return True  # formulas worked out line by line; notation or art the instruction asks for
    if kind in _DATA_KINDS:
        return intent.data
    if kind == "HTML":
        return intent.markup
    if kind in ("XML", "LaTeX document"):
        return intent.markup or intent.data
    return intent.computing  # program code / commands


def code_spans(text: str) -> list[CodeSpan]:
    """Code, data and markup spans of ``text`` (source lines), strongest evidence first."""
    st = answer_structure(text)
    lines = st.lines
    spans: list[CodeSpan] = []
    whole = structured_data(text)
    if whole:
        spans.append(CodeSpan(whole, 0, len(lines), len(lines), f"the answer parses as {whole}"))
        return spans
    fenced = set()
    for fence in st.fences:
        fenced.update(range(fence.start, fence.end))
        body = "\n".join(ln for ln in fence.content.split("\n") if not ln.strip().startswith(("```", "~~~")))
        kind = structured_data(body)
        body_lines = [ln for ln in body.split("\n") if ln.strip()]
        n_code = sum(1 for ln in body_lines if code_line_score(ln) >= LINE_CODE)
        if kind:
            spans.append(CodeSpan(kind, fence.start, fence.end, len(body_lines), f"a fenced block parses as {kind}"))
        elif _formulas_only(body_lines):
            spans.append(CodeSpan("formula", fence.start, fence.end, len(body_lines),
                                  f"a fenced block of {len(body_lines)} spreadsheet formula(s)"))
        elif body_lines and (python_statements(body_lines) or (
                n_code * 2 >= len(body_lines) and any(c in ln for ln in body_lines for c in "();{}[]"))):
            tag = fence.info.split()[0] if fence.info else "code"
            spans.append(CodeSpan("code", fence.start, fence.end, n_code,
                                  f"```{tag} block with {n_code} code lines, e.g. {clip(body_lines[0], 50)!r}",
                                  tag=tag.lower()))
        elif fence.info.lower() not in _PROSE_TAGS and body_lines:
            spans.append(CodeSpan("code", fence.start, fence.end, len(body_lines), f"```{fence.info} block",
                                  tag=fence.info.split()[0].lower()))
    for block in st.html_blocks:
        tags = html_tags(block)
        if len(tags) >= 3:
            spans.append(CodeSpan("HTML", 0, 0, len(tags), f"{len(tags)} HTML tags, e.g. <{tags[0]}>"))
    spans.extend(_unfenced_runs(lines, fenced))
    return spans


def _unfenced_runs(lines: list[str], fenced: set[int]) -> list[CodeSpan]:
    """Runs of consecutive unfenced code lines (blank lines allowed inside), and embedded data blocks."""
    out: list[CodeSpan] = []
    run: list[int] = []

    def close() -> None:
        code = [i for i in run if code_line_score(lines[i]) >= LINE_CODE]
        block = [lines[i] for i in range(run[0], run[-1] + 1)] if run else []
        kind = structured_data("\n".join(block)) if block else None
        if kind:
            out.append(CodeSpan(kind, run[0], run[-1] + 1, len(code), f"lines {run[0] + 1}-{run[-1] + 1} parse as {kind}"))
        elif code and _formulas_only([lines[i] for i in code]):
            out.append(CodeSpan("formula", run[0], run[-1] + 1, len(code), f"{len(code)} spreadsheet formula line(s)"))
        elif len(code) >= 2 or (code and python_statements(block)) or any(code_line_score(lines[i]) >= 0.99
                                                                          for i in code):  # one SQL statement
            out.append(CodeSpan("code", run[0], run[-1] + 1, len(code),
                                f"{len(code)} unfenced code lines, e.g. {clip(lines[code[0]].strip(), 50)!r}",
                                _program(block)))

    for i, line in enumerate(lines):
        if i in fenced:
            continue
        if not line.strip():
            if run and i + 1 < len(lines) and code_line_score(lines[i + 1]) >= LINE_CODE:
                continue  # a blank line inside a code run
            if run:
                close()
                run = []
            continue
        if code_line_score(line) >= LINE_CODE or (run and (line.startswith((" ", "\t", "}", "]", ")"))
                                                           or line.strip() in _BLOCK_ENDS
                                                           or lines[run[0]].lstrip().startswith("#!/"))):
            # (every line of a paragraph a "#!/bin/..." line opens is the script's)
            run.append(i)
        elif run:
            close()
            run = []
    if run:
        close()
    return out


def detect(ctx: AnswerContext) -> Finding | None:
    """Code, data or markup anywhere in the answer (also inside an example it invented), not asked for."""
    if ctx.is_empty:
        return None
    body = ctx.output
    intent = ctx.instruction_features
    spans = [s for s in code_spans(body) if not _expected(s, intent)
             and not (s.kind == "CSV" and _FORMAT_RE.search(ctx.instruction))]
    if not spans:
        return None
    best = max(spans, key=lambda s: (s.kind != "code", s.lines))
    lines = body.split("\n")
    start = sum(len(ln) + 1 for ln in lines[:best.start])
    end = min(len(body), sum(len(ln) + 1 for ln in lines[:best.end]))
    score = 0.9 if best.kind != "code" else min(0.95, 0.6 + 0.08 * best.lines)
    return Finding("unintended_code", score, (start, max(start, end)), best.evidence + " (not asked for)")
