"""Near-identical word sequences (difflib's ratio, its cheap upper bounds checked first)."""
from __future__ import annotations

import difflib
from collections.abc import Sequence


def near_identical(a: Sequence[str], b: Sequence[str], threshold: float) -> bool:
    """Whether difflib's ratio of the two word sequences reaches ``threshold``."""
    sa, sb = set(a), set(b)
    if 2 * len(sa & sb) < (threshold - 0.15) * (len(sa) + len(sb)):
        return False  # too few shared words for the sequences to be near-identical (cheap bound)
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return m.real_quick_ratio() >= threshold and m.quick_ratio() >= threshold and m.ratio() >= threshold
