"""Judging stored responses with an LLM judge (``bench baselines judge``).

One judge backend behind one small interface (:class:`baselines.judging.backends.JudgeBackend`):

* ``openai:<model>[@<base_url>]``: any OpenAI-compatible server through :class:`bench.openai_client.ChatClient`
  (bounded concurrency, retries with backoff on 429/5xx/timeouts/malformed bodies, key redaction;
  :class:`baselines.judging.backends.OpenAIJudge`);
* ``hf:<hub id or path>`` or a bare local model folder / ``.gguf`` file: a local causal LM with a chat
  template, batched greedy generation, no server (:class:`baselines.judging.local_judge.LocalJudge`).

:func:`judge_responses` selects the stored responses that have no judgement yet from this judge
(so a rerun resumes and never judges anything twice) and, by default, those with a missing score
(unreadable, not N/A) whose judging rounds are below ``max_attempts`` (``retry_missing``; a rerun
against a healthy judge heals them; ``judgements.rounds`` / ``judge_calls.rounds`` count the rounds),
builds the judge prompt of each
(:func:`baselines.judging.prompts.build_judge_messages`: the safety protocol for safety items, the five
aspects otherwise, in the response's language) and keys it by ``prompt_hash`` = sha256 of the judge
name, the backend's identity (model, decoding parameters), :data:`PROMPT_VERSION` and the messages.

The ``judge_calls`` table is a cache keyed by ``(judge, prompt_hash)``: a prompt already answered is
never paid twice. Everything else is sent; each item is persisted as soon as it finishes — its
``judge_calls`` row and its ``judgements`` rows in ONE transaction — so a killed run loses nothing
that finished. An item whose answer needs a repair first stores its answer with
``error = 'repair pending'`` (a resumed run sends only the repair).

Parsing (:func:`baselines.judging.parse.parse_judgement`): when an aspect is missing, unreadable or N/A,
ONE repair request (``repair_attempts``) re-asks the judge for the JSON contract
(:func:`baselines.judging.parse.repair_prompt`, as a follow-up turn of the same conversation) and the
parse with more valid scores is kept (the original on a tie). A score that is still missing is stored
as ``score NULL`` with its ``error`` (``missing``, ``unparseable judge output``, ``not applicable``,
``out of range: ...``) and the raw text in ``judge_calls``: never 5 or 0.

``judge_calls.error`` is NULL (complete), ``parse: <aspects>`` (stored, some scores missing),
``repair pending`` or ``failed: <reason>`` (the request failed after the client's retries: nothing
is written to ``judgements``, so the next run retries it).

Scoring (``scoring``; :mod:`baselines.judging.prob_scoring`): ``text`` parses the judge's JSON answer
(above); ``probs`` (the default for local judges) reads each aspect's score from the judge's next-token
distribution over the tokens 1-5 -- ``judgements.score`` is the expected score, with the distribution,
argmax, entropy and mass beside it -- so nothing needs parsing or repair. The mode enters the backend
identity (so the prompt hash): text and probs answers never share a cache entry, and one judge name keeps
one mode (:func:`baselines.judging.provenance.check_same_scoring`). The judge's settings are stored per
run (``runs.params['settings']``, table ``judge_settings``) for the results card.

The judge's name (``judgements.judge``): :func:`baselines.judging.naming.judge_name` of ``--name`` or of
the spec -- no credentials, query string or local path, and a loopback server's port left out (the
same local judge on a new port keeps its judgements); rows stored under older forms of the name are
adopted (:func:`baselines.judging.naming.adopt_older_names`).

The run stops (:class:`JudgeStopped`, a :class:`BenchError`: ``bench`` prints one line and exits 2) at
once when the server refuses the credentials (HTTP 401/403); once, after ``min_sample`` items, the
share of items with an unreadable score exceeds ``max_parse_failure_rate`` (or the share of failed
requests exceeds ``max_failure_rate``, or no item has a usable score); and at the end when the run
produced no usable score at all (every score missing or N/A, or every request failed). What finished
is persisted first and requests in flight are awaited and stored.

Counting: every number in :class:`JudgeReport` counts responses (items). ``judged`` = responses whose
judgements were written by this run, ``from_cache`` of them came from ``judge_calls`` without a request;
``failed`` = responses whose request failed; ``judged + failed + unfinished == selected``.
Tokens and cost count only what this run sent. The summary is stored in ``runs.params['summary']``.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from bench.errors import BenchError
from bench.openai_client import ChatFailure
from bench.public_names import public_name
from baselines.judging.backends import DEFAULT_MAX_TOKENS, JudgeBackend, Outcome
from baselines.judging.jobs import JudgeJob, needs_repair, parse_quality, restore_job, score_columns, unreadable_aspects
from baselines.judging.naming import adopt_older_names, check_same_model, judge_name as stable_judge_name
from baselines.judging.parse import parse_judgement
from baselines.judging.prob_scoring import ScoredResult
from baselines.judging.prompts import PROMPT_VERSION, aspects_for, build_judge_messages, protocol_for_category
from baselines.judging.provenance import check_same_scoring, record_judge_settings
from baselines.judging.report import JudgeReport, JudgeStopped
from baselines.judging.selection import MAX_ATTEMPTS, count_exhausted, select_responses
from baselines.run_filters import parse_run_filters

COMMAND = "baselines judge"
CODE_VERSION = "judge-v1"
MIN_SAMPLE = 20
ERR_FAILED = "failed: "
ERR_REPAIR_PENDING = "repair pending"
ERR_PARSE = "parse: "


def make_backend(spec: str, *, concurrency: int = 16, max_tokens: int | None = DEFAULT_MAX_TOKENS,
                 batch_size: int = 8, device: str = "auto", dtype: str = "auto",
                 cache_dir: str | Path | None = None, client_options: Mapping[str, Any] | None = None,
                 scoring: str = "auto") -> JudgeBackend:
    """The backend for a judge SPEC: ``openai:<model>[@<base_url>]``, ``hf:``/``llm:<id|path>`` or a local path.

    ``scoring``: ``auto`` (probs for local judges, text for OpenAI-compatible ones), ``probs`` or ``text``."""
    from bench.specs import parse_spec

    parsed = parse_spec("judge", spec)
    return parsed.build(parsed.spec, concurrency=concurrency, max_tokens=max_tokens, client_options=client_options,
                        batch_size=batch_size, device=device, dtype=dtype, cache_dir=cache_dir, scoring=scoring)


# --------------------------------------------------------------------------- cache key


def prompt_hash(judge: str, identity: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of the judge name, the backend identity, the prompt version and the messages."""
    payload = {"judge": judge, "backend": identity, "prompt_version": PROMPT_VERSION, "code": CODE_VERSION,
               "messages": list(messages)}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the run


class _Run:
    def __init__(self, store: Any, backend: JudgeBackend, judge: str, report: JudgeReport, *,
                 price_per_1k: tuple[float, float] | None, repair_attempts: int, max_parse_failure_rate: float,
                 max_failure_rate: float, min_sample: int, on_item: Callable[[dict[str, Any]], None] | None,
                 advance: Callable[[int], None]):
        self.store, self.backend, self.judge, self.report = store, backend, judge, report
        self.price = price_per_1k
        self.repair_attempts = repair_attempts
        self.max_parse_failure_rate = max_parse_failure_rate
        self.max_failure_rate = max_failure_rate
        self.min_sample = min_sample
        self.on_item = on_item
        self.advance = advance
        self.stop_reason: str | None = None
        self.first_failure: str | None = None
        self.fresh = [0, 0]  # responses judged for the first time, ... of which with a usable score
        self.repairs_sent = 0
        self._calls: list[list[Any]] = []
        self._judgements: list[list[Any]] = []
        self._after: list[Callable[[], None]] = []

    # -- persistence (main thread only) --------------------------------------------------------
    # Finished items are buffered and written by ``flush`` in one transaction per round of answers
    # (each item complete: its judge_calls row and all its judgements rows), right after the answers
    # arrive; notifications and progress follow the commit.

    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.price is None:
            return None
        return prompt_tokens / 1000 * self.price[0] + completion_tokens / 1000 * self.price[1]

    def _call_row(self, job: JudgeJob, parsed: Any, error: str | None, rounds: int) -> list[Any]:
        return [self.judge, job.prompt_hash, job.response_id, job.protocol, job.raw,
                None if parsed is None else json.dumps(parsed, ensure_ascii=False), error, job.attempts,
                job.prompt_tokens, job.completion_tokens, self._cost(job.prompt_tokens, job.completion_tokens),
                self.report.run_id, rounds, self.backend.scoring]

    def _judgement_rows(self, job: JudgeJob, rounds: int) -> list[list[Any]]:
        assert job.parsed is not None
        return [[r["response_id"], self.judge, job.protocol, aspect, s.score, s.raw_score, s.reason, s.error,
                 self.report.run_id, rounds, *score_columns(job, aspect)]
                for r in job.responses for aspect, s in job.parsed.aspects.items()]

    def flush(self, notify: bool = True) -> None:
        """Write what finished since the last flush (one transaction), then report it."""
        if not self._calls and not self._judgements:
            return
        calls, judgements, after = self._calls, self._judgements, self._after
        self._calls, self._judgements, self._after = [], [], []
        with self.store.transaction() as con:
            for i in range(0, len(calls), 200):
                chunk = calls[i:i + 200]
                con.execute(
                    "INSERT OR REPLACE INTO judge_calls (judge, prompt_hash, response_id, protocol, raw, parsed, error, "
                    "attempts, prompt_tokens, completion_tokens, cost_usd, run_id, rounds, scoring) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)), [v for r in chunk for v in r])
            for i in range(0, len(judgements), 500):
                chunk = judgements[i:i + 500]
                con.execute(
                    "INSERT OR REPLACE INTO judgements (response_id, judge, protocol, aspect, score, raw_score, reason, "
                    "error, run_id, rounds, scoring, score_distribution, score_argmax, score_entropy, score_mass) "
                    "VALUES " + ", ".join(["(" + ", ".join(["?"] * 15) + ")"] * len(chunk)),
                    [v for r in chunk for v in r])
        if notify:
            for action in after:
                action()

    def _account(self, job: JudgeJob) -> None:
        self.report.prompt_tokens += job.run_prompt_tokens
        self.report.completion_tokens += job.run_completion_tokens
        job.run_prompt_tokens = job.run_completion_tokens = 0

    def finalize(self, job: JudgeJob, *, cached: bool = False) -> None:
        """Store the judgements of a finished item (and its call, unless it came from the cache)."""
        assert job.parsed is not None
        bad = unreadable_aspects(job.parsed)
        rounds = job.prior_rounds if cached else job.prior_rounds + 1  # a cached row counts its own round
        if not cached:
            error = (ERR_PARSE + ", ".join(bad)) if bad else None
            self._calls.append(self._call_row(job, {**job.state_json(), "last_raw": None}, error, rounds))
        self._judgements += self._judgement_rows(job, rounds)
        self._account(job)
        n = len(job.responses)
        self.report.judged += n
        if cached:
            self.report.from_cache += n
        if bad:
            self.report.parse_failures += n
        usable = any(s.score is not None for s in job.parsed.aspects.values())
        self.report.scored += n if usable else 0
        if not cached and rounds == 1:  # first judging: evidence on the judge (a re-asked item is a hard one)
            self.fresh[0] += n
            self.fresh[1] += n if usable else 0
        self._after.append(lambda: self._done(job, n, "judged", cached=cached, unreadable=bad))
        self._check_rates()

    def store_failure(self, job: JudgeJob, failure: ChatFailure) -> None:
        job.attempts += failure.attempts
        self._calls.append(self._call_row(job, None, ERR_FAILED + failure.reason, job.prior_rounds))
        self._account(job)
        n = len(job.responses)
        self.report.failed += n
        self.first_failure = self.first_failure or failure.reason
        self._after.append(lambda: self._done(job, n, "failed", reason=failure.reason))
        if failure.is_auth and self.stop_reason is None:  # every other request would be refused the same way
            self.stop_reason = f"the judge server refused the credentials ({failure.reason}); check the API key"
        self._check_rates()

    def store_pending(self, job: JudgeJob) -> None:
        """An answer that awaits its repair: kept, so a killed run does not pay for it again."""
        self._calls.append(self._call_row(job, job.state_json(), ERR_REPAIR_PENDING, job.prior_rounds))
        self._account(job)

    def _done(self, job: JudgeJob, n: int, status: str, **extra: Any) -> None:
        self.advance(n)
        if self.on_item is not None:
            self.on_item({"status": status, "response_ids": [r["response_id"] for r in job.responses],
                          "prompt_hash": job.prompt_hash, **extra})

    def _check_rates(self) -> None:
        r = self.report
        if self.stop_reason is not None:
            return
        if r.judged >= self.min_sample and r.parse_failures / r.judged > self.max_parse_failure_rate:
            self.stop_reason = (f"parse failure rate {r.parse_failures / r.judged:.1%} ({r.parse_failures} of "
                                f"{r.judged} judged responses) is above the threshold "
                                f"{self.max_parse_failure_rate:.1%}")
        finished = r.judged + r.failed
        if self.stop_reason is None and finished >= self.min_sample and r.failed / finished > self.max_failure_rate:
            self.stop_reason = (f"request failure rate {r.failed / finished:.1%} ({r.failed} of {finished} "
                                f"responses) is above the threshold {self.max_failure_rate:.1%}")
        if self.stop_reason is None and self.fresh[0] >= self.min_sample and not self.fresh[1]:
            self.stop_reason = self.no_score_reason()

    def no_score_reason(self) -> str | None:
        """Why this run shows a broken judge: every request failed, or no response judged for the first
        time got a usable score (every score missing or N/A). None otherwise."""
        r = self.report
        if r.failed and not r.judged:
            return f"every request failed ({r.failed} responses; first: {self.first_failure})"
        if self.fresh[0] and not self.fresh[1]:
            return (f"no usable score: every score of the {self.fresh[0]} newly judged responses is missing or N/A"
                    + (f" ({r.failed} more failed)" if r.failed else ""))
        return None

    # -- answers (main thread) -------------------------------------------------------------
    def on_answer(self, job: JudgeJob, outcome: Outcome, stage: str) -> bool:
        """Handle one answer; True when the job needs (another) repair request."""
        if stage == "original":
            if isinstance(outcome, ChatFailure):
                self.store_failure(job, outcome)
                return False
            if isinstance(outcome, ScoredResult):  # read from probabilities: nothing to parse or repair
                job.take_scores(outcome)
                self.finalize(job)
                return False
            job.add(outcome)
            job.raw = job.last_raw = outcome.text
            job.parsed = parse_judgement(outcome.text, job.aspects)
            job.source = "original"
        else:
            if isinstance(outcome, ChatFailure):
                job.attempts += outcome.attempts
                job.repairs.append({"raw": None, "used": False, "error": ERR_FAILED + outcome.reason})
                self.finalize(job)  # the original answer stands
                return False
            job.add(outcome)
            parsed = parse_judgement(outcome.text, job.aspects)
            assert job.parsed is not None
            used = parse_quality(parsed) > parse_quality(job.parsed)
            job.repairs.append({"raw": outcome.text, "used": used, "error": parsed.error})
            if used:
                job.parsed, job.source = parsed, f"repair-{len(job.repairs)}"
            job.last_raw = outcome.text
        if needs_repair(job.parsed) and len(job.repairs) < self.repair_attempts:
            return True
        self.finalize(job)
        return False


def judge_responses(
    ws: Any,
    judge_spec: str,
    *,
    runs: Mapping[str, Any] | Iterable[str] | str | None = None,
    concurrency: int = 16,
    max_parse_failure_rate: float = 0.2,
    repair_attempts: int = 1,
    limit: int | None = None,
    price_per_1k: tuple[float, float] | None = None,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    judge_name: str | None = None,
    min_sample: int = MIN_SAMPLE,
    max_failure_rate: float = 0.5,
    batch_size: int = 8,
    device: str = "auto",
    dtype: str = "auto",
    client_options: Mapping[str, Any] | None = None,
    on_item: Callable[[dict[str, Any]], None] | None = None,
    backend: JudgeBackend | None = None,
    retry_missing: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    timeout: float | None = None,
    scoring: str = "auto",
) -> JudgeReport:
    """Judge the stored responses that ``judge_spec`` has not judged yet; see the module docstring.

    ``ws``: a :class:`bench.workspace.Workspace` (or anything with ``.store``); ``runs``: filters on
    ``run_key``/``model``/``method``/``lang``/``category``/``run_id``/``item_id`` (``["lang=fr", ...]`` or a
    mapping); ``price_per_1k``: ``(input, output)`` USD per 1,000 tokens; ``judge_name``: the name stored
    in ``judgements.judge`` (default: the spec; either way through
    :func:`baselines.judging.naming.judge_name`, e.g. ``openai:gpt-4o-mini``);
    ``client_options``: extra :class:`ChatClient` arguments (timeout, max_retries, backoff_base, api_key...);
    ``timeout``: seconds per request (OpenAI-compatible judges; default 120);
    ``retry_missing``: re-ask responses whose stored scores are missing (unreadable), until they had
    ``max_attempts`` judging rounds; ``scoring``: ``auto`` | ``probs`` | ``text`` (:func:`make_backend`);
    ``on_item(event)``: called after each item is persisted (an exception
    there stops the run, as Ctrl-C would). Raises :class:`JudgeStopped` when the run stops or produced no
    usable score (after persisting).
    """
    if concurrency < 1:
        raise BenchError(f"concurrency must be >= 1, got {concurrency}")
    if not 0 <= max_parse_failure_rate <= 1:
        raise BenchError(f"max_parse_failure_rate must be between 0 and 1, got {max_parse_failure_rate}")
    if not 0 <= max_failure_rate <= 1:
        raise BenchError(f"max_failure_rate must be between 0 and 1, got {max_failure_rate}")
    if repair_attempts < 0:
        raise BenchError(f"repair_attempts must be >= 0, got {repair_attempts}")
    if min_sample < 1:
        raise BenchError(f"min_sample must be >= 1, got {min_sample}")
    if max_attempts < 1:
        raise BenchError(f"max_attempts must be >= 1, got {max_attempts}")
    if timeout is not None:
        if not timeout > 0:
            raise BenchError(f"timeout must be > 0 seconds, got {timeout}")
        client_options = {**(client_options or {}), "timeout": float(timeout)}
    if price_per_1k is not None:
        if len(price_per_1k) != 2 or any(p is None or p < 0 for p in price_per_1k):
            raise BenchError(f"price_per_1k must be (input, output) USD per 1k tokens, got {price_per_1k!r}")
        price_per_1k = (float(price_per_1k[0]), float(price_per_1k[1]))
    filters = parse_run_filters(runs)
    own_backend = backend is None
    if backend is None:  # SPEC and model checked before the store creates the workspace folder
        root = getattr(ws, "root", None)  # the cache folder is made by whoever downloads into it first
        cache_dir = Path(root) / "cache" if root is not None else getattr(ws, "cache_dir", None)
        backend = make_backend(judge_spec, concurrency=concurrency, max_tokens=max_tokens, batch_size=batch_size,
                               device=device, dtype=dtype, cache_dir=cache_dir, client_options=client_options,
                               scoring=scoring)
    try:
        store = ws.store
        return _judge(store, backend, stable_judge_name(judge_name or backend.name), filters=filters, limit=limit,
                      price_per_1k=price_per_1k, repair_attempts=repair_attempts,
                      max_parse_failure_rate=max_parse_failure_rate, max_failure_rate=max_failure_rate,
                      min_sample=min_sample, on_item=on_item,
                      retry=max_attempts if retry_missing else None,
                      params={"judge_spec": public_name(judge_spec), "concurrency": concurrency,
                              "retry_missing": retry_missing, "max_attempts": max_attempts,
                              "timeout": (client_options or {}).get("timeout"),
                              "max_parse_failure_rate": max_parse_failure_rate, "max_failure_rate": max_failure_rate,
                              "repair_attempts": repair_attempts, "limit": limit, "max_tokens": max_tokens,
                              "price_per_1k": list(price_per_1k) if price_per_1k else None,
                              "min_sample": min_sample, "batch_size": batch_size, "scoring": backend.scoring})
    finally:
        if own_backend:
            backend.close()


def _judge(store: Any, backend: JudgeBackend, judge: str, *, filters: dict[str, list[str]], limit: int | None,
           price_per_1k: tuple[float, float] | None, repair_attempts: int, max_parse_failure_rate: float,
           max_failure_rate: float, min_sample: int, on_item: Callable[[dict[str, Any]], None] | None,
           retry: int | None, params: dict[str, Any]) -> JudgeReport:
    from bench.progress import progress_task

    started = time.perf_counter()
    identity = backend.identity()
    with store.session():  # the selection in one open of the store (other bench processes wait meanwhile)
        check_same_model(store, COMMAND, judge, identity)
        check_same_scoring(store, judge, backend.scoring)
        _, notes = adopt_older_names(store, COMMAND, judge, identity)
        rows = select_responses(store, judge, filters, limit, retry_missing=retry is not None,
                                max_attempts=retry or MAX_ATTEMPTS)
        report = JudgeReport(judge=judge, selected=len(rows), cost_usd=0.0 if price_per_1k else None, notes=notes,
                             scoring=backend.scoring)
        if retry is not None:
            report.exhausted = count_exhausted(store, judge, filters, retry)
        settings = {**backend.settings(), "prompt_version": PROMPT_VERSION}
        run_params = {**params, "judge": judge, "identity": identity, "prompt_version": PROMPT_VERSION,
                      "filters": filters, "selected": len(rows), "settings": settings}
        report.run_id = store.start_run(COMMAND, run_params)
        record_judge_settings(store, judge, settings, report.run_id)

    # distinct prompts (identical prompts are sent once)
    jobs: dict[str, JudgeJob] = {}
    for row in rows:
        protocol = protocol_for_category(row["category"])
        messages = build_judge_messages(row["instruction"], row["output"], protocol, row["lang"])
        key = prompt_hash(judge, identity, messages)
        if key not in jobs:
            jobs[key] = JudgeJob(key, protocol, aspects_for(protocol), messages, [])
        jobs[key].responses.append(row)
        jobs[key].prior_rounds = max(jobs[key].prior_rounds, row["prior_rounds"] or 0)

    cached = {r["prompt_hash"]: r for r in store.query_dicts(
        "SELECT prompt_hash, raw, parsed, error, attempts, prompt_tokens, completion_tokens, rounds FROM judge_calls "
        "WHERE judge = ? AND list_contains(?, prompt_hash)", [judge, list(jobs)])} if jobs else {}

    requests_before = backend.requests_sent()
    status = "failed"
    with progress_task(f"judging with {judge}", total=len(rows), unit="items") as advance:
        run = _Run(store, backend, judge, report, price_per_1k=price_per_1k, repair_attempts=repair_attempts,
                   max_parse_failure_rate=max_parse_failure_rate, max_failure_rate=max_failure_rate,
                   min_sample=min_sample, on_item=on_item, advance=advance)
        originals: deque[JudgeJob] = deque()
        repairs: deque[JudgeJob] = deque()
        try:
            for key, job in jobs.items():
                row = cached.get(key)
                error = (row or {}).get("error") or ""
                prior = job.prior_rounds = max(job.prior_rounds, _rounds_of(row))
                if row is None or error.startswith(ERR_FAILED) or row["parsed"] is None:
                    originals.append(job)
                elif retry is not None and error.startswith(ERR_PARSE) and prior < retry:
                    originals.append(job)  # missing scores: ask again (a new round)
                elif not restore_job(job, row):  # unreadable cache entry: ask again
                    originals.append(job)
                elif error == ERR_REPAIR_PENDING:
                    if len(job.repairs) < repair_attempts:
                        repairs.append(job)
                    else:
                        run.finalize(job)
                else:
                    run.finalize(job, cached=True)
                if len(run._judgements) >= 2000:
                    run.flush()
                if run.stop_reason:
                    break
            report.retried = sum(len(j.responses) for j in originals if j.prior_rounds)
            if backend.scoring == "probs":  # batches of one protocol and similar prompt lengths (less padding)
                originals = deque(sorted(originals, key=lambda j: (j.protocol, -sum(len(m["content"]) for m in j.messages))))
            run.flush()
            if not run.stop_reason:
                _pump(run, backend, originals, repairs)
            if not run.stop_reason:
                run.stop_reason = run.no_score_reason()
            status = "stopped" if run.stop_reason else "done"
        finally:
            report.requests = backend.requests_sent() - requests_before
            report.seconds = time.perf_counter() - started
            report.parse_failure_rate = report.parse_failures / report.judged if report.judged else 0.0
            report.stopped = run.stop_reason
            report.repairs = run.repairs_sent
            if price_per_1k:
                report.cost_usd = run._cost(report.prompt_tokens, report.completion_tokens)
            try:
                _finish_run(store, report, run_params, "failed" if status != "done" else "done")
            except Exception:  # noqa: BLE001 - never hide the original error
                if status == "done":
                    raise
    if run.stop_reason:
        raise JudgeStopped(f"judge {judge} stopped: {run.stop_reason}; {report.judged} responses judged "
                           f"and stored, {report.unfinished} left for the next run", report)
    return report


def _pump(run: _Run, backend: JudgeBackend, originals: deque[JudgeJob], repairs: deque[JudgeJob]) -> None:
    """Keep ``backend.workers`` tasks of up to ``chunk_size`` requests in flight; handle answers as they come."""
    pool = ThreadPoolExecutor(max_workers=backend.workers, thread_name_prefix="judge")
    pending: dict[Future, tuple[str, list[JudgeJob]]] = {}
    clean = False

    def submit() -> None:
        # repairs first: they finish items; at most 2 tasks per worker queued (prompt stop)
        while not run.stop_reason and len(pending) < 2 * backend.workers and (repairs or originals):
            source, stage = (repairs, "repair") if repairs else (originals, "original")
            chunk = [source.popleft() for _ in range(min(backend.chunk_size, len(source)))]
            if backend.scoring == "probs":
                pending[pool.submit(backend.score_batch, [(j.messages, j.aspects) for j in chunk])] = (stage, chunk)
                continue
            batch = [j.repair_messages() if stage == "repair" else j.messages for j in chunk]
            if stage == "repair":
                run.repairs_sent += len(chunk)
            pending[pool.submit(backend.complete_batch, batch)] = (stage, chunk)

    try:
        submit()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                stage, chunk = pending.pop(fut)
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is not None:  # a bug in a backend: these items fail, the run goes on
                    reason = f"internal error: {type(exc).__name__}: {exc}"[:300]
                    outcomes: list[Outcome] = [ChatFailure(reason=reason, attempts=0, latency_s=0.0, retryable=False)
                                               for _ in chunk]
                else:
                    outcomes = fut.result()
                for job, outcome in zip(chunk, outcomes):
                    if run.on_answer(job, outcome, stage):
                        run.store_pending(job)  # kept; if the run stops now, the next run sends the repair
                        if not run.stop_reason:
                            repairs.append(job)
            if run.stop_reason:
                for fut in list(pending):
                    if fut.cancel():
                        pending.pop(fut)
                repairs.clear()
                originals.clear()
            submit()  # keep the workers busy first, then write
            run.flush()
        clean = True
    finally:
        if not clean:
            try:
                run.flush(notify=False)  # finished items handled before the interruption
            except Exception:  # noqa: BLE001 - never hide the original error
                pass
        pool.shutdown(wait=clean, cancel_futures=True)
        if not clean:
            backend.close()  # stop retry waits of requests still running; their answers are dropped


def _rounds_of(row: Mapping[str, Any] | None) -> int:
    """Judging rounds a judge_calls row records (rows older than the column: 1 for an answer, 0 otherwise)."""
    if row is None:
        return 0
    if row.get("rounds") is not None:
        return int(row["rounds"])
    error = row.get("error") or ""
    return 0 if error.startswith(ERR_FAILED) or error == ERR_REPAIR_PENDING else 1


def _finish_run(store: Any, report: JudgeReport, params: dict[str, Any], status: str) -> None:
    summary = report.to_dict()
    with store.transaction() as con:
        con.execute("UPDATE runs SET params = ? WHERE run_id = ?",
                    [json.dumps({**params, "summary": summary}, sort_keys=True, default=str), report.run_id])
    store.finish_run(report.run_id, status)


__all__ = [
    "JudgeReport", "JudgeStopped", "count_exhausted", "judge_responses", "make_backend", "prompt_hash",
    "select_responses", "ERR_FAILED", "ERR_PARSE", "ERR_REPAIR_PENDING", "MAX_ATTEMPTS", "MIN_SAMPLE",
]
