"""The critical-error detectors: one module per label, and ``DETECTORS``, the table the orchestrator runs.

Each module has ``detect(ctx: AnswerContext) -> Finding | None``: its label's finding on one answer
(any score; ``CriticalErrorDetector`` reports those reaching ``THRESHOLD``), None when nothing is found.
A detector that depends on another's finding asks ``ctx.finding(label)`` (``truncated`` reads the
repetition loop, ``unintended_code`` the format leak, most read ``empty``). To add a detector: a module
here, its line in ``DETECTORS``, its label in ``bench.vocabulary.ERROR_LABELS`` (same position), and tests.

``repetition_loop``  degenerate repetition (token, phrase, sentence, list item, paragraph) as a base
                     model that never stops;
``unintended_code``  code or markup although the instruction asked for nothing technical;
``wrong_language``   the answer is wholly or mostly not in the instruction's language (unless the
                     instruction asked for a language or a translation);
``format_leak``      the answer runs on into in-context scaffolding (``# Query:``, ``### Instruction``,
                     ``User:`` turns, ``<|im_start|>``, ``</s>`` ...);
``empty``            nothing, or whitespace / punctuation only;
``truncated``        cut by the token limit (``finish_reason == "length"``; weaker: ends mid-sentence).
"""
from __future__ import annotations

from baselines.errors.answer_context import DetectFn
from baselines.errors.detectors import (
    empty,
    format_leak,
    repetition_loop,
    truncated,
    unintended_code,
    wrong_language,
)

# One line per label, in ERROR_LABELS order: the order findings are reported in.
DETECTORS: dict[str, DetectFn] = {
    "repetition_loop": repetition_loop.detect,
    "unintended_code": unintended_code.detect,
    "wrong_language": wrong_language.detect,
    "format_leak": format_leak.detect,
    "empty": empty.detect,
    "truncated": truncated.detect,
}
