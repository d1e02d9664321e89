"""Small value checks and formats shared by the release modules."""
from __future__ import annotations

from typing import Any


def percent(part: int, whole: int) -> str:
    """``part`` as a share of ``whole`` with one decimal ("12.5%"); "–" when ``whole`` is 0."""
    return f"{100 * part / whole:.1f}%" if whole else "–"


def is_count(value: Any) -> bool:
    """A JSON value that is a non-negative integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_number(value: Any) -> bool:
    """A JSON value that is a number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
