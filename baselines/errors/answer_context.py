"""One answer under check: its text, language and finish reason, what its instruction asks for, the
language-identification inputs the orchestrator prepared, and the findings of each detector.

Every detector gets an ``AnswerContext`` and returns its ``Finding`` (or None). A detector that depends
on another's finding asks ``ctx.finding(label)``; that detector runs then, once.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable, Mapping

from baselines.errors.finding import Finding
from bench.instruction_features import InstructionFeatures, instruction_features

# A detector: the finding for its label on one answer (any score; the orchestrator applies THRESHOLD), or None.
DetectFn = Callable[["AnswerContext"], "Finding | None"]

_RUNNING = object()  # marks a detector in progress: a dependency cycle fails loudly


class AnswerContext:
    """Instruction, answer and language of one item, the lingua inputs, and findings computed on first use."""

    def __init__(self, instruction: str, output: str, lang: str, finish_reason: str | None, *,
                 languages: tuple[str, ...], samples: list[str], script: str | None,
                 confs: list[dict[str, float]], detectors: Mapping[str, DetectFn]):
        """``lang``: the checked ISO code; ``languages``: the detector's languages; ``samples``/``script``: from
        :func:`baselines.errors.language_samples.language_samples`; ``confs``: lingua confidences per sample
        (empty without lingua; for French and Spanish answers they may also hold Portuguese, Italian and Catalan ones,
        see wrong_language); ``detectors``: label -> detector, for ``finding``."""
        self.instruction, self.output, self.lang, self.finish_reason = instruction, output, lang, finish_reason
        self.languages, self.samples, self.script, self.confs = languages, samples, script, confs
        self._detectors = detectors
        self._findings: dict[str, object] = {}

    def finding(self, label: str) -> Finding | None:
        """The finding of ``label``'s detector (whatever its score), or None; the detector runs on first use only."""
        if label not in self._findings:
            self._findings[label] = _RUNNING
            self._findings[label] = self._detectors[label](self)
        found = self._findings[label]
        if found is _RUNNING:
            raise RuntimeError(f"critical-error detectors depend on each other in a cycle through '{label}'")
        return found  # type: ignore[return-value]

    @property
    def is_empty(self) -> bool:
        """The answer is empty (nothing, whitespace, punctuation or special tokens only)."""
        return self.finding("empty") is not None

    @cached_property
    def instruction_features(self) -> InstructionFeatures:
        """What the instruction asks for (cached per instruction)."""
        return instruction_features(self.instruction)

    @cached_property
    def body(self) -> str:
        """The answer proper: the text before the scaffolding it ran on into (``format_leak``), if any."""
        leak = self.finding("format_leak")
        return self.output[: leak.span[0]] if leak is not None and leak.span[0] > 0 else self.output
