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
    """A folder holding ``bench.duckdb`` and ``cache/``; created on first use."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_workspace_path(root)

    @property
    def db_path(self) -> Path:
        return self.root / "bench.duckdb"

    @property
    def cache_dir(self) -> Path:
        path = self.root / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def store(self):
        from bench.store import Store

        self.root.mkdir(parents=True, exist_ok=True)
        return Store(self.db_path)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]
