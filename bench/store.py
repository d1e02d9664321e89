"""The project's embedded store: one DuckDB file per workspace, shared by every bench process.

Every stage appends its results here inside transactions, so a run killed at any moment keeps every
committed batch and never leaves a half-written row (DuckDB's write-ahead log: the next open replays
what a killed writer committed). Schema files live in ``bench/sql/*.sql``; they are applied once per
process when the store is first opened, and only when their digest differs from the one recorded in
the store (additive only).

Several bench processes may use one workspace at once (``baselines run`` + ``baselines judge`` +
``leaderboard`` ...). DuckDB lets one process open the file for writing, and while it does no other
process can open it at all, so a :class:`Store` holds the file only for one operation: a query, a
transaction, or a short :meth:`Store.session` (a few reads that must see one state). Between them the
file is free. An open that finds the file held by another process waits with a jittered exponential
back-off (said once on stderr), up to ``$BENCH_STORE_WAIT`` seconds (default 60), then fails in one
line naming the file. A store opened with ``read_only=True`` (``bench leaderboard``, exports) never
writes and works on a read-only workspace.

Each run records its process (``runs.pid``, ``runs.host``): a ``running`` row whose process no longer
exists on this host is marked ``interrupted`` when the store is opened for writing
(:meth:`Store.mark_interrupted_runs`).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import socket
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb

from bench.errors import BenchError

SCHEMA_DIR = Path(__file__).with_name("sql")
TRACKED_PACKAGES = ("bench", "torch", "transformers", "datasets", "trl", "peft", "duckdb", "openai", "lingua-language-detector")
WAIT_ENV = "BENCH_STORE_WAIT"  # seconds an open waits for another bench process (default DEFAULT_WAIT_S)
DEFAULT_WAIT_S = 60.0
ANNOUNCE_AFTER_S = 0.5  # a wait longer than this is said on stderr (once per process)
_FIRST_DELAY_S, _MAX_DELAY_S = 0.005, 0.25
_LOCK_MESSAGE = "Could not set lock on file"

_SCHEMA_TABLE = ("CREATE TABLE IF NOT EXISTS store_schema (digest VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL, "
                 "pid INTEGER, host VARCHAR)")
_path_locks: dict[str, threading.RLock] = {}
_path_locks_guard = threading.Lock()
_announced = threading.Event()


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


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.sql"))


def schema_digest() -> str:
    """Hash of the schema files (names and text): the store records the one it was brought up to."""
    h = hashlib.sha256()
    for path in schema_files():
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def wait_limit() -> float:
    """Seconds an open waits for the file (``$BENCH_STORE_WAIT``, default 60)."""
    raw = os.environ.get(WAIT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_WAIT_S
    try:
        value = float(raw)
    except ValueError:
        raise BenchError(f"${WAIT_ENV}={raw!r}: not a number of seconds") from None
    if not value >= 0:
        raise BenchError(f"${WAIT_ENV}={raw!r}: must be >= 0 seconds")
    return value


def _path_lock(path: Path) -> threading.RLock:
    """One lock per store file in this process: its operations are serialized across threads and stores."""
    key = os.path.abspath(path)
    with _path_locks_guard:
        return _path_locks.setdefault(key, threading.RLock())


def open_connection(path: Path, *, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting (bounded, jittered exponential back-off) while another process holds it."""
    started = time.monotonic()
    delay = _FIRST_DELAY_S
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if _LOCK_MESSAGE not in first:
                raise BenchError(f"{path}: cannot open the store ({first})") from exc
            waited = time.monotonic() - started
            if waited >= wait_s:
                raise BenchError(f"{path}: cannot open the store: another bench process kept it busy for "
                                 f"{waited:.0f} s (${WAIT_ENV} seconds, default {DEFAULT_WAIT_S:g}; {first})") from None
            if waited >= ANNOUNCE_AFTER_S and not _announced.is_set():
                _announced.set()
                print(f"waiting for another bench process using {path} (up to {wait_s:g} s)", file=sys.stderr,
                      flush=True)
            time.sleep(min(delay * random.uniform(0.5, 1.5), max(wait_s - waited, 0.0)))
            delay = min(delay * 2, _MAX_DELAY_S)
        except duckdb.Error as exc:  # unreadable, not a store, opened with another configuration here...
            raise BenchError(f"{path}: cannot open the store ({str(exc).splitlines()[0]})") from exc


def _process_alive(pid: int, started_at: datetime | None) -> bool:
    """Whether the process ``pid`` of this host exists and started before ``started_at`` (not a reused pid)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    except OSError:
        return False
    begun = _process_start_time(pid)
    if begun is None or started_at is None:
        return True
    return begun <= started_at.replace(tzinfo=timezone.utc).timestamp() + 1.0


def _process_start_time(pid: int) -> float | None:
    """Start time (epoch seconds) of ``pid`` from /proc (Linux); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


class Store:
    """The workspace's DuckDB file: queries, transactions and short sessions, each holding the file briefly.

    ``wait_s``: how long an open waits for another process (default ``$BENCH_STORE_WAIT`` or 60 s).
    Operations of one process are serialized (one lock per file: the judge's threads, several stores)."""

    def __init__(self, path: str | Path, *, read_only: bool = False, wait_s: float | None = None):
        self.path = Path(path)
        self.read_only = read_only
        self.wait_s = wait_limit() if wait_s is None else float(wait_s)
        if read_only and not self.path.is_file():
            raise BenchError(f"{self.path}: no store here yet (nothing has been run in this workspace)")
        self._lock = _path_lock(self.path)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pinned = False
        self.opens = 0  # connections opened so far (tests and speed figures)
        with self.session() as con:  # a bad or busy file fails here, in one line
            if not read_only:
                self._apply_schema(con)
                self.mark_interrupted_runs()

    def _apply_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        digest = schema_digest()
        has_table = con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'store_schema' "
                                "AND schema_name = 'main'").fetchone()[0]
        if has_table and con.execute("SELECT COUNT(*) FROM store_schema WHERE digest = ?", [digest]).fetchone()[0]:
            return
        with self.transaction():
            for sql_file in schema_files():
                con.execute(sql_file.read_text(encoding="utf-8"))
            con.execute(_SCHEMA_TABLE)
            con.execute("DELETE FROM store_schema")
            con.execute("INSERT INTO store_schema VALUES (?, ?, ?, ?)",
                        [digest, utcnow(), os.getpid(), socket.gethostname()])

    # -- holding the file ---------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the file for a few operations (one consistent state, one open); nested calls share it.

        Keep it short: other bench processes wait while it is held."""
        with self._lock:
            if self._con is not None:
                yield self._con
                return
            self._con = open_connection(self.path, read_only=self.read_only, wait_s=self.wait_s)
            self.opens += 1
            try:
                yield self._con
            finally:
                con, self._con = self._con, None
                if self._pinned:  # `.con` was taken inside the session: keep holding
                    self._con = con
                else:
                    con.close()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A connection held until :meth:`close` (tests and tools that drive DuckDB directly); while it
        is held no other process can open the store. Bench commands use :meth:`query`,
        :meth:`transaction` and :meth:`session` instead."""
        with self._lock:
            if self._con is None:
                self._con = open_connection(self.path, read_only=self.read_only, wait_s=self.wait_s)
                self.opens += 1
            self._pinned = True
            return self._con

    def close(self) -> None:
        """Release a connection held by :attr:`con` (nothing else stays open between operations)."""
        with self._lock:
            con, self._con, self._pinned = self._con, None, False
            if con is not None:
                con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block, holding the file for its duration; thread-safe (one writer at a time)."""
        with self.session() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(self, sql: str, params: list | tuple | dict | None = None, *,
              tables: Mapping[str, Any] | None = None) -> list[tuple]:
        """Rows of one statement; ``tables``: Arrow tables (or data frames) visible by name during it."""
        with self.session() as con, _registered(con, tables):
            return con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list | tuple | dict | None = None) -> list[dict[str, Any]]:
        with self.session() as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def arrow(self, sql: str, params: list | tuple | dict | None = None) -> Any:
        """The result of one statement as a pyarrow table (read whole before the file is released)."""
        with self.session() as con:
            return con.sql(sql, params=params).to_arrow_table()

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
        """Mark ``running`` rows whose process is gone ``interrupted``; return how many.

        A row of this host is gone when its pid no longer exists (or was reused by a process that
        started after the run); rows without pid or host (older stores) count as gone. Rows of other
        hosts are left alone: their process cannot be checked from here."""
        host = socket.gethostname()
        with self.transaction() as con:
            running = con.execute("SELECT run_id, pid, host, started_at FROM runs WHERE status = 'running'").fetchall()
            gone = [run_id for run_id, pid, run_host, started in running
                    if pid is None or run_host is None or (run_host == host and not _process_alive(int(pid), started))]
            if gone:
                con.execute("UPDATE runs SET status = 'interrupted', finished_at = ? "
                            "WHERE status = 'running' AND list_contains(?, run_id)", [utcnow(), gone])
        return len(gone)

    def finish_run(self, run_id: str, status: str = "done") -> None:
        with self.transaction() as con:
            con.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", [utcnow(), status, run_id])


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, tables: Mapping[str, Any] | None) -> Iterator[None]:
    names = list(tables or {})
    try:
        for name in names:
            con.register(name, tables[name])  # type: ignore[index]
        yield
    finally:
        for name in names:
            try:
                con.unregister(name)
            except duckdb.Error:
                pass
