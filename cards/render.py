"""Render the card templates in cards/templates with Jinja.

Every value that comes from a user, a config, a store or a model goes through one of two filters:
``md`` (inert Markdown text, :func:`cards.markdown.md_text`) or ``code`` (a code span that cannot be
broken out of, :func:`cards.markdown.md_code`); YAML metadata values use ``tojson`` or are checked ids.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from cards.markdown import md_code, md_text

TEMPLATES = Path(__file__).with_name("templates")


def render(template: str, context: dict[str, Any]) -> str:
    """Render ``templates/<template>`` (undefined variables are errors, not blanks)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False,
    )
    env.filters["md"] = md_text
    env.filters["code"] = md_code
    return env.get_template(template).render(**context)
