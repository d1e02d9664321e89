"""The project's embedded store: one DuckDB file per workspace.

Every stage appends its results here inside transactions, so a run killed at any
moment keeps every committed batch and never leaves a half-written row.
Schema files live in ``bench/sql/*.sql`` and are applied in name order at open (additive only).

A store opens for writing (one process at a time: DuckDB's file lock) or with ``read_only=True``
(read-only commands such as ``bench leaderboard``: no schema change, no write, works on a read-only
workspace). Each run records its process (``runs.pid``, ``runs.host``); since no other process can hold
the store open for writing, a ``running`` row of another process found at a writable open is a run that
was killed: it is marked ``interrupted`` (:meth:`Store.mark_interrupted_runs`).
"""
from __future__ import annotations

import json
import os
import platform
import socket
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

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise BenchError(f"{self.path}: no store here yet (nothing has been run in this workspace)")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # locked, unreadable, not a store...
            raise BenchError(f"{self.path}: cannot open the store ({str(exc).splitlines()[0]})") from exc
        self._lock = threading.RLock()
        if not read_only:
            for sql_file in sorted(SCHEMA_DIR.glob("*.sql")):
                self.con.execute(sql_file.read_text(encoding="utf-8"))
            self.mark_interrupted_runs()

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
                "INSERT INTO runs (run_id, command, params, versions, started_at, status, pid, host) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                [run_id, command, json.dumps(params, sort_keys=True, default=str), json.dumps(library_versions()),
                 utcnow(), os.getpid(), socket.gethostname()],
            )
        return run_id

    def mark_interrupted_runs(self) -> int:
        """Mark ``running`` rows of other processes ``interrupted`` (their process is gone); return how many.

        Sound because a store open for writing is held by one process only: a run of another process
        that were still alive would hold the store, and this open would have failed."""
        with self.transaction() as con:
            n = con.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running' "
                "AND (pid IS NULL OR pid <> ? OR host IS NULL OR host <> ?)",
                [utcnow(), os.getpid(), socket.gethostname()]).fetchone()
        return int(n[0]) if n else 0

    def finish_run(self, run_id: str, status: str = "done") -> None:
        with self.transaction() as con:
            con.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", [utcnow(), status, run_id])
