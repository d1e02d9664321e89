"""User-facing errors: one line that names the file, the record and the field."""
from __future__ import annotations


class BenchError(Exception):
    """An error the CLI prints as one line (no traceback unless --debug)."""


class InputError(BenchError):
    """Bad input: names the file, the record (line number or id) and the field."""

    def __init__(self, file: str, message: str, record: str | int | None = None, field: str | None = None):
        self.file, self.record, self.field, self.message = str(file), record, field, message
        where = [self.file]
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}")


class ConfigError(InputError):
    """Bad configuration file or option value."""
