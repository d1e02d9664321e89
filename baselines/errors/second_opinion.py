"""An optional second opinion on uncertain critical-error findings, from any judge backend.

The rules stay the default and the fast path. With ``--judge SPEC`` (``bench errors detect`` /
``evaluate``), each finding scored below :data:`ASK_BELOW` is put to the judge as one yes/no question
(the label's definition from ``evaluation/LABELS.md``, the instruction and the answer); "no" drops
the finding, "yes" keeps it, anything else leaves the rule's decision. Answers are cached on disk,
keyed by the judge's identity and the exact question (sha256), in an append-only JSONL file: a rerun
asks nothing twice and an interrupted run loses no answer already received.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from baselines.errors.finding import Finding

ASK_BELOW = 0.8  # findings scored under this are asked about (the rules' firm cases score 0.8 and above)
QUESTION_VERSION = "so-v1"
_CLIP = 3000  # characters of the answer shown (head and tail)

DEFINITIONS = {
    "repetition_loop": "the answer degenerates into repeating the same token, phrase, sentence, line, list item or "
                       "paragraph (near-)verbatim three or more times in a row, as a model that cannot stop "
                       "(a refrain or repetition the instruction asked for does not count)",
    "unintended_code": "the answer contains program code, shell commands, SQL, or is delivered as structured data "
                       "or markup (JSON, YAML, a Python dict or list, XML, HTML, a LaTeX document) although the "
                       "instruction asked for nothing technical (maths formulas and Markdown tables do not count)",
    "wrong_language": "the answer is wholly or mostly written in another language than the instruction's "
                      "(names, titles, quotes and code do not count)",
    "format_leak": "the answer runs on into prompt scaffolding: example headers such as '# Query:' or "
                   "'### Instruction:', invented 'User:'/'Assistant:' turns, special tokens, or the system preamble",
    "empty": "the answer is empty, or whitespace, punctuation or special tokens only",
    "truncated": "the answer stops before it is complete: mid-word, mid-sentence, mid-list or table row, inside an "
                 "open code block, or after announcing content that never comes",
}
_YES = {"yes", "oui", "sí", "si", "true"}
_NO = {"no", "non", "false"}


def question(instruction: str, output: str, label: str) -> list[dict[str, str]]:
    """The chat messages asking whether ``output`` shows ``label``."""
    shown = output if len(output) <= _CLIP else output[:_CLIP // 2] + "\n[...]\n" + output[-_CLIP // 2:]
    return [
        {"role": "system", "content": "You check answers of language models for one kind of critical error. "
                                      "Reply with one word: yes or no."},
        {"role": "user", "content": f"Instruction:\n{instruction}\n\nAnswer:\n{shown}\n\n"
                                    f"Critical error '{label}': {DEFINITIONS[label]}.\n"
                                    f"Does the answer show this critical error? Reply yes or no."},
    ]


def verdict(text: str) -> bool | None:
    """True for yes, False for no, None when the reply says neither."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return None
    return True if words[0] in _YES else False if words[0] in _NO else None


@dataclass
class SecondOpinionReport:
    asked: int = 0
    from_cache: int = 0
    confirmed: int = 0
    rejected: int = 0
    undecided: int = 0
    failed: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)


class SecondOpinion:
    """Asks ``backend`` (a :class:`baselines.judging.backends.JudgeBackend`) about uncertain findings."""

    def __init__(self, backend: Any, cache_path: str | Path,
                 ask: Callable[[Sequence[Any], str], list[dict[str, str]]] | None = None,
                 version: str = QUESTION_VERSION):
        """``ask(row, label)``: the chat messages of the yes/no question (default: :func:`question` on an
        (instruction, output, ...) row); ``version`` names the question wording in the cache key."""
        self.backend = backend
        self.cache_path = Path(cache_path)
        self.ask = ask or (lambda row, label: question(row[0], row[1], label))
        self.identity = json.dumps({"judge": backend.name, "backend": backend.identity(),
                                    "version": version}, sort_keys=True, default=str)
        self._cache: dict[str, str] = {}
        if self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._cache[row["key"]] = row["reply"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by an interrupted write: asked again

    def _key(self, messages: list[dict[str, str]]) -> str:
        return hashlib.sha256((self.identity + json.dumps(messages, ensure_ascii=False)).encode("utf-8")).hexdigest()

    def review(self, rows: Sequence[Sequence[Any]], findings: Sequence[list[Finding]],
               ids: Sequence[str] | None = None) -> tuple[list[list[Finding]], SecondOpinionReport]:
        """The findings (anything with ``label`` and ``score``) with the judge's "no" applied to the uncertain ones;
        ``rows``: what ``ask`` reads, (instruction, output, ...) by default."""
        report = SecondOpinionReport()
        asks: list[tuple[int, int, list[dict[str, str]], str]] = []
        for i, (row, found) in enumerate(zip(rows, findings)):
            for j, f in enumerate(found):
                if f.score < ASK_BELOW:
                    messages = self.ask(row, f.label)
                    asks.append((i, j, messages, self._key(messages)))
        todo = {key: messages for _, _, messages, key in asks if key not in self._cache}
        report.from_cache = len({key for *_, key in asks}) - len(todo)
        self._ask(list(todo.items()), report)
        out = [list(found) for found in findings]
        drop: set[tuple[int, int]] = set()
        for i, j, _messages, key in asks:
            reply = self._cache.get(key)
            decided = verdict(reply) if reply is not None else None
            if decided is True:
                report.confirmed += 1
            elif decided is False:
                report.rejected += 1
                drop.add((i, j))
                report.changes.append({"item": ids[i] if ids else i, "label": findings[i][j].label, "dropped": True})
            else:
                report.undecided += 1
        for i, j in sorted(drop, reverse=True):
            del out[i][j]
        return out, report

    def _ask(self, items: list[tuple[str, list[dict[str, str]]]], report: SecondOpinionReport) -> None:
        if not items:
            return
        chunk = max(1, int(getattr(self.backend, "chunk_size", 1)))
        batches = [items[k:k + chunk] for k in range(0, len(items), chunk)]
        workers = max(1, int(getattr(self.backend, "workers", 1)))
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(workers) as pool, self.cache_path.open("a", encoding="utf-8") as fh:
            for batch, outcomes in zip(batches, pool.map(lambda b: self.backend.complete_batch([m for _, m in b]),
                                                         batches)):
                for (key, _), outcome in zip(batch, outcomes):
                    report.asked += 1
                    text = getattr(outcome, "text", None)
                    if text is None:
                        report.failed += 1
                        continue
                    self._cache[key] = text
                    fh.write(json.dumps({"key": key, "reply": text}, ensure_ascii=False) + "\n")
                    fh.flush()


def judge_review(workspace: Any, spec: str, ask: Callable[[Sequence[Any], str], list[dict[str, str]]] | None = None,
                 version: str = QUESTION_VERSION) -> tuple[Callable, str, Callable[[], None]]:
    """A second opinion from the judge ``spec``, cached in ``workspace``: (review function, the judge's public name,
    a function that prints the totals and closes the judge). ``review(rows, findings, ids)`` returns the findings."""
    import click

    from baselines.judging.judge import make_backend

    backend = make_backend(spec, scoring="text", max_tokens=8)
    cache = workspace.cache_dir / "second-opinion" / f"{hashlib.sha256(backend.name.encode()).hexdigest()[:16]}.jsonl"
    opinion = SecondOpinion(backend, cache, ask, version)
    totals: Counter = Counter()

    def review(rows: list, found: list, ids: list[str] | None = None) -> list:
        reviewed, rep = opinion.review(rows, found, ids)
        totals.update({k: getattr(rep, k) for k in ("confirmed", "rejected", "undecided", "failed", "asked",
                                                     "from_cache")})
        return reviewed

    def close() -> None:
        backend.close()
        click.echo(f"second opinion ({backend.name}): {totals['confirmed']} confirmed, {totals['rejected']} rejected, "
                   f"{totals['undecided']} undecided, {totals['failed']} failed; {totals['asked']} asked, "
                   f"{totals['from_cache']} from cache", err=True)

    return review, backend.name, close
