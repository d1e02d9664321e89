"""``unintended_code``: code or markup although the instruction asked for nothing technical."""
from __future__ import annotations

import re

from baselines.errors.answer_context import AnswerContext
from baselines.errors.finding import Finding
from baselines.errors.text_features import clip

_PROG_LANGS = {
    "python", "py", "python3", "javascript", "js", "typescript", "ts", "java", "c", "cpp", "c++", "csharp", "cs",
    "go", "golang", "rust", "ruby", "php", "perl", "swift", "kotlin", "scala", "r", "sql", "mysql", "bash", "sh",
    "shell", "zsh", "powershell", "ps1", "cmd", "bat", "html", "xml", "css", "scss", "json", "yaml", "yml", "toml",
    "jsx", "tsx", "vue", "lua", "dart", "haskell", "matlab", "vba", "assembly", "asm", "dockerfile", "makefile",
}
_CODE_LINE_RE = re.compile(
    r"""(?x)^\s*(?:
      (?:def|class)\s+\w+\s*[(:]                                  # python def/class
    | (?:import\s+[\w.]+(?:\s+as\s+\w+)?\s*;?\s*$)                 # import x
    | (?:from\s+[\w.]+\s+import\s+[\w*,\s]+$)                      # from x import y
    | (?:for|while|if|elif|with|try|except)\b[^\n]*:\s*$           # python block header
    | (?:else|try|finally)\s*:\s*$
    | (?:return|yield)\b\s*[\w(\[{"'-]
    | (?:print|console\.log|System\.out\.print\w*|printf|puts|echo)\s*\(
    | (?:public|private|protected|static|void|int|float|double|char|bool|boolean|string|const|let|var|function|
         async\s+function|fn|func|val)\s+[\w<>\[\]]+\s*(?:[=(:{]|$)
    | \#include\s*[<"]
    | \#!/
    | (?:SELECT\s+[\w*,\s.()]+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW))\b
    | <!DOCTYPE
    | </?(?:html|head|body|div|span|script|style|table|tr|td|ul|ol|li|h[1-6]|p|br|img|a|form|input|button)\b[^>]*>
    | \\(?:documentclass|usepackage|begin\{document\})
    | (?:sudo|pip3?|npm|yarn|git|apt(?:-get)?|brew|docker|curl|wget|chmod|mkdir|cd|ls|rm|cp|mv)\s+[-\w./~]+
    | \$\s+\w+
    | [}\])]\s*[;,]?\s*$
    | [^\n]*[\w)\]"'];\s*$                                         # statement ending with ';' (no space before)
    | [^\n]*\)\s*\{\s*$                                            # ') {'
    | [^\n]*=>\s*[{(\w]
    | //\s?\w | /\*
    | "[^"\n]{1,40}"\s*:\s*(?:"[^"\n]*"|\d[\d.]*|true|false|null|\[|\{)\s*,?\s*$        # JSON "key": value
    )"""
)
# lines that are code beyond doubt (two of them are enough)
_STRONG_CODE_RE = re.compile(
    r"""(?x)^\s*(?:(?:def|class)\s+\w+\s*[(:]|import\s+[\w.]+|from\s+[\w.]+\s+import\b|
    (?:print|console\.log|System\.out\.print\w*|printf|echo)\s*\(|\#include\b|
    (?:function|const|let|var)\s+\w+\s*[=(]|SELECT\s.+\sFROM\b|INSERT\s+INTO\b|<!DOCTYPE|
    "[^"\n]{1,40}"\s*:\s*(?:"[^"\n]*"|\d[\d.]*|true|false|null)\s*,?\s*$)""")
_HTML_TAG_RE = re.compile(r"</?(?:html|head|body|div|span|p|br|ul|ol|li|h[1-6]|table|tr|td|th|a|img|b|i|strong|em|"
                          r"script|style|code|pre|section|article|header|footer|nav|font|center)\b[^<>]{0,200}>", re.I)
_FENCE_RE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)


def _code_lines(text: str) -> list[tuple[int, str]]:
    out = []
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) >= 2 and _CODE_LINE_RE.match(line) and not stripped.startswith(("$$", "\\[", "\\(")):
            out.append((pos, stripped))
        pos += len(line) + 1
    return out


def detect(ctx: AnswerContext) -> Finding | None:
    """Code or markup in the answer proper (before any scaffolding it ran on into)."""
    if ctx.is_empty or ctx.instruction_features.technical:
        return None
    output = ctx.body
    code = _code_lines(output)
    # lines that are only a closing bracket count only next to real code
    real = [c for c in code if not re.fullmatch(r"[}\])]\s*[;,]?", c[1])]
    fenced_prog = None
    for m in _FENCE_RE.finditer(output):
        tag = m.group(1).lower()
        body = m.group(2)
        body_code = _code_lines(body)
        if (tag in _PROG_LANGS and body.strip()) or len(body_code) >= 2:
            fenced_prog = (m.start(), tag or "code", len(body_code))
            break
    tags = _HTML_TAG_RE.findall(output)
    n_real = len(real)
    n_strong = sum(1 for c in real if _STRONG_CODE_RE.match(c[1]))
    if fenced_prog is None and n_real < 3 and len(tags) < 3 and n_strong < 2:
        return None
    lines = max(1, len([ln for ln in output.split("\n") if ln.strip()]))
    frac = n_real / lines
    if fenced_prog is None and len(tags) < 3 and frac < 0.15 and n_real < 5 and n_strong < 2:
        return None
    score = min(0.99, 0.55 + 0.06 * n_real + (0.2 if fenced_prog else 0) + 0.02 * min(len(tags), 10))
    if fenced_prog is not None:
        start = fenced_prog[0]
        evidence = f"```{fenced_prog[1]} block with {fenced_prog[2]} code lines"
    elif real:
        start = real[0][0]
        evidence = f"{n_real} code-like lines, e.g. {clip(real[0][1], 50)!r}"
    else:
        start = output.find(tags[0])
        evidence = f"{len(tags)} HTML tags, e.g. {tags[0]!r}"
    end = min(len(output), start + 200)
    return Finding("unintended_code", score, (start, end), evidence + " (instruction is not technical)")
