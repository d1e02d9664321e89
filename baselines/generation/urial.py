"""Prompts for the generation baselines: URIAL in-context alignment, zero-shot, chat template.

Formats (what :mod:`baselines.generation.run` sends to a model for one Just-Eval instruction):

* ``urial``: a URIAL prompt file read **as is** (the official files of Re-Align/URIAL such as
  ``inst_1k_v4.txt``, or the project's ``baselines/generation/prompts/urial/urial_{en,fr,es}.txt``), then the
  query block of the instruction::

      <file text, trailing newlines trimmed>\\n\\n# Query:\\n```\\n<instruction>\\n```\\n\\n# Answer:\\n```\\n

  This is byte for byte what URIAL's own renderer (``SeparatorStyle.URIAL`` in their
  ``fastchat_conversation.py``: ``system + "\\n" + role + "\\n" + sep + "\\n" + message ...``) produces
  for the official files, which end with a single newline after their last closing fence.
  Generation stops at ``# Query`` (URIAL's own stop word), and :func:`clean_urial_output` cuts the
  closing fence of the answer block.
* ``zero-shot`` (base models): URIAL's query block alone, without the system text and the
  in-context examples, i.e. the *zero-shot templated prompting* baseline of the URIAL paper
  (Lin et al., 2023). Reusing the same frame isolates what the in-context examples add, and gives
  the base model a well-defined end of answer (the closing fence / next ``# Query:``) instead of a
  bare instruction that a base model simply continues. The headings stay in English for every
  language, as in the project's FR/ES URIAL prompts (the instruction itself is in the target
  language).
* ``chat`` (instruction-tuned models): one user turn rendered by the tokenizer's **own** chat
  template (``apply_chat_template(add_generation_prompt=True)``), never chosen by model name; no
  system prompt (several small-model templates, e.g. Gemma's, have no system role).

``prompt_hash`` (stored with every response) is the sha256 of the prompt file bytes (``urial``),
of the zero-shot frame (``zero-shot``), or of the chat template text (``chat``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import chat
from bench.chat import has_chat_template
from bench.errors import BenchError, InputError

URIAL_DIR = Path(__file__).with_name("prompts") / "urial"
SHIPPED_LANGUAGES = ("en", "fr", "es")
QUERY_HEADING = "# Query:"
ANSWER_HEADING = "# Answer:"
FENCE = "```"
# URIAL's own stop word (src/unified_infer.py: stop_words = ["# Query"]); it also covers "# Query:".
URIAL_STOP = "# Query"
ZERO_SHOT_TEMPLATE = "# Query:\n```\n{instruction}\n```\n\n# Answer:\n```\n"

_FENCE_LINE = re.compile(r"^[ \t]{0,3}```[ \t]*$")
_FENCE_OPEN_WITH_INFO = re.compile(r"^[ \t]{0,3}```[ \t]*[^`\s]")


def default_urial_prompt(lang: str) -> Path:
    """The project's shipped URIAL prompt for ``lang`` (en, fr, es)."""
    return URIAL_DIR / f"urial_{lang}.txt"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class UrialPrompt:
    """A URIAL prompt file: its text exactly as stored, and the sha256 of its bytes."""

    path: Path
    text: str
    sha256: str

    def build(self, instruction: str) -> str:
        return build_urial_prompt(self.text, instruction)

    @property
    def prefix(self) -> str:
        """What every prompt built from this file starts with (shared by a whole language)."""
        return urial_prefix(self.text)


def load_urial_prompt(path: str | os.PathLike) -> UrialPrompt:
    """Read a URIAL prompt file as is (official or ours); fail with one line naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the URIAL prompt ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"URIAL prompt is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise InputError(str(path), "URIAL prompt is empty")
    for heading in (QUERY_HEADING, ANSWER_HEADING):
        if heading not in text:
            raise InputError(str(path), f"not a URIAL prompt: no '{heading}' heading")
    return UrialPrompt(path=path, text=text, sha256=hashlib.sha256(data).hexdigest())


def query_block(instruction: str) -> str:
    """``# Query:`` block of one instruction followed by the opened ``# Answer:`` block."""
    return ZERO_SHOT_TEMPLATE.format(instruction=instruction)


def urial_prefix(prefix: str) -> str:
    """The prompt file text normalised to end with exactly one blank line (empty stays empty)."""
    body = prefix.rstrip("\n")
    return body + "\n\n" if body else ""


def build_urial_prompt(prefix: str, instruction: str) -> str:
    """URIAL prompt: the file text, one blank line, the query block and the opened answer block."""
    return urial_prefix(prefix) + query_block(instruction)


def zero_shot_prompt(instruction: str, lang: str) -> str:
    """Zero-shot prompt for a base model: URIAL's query/answer frame without examples.

    ``lang`` is validated but does not change the frame: the headings are English in every
    language, like the project's FR/ES URIAL prompts (see the module docstring)."""
    from bench.languages import get_language

    get_language(lang)
    return query_block(instruction)


ZERO_SHOT_HASH = sha256_text(ZERO_SHOT_TEMPLATE)


def clean_urial_output(raw: str) -> str:
    """The answer inside a URIAL/zero-shot completion.

    Cuts at the next ``# Query`` (the model starting a new turn), then at the fence that closes
    the answer block, strips a stray opening fence, and trims. Code blocks inside the answer are
    kept: a closing fence that ends the (cut) text is the answer's own; otherwise the first bare
    fence that does not close an inner block opened with an info string (```` ```python ````)
    ends the answer."""
    text = raw
    cut = text.find(URIAL_STOP)
    if cut >= 0:
        text = text[:cut]
    lines = text.rstrip().split("\n")
    # a stray opening fence (prompts that end with "# Answer:\n" let the model open the block itself)
    if lines and _FENCE_LINE.match(lines[0]) and len(lines) > 1:
        lines = lines[1:]
    if cut >= 0 and lines and _FENCE_LINE.match(lines[-1]):
        # the model closed the answer block, then started a new query: everything before is the answer
        return "\n".join(lines[:-1]).strip()
    inner_open = False
    for i, line in enumerate(lines):
        if _FENCE_LINE.match(line):
            if inner_open:
                inner_open = False
                continue
            return "\n".join(lines[:i]).strip()
        if _FENCE_OPEN_WITH_INFO.match(line):
            inner_open = True
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------- chat template


def chat_messages(instruction: str) -> list[dict[str, str]]:
    """One user turn, no system prompt."""
    return [{"role": "user", "content": instruction}]


def render_chat(tokenizer: Any, messages: list[dict[str, str]], model: str = "model") -> str:
    """``messages`` through the tokenizer's own chat template, generation prompt added."""
    if not has_chat_template(tokenizer):
        raise BenchError(f"model '{model}' has no chat template: the chat method needs an instruction-tuned model "
                         "(use zero-shot or urial for base models)")
    return chat.render_chat(tokenizer, messages, system_fallback=False)


def chat_prompt(tokenizer: Any, instruction: str) -> str:
    """The chat prompt of one instruction, rendered by the tokenizer's own template."""
    return render_chat(tokenizer, chat_messages(instruction), getattr(tokenizer, "name_or_path", "model"))


def chat_template_hash(tokenizer: Any) -> str:
    """sha256 of the tokenizer's chat template text (a dict of named templates: its canonical JSON)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise BenchError("tokenizer has no chat template")
    text = template if isinstance(template, str) else json.dumps(template, sort_keys=True, ensure_ascii=False)
    return sha256_text(text)
