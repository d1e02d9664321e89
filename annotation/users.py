"""Reviewer accounts on the Argilla server (``bench annotate users add/list``), through the Argilla SDK.

``add`` creates the user when missing (an existing user keeps its password and role) and adds it to the
workspace holding the review datasets, creating that workspace when missing: after it the reviewer can
sign in and is offered the workspace's records (``--min-submitted K`` needs K of them). Only an owner
key can manage users. Passwords are sent to the server only, never printed or logged.
"""
from __future__ import annotations

import warnings
from typing import Any

from annotation.client import Connection, ensure_workspace, server_errors
from bench.errors import BenchError

ROLES = ("annotator", "admin")
MIN_PASSWORD = 8  # Argilla's own minimum


def _require_owner(conn: Connection) -> None:
    if conn.me.get("role") != "owner":
        raise BenchError(f"Argilla server at {conn.url}: managing users needs an owner API key (this key belongs to "
                         f"a user with role {conn.me.get('role')!r}); pass the owner's --api-key")


def find_user(conn: Connection, username: str):
    with server_errors(conn.url), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return conn.client.users(username=username)


def add_user(conn: Connection, username: str, password: str | None, *, role: str = "annotator",
             workspace: str = "bench", first_name: str | None = None) -> dict[str, Any]:
    """Create ``username`` when missing and add it to ``workspace``; returns what was done."""
    import argilla as rg

    _require_owner(conn)
    if role not in ROLES:
        raise BenchError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    ws = ensure_workspace(conn, workspace)
    user = find_user(conn, username)
    created = user is None
    if created:
        if not password or len(password) < MIN_PASSWORD:
            raise BenchError(f"user {username!r}: a new user needs a password of at least {MIN_PASSWORD} characters "
                             "(--password, or ARGILLA_NEW_USER_PASSWORD)")
        with server_errors(conn.url):
            user = rg.User(username=username, password=password, role=role, first_name=first_name or username,
                           client=conn.client).create()
    with server_errors(conn.url), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        members = {str(u.id) for u in conn.client.users.list(ws)}
        added = str(user.id) not in members
        if added:
            user.add_to_workspace(ws)
    return {"username": user.username, "id": str(user.id), "role": str(getattr(user.role, "value", user.role)),
            "created": created, "workspace": workspace, "added_to_workspace": added}


def list_users(conn: Connection, workspace: str | None = None) -> list[dict[str, Any]]:
    """Users of the server (or of one workspace) with their role and workspaces."""
    _require_owner(conn)
    with server_errors(conn.url), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if workspace is not None:
            ws = conn.client.workspaces(name=workspace)
            if ws is None:
                raise BenchError(f"no Argilla workspace {workspace!r} at {conn.url}")
            users = conn.client.users.list(ws)
        else:
            users = conn.client.users.list()
    out = []
    for user in sorted(users, key=lambda u: u.username):
        names = [w["name"] for w in conn.get(f"/api/v1/users/{user.id}/workspaces").get("items", [])]
        out.append({"username": user.username, "id": str(user.id), "role": str(getattr(user.role, "value", user.role)),
                    "workspaces": sorted(names)})
    return out
