"""Reading JSON and JSON Lines input files: every decoding problem is one :class:`InputError`.

The one reader behind every command that takes ``.json`` / ``.jsonl`` input, so that a bad file
gets the same message wherever it is given: ``FILE: record line N: invalid JSON (... at column C)``,
``FILE: record line N: not valid UTF-8 (... at byte B)``, ``FILE: cannot read: ...`` (nesting too deep
for the parser is invalid JSON too). JSON Lines
files are decoded line by line (an encoding error names its line), blank lines are skipped and a
UTF-8 byte-order mark at the start of the file is accepted. What a record must contain is the
caller's business.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from bench.errors import InputError

_BOM = b"\xef\xbb\xbf"
TOO_DEEP = "invalid JSON (arrays or objects nested too deeply for the parser, about 1,000 levels)"


def open_input(path: str | Path) -> BinaryIO:
    """Open an input file for reading bytes; a missing or unreadable file is an InputError."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None


def _utf8(file: str, raw: bytes, record: str | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        where = f"byte {exc.start}" if record else f"line {line}, byte {exc.start}"
        raise InputError(file, f"not valid UTF-8 ({exc.reason} at {where})", record=record) from None


def parse_jsonl(file: str, lines: Iterable[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of ``lines`` (bytes, as read from ``file``)."""
    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        where = f"line {lineno}"
        line = _utf8(file, raw, where)
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(file, f"invalid JSON ({exc.msg} at column {exc.colno})", record=where) from None
        except RecursionError:
            raise InputError(file, TOO_DEEP, record=where) from None
        yield lineno, value


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a JSON Lines file, streamed."""
    with open_input(path) as handle:
        yield from parse_jsonl(str(path), handle)


def parse_json(file: str, data: bytes) -> Any:
    """The value of a whole JSON document (bytes, as read from ``file``)."""
    text = _utf8(file, data[len(_BOM):] if data.startswith(_BOM) else data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(file, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise InputError(file, f"{TOO_DEEP[:-1]}, deepest at line {_deepest_line(text)})") from None


def _deepest_line(text: str) -> int:
    """The line where the nesting of ``text`` (a JSON document) is deepest, strings skipped."""
    depth = best = 0
    line = best_line = 1
    in_string = escaped = False
    for char in text:
        if char == "\n":
            line += 1
        elif in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif char in "]}":
            depth -= 1
    return best_line


def read_json(path: str | Path) -> Any:
    """The value of a whole JSON file."""
    with open_input(path) as handle:
        data = handle.read()
    return parse_json(str(path), data)
