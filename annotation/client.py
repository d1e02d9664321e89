"""Connecting to an Argilla server (the local stack or the user's own), with one-line errors.

The URL and key come from ``--api-url`` / ``--api-key`` or ``ARGILLA_API_URL`` / ``ARGILLA_API_KEY``;
without them, the local stack started by ``bench annotate up`` and its default local dev key.
The key is never printed: errors name the URL only.
"""
from __future__ import annotations

import functools
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator
from uuid import UUID

import click
import httpx

from bench.errors import BenchError

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = int(os.environ.get("ARGILLA_STACK_PORT", "6930"))
DEFAULT_API_URL = f"http://{LOCAL_HOST}:{LOCAL_PORT}"
LOCAL_DEV_API_KEY = "argilla.apikey"     # Argilla's default local owner key (local stack only)
LOCAL_DEV_USER, LOCAL_DEV_PASSWORD = "argilla", "12345678"
DEFAULT_WORKSPACE_NAME = "bench"
PAGE = 500                               # records per REST page (server maximum is 1000)


def api_url_from_env() -> str:
    return (os.environ.get("ARGILLA_API_URL") or DEFAULT_API_URL).rstrip("/")


def api_key_from_env() -> str:
    return os.environ.get("ARGILLA_API_KEY") or LOCAL_DEV_API_KEY


def server_options(func):
    """``--api-url`` / ``--api-key`` / ``--workspace-name`` for every command that talks to Argilla."""
    @click.option("--api-url", envvar="ARGILLA_API_URL", default=DEFAULT_API_URL, show_default=True,
                  help="Argilla server URL (env ARGILLA_API_URL). Default: the local stack of `bench annotate up`.")
    @click.option("--api-key", envvar="ARGILLA_API_KEY", default=LOCAL_DEV_API_KEY, show_default=False,
                  help="Argilla API key (env ARGILLA_API_KEY). Default: the local stack's dev key.")
    @click.option("--workspace-name", default=DEFAULT_WORKSPACE_NAME, show_default=True,
                  help="Argilla workspace holding the datasets (created when missing).")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


class ServerError(BenchError):
    """The Argilla server is unreachable or refused a request (one line, names the URL)."""


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def check_server(url: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET /api/v1/me; returns the current user or raises ServerError naming the URL."""
    url = url.rstrip("/")
    try:
        resp = httpx.get(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": key}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServerError(f"Argilla server not reachable at {url} ({_why(exc)}); start the local one with "
                          "`bench annotate up` or pass --api-url/--api-key") from None
    if resp.status_code in (401, 403):
        raise ServerError(f"Argilla server at {url} rejected the API key (HTTP {resp.status_code}); "
                          "check --api-key / ARGILLA_API_KEY")
    if resp.status_code != 200:
        raise ServerError(f"Argilla server at {url} answered HTTP {resp.status_code} to /api/v1/me; is it an Argilla 2.x server?")
    try:
        return resp.json()
    except ValueError:
        raise ServerError(f"{url} is not an Argilla server (/api/v1/me did not answer JSON)") from None


@dataclass
class Connection:
    """An SDK client plus the raw HTTP client (same URL and key) for endpoints the SDK hides."""
    url: str
    client: Any                # argilla.Argilla
    me: dict[str, Any]

    @property
    def http(self) -> httpx.Client:
        return self.client.http_client

    def get(self, path: str, **params) -> Any:
        with server_errors(self.url):
            resp = self.http.get(path, params=params or None)
            _raise_for(resp, self.url, path)
            return resp.json()

    def post(self, path: str, payload: Any) -> Any:
        with server_errors(self.url):
            resp = self.http.post(path, json=payload)
            _raise_for(resp, self.url, path)
            return resp.json() if resp.content else None

    def patch(self, path: str, payload: Any) -> Any:
        with server_errors(self.url):
            resp = self.http.patch(path, json=payload)
            _raise_for(resp, self.url, path)
            return resp.json() if resp.content else None

    def delete(self, path: str, **params) -> Any:
        with server_errors(self.url):
            resp = self.http.delete(path, params=params or None)
            _raise_for(resp, self.url, path)
            return resp.json() if resp.content else None

    def usernames(self) -> dict[str, str]:
        """user id -> username (only owners may list users; others get the ids)."""
        with server_errors(self.url):
            resp = self.http.get("/api/v1/users")
        if resp.status_code in (401, 403):
            return {}
        _raise_for(resp, self.url, "/api/v1/users")
        return {u["id"]: u["username"] for u in resp.json()["items"]}

    def list_records(self, dataset_id: UUID | str) -> Iterator[dict[str, Any]]:
        """Every record of a dataset with all users' responses (REST: keeps response timestamps)."""
        offset = 0
        while True:
            page = self.get(f"/api/v1/datasets/{dataset_id}/records", include="responses", offset=offset, limit=PAGE)
            items = page.get("items", [])
            yield from items
            offset += len(items)
            if not items or offset >= page.get("total", 0):
                return


def submitted_responses(conn: "Connection", dataset_id, statuses: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(record, response) for every *submitted* response of a dataset; ``statuses`` (a Counter) counts every
    response by status, submitted or not."""
    for rec in conn.list_records(dataset_id):
        for resp in rec.get("responses") or []:
            statuses[resp["status"]] += 1
            if resp["status"] == "submitted":
                yield rec, resp


def _raise_for(resp: httpx.Response, url: str, path: str) -> None:
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text[:200]
        raise ServerError(f"Argilla server at {url}: {path} failed with HTTP {resp.status_code}: {str(detail)[:300]}")


@contextmanager
def server_errors(url: str) -> Iterator[None]:
    """Turn transport and API errors raised inside the block into one-line ServerErrors naming the URL."""
    from argilla._exceptions import ArgillaError

    try:
        yield
    except ServerError:
        raise
    except httpx.HTTPError as exc:
        raise ServerError(f"Argilla server not reachable at {url} ({_why(exc)}); is it still running?") from None
    except ArgillaError as exc:
        raise ServerError(f"Argilla server at {url}: {_why(exc)}") from None


def connect(url: str | None = None, key: str | None = None, timeout: int = 120) -> Connection:
    """Check the server answers, then open an SDK client (no retries on a dead server)."""
    import argilla as rg

    _quiet_sdk_progress()
    url = (url or api_url_from_env()).rstrip("/")
    key = key or api_key_from_env()
    me = check_server(url, key)
    with server_errors(url):
        client = rg.Argilla(api_url=url, api_key=key, timeout=timeout, retries=1)
    return Connection(url=url, client=client, me=me)


def ensure_workspace(conn: Connection, name: str):
    """The Argilla workspace ``name`` (created when missing; the current user is added to it)."""
    import argilla as rg

    with server_errors(conn.url), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = conn.client.workspaces(name=name)
        if ws is None:
            ws = rg.Workspace(name=name, client=conn.client).create()
        return ws


def find_dataset(conn: Connection, name: str, workspace: str):
    with server_errors(conn.url), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if conn.client.workspaces(name=workspace) is None:
            return None
        return conn.client.datasets(name=name, workspace=workspace)


@functools.lru_cache(maxsize=1)
def _quiet_sdk_progress() -> None:
    """The SDK draws a tqdm bar per `records.log`; bench has its own progress reporting."""
    try:
        from functools import partial

        from argilla.records import _dataset_records
        from tqdm import tqdm

        _dataset_records.tqdm = partial(tqdm, disable=True)
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
