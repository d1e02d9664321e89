"""The plain-text prompt format a base model without chat template is DPO-trained with.

A base model with a chat template is trained on conversations (TRL applies the template).
A base model *without* one is trained on plain text in the generation stage's zero-shot frame
(``baselines.generation.urial.zero_shot_prompt``, what ``bench baselines run`` uses for method ``dpo`` on
a model without chat template; :data:`DPO_PROMPT_TEMPLATE` is the same frame, used when that
module is absent)::

    # Query:
    ```
    {instruction}
    ```

    # Answer:
    ```
    {answer}
    ```</s>

The answer block is closed by a fence and then the EOS token (``</s>``, appended by TRL), so
the model learns to close its answer and stop; ``clean_urial_output`` at generation time cuts
at that fence. The saved tokenizer is the base's, unchanged (no chat template is added: that
would switch generation to the chat path). System messages, rare in preference data, are
written first followed by a blank line; earlier turns of multi-turn prompts are written in the
same frame, each answer closed and followed by a blank line.
"""
from __future__ import annotations

from dataclasses import dataclass

# The zero-shot frame of the generation stage (baselines.generation.urial.ZERO_SHOT_TEMPLATE): URIAL's
# query/answer blocks without examples. Kept here as the fallback when baselines.generation.urial is absent.
DPO_PROMPT_TEMPLATE = "# Query:\n```\n{instruction}\n```\n\n# Answer:\n```\n"
FENCE = "```"
_PROBE = "\u0000INSTRUCTION\u0000"


def dpo_prompt_format(instruction: str, lang: str = "en") -> str:
    """The zero-shot, URIAL-free prompt a base model without chat template is DPO-trained with.

    ``baselines.generation.urial.zero_shot_prompt`` when that module is there (what generation uses for
    method ``dpo`` on a model without chat template), else the same frame defined here. ``lang``
    is accepted for parity with ``zero_shot_prompt``; the frame is the same in every language."""
    return plain_prompt_format().user(instruction)


@dataclass(frozen=True)
class PlainPromptFormat:
    """``prefix + instruction + suffix``; answers get ``answer_suffix`` (closing the answer block)."""

    prefix: str
    suffix: str
    source: str

    @property
    def answer_suffix(self) -> str:
        """A newline and a closing fence when the prompt leaves a fenced answer block open, else ``""``."""
        return "\n" + FENCE if (self.prefix + self.suffix).count(FENCE) % 2 == 1 else ""

    def user(self, text: str) -> str:
        return f"{self.prefix}{text}{self.suffix}"

    def answer(self, text: str) -> str:
        return text.strip() + self.answer_suffix

    def render(self, messages: list[dict[str, str]]) -> str:
        """Prompt messages (system/user/assistant, ending with user) as plain text."""
        out: list[str] = []
        for msg in messages:
            if msg["role"] == "system":
                out.append(msg["content"].strip() + "\n\n")
            elif msg["role"] == "user":
                out.append(self.user(msg["content"]))
            else:
                out.append(self.answer(msg["content"]) + "\n\n")
        return "".join(out)


def plain_prompt_format() -> PlainPromptFormat:
    """The frame of ``baselines.generation.urial.zero_shot_prompt`` when importable, else :data:`DPO_PROMPT_TEMPLATE`."""
    try:  # the generation stage's zero-shot frame (language-independent: headings are English everywhere)
        from baselines.generation.urial import zero_shot_prompt  # type: ignore[import-not-found]

        probe = zero_shot_prompt(_PROBE, "en")
        if isinstance(probe, str) and probe.count(_PROBE) == 1:
            prefix, suffix = probe.split(_PROBE)
            return PlainPromptFormat(prefix, suffix, "baselines.generation.urial.zero_shot_prompt")
    except Exception:  # noqa: BLE001 - absent or incompatible: use the copy kept here
        pass
    prefix, suffix = DPO_PROMPT_TEMPLATE.format(instruction=_PROBE).split(_PROBE)
    return PlainPromptFormat(prefix, suffix, "baselines.dpo.prompt_format.DPO_PROMPT_TEMPLATE")
