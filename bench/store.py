"""The project's embedded store: one DuckDB file per workspace.

Every stage appends its results here inside transactions, so a run killed at any
moment keeps every committed batch and never leaves a half-written row.
Schema files live in ``bench/sql/*.sql`` and are applied in name order at open.
"""
from __future__ import annotations

import json
import platform
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import duckdb

from bench.errors import BenchError

SCHEMA_DIR = Path(__file__).with_name("sql")
TRACKED_PACKAGES = ("bench", "torch", "transformers", "datasets", "trl", "peft", "duckdb", "openai", "lingua-language-detector")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape results (recorded with every run)."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """A DuckDB connection with the project schema and a transaction helper."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:  # locked by another process, unreadable file...
            raise BenchError(f"{self.path}: cannot open the store ({str(exc).splitlines()[0]})") from exc
        self._lock = threading.RLock()
        for sql_file in sorted(SCHEMA_DIR.glob("*.sql")):
            self.con.execute(sql_file.read_text(encoding="utf-8"))

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block; thread-safe (one writer at a time)."""
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def query(self, sql: str, params: list | tuple | None = None) -> list[tuple]:
        with self._lock:
            return self.con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list | tuple | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cur = self.con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # -- runs ---------------------------------------------------------------
    def start_run(self, command: str, params: dict[str, Any]) -> str:
        run_id = f"{command.replace(' ', '-')}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self.transaction() as con:
            con.execute(
                "INSERT INTO runs (run_id, command, params, versions, started_at, status) VALUES (?, ?, ?, ?, ?, 'running')",
                [run_id, command, json.dumps(params, sort_keys=True, default=str), json.dumps(library_versions()), utcnow()],
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "done") -> None:
        with self.transaction() as con:
            con.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", [utcnow(), status, run_id])
