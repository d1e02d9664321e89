"""The Markdown structure of an answer, from a Markdown parser (markdown-it-py, CommonMark + tables).

Detectors ask structural questions of it instead of matching lines with regexes: which fenced blocks
there are (with their info string, and whether the last one is closed), how the last list and the last
table end (an empty item "4.", a row cut short), and
which HTML blocks the answer holds. Parsed once per answer (cached on the text).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import re
from functools import lru_cache

from markdown_it import MarkdownIt

# what makes parsing worth it: fences, indented code after a blank line, HTML tags, table pipes, a list ending
_NEEDS_PARSER_RE = re.compile(r"```|~~~|\n\s*\n {4,}\S|<[A-Za-z!/]|\||(?:^|\n)[ \t]*(?:[-*+]|\d+[.)])[ \t]*$")
_MD = MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass(frozen=True)
class Fence:
    """A fenced (or indented) code block: info string, content, source lines [start, end), closed?"""

    info: str
    content: str
    start: int
    end: int
    closed: bool


@dataclass(frozen=True)
class Block:
    """A top-level block the parser found: its kind and source lines [start, end)."""

    kind: str  # paragraph | heading | bullet_list | ordered_list | table | fence | code_block | html_block | ...
    start: int
    end: int


@dataclass
class AnswerStructure:
    """What the parser says about one answer."""

    lines: list[str]
    blocks: list[Block] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)
    last_list_item_empty: bool = False  # the document's last block is a list whose last item has no text
    last_table_row_short: bool = False  # the last block is a table whose last row has fewer filled cells
    last_table_row_open: bool = False  # ... or whose last source line does not close the row with '|'

    @property
    def last_block(self) -> Block | None:
        return self.blocks[-1] if self.blocks else None

    @property
    def ends_in_open_fence(self) -> bool:
        """The answer ends inside a code block that was opened and never closed."""
        return bool(self.fences) and not self.fences[-1].closed and self.fences[-1].end >= len(self.lines) - 1


@lru_cache(maxsize=2048)
def answer_structure(text: str) -> AnswerStructure:
    """Parse ``text`` as Markdown (cached)."""
    lines = text.split("\n")
    out = AnswerStructure(lines=lines)
    if not _NEEDS_PARSER_RE.search(text):
        return out  # no fence, indented block, HTML or table: nothing here for the parser to find
    tokens = _MD.parse(text)
    depth = 0
    list_stack: list[list[int]] = []  # per open list: number of inline tokens seen in its current item
    last_item_empty = False
    table_rows: list[list[str]] = []
    in_row: list[str] | None = None
    in_table = False
    for tok in tokens:
        if tok.nesting == 1:
            if depth == 0 and tok.map:
                out.blocks.append(Block(tok.type.removesuffix("_open"), tok.map[0], tok.map[1]))
            depth += 1
        elif tok.nesting == -1:
            depth -= 1
        elif depth == 0 and tok.map:  # self-contained top-level block (fence, code_block, html_block, hr)
            out.blocks.append(Block(tok.type, tok.map[0], tok.map[1]))
        if tok.type in ("fence", "code_block") and tok.map:
            closed = tok.type == "code_block" or _closes_fence(lines, tok.map[1] - 1, tok.markup)
            out.fences.append(Fence(tok.info.strip(), tok.content, tok.map[0], tok.map[1], closed))
        elif tok.type == "html_block":
            out.html_blocks.append(tok.content)
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            list_stack.append([0])
        elif tok.type == "list_item_open" and list_stack:
            list_stack[-1][0] = 0
        elif tok.type == "list_item_close" and list_stack:
            last_item_empty = list_stack[-1][0] == 0
        elif tok.type in ("bullet_list_close", "ordered_list_close") and list_stack:
            list_stack.pop()
        elif tok.type == "table_open":
            in_table, table_rows = True, []
        elif tok.type == "table_close":
            in_table = False
        elif tok.type == "tr_open" and in_table:
            in_row = []
        elif tok.type == "tr_close" and in_row is not None:
            table_rows.append(in_row)
            in_row = None
        elif tok.type == "inline":
            if list_stack and tok.content.strip():
                list_stack[-1][0] += 1
            if in_row is not None:
                in_row.append(tok.content.strip())
    last = out.last_block
    if last is not None and last.kind in ("bullet_list", "ordered_list"):
        out.last_list_item_empty = last_item_empty
    if last is not None and last.kind == "table" and len(table_rows) >= 2:
        header, final = table_rows[0], table_rows[-1]
        out.last_table_row_short = sum(1 for c in final if c) < sum(1 for c in header if c)
        out.last_table_row_open = not lines[min(last.end, len(lines)) - 1].rstrip().endswith("|")
    return out


def _closes_fence(lines: list[str], index: int, markup: str) -> bool:
    """Whether source line ``index`` is a closing fence for an opening ``markup`` (``` or ~~~)."""
    if not (0 <= index < len(lines)) or not markup:
        return False
    line = lines[index].strip()
    return line.startswith(markup[0] * len(markup)) and not line.strip(markup[0])
