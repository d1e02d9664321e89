"""Is a span of an answer code, structured data or markup? Answered by parsers and a lexer.

* :func:`structured_data` tries the span as JSON, as a Python literal (``ast``), as YAML, as an
  XML / HTML document (stdlib parsers) and as a whole LaTeX document;
* :func:`code_line_score` lexes one line (pygments) and scores how code-shaped its tokens are: code
  punctuation and operators, string literals, builtins and calls against runs of plain words;
* :func:`python_statements` says whether consecutive lines parse as real Python statements (``ast``).

No keyword list decides alone; detectors combine these scores with what the instruction asks for.
"""
from __future__ import annotations

import ast
import csv
import builtins
import keyword
import json
import re
import textwrap
from functools import lru_cache
from html.parser import HTMLParser
from xml.etree import ElementTree

import yaml
from pygments.lexers import BashLexer, PythonLexer
from pygments.token import Token

_LEXER = PythonLexer(stripnl=False, ensurenl=False)
_SHELL = BashLexer(stripnl=False, ensurenl=False)
_SHELL_CHARS = set(";|&$><")
_CODE_PUNCT = set("()[]{}=;<>&|^~$@\\")  # not / - + * %: prose uses them (and/or, km/h, 20 %)
_SENTENCE_END = set(".!?…:,")
_HTML_TAGS = frozenset("""html head body div span p br ul ol li h1 h2 h3 h4 h5 h6 table tr td th a img b i strong em
script style code pre section article header footer nav form input button label select option meta link title
textarea iframe svg main aside figure figcaption blockquote hr dl dt dd thead tbody tfoot caption""".split())
_MD_MARKS_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+|\*\*|__|^#+\s")  # list markers, bold, headings
_SQL_RE = re.compile(r"(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW)"
                     r"|(?:SELECT|FROM|WHERE|GROUP\s+BY|ORDER\s+BY|HAVING|JOIN|LIMIT)\s+[\w*'(][^\n]*[,;)]?$)")
_ELISION_RE = re.compile(r"(\w)['’](\w)")
_CAMEL_RE = re.compile(r"[a-z][A-Z]")
_TABLE_ROW_RE = re.compile(r"^\|.*\|$|^\|?\s*:?-{3,}")
_BULLET_RE = re.compile(r"^\s*[-*+]\s")
_YAML_ITEM_RE = re.compile(r"^[ \t]+-[ \t]+\S")
CSV_MAX_CELL = 80  # characters: a longer field is prose (a paragraph with commas), not a CSV cell
# a command after a shell prompt: "$ curl -s ...", "$ grep -i ..."
_PROMPT_RE = re.compile(r"^\s*\$ [a-z][\w.-]*(?:\s|$)")
# inline LaTeX maths: $x$, $R_*$, $10^{-3}$, $1.5$ (not shell variables: "$HOME/$USER", "$a $b")
_INLINE_MATH_RE = re.compile(r"\$(?=\S)(?:[^$\n]*[\\^_{][^$\n]*|[\d.,]+|[A-Za-z])(?<=\S)\$")
_TOP_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)\s*:(?:\s|$)")
_YAML_KEY_RE = re.compile(r"^\s*(?:-\s+)?[A-Za-z_][\w.-]*\s*:(?:\s|$)")
_LATEX_DOC_RE = re.compile(r"\\documentclass|\\begin\{document\}|\\usepackage")


class _TagCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text_chars = 0

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001 - HTMLParser's signature
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text_chars += len(data.strip())


def html_tags(text: str) -> list[str]:
    """The known HTML start tags of ``text``, in order (stdlib HTML parser)."""
    parser = _TagCounter()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup: count what was parsed
        pass
    return [t for t in parser.tags if t in _HTML_TAGS]


@lru_cache(maxsize=4096)
def structured_data(span: str) -> str | None:
    """The format ``span`` (stripped) parses as when it is structured data or a markup document, else None:
    ``JSON``, ``Python literal``, ``YAML``, ``CSV``, ``XML``, ``HTML`` or ``LaTeX document``."""
    s = span.strip()
    if len(s) < 8:
        return None
    if _csv_table(s):
        return "CSV"
    if s[0] in "[{":
        try:
            value = json.loads(s)
        except ValueError:
            value = None
        if isinstance(value, (dict, list)) and len(value) >= 1 and _nested_or_keyed(value):
            return "JSON"
        try:
            value = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            value = None
        if isinstance(value, (dict, list, set, tuple)) and len(value) >= 2:
            return "Python literal"
    if _LATEX_DOC_RE.search(s):
        return "LaTeX document"
    if s.startswith("<"):
        tags = html_tags(s)
        if len(tags) >= 3 and len(set(tags)) >= 2:
            return "HTML"
        try:
            root = ElementTree.fromstring(s)
        except ElementTree.ParseError:
            root = None
        if root is not None and len(list(root.iter())) >= 3:
            return "XML"
    lines = [ln for ln in s.split("\n") if ln.strip()]
    bullets_only = all(_BULLET_RE.match(ln) for ln in lines)  # "- Lunes: 5 + 3 = 9.": a Markdown list, not data
    keys = sum(1 for ln in lines if _YAML_KEY_RE.match(ln))
    items = sum(1 for ln in lines if _YAML_ITEM_RE.match(ln))  # indented "  - value" entries under a key
    if len(lines) >= 3 and not bullets_only and (keys >= 0.6 * len(lines) or (keys >= 3 and keys + items == len(lines))):
        nested = any(ln.startswith((" ", "\t", "-")) for ln in lines)
        try:
            value = yaml.safe_load(s)
        except yaml.YAMLError:
            value = None
        top_keys = [m.group(1) for ln in lines if (m := _TOP_KEY_RE.match(ln))]
        unique = len(top_keys) == len(set(top_keys))  # "USER: ... / USER: ...": turns of a chat, not one mapping
        mostly_keys = keys >= 0.6 * len(lines)  # else keys and indented items: a mapping must nest another one
        if isinstance(value, (dict, list)) and nested and unique and _nested_or_keyed(value) and (
                mostly_keys or (isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()))):
            return "YAML"
    return None


def _csv_table(text: str) -> bool:
    """A CSV dump: three or more lines that the csv module reads with one delimiter (comma, semicolon or tab; a
    Markdown table's pipes are not CSV) into the same number of fields, three or more, none of them a long
    stretch of prose, and no line ending a sentence."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) < 3 or any(ln.rstrip().endswith((".", "!", "?")) or len(ln) > 3 * CSV_MAX_CELL for ln in lines):
        return False
    for delimiter in ",;\t":
        counts = {ln.count(delimiter) for ln in lines}
        if len(counts) != 1 or counts.pop() < 2:
            continue  # cheap test first: the same number of delimiters on every line
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            return False
        widths = {len(row) for row in rows}
        return len(widths) == 1 and widths.pop() >= 3 and max(len(c) for row in rows for c in row) <= CSV_MAX_CELL
    return False


def _nested_or_keyed(value: object) -> bool:
    """A mapping, or a list holding mappings or lists: data rather than a plain list of words."""
    if isinstance(value, dict):
        return True
    return any(isinstance(v, (dict, list)) for v in value) if isinstance(value, list) else False


_CODEISH = frozenset("()[]{}=;<>&|$@\\_`")
_WORD_RUN_RE = re.compile(r"(?<![\w.'\"])[^\W\d_]+(?: [^\W\d_]+){3}(?![\w(])")
_QUOTED_RE = re.compile(r"\"[^\"]*\"|'[^']*'")
_NOT_PROSE = frozenset(keyword.kwlist) | frozenset(w for w in dir(builtins) if w.isalpha() and w.islower())


def _prose_run(line: str) -> bool:
    """Four plain words in a row outside quotes (none a Python keyword or builtin): prose, no need to lex.
    The same rule the lexer pass applies, checked first because lexing every prose line is slow."""
    unquoted = _QUOTED_RE.sub(" ", line) if ('"' in line or "'" in line) else line
    return any(not _NOT_PROSE.intersection(m.group(0).lower().split()) for m in _WORD_RUN_RE.finditer(unquoted))


def shell_line_score(line: str) -> float:
    """How much one line lexes as a shell command (keywords, builtins, variables, ; | &&), in [0, 1]; 0 unless
    it has shell punctuation and starts with a shell keyword or builtin."""
    if not _SHELL_CHARS & set(line):
        return 0.0
    tokens = [(t, v) for t, v in _SHELL.get_tokens(line.strip()) if v.strip() and t not in Token.Comment]
    if not tokens or not (tokens[0][0] in Token.Keyword or tokens[0][0] in Token.Name.Builtin):
        return 0.0
    shell = sum(1 for t, v in tokens if t in Token.Keyword or t in Token.Name.Builtin or t in Token.Punctuation
                or (t in Token.Name.Variable and not v[1:].replace(".", "").isdigit()))
    return round(shell / len(tokens), 3)


@lru_cache(maxsize=16384)
def code_line_score(line: str) -> float:
    """How code-shaped one line is, in [0, 1] (lexer tokens: code punctuation, operators, literals, calls
    and builtins count for it; runs of three or more plain words count against it)."""
    if line.lstrip().startswith("#!/") or _PROMPT_RE.match(line):
        return 1.0  # a script's interpreter line; a command after a shell prompt ("$ curl -s ...")
    if "$" in line:
        line = _INLINE_MATH_RE.sub(" x ", line)  # LaTeX maths ($R_*$, $10^{-3}$) is notation, not code
    if not _CODEISH.intersection(line) and not line.rstrip().endswith(":") and not line.lstrip()[:4].isupper():
        return 0.0  # no code punctuation at all: nothing for the lexer to find
    stripped = _MD_MARKS_RE.sub("", line).strip()
    if len(stripped) < 3:
        return 0.0
    if _SQL_RE.match(stripped):
        return 1.0
    if _TABLE_ROW_RE.match(stripped) or stripped.startswith(("$$", "\\[", "\\(", "\\begin{")):
        return 0.0  # a Markdown table row or rule; display maths
    stripped = _ELISION_RE.sub(r"\1\2", stripped)  # j'ai, l’eau: not string quotes
    if len(stripped) > 400 or _prose_run(stripped):
        return shell_line_score(stripped) if len(stripped) <= 400 else 0.0
    code = words = run = max_run = 0
    prev_name = False
    after_name = False  # the previous token is a name with no space before this one (a call: f(x))
    calls = 0  # call parentheses still open
    for ttype, value in _LEXER.get_tokens(stripped):
        v = value.strip()
        if not v:
            after_name = False
            continue
        was_after_name, after_name = after_name, (ttype in Token.Name and value == v)
        if ttype in Token.Name or ttype in Token.Keyword or ttype in Token.Operator.Word:
            if ttype in Token.Name.Builtin or ttype in Token.Name.Function or ttype in Token.Name.Decorator:
                code += 1
            if v.isalpha():
                words += 1
                if ttype in Token.Keyword or ttype in Token.Operator.Word or ttype in Token.Name.Builtin:
                    prev_name = False  # 'for', 'in', 'range' break a run of prose words
                    continue
                run = run + 1 if prev_name else 1
                max_run = max(max_run, run)
                prev_name = True
                continue
            if "_" in v.strip("_") or _CAMEL_RE.search(v):
                code += 1  # snake_case / camelCase: identifiers, not words
        elif ttype in Token.Literal.String:
            if ttype in Token.Literal.String.Interpol or ttype in Token.Literal.String.Affix:
                code += 1
        elif ttype in Token.Punctuation or ttype in Token.Operator:
            for c in v:
                if c == "(":  # prose has parentheses too: only a call's count
                    if was_after_name or v.startswith("()"):
                        code, calls = code + 1, calls + 1
                elif c == ")":
                    if calls:
                        code, calls = code + 1, calls - 1
                elif c in "[]":
                    code += 0.5
                elif c in _CODE_PUNCT:
                    code += 1
        prev_name = False
    if stripped[-1] in ";{}" or stripped.endswith((":", "):", "=>")) and not stripped[-2:-1].isalpha():
        code += 1
    if max_run >= 4:
        return 0.0
    total = code + words
    score = code / total if total else 0.0
    return max(round(score * (0.6 if max_run == 3 else 1.0), 3), shell_line_score(stripped))


_PY_STRUCTURE = (ast.For, ast.While, ast.If, ast.With, ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
                 ast.Return, ast.Try, ast.AsyncFunctionDef)


def python_statements(lines: list[str], *, structure_only: bool = False) -> bool:
    """Whether the lines parse as Python with real structure (a loop, a definition, an import, an assignment
    of a call or a literal, or a call with arguments), not as a word or two that happen to parse.
    ``structure_only``: only loops, definitions, imports, returns and ``print`` calls count."""
    src = textwrap.dedent("\n".join(lines))
    if not src.strip():
        return False
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, _PY_STRUCTURE):
            return True
        if structure_only:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                return True
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.List, ast.Dict, ast.JoinedStr,
                                                                   ast.Constant, ast.BinOp, ast.Subscript)):
            return True
        if isinstance(node, ast.Call) and (node.args or node.keywords) and isinstance(node.func, (ast.Name, ast.Attribute)):
            return True
    return False
