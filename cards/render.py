"""Render the card templates in cards/templates with Jinja."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).with_name("templates")


def render(template: str, context: dict[str, Any]) -> str:
    """Render ``templates/<template>`` (undefined variables are errors, not blanks)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False,
    )
    return env.get_template(template).render(**context)

