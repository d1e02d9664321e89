"""A loopback fake of the Hugging Face Hub HTTP API, for push tests (no network, no Hub).

Implements just the routes the installed ``huggingface_hub`` (2.x) calls for a dataset push:

* ``POST /api/repos/create``                          create_repo (409 when it exists)
* ``GET  /api/datasets/{repo}`` and ``.../revision/{rev}``   repo_info / dataset_info
* ``GET  /api/datasets/{repo}/refs``                  list_repo_refs
* ``GET  /api/datasets/{repo}/commits/{rev}``         list_repo_commits (newest first, one page)
* ``POST /api/datasets/{repo}/branch/{branch}``       create_branch
* ``POST /api/validate-yaml``                         README metadata check done by create_commit
                                                      (validated with :mod:`cards.validate`)
* ``POST /api/datasets/{repo}/preupload/{rev}``       upload modes: always ``regular`` (files are
                                                      small), with the git oid of the remote file
                                                      so unchanged files are skipped
* ``POST /api/datasets/{repo}/commit/{rev}``          NDJSON commit: header + base64 ``file`` lines,
                                                      ``parentCommit`` checked (412 when stale)
* ``POST /api/datasets/{repo}/tag/{rev}``             create_tag (409 when it exists)

Anything else (e.g. ``/api/agent-harnesses``) gets a 404 and is recorded. Every request is
recorded (method, path, query, headers, body, status). Faults are injected per route:
``hub.fail("commit", "503", times=2)``; kinds: an HTTP status (``"500"``, ``"503"``, ``"429"``...),
``"drop"`` (close the connection before acting) and ``"drop_after"`` (act, then close the
connection without a reply: the lost-response case). Write routes need ``Authorization: Bearer
<token>`` when the hub is given a token.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"
ROUTES = [
    ("POST", "create_repo", re.compile(r"^/api/repos/create$")),
    ("POST", "validate_yaml", re.compile(r"^/api/validate-yaml$")),
    ("GET", "refs", re.compile(rf"^/api/datasets/{_REPO}/refs$")),
    ("GET", "commits", re.compile(rf"^/api/datasets/{_REPO}/commits/(?P<rev>.+)$")),
    ("POST", "branch", re.compile(rf"^/api/datasets/{_REPO}/branch/(?P<rev>.+)$")),
    ("POST", "preupload", re.compile(rf"^/api/datasets/{_REPO}/preupload/(?P<rev>.+)$")),
    ("POST", "commit", re.compile(rf"^/api/datasets/{_REPO}/commit/(?P<rev>.+)$")),
    ("POST", "tag", re.compile(rf"^/api/datasets/{_REPO}/tag/(?P<rev>.+)$")),
    ("GET", "repo_info", re.compile(rf"^/api/datasets/{_REPO}/revision/(?P<rev>.+)$")),
    ("GET", "repo_info", re.compile(rf"^/api/datasets/{_REPO}$")),
]
WRITE_ROUTES = {"create_repo", "branch", "preupload", "commit", "tag"}


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    files: dict[str, bytes]
    date: str


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, rev: str) -> str | None:
        if rev in self.branches:
            return self.branches[rev]
        if rev in self.tags:
            return self.tags[rev]
        return rev if rev in self.commits else None

    def files_at(self, rev: str) -> dict[str, bytes]:
        oid = self.resolve(rev)
        return dict(self.commits[oid].files) if oid else {}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    route: str | None
    status: int | None = None
    fault: str | None = None


class FakeHub:
    """Start with ``with FakeHub(token=...) as hub:``; ``hub.url`` is the endpoint."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.calls: list[Call] = []
        self.faults: dict[str, list[str]] = {}
        self._lock = threading.RLock()
        self._clock = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------
    def __enter__(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, route: str, kind: str, times: int = 1) -> None:
        """The next ``times`` requests of ``route`` get fault ``kind``."""
        with self._lock:
            self.faults.setdefault(route, []).extend([kind] * times)

    def calls_to(self, route: str) -> list[Call]:
        return [c for c in self.calls if c.route == route]

    def state(self, repo_id: str) -> dict[str, Any]:
        """A comparable snapshot of a repo (commits, branches, tags)."""
        with self._lock:
            repo = self.repos.get(repo_id)
            if repo is None:
                return {}
            return {"commits": sorted(repo.commits), "branches": dict(repo.branches), "tags": dict(repo.tags)}

    # -- state changes -------------------------------------------------------------------------
    def _new_commit(self, repo: Repo, parent: str | None, title: str, message: str,
                    files: dict[str, bytes]) -> Commit:
        self._clock += 1
        blobs = sorted((k, git_blob_oid(v)) for k, v in files.items())
        digest = hashlib.sha1(json.dumps([parent, title, message, blobs, self._clock]).encode()).hexdigest()
        when = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp() + self._clock
        commit = Commit(oid=digest, parent=parent, title=title, message=message, files=files,
                        date=datetime.fromtimestamp(when, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        repo.commits[digest] = commit
        return commit

    def create_repo(self, repo_id: str, private: bool = False) -> Repo:
        with self._lock:
            repo = Repo(repo_id=repo_id, private=private)
            first = self._new_commit(repo, None, "initial commit", "",
                                     {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"})
            repo.branches["main"] = first.oid
            self.repos[repo_id] = repo
            return repo


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------------------------
    def _reply(self, call: Call, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        call.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, call: Call, status: int, message: str, code: str | None = None) -> None:
        self._reply(call, status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message} if code
                    else {"X-Error-Message": message})

    def _drop(self, call: Call) -> None:
        call.status = None
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _dispatch(self, method: str) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route, match = None, None
        for verb, name, pattern in ROUTES:
            m = pattern.match(path)
            if m and verb == method:
                route, match = name, m
                break
        call = Call(method=method, path=path, query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body, route=route)
        with hub._lock:
            hub.calls.append(call)
            fault = hub.faults[route].pop(0) if route and hub.faults.get(route) else None
        call.fault = fault
        if route is None:
            return self._error(call, 404, f"not implemented in the fake hub: {method} {path}")
        if fault == "drop":
            return self._drop(call)
        if fault and fault.isdigit():
            return self._error(call, int(fault), f"injected fault {fault}")
        if route in WRITE_ROUTES and hub.token is not None:
            if call.headers.get("authorization") != f"Bearer {hub.token}":
                return self._error(call, 401, "Invalid credentials in Authorization header")
        with hub._lock:
            status, payload, headers = getattr(self, f"_route_{route}")(match, body)
        if fault == "drop_after":
            return self._drop(call)
        self._reply(call, status, payload, headers)

    def _repo(self, match) -> Repo | None:
        return self.hub.repos.get(match.group("repo"))

    @staticmethod
    def _not_found(what: str = "Repository not found", code: str = "RepoNotFound"):
        return 404, {"error": what}, {"X-Error-Code": code, "X-Error-Message": what}

    # -- routes (called with the hub lock held) --------------------------------------------------
    def _route_create_repo(self, match, body):
        data = json.loads(body or b"{}")
        if data.get("type") != "dataset":
            return 400, {"error": "the fake hub only serves dataset repos"}, {}
        repo_id = f"{data.get('organization')}/{data.get('name')}" if data.get("organization") else data.get("name")
        url = f"{self.hub.url}/datasets/{repo_id}"
        if repo_id in self.hub.repos:
            return 409, {"error": "You already created this dataset repo", "url": url}, {}
        self.hub.create_repo(repo_id, private=data.get("visibility") == "private" or bool(data.get("private")))
        return 200, {"url": url, "name": repo_id, "id": repo_id}, {}

    def _route_validate_yaml(self, match, body):
        from cards.validate import card_metadata, card_problems

        data = json.loads(body or b"{}")
        try:
            problems = card_problems(card_metadata(data.get("content", "")))
        except Exception as exc:  # noqa: BLE001
            problems = [f"YAML: {exc}"]
        if problems:
            return 400, {"errors": [{"message": p} for p in problems], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _route_repo_info(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        rev = match.groupdict().get("rev") or "main"
        oid = repo.resolve(rev)
        if oid is None:
            return self._not_found(f"Invalid rev id: {rev}", "RevisionNotFound")
        files = repo.commits[oid].files
        return 200, {"id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": oid, "private": repo.private,
                     "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                     "lastModified": repo.commits[oid].date, "createdAt": "2025-01-01T00:00:00.000Z",
                     "siblings": [{"rfilename": name} for name in sorted(files)]}, {}

    def _route_refs(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()

        def refs(kind: str, items: dict[str, str]):
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid} for n, oid in sorted(items.items())]

        return 200, {"branches": refs("heads", repo.branches), "tags": refs("tags", repo.tags), "converts": [],
                     "pullRequests": []}, {}

    def _route_commits(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        oid = repo.resolve(match.group("rev"))
        if oid is None:
            return self._not_found(f"Invalid rev id: {match.group('rev')}", "RevisionNotFound")
        out = []
        while oid is not None:
            c = repo.commits[oid]
            out.append({"id": c.oid, "authors": [{"user": "tester"}], "date": c.date, "title": c.title,
                        "message": c.message})
            oid = c.parent
        return 200, out, {}

    def _route_branch(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        branch = match.group("rev")
        if branch in repo.branches:
            return 409, {"error": f"Branch {branch} already exists"}, {}
        start = json.loads(body or b"{}").get("startingPoint") or "main"
        oid = repo.resolve(start)
        if oid is None:
            return self._not_found(f"Invalid rev id: {start}", "RevisionNotFound")
        repo.branches[branch] = oid
        return 200, {}, {}

    def _route_preupload(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        rev = match.group("rev")
        if repo.resolve(rev) is None:
            return self._not_found(f"Invalid rev id: {rev}", "RevisionNotFound")
        remote = repo.files_at(rev)
        files = []
        for f in json.loads(body or b"{}").get("files", []):
            entry = {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
            if f["path"] in remote:
                entry["oid"] = git_blob_oid(remote[f["path"]])
            files.append(entry)
        return 200, {"files": files, "commitOid": repo.resolve(rev)}, {}

    def _route_commit(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        rev = match.group("rev")
        if rev not in repo.branches:
            return self._not_found(f"Invalid rev id: {rev}", "RevisionNotFound")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return 400, {"error": "first line must be the header"}, {}
        header = lines[0]["value"]
        head = repo.branches[rev]
        if header.get("parentCommit") and header["parentCommit"] != head:
            return 412, {"error": "A commit has happened since. Please refresh and try again."}, {}
        files = repo.files_at(rev)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            if key == "file":
                if value.get("encoding") != "base64":
                    return 400, {"error": "only base64 file content is supported"}, {}
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:
                return 422, {"error": f"the fake hub does not support '{key}' operations"}, {}
        commit = self._hub_commit(repo, head, header, files)
        repo.branches[rev] = commit.oid
        return 200, {"commitUrl": f"{self.hub.url}/datasets/{repo.repo_id}/commit/{commit.oid}",
                     "commitOid": commit.oid, "success": True}, {}

    def _hub_commit(self, repo: Repo, head: str, header: dict, files: dict[str, bytes]) -> Commit:
        return self.hub._new_commit(repo, head, header.get("summary", ""), header.get("description", ""), files)

    def _route_tag(self, match, body):
        repo = self._repo(match)
        if repo is None:
            return self._not_found()
        oid = repo.resolve(match.group("rev"))
        if oid is None:
            return self._not_found(f"Invalid rev id: {match.group('rev')}", "RevisionNotFound")
        tag = json.loads(body or b"{}").get("tag")
        if not tag:
            return 400, {"error": "tag missing"}, {}
        if tag in repo.tags:
            return 409, {"error": f"Tag {tag} already exists"}, {}
        repo.tags[tag] = oid
        return 200, {}, {}
