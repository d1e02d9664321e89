"""A shared client for any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp, TGI, ``transformers serve``).

Used for machine translation and for LLM judging. One ``ChatClient`` holds one model on one
server; ``complete_many`` / ``iter_complete`` run many independent requests on a bounded thread
pool. Each item is retried on its own and ends either as a ``ChatResult`` or as a ``ChatFailure``:
one bad item never raises and never stops the others.

Retries are done here, not by the ``openai`` package (its client is built with ``max_retries=0``):

* every attempt and the reason it failed are counted (``ChatResult.attempts`` / ``.errors``), so a run
  can be reconciled with server logs and reported;
* malformed or truncated JSON bodies (a proxy cutting a response, a server crashing mid-write) are
  retried, which the SDK does not do;
* ``Retry-After`` / ``retry-after-ms`` are honoured up to ``retry_after_max`` (the SDK silently gives up
  above 60 s);
* waits are interruptible, so an interrupted run stops promptly.

Retried: HTTP 408/409/425/429 and 5xx, timeouts, dropped connections, bodies that are not a valid chat
completion. Not retried (fail fast): other 4xx (400 bad request, 401 bad key, 403, 404 unknown model,
422), and unexpected client-side errors. A failure's ``kind`` names its category (``http_429``,
``timeout``, ...); HTTP 401/403 are ``auth`` (:attr:`ChatFailure.is_auth`): a caller stops at once, since
every other request with the same credentials fails the same way.

The API key never appears in a reason, an exception, a log record or a repr: reasons are built from
status codes and the server's short error message, and every string that leaves this module goes
through ``_redact``.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence, Union
from urllib.parse import urlsplit

from bench.errors import BenchError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_ENV_VARS = ("OPENAI_API_KEY", "BENCH_OPENAI_API_KEY")
RETRYABLE_STATUS = {408, 409, 425, 429}
AUTH_KIND = "auth"  # ChatFailure.kind of HTTP 401/403 (usage.reasons keeps http_401 / http_403)
_AUTH_KINDS = ("http_401", "http_403")

Messages = Sequence[dict[str, Any]]


# --------------------------------------------------------------------------- spec + key


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """``"openai:<model>@<base_url>"`` (or without the ``openai:`` prefix) -> ``(model, base_url)``.

    The base URL is optional (default ``https://api.openai.com/v1``) and must start with http(s)://.
    The model may itself contain ``@`` (``org/model@rev``) when a base URL follows: the split is at the
    first ``@http``. An ``@`` followed by anything but an absolute http(s) URL is an error, never a
    silent fall-back to the hosted API (which would send the user's key there).
    """
    target = (spec[len("openai:"):] if spec.startswith("openai:") else spec).strip()
    match = re.match(r"^(?P<model>.+?)@(?P<url>https?://\S+)$", target)
    model, base_url = (match["model"], match["url"]) if match else (target, DEFAULT_BASE_URL)
    if not model or model.startswith("@"):
        raise BenchError(f"bad OpenAI SPEC '{spec}': expected openai:<model>[@<base_url>], e.g. "
                         "openai:gpt-4o-mini or openai:my-model@http://127.0.0.1:8000/v1")
    if not match and "@" in target:  # a base URL was given but is not an absolute http(s) URL
        raise BenchError(f"bad OpenAI SPEC '{spec}': the base URL after '@' must be an absolute http:// or "
                         "https:// URL, e.g. openai:my-model@http://127.0.0.1:8000/v1")
    if match and not urlsplit(base_url).hostname:
        raise BenchError(f"bad OpenAI SPEC '{spec}': the base URL '{base_url}' has no host")
    return model, base_url.rstrip("/")


def resolve_api_key(base_url: str, api_key: str | None = None) -> str:
    """The key to use: the argument, else ``$OPENAI_API_KEY``, else ``$BENCH_OPENAI_API_KEY``.

    Local servers usually need none: any other base URL than api.openai.com gets ``"EMPTY"``.
    """
    if api_key:
        return api_key
    for var in KEY_ENV_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    if "api.openai.com" in base_url:
        raise BenchError(f"no API key for {base_url}: set {' or '.join(KEY_ENV_VARS)}")
    return "EMPTY"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChatResult:
    """A finished completion. ``errors`` lists why earlier attempts failed (empty on a first-try success)."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    latency_s: float
    errors: tuple[str, ...] = ()
    # when logprobs were asked for: per generated token, (its text, its top alternatives as (text, logprob))
    logprobs: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] | None = None
    ok = True


@dataclass(frozen=True)
class ChatFailure:
    """An item that failed: ``reason`` is the last error; ``retryable`` is False when it failed fast
    (e.g. HTTP 400/401/404) and True when it ran out of retries."""

    reason: str
    attempts: int
    latency_s: float
    errors: tuple[str, ...] = ()
    retryable: bool = True
    kind: str = ""  # the last attempt's category: auth (HTTP 401/403), http_<status>, timeout, connection, ...
    ok = False

    @property
    def is_auth(self) -> bool:
        """The server refused the credentials (HTTP 401/403): retrying, or sending more, cannot help."""
        return self.kind == AUTH_KIND


ChatOutcome = Union[ChatResult, ChatFailure]


class ChatError(BenchError):
    """``ChatClient.complete`` failed; the message names the reason and the number of attempts."""

    def __init__(self, failure: ChatFailure, where: str):
        self.failure = failure
        super().__init__(f"{where}: request failed after {failure.attempts} attempt(s): {failure.reason}")


@dataclass
class UsageTotals:
    """Sums over everything a client sent (snapshot from ``ChatClient.usage``)."""

    requests: int = 0  # HTTP attempts
    succeeded: int = 0  # items
    failed: int = 0  # items
    retries: int = 0  # attempts beyond the first
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # failed-attempt kind -> count

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class _Attempt:
    retryable: bool
    reason: str
    kind: str  # short category used for counting: http_429, http_503, timeout, connection, bad_response, ...
    retry_after: float | None = None


# --------------------------------------------------------------------------- client


class ChatClient:
    """Chat completions against one model on one OpenAI-compatible server, with bounded concurrency."""

    def __init__(
        self,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 6,
        timeout: float = 60,
        backoff_base: float = 0.5,
        backoff_max: float = 30,
        *,
        retry_after_max: float = 120,
        default_params: dict[str, Any] | None = None,
        seed: int | None = None,
    ):
        import openai  # lazy: keeps `bench --help` fast

        if concurrency < 1:
            raise BenchError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise BenchError(f"max_retries must be >= 0, got {max_retries}")
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.default_params = dict(default_params or {})
        self.__key = resolve_api_key(self.base_url, api_key)
        self._client = openai.OpenAI(api_key=self.__key, base_url=self.base_url, timeout=timeout, max_retries=0)
        self._slots = threading.BoundedSemaphore(concurrency)  # bounds in-flight requests across calls
        self._lock = threading.Lock()
        self._usage = UsageTotals()
        self._rng = random.Random(seed)
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, base_url={self.base_url!r}, concurrency={self.concurrency})"

    # -- public API ------------------------------------------------------------------------

    @property
    def usage(self) -> UsageTotals:
        with self._lock:
            u = self._usage
            return UsageTotals(u.requests, u.succeeded, u.failed, u.retries, u.prompt_tokens,
                               u.completion_tokens, dict(u.reasons))

    def complete(self, messages: Messages, **params: Any) -> ChatResult:
        """One completion; raises ``ChatError`` (a BenchError, key-free) if it fails after retries."""
        outcome = self._complete_one(messages, params, threading.Event())
        if isinstance(outcome, ChatFailure):
            raise ChatError(outcome, f"{self.model} at {self.base_url}")
        return outcome

    def iter_complete(
        self, batch: Iterable[Messages], **params: Any
    ) -> Iterator[tuple[int, ChatOutcome]]:
        """Yield ``(index, ChatResult | ChatFailure)`` as items finish (not in input order).

        At most ``concurrency`` requests are in flight. Persist each item as it arrives so an
        interrupted run loses nothing. Closing the iterator early (``break``, an exception,
        Ctrl-C) cancels items not yet started and stops retry waits; requests already on the
        wire finish in the background and are discarded.
        """
        items = list(batch)
        if not items:
            return
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)), thread_name_prefix="chat")
        try:
            futures: dict[Future, int] = {
                pool.submit(self._complete_one, messages, params, stop): i for i, messages in enumerate(items)
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    exc = fut.exception()
                    if exc is None:
                        yield futures[fut], fut.result()
                    else:  # a bug, not a server problem: still one failed item, never a crash of the run
                        reason = _redact(f"internal error: {type(exc).__name__}: {exc}", self.__key)[:300]
                        yield futures[fut], ChatFailure(reason=reason, attempts=0, latency_s=0.0, retryable=False)
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def complete_many(
        self,
        batch: Iterable[Messages],
        on_result: Callable[[int, ChatOutcome], None] | None = None,
        **params: Any,
    ) -> list[ChatOutcome]:
        """All completions, in input order; ``on_result(index, outcome)`` is called (in this thread)
        as each item finishes, e.g. to persist it at once."""
        items = list(batch)
        out: list[ChatOutcome | None] = [None] * len(items)
        for i, outcome in self.iter_complete(items, **params):
            out[i] = outcome
            if on_result is not None:
                on_result(i, outcome)
        return out  # type: ignore[return-value]

    def list_models(self) -> list[str]:
        """Model ids the server reports (``GET /models``); raises a key-free BenchError on failure."""
        try:
            return [m.id for m in self._client.models.list()]
        except Exception as exc:  # noqa: BLE001
            raise BenchError(f"{self.base_url}: cannot list models: {self._classify(exc).reason}") from None

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one item --------------------------------------------------------------------------

    def _complete_one(self, messages: Messages, params: dict[str, Any], stop: threading.Event) -> ChatOutcome:
        start = time.monotonic()
        errors: list[str] = []
        kwargs = {**self.default_params, **params}
        attempt = 0
        while True:
            attempt += 1
            if stop.is_set() or self._closed.is_set():
                return self._fail(errors, "cancelled", attempt - 1, start, retryable=True)
            try:
                with self._slots:
                    with self._lock:
                        self._usage.requests += 1
                    completion = self._client.chat.completions.create(
                        model=self.model, messages=list(messages), **kwargs
                    )
                result = self._to_result(completion, attempt, start, errors)
            except Exception as exc:  # noqa: BLE001 - classified below, never re-raised for one item
                info = self._classify(exc)
                errors.append(_redact(info.reason, self.__key))
                with self._lock:
                    self._usage.reasons[info.kind] = self._usage.reasons.get(info.kind, 0) + 1
                if not info.retryable or attempt > self.max_retries:
                    return self._fail(errors, info.reason, attempt, start, retryable=info.retryable, kind=info.kind)
                delay = self._delay(attempt, info.retry_after)
                log.debug("retrying %s in %.2fs (attempt %d): %s", self.model, delay, attempt, info.reason)
                with self._lock:
                    self._usage.retries += 1
                if stop.wait(delay) or self._closed.is_set():
                    return self._fail(errors, info.reason, attempt, start, retryable=True, kind=info.kind)
                continue
            with self._lock:
                self._usage.succeeded += 1
                self._usage.prompt_tokens += result.prompt_tokens
                self._usage.completion_tokens += result.completion_tokens
            return result

    def _fail(self, errors: list[str], reason: str, attempts: int, start: float, *, retryable: bool,
              kind: str = "") -> ChatFailure:
        with self._lock:
            self._usage.failed += 1
        if kind in _AUTH_KINDS:
            kind = AUTH_KIND
        return ChatFailure(reason=_redact(reason, self.__key), attempts=attempts,
                           latency_s=time.monotonic() - start, errors=tuple(errors), retryable=retryable, kind=kind)

    def _to_result(self, completion: Any, attempt: int, start: float, errors: list[str]) -> ChatResult:
        from openai.types.chat import ChatCompletion

        if not isinstance(completion, ChatCompletion):  # e.g. a text/html body from a proxy
            raise _BadResponse(f"not a chat completion ({type(completion).__name__} body)")
        try:
            choice = completion.choices[0]
            text = choice.message.content or ""
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError) as exc:
            raise _BadResponse(f"no choices in the response ({type(exc).__name__})") from None
        if not isinstance(text, str):
            raise _BadResponse("message content is not a string")
        usage = getattr(completion, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
        return ChatResult(text=text, finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, attempts=attempt,
                          latency_s=time.monotonic() - start, errors=tuple(errors), logprobs=_token_logprobs(choice))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        with self._lock:
            return ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # "equal jitter"

    def _classify(self, exc: BaseException) -> _Attempt:
        import openai

        key = self.__key
        if isinstance(exc, _BadResponse):
            return _Attempt(True, _redact(f"bad response: {exc}", key), "bad_response")
        if isinstance(exc, openai.APITimeoutError):
            return _Attempt(True, f"timeout after {self.timeout:g}s", "timeout")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = type(cause).__name__ if cause is not None else "connection error"
            return _Attempt(True, f"connection error ({detail})", "connection")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retryable = status in RETRYABLE_STATUS or status >= 500
            message = _short_error_message(exc)
            reason = _redact(f"HTTP {status}" + (f": {message}" if message else ""), key)
            retry_after = _retry_after(exc.response.headers) if retryable else None
            return _Attempt(retryable, reason, f"http_{status}", retry_after)
        if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            return _Attempt(True, f"bad response: body is not valid JSON ({type(exc).__name__})", "bad_response")
        if isinstance(exc, openai.APIResponseValidationError):
            return _Attempt(True, "bad response: body does not match the chat completion schema", "bad_response")
        try:
            import httpx2 as _httpx
        except ImportError:  # openai < 3 uses httpx
            import httpx as _httpx  # type: ignore[no-redef]
        if isinstance(exc, _httpx.TimeoutException):
            return _Attempt(True, f"timeout after {self.timeout:g}s", "timeout")
        if isinstance(exc, (_httpx.TransportError, ConnectionError)):
            return _Attempt(True, f"connection error ({type(exc).__name__})", "connection")
        return _Attempt(False, _redact(f"{type(exc).__name__}: {exc}", key)[:300], "error")


def _token_logprobs(choice: Any) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...] | None:
    """The choice's per-token logprobs (token, top alternatives), or None when the server sent none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    out = []
    for entry in content:
        top = tuple((str(alt.token), float(alt.logprob)) for alt in (getattr(entry, "top_logprobs", None) or ()))
        out.append((str(entry.token), top or ((str(entry.token), float(entry.logprob)),)))
    return tuple(out)


class _BadResponse(Exception):
    pass


# --------------------------------------------------------------------------- helpers


def _redact(text: str, key: str | None) -> str:
    if key and key != "EMPTY" and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def _short_error_message(exc: Any) -> str:
    """The server's own error message (OpenAI ``{"error": {"message": ...}}`` or similar), one line, short."""
    body = getattr(exc, "body", None)
    message: Any = None
    if isinstance(body, dict):
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else err
        if message is None and isinstance(body.get("detail"), (str, list)):
            message = body["detail"]
    elif isinstance(body, str):
        message = body
    if message is None:
        return ""
    text = " ".join(str(message).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    import email.utils

    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def summarize(outcomes: Sequence[ChatOutcome]) -> str:
    """One line: how many succeeded / failed, and the first failure's reason."""
    failures = [o for o in outcomes if isinstance(o, ChatFailure)]
    line = f"{len(outcomes) - len(failures)}/{len(outcomes)} succeeded"
    if failures:
        line += f", {len(failures)} failed (first: {failures[0].reason})"
    return line
