"""The translation QA flags: one module per flag, and ``FLAG_CHECKS``, the table ``TranslationQA`` runs.

Each module has ``check(ctx: QAContext) -> str``: the evidence for its flag on one pair, "" when it does
not fire. A check that must not report what another flag already explains reads that flag's verdict
with ``ctx.verdict(name)``. To add a flag: a module here, its line in ``FLAG_CHECKS``, its name in
``bench.vocabulary.QA_FLAGS`` (same position), and tests.
"""
from __future__ import annotations

from typing import NamedTuple

from benchmark.qa.context import CheckFn
from benchmark.qa.flags import (
    code_altered,
    hallucinated_addition,
    number_mismatch,
    repetition,
    truncated,
    untranslated,
    wrong_language,
)


class FlagCheck(NamedTuple):
    """A flag name and the check that decides it."""

    flag: str
    check: CheckFn


# One line per flag, in QA_FLAGS order: the order flags are reported in.
FLAG_CHECKS: tuple[FlagCheck, ...] = (
    FlagCheck("untranslated", untranslated.check),
    FlagCheck("wrong_language", wrong_language.check),
    FlagCheck("truncated", truncated.check),
    FlagCheck("code_altered", code_altered.check),
    FlagCheck("number_mismatch", number_mismatch.check),
    FlagCheck("hallucinated_addition", hallucinated_addition.check),
    FlagCheck("repetition", repetition.check),
)
