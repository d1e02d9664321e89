"""Inter-annotator agreement: Krippendorff's alpha (nominal / ordinal / interval) and label-set overlap.

Krippendorff's alpha is computed from the coincidence matrix (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability"): units with fewer than two values are not pairable and are left
out; missing values are allowed. ``None`` means undefined (fewer than two pairable values, or no
variation at all in the data, when the expected disagreement is zero).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Hashable, Iterable, Sequence

LEVELS = ("nominal", "ordinal", "interval")


def krippendorff_alpha(units: Iterable[Sequence[Hashable]], level: str = "nominal") -> float | None:
    """Alpha over ``units``: each unit is the list of values its coders gave (missing ones left out)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    coincidence: dict[tuple, float] = defaultdict(float)
    for values in units:
        values = [v for v in values if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidence[(a, b)] += 1.0 / (m - 1)
    totals: Counter = Counter()
    for (a, _b), w in coincidence.items():
        totals[a] += w
    n = sum(totals.values())
    if n < 2 or len(totals) < 2:
        return None
    values = sorted(totals)
    delta = _delta(values, totals, level)
    observed = sum(w * delta[(a, b)] for (a, b), w in coincidence.items())
    expected = sum(totals[a] * totals[b] * delta[(a, b)] for a in values for b in values)
    if expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def _delta(values: list, totals: Counter, level: str) -> dict[tuple, float]:
    out = {}
    for a in values:
        for b in values:
            if level == "nominal":
                d = 0.0 if a == b else 1.0
            elif level == "interval":
                d = float(a - b) ** 2
            else:  # ordinal: ranks through the marginal totals between a and b
                lo, hi = (a, b) if a <= b else (b, a)
                between = sum(totals[v] for v in values if lo <= v <= hi)
                d = (between - (totals[a] + totals[b]) / 2.0) ** 2
            out[(a, b)] = d
    return out


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Overlap of two label sets; two empty sets agree fully (both say 'no error')."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def mean_pairwise_jaccard(units: Iterable[Sequence[Iterable[str]]]) -> float | None:
    """Mean Jaccard over every pair of annotators of every unit (None without any pair)."""
    scores = [jaccard(x, y) for unit in units for x, y in combinations(unit, 2)]
    return sum(scores) / len(scores) if scores else None


def per_label_alpha(units: Sequence[Sequence[Iterable[str]]], labels: Iterable[str]) -> dict[str, float | None]:
    """Nominal alpha of each label as a yes/no decision by every annotator of every unit."""
    sets = [[set(s) for s in unit] for unit in units]
    return {label: krippendorff_alpha([[label in s for s in unit] for unit in sets], "nominal") for label in labels}


def percent_agreement(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Share of units (with at least two values) where every value is the same."""
    pairable = [list(u) for u in units if len(u) >= 2]
    if not pairable:
        return None
    return sum(len(set(u)) == 1 for u in pairable) / len(pairable)


def rounded(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def undefined_reason(units: Iterable[Sequence[Hashable]]) -> str | None:
    """Why :func:`krippendorff_alpha` of ``units`` is undefined (None when it is defined): no unit with
    two or more values, or every value the same (no disagreement is possible to measure)."""
    pairable = [[v for v in u if v is not None] for u in units]
    pairable = [u for u in pairable if len(u) >= 2]
    if not pairable:
        return "no item has two or more reviews"
    values = {v for u in pairable for v in u}
    if len(values) < 2:
        return f"undefined: every review gave the same value ({next(iter(values))}), all reviewers agree"
    return None
