"""``bench push-to-hub``: publish a verified release folder to a Hub dataset repo in ONE commit.

Steps (each retried on network errors, 429 and 5xx, with exponential backoff):

1. verify the release (every SHA-256 of the manifest, the card metadata) and refuse one whose manifest
   names a system by a local path or with credentials (:func:`release.manifest.check_public_names`);
2. ``create_repo(exist_ok=True)`` (``--private`` applies to a new repo), ``create_branch`` for a
   ``--revision`` other than ``main``;
3. refuse a tag that already exists (a version is published once) before changing anything;
4. ``create_commit`` with one ``CommitOperationAdd`` per file and ``parent_commit`` = the head read
   before the push. If the commit call fails in a way that leaves its fate unknown (connection
   lost after the request was sent), the head is read back: a head whose title is this release's
   commit title means the commit landed; otherwise it is retried from the same parent, so the
   remote gets exactly one commit or none;
5. ``create_tag`` on that commit.

A rerun after a failure is safe: unchanged files make ``create_commit`` a no-op (the Hub reports
their oids), so a rerun after a failed tag only adds the tag.

The token comes from ``token=``, ``HF_TOKEN`` or the login cache (``huggingface_hub.get_token``); it
is handed to ``HfApi`` only, and every message that leaves this module is scrubbed of it.
``--dry-run`` needs neither a token nor a network.
"""
from __future__ import annotations

import importlib
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.errors import BenchError

REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)
DEFAULT_RETRIES = 5
DEFAULT_RETRY_WAIT = 2.0


class PushError(BenchError):
    """A push that did not complete; the message says what the remote holds and what to rerun."""


@dataclass
class PushPlan:
    release: str
    repo_id: str
    version: str
    revision: str
    tag: str
    private: bool
    commit_message: str
    files: list[dict[str, Any]]  # {path, size}
    bytes: int
    card: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PushResult:
    repo_id: str
    revision: str
    tag: str
    commit: str
    commit_url: str
    files: int
    bytes: int
    created_repo: bool
    noop: bool  # the remote already had these exact files
    attempts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def plan_push(rel: str | Path, repo_id: str, *, revision: str | None = None, tag: str | None = None,
              private: bool = False) -> PushPlan:
    """Verify the release and list what a push would upload (no network)."""
    from release.manifest import CARD_NAME, MANIFEST_NAME, check_public_names, read_manifest
    from release.verify import verify_release

    if not REPO_ID_RE.match(repo_id or ""):
        raise BenchError(f"bad --repo-id '{repo_id}': expected ORG/NAME")
    rel = Path(rel)
    verify_release(rel)
    manifest = read_manifest(rel)
    check_public_names(rel / MANIFEST_NAME, manifest)
    version = manifest["version"]
    paths = sorted([*manifest["files"], MANIFEST_NAME])
    files = [{"path": p, "size": (rel / p).stat().st_size} for p in paths]
    manifest_sha = _sha256(rel / MANIFEST_NAME)
    return PushPlan(release=str(rel), repo_id=repo_id, version=version, revision=revision or "main",
                    tag=tag or f"v{version}", private=private,
                    commit_message=f"Release {version} (manifest {manifest_sha[:12]})",
                    files=files, bytes=sum(f["size"] for f in files),
                    card=(rel / CARD_NAME).read_text(encoding="utf-8"))


def render_plan(plan: PushPlan, token_found: bool) -> str:
    width = max(len(f["path"]) for f in plan.files)
    lines = [f"dry run: nothing is uploaded. Would push release {plan.version} from {plan.release}",
             f"  to dataset repo {plan.repo_id} ({'private' if plan.private else 'public'} if created), "
             f"branch {plan.revision}, as one commit \"{plan.commit_message}\", then tag {plan.tag}",
             f"  token: {'found' if token_found else 'NOT found (set HF_TOKEN or run `hf auth login`)'}",
             "", f"{len(plan.files)} files, {human_size(plan.bytes)} ({plan.bytes} bytes):"]
    lines += [f"  {f['path']:<{width}}  {f['size']:>10} B  {human_size(f['size']):>10}" for f in plan.files]
    lines += ["", "--- README.md (dataset card) ---", plan.card.rstrip("\n"), "--- end of card ---"]
    return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    from bench.hashing import sha256_file

    return sha256_file(path)


def _transport_errors() -> tuple[type[BaseException], ...]:
    classes: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name in ("TransportError", "TimeoutException", "NetworkError", "RemoteProtocolError", "ConnectionError",
                     "Timeout"):
            cls = getattr(mod, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                classes.append(cls)
    return tuple(classes)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


class _Pusher:
    def __init__(self, plan: PushPlan, token: str, endpoint: str | None, retries: int, retry_wait: float,
                 log: Callable[[str], None], rerun: str):
        from huggingface_hub import HfApi

        from bench import __version__

        self.plan, self.token, self.retries, self.retry_wait = plan, token, max(0, retries), retry_wait
        self.log, self.rerun = log, rerun
        self.api = HfApi(endpoint=endpoint, token=token, library_name="bench", library_version=__version__)
        self.transport = _transport_errors()
        self.attempts: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        return text.replace(self.token, "<token>") if self.token else text

    def describe(self, exc: BaseException) -> str:
        status = _status(exc)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return self.scrub(f"{type(exc).__name__}: {first}" + (f" (HTTP {status})" if status and str(status)
                                                              not in first else ""))

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self.transport) or _status(exc) in TRANSIENT_STATUS

    def call(self, step: str, fn: Callable[[], Any], *, remote: str) -> Any:
        """Run ``fn`` with retries on transient errors; ``remote``: what the remote holds if it fails."""
        for attempt in range(self.retries + 1):
            self.attempts[step] = attempt + 1
            try:
                return fn()
            except PushError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                if not self.transient(exc) or attempt == self.retries:
                    raise self.fail(step, exc, remote) from None
                self.backoff(step, attempt, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def backoff(self, step: str, attempt: int, exc: BaseException) -> None:
        wait = min(self.retry_wait * (2 ** attempt), 60.0)
        self.log(f"{step}: {self.describe(exc)}; retrying in {wait:g}s ({attempt + 1}/{self.retries})")
        if wait > 0:
            time.sleep(wait)

    def fail(self, step: str, exc: BaseException, remote: str) -> PushError:
        return PushError(f"push to {self.plan.repo_id} failed at {step} ({self.describe(exc)}); {remote}; "
                         f"rerun: {self.rerun}")

    # -- steps ---------------------------------------------------------------------------------
    def run(self) -> PushResult:
        plan, api = self.plan, self.api
        unchanged = "nothing was committed: the remote is unchanged"
        repo = {"repo_id": plan.repo_id, "repo_type": "dataset"}
        existed = self._exists()
        self.call("create_repo", lambda: api.create_repo(private=plan.private, exist_ok=True, **repo), remote=unchanged)
        notes = []
        if existed and plan.private:
            info = self.call("repo_info", lambda: api.repo_info(**repo), remote=unchanged)
            if not info.private:
                notes.append(f"{plan.repo_id} already existed and is public: --private did not change it")
        if plan.revision != "main":
            self.call("create_branch", lambda: api.create_branch(branch=plan.revision, exist_ok=True, **repo),
                      remote=unchanged)
        refs = self.call("list_repo_refs", lambda: api.list_repo_refs(**repo), remote=unchanged)
        for ref in refs.tags:
            if ref.name == plan.tag:
                raise PushError(f"tag {plan.tag} already exists on {plan.repo_id} (commit {ref.target_commit[:12]}): "
                                "a version is published once; build a release with a new --version (or pass --tag); "
                                f"{unchanged}")
        parent = self.call("repo_info", lambda: api.repo_info(revision=plan.revision, **repo).sha, remote=unchanged)
        oid, url, noop = self._commit(parent)
        committed = (f"the release is committed ({oid[:12]}) but not tagged" if not noop
                     else f"the files are already at {oid[:12]} but not tagged")
        self.call("create_tag", lambda: self._tag(oid), remote=committed + "; the rerun only adds the tag")
        return PushResult(repo_id=plan.repo_id, revision=plan.revision, tag=plan.tag, commit=oid, commit_url=url,
                          files=len(plan.files), bytes=plan.bytes, created_repo=not existed, noop=noop,
                          attempts=dict(self.attempts), notes=notes)

    def _exists(self) -> bool:
        from huggingface_hub.errors import RepositoryNotFoundError

        def probe() -> bool:
            try:
                self.api.repo_info(repo_id=self.plan.repo_id, repo_type="dataset")
                return True
            except RepositoryNotFoundError:
                return False

        return self.call("repo_info", probe, remote="nothing was committed: the remote is unchanged")

    def _operations(self) -> list[Any]:
        from huggingface_hub import CommitOperationAdd

        rel = Path(self.plan.release)
        return [CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=str(rel / f["path"]))
                for f in self.plan.files]

    def _landed(self, parent: str | None) -> str | None:
        """The commit of this release if it landed on the branch after ``parent``, else None."""
        plan, api = self.plan, self.api
        unknown = ("it is unknown whether the commit landed (a rerun finds out: unchanged files are not "
                   "committed twice)")
        head = self.call("repo_info", lambda: api.repo_info(repo_id=plan.repo_id, repo_type="dataset",
                                                            revision=plan.revision).sha, remote=unknown)
        if head == parent:
            return None
        commits = self.call("list_repo_commits", lambda: api.list_repo_commits(
            repo_id=plan.repo_id, repo_type="dataset", revision=plan.revision), remote=unknown)
        if commits and commits[0].commit_id == head and commits[0].title == plan.commit_message:
            return head
        raise PushError(f"push to {plan.repo_id} stopped: branch {plan.revision} moved during the push (head "
                        f"{str(head)[:12]} is not this release's commit); nothing of this release was committed; "
                        f"rerun: {self.rerun}")

    def _commit(self, parent: str | None) -> tuple[str, str, bool]:
        plan, api = self.plan, self.api
        unchanged = "nothing was committed: the remote is unchanged"
        description = (f"Release {plan.version}: {len(plan.files)} files, {plan.bytes} bytes. "
                       "Every SHA-256 is listed in MANIFEST.json; check a download with `bench release verify`.")
        for attempt in range(self.retries + 1):
            self.attempts["create_commit"] = attempt + 1
            try:
                info = api.create_commit(repo_id=plan.repo_id, repo_type="dataset", operations=self._operations(),
                                         commit_message=plan.commit_message, commit_description=description,
                                         revision=plan.revision, parent_commit=parent)
                return info.oid, info.commit_url, info.oid == parent
            except PushError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                status = _status(exc)
                ambiguous = isinstance(exc, self.transport) or (status is not None and status >= 500)
                if ambiguous or (status == 412 and attempt > 0):
                    landed = self._landed(parent)
                    if landed is not None:
                        self.log(f"create_commit: {self.describe(exc)}, but the commit had landed ({landed[:12]})")
                        url = f"{api.endpoint}/datasets/{plan.repo_id}/commit/{landed}"
                        return landed, url, False
                if not self.transient(exc) or attempt == self.retries:
                    raise self.fail("create_commit", exc, unchanged) from None
                self.backoff("create_commit", attempt, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _tag(self, oid: str) -> None:
        from huggingface_hub.errors import HfHubHTTPError

        plan, api = self.plan, self.api
        try:
            api.create_tag(repo_id=plan.repo_id, repo_type="dataset", tag=plan.tag, revision=oid,
                           tag_message=f"Release {plan.version}")
        except HfHubHTTPError as exc:
            if _status(exc) != 409:
                raise
            refs = api.list_repo_refs(repo_id=plan.repo_id, repo_type="dataset")  # a retry after a lost reply
            if not any(t.name == plan.tag and t.target_commit == oid for t in refs.tags):
                raise


def find_token(token: str | None = None) -> str | None:
    """``token``, else ``HF_TOKEN`` / the login cache (huggingface_hub's lookup)."""
    if token:
        return token
    from huggingface_hub import get_token

    return get_token()


def push_release(rel: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                 tag: str | None = None, token: str | None = None, endpoint: str | None = None,
                 retries: int = DEFAULT_RETRIES, retry_wait: float = DEFAULT_RETRY_WAIT,
                 log: Callable[[str], None] = lambda _msg: None, rerun: str | None = None) -> PushResult:
    """Push a release folder as one commit and tag it (see the module docstring)."""
    from huggingface_hub import constants

    plan = plan_push(rel, repo_id, revision=revision, tag=tag, private=private)
    secret = find_token(token)
    if not secret:
        raise BenchError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (try --dry-run first)")
    if constants.is_offline_mode():
        raise BenchError("HF_HUB_OFFLINE is set: unset it to push (or use --dry-run)")
    rerun = rerun or f"bench push-to-hub {rel} --repo-id {repo_id}"
    pusher = _Pusher(plan, secret, endpoint, retries, retry_wait, log, rerun)
    try:
        return pusher.run()
    except PushError as exc:
        raise PushError(pusher.scrub(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - anything else: one scrubbed line, never the token
        raise PushError(pusher.scrub(f"push to {repo_id} failed ({pusher.describe(exc)}); rerun: {rerun}")) from None
