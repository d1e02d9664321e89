"""The workspace folder: the DuckDB store plus caches, one per project or study."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

DEFAULT_WORKSPACE = "./bench-workspace"
WORKSPACE_ENV = "BENCH_WORKSPACE"


def resolve_workspace_path(option: str | os.PathLike | None = None) -> Path:
    """--workspace wins, then $BENCH_WORKSPACE, then ./bench-workspace."""
    return Path(option or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).expanduser()


class Workspace:
    """A folder holding ``bench.duckdb`` and ``cache/``; created on first use.

    ``store``: the store opened for writing (creates the folder). ``read_store``: for read-only commands
    (leaderboard, exports): opened with ``read_only=True`` -- nothing is created or written, so it works
    on a read-only folder or file -- or the writable store when this workspace already opened it."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_workspace_path(root)

    @property
    def db_path(self) -> Path:
        return self.root / "bench.duckdb"

    def _create(self, path: Path) -> Path:
        """Create ``path`` (the folder or one inside it) on first write; a workspace path that is a file,
        or a folder that cannot be made, is one :class:`BenchError` line."""
        from bench.errors import BenchError

        for folder in (self.root, path):
            if folder.exists() and not folder.is_dir():
                raise BenchError(f"{folder}: not a folder; the workspace must be a folder (--workspace DIR)")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BenchError(f"{path}: cannot create the workspace folder ({exc.strerror or exc})") from None
        return path

    @property
    def cache_dir(self) -> Path:
        return self._create(self.root / "cache")

    @cached_property
    def store(self):
        from bench.store import Store

        self._create(self.root)
        return Store(self.db_path)

    @cached_property
    def read_store(self):
        from bench.store import Store

        if "store" in self.__dict__:
            return self.store
        return Store(self.db_path, read_only=True)

    def close(self) -> None:
        opened = {id(s): s for s in (self.__dict__.pop("read_store", None), self.__dict__.pop("store", None)) if s}
        for store in opened.values():
            store.close()
