"""Agreement statistics between a judge's scores and a reference's scores: pure functions over arrays.

Every function takes aligned arrays (one entry per *cell*: one response × one aspect scored by both)
and returns plain dicts of floats, ``None`` where a figure cannot be computed (fewer than two cells, a
constant side), and always the number of cells or pairs it was computed on.

- :func:`score_agreement`: Spearman ρ and Kendall τ-b (scipy, average ranks for ties), mean absolute
  difference, exact agreement and agreement within ±1 point.
- :func:`pairwise_agreement`: over pairs of answers to the same item (same ``group``) from different
  systems where the reference prefers one, the share where the judge prefers the same one; judge ties
  and opposite preferences are counted separately (the three shares sum to 1).
- :func:`system_agreement`: Spearman / Kendall of the per-system mean scores (needs ≥ 3 systems).
- :func:`length_bias`: Spearman of score vs answer length (words), judge and reference side by side.
- :func:`self_preference`: the judge's score gap on its own family's answers against the reference's.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

MIN_SYSTEMS = 3
_TOLERANCE = 1e-9


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def rank_correlations(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    """(Spearman ρ, Kendall τ-b) of ``x`` and ``y``; ``(None, None)`` with < 2 values or a constant side."""
    x, y = _floats(x), _floats(y)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    from scipy.stats import kendalltau, spearmanr

    return _num(spearmanr(x, y).statistic), _num(kendalltau(x, y, variant="b").statistic)


def score_agreement(judge: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """``n``, ``spearman``, ``kendall``, ``mad`` (mean |judge − reference|), ``exact``, ``within1``."""
    j, r = _floats(judge), _floats(reference)
    n = len(j)
    rho, tau = rank_correlations(j, r)
    diff = np.abs(j - r)
    return {"n": n, "spearman": rho, "kendall": tau,
            "mad": float(diff.mean()) if n else None,
            "exact": float((diff <= _TOLERANCE).mean()) if n else None,
            "within1": float((diff <= 1 + _TOLERANCE).mean()) if n else None}


def pairwise_agreement(groups: Sequence[Any], systems: Sequence[Any], judge: Sequence[float],
                       reference: Sequence[float]) -> dict[str, Any]:
    """Preference agreement over pairs of cells with the same group (item × language × aspect) and
    different systems.

    ``pairs`` = pairs where the reference prefers one answer; of those, ``accuracy`` = share where the
    judge prefers the same one, ``judge_ties`` = share where the judge scores both alike, ``opposite`` =
    share where it prefers the other. ``reference_ties`` = pairs the reference scored alike (left out).
    """
    g_codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
    s_codes = np.unique(np.asarray(systems, dtype=object).astype(str), return_inverse=True)[1]
    j, r = _floats(judge), _floats(reference)
    order = np.argsort(g_codes, kind="stable")
    g_sorted = g_codes[order]
    bounds = np.flatnonzero(np.diff(g_sorted)) + 1
    agree = opposite = ties = ref_ties = 0
    for idx in np.split(order, bounds):
        if len(idx) < 2:
            continue
        a, b = np.triu_indices(len(idx), k=1)
        a, b = idx[a], idx[b]
        keep = s_codes[a] != s_codes[b]
        a, b = a[keep], b[keep]
        r_sign = np.sign(np.where(np.abs(r[a] - r[b]) <= _TOLERANCE, 0.0, r[a] - r[b]))
        j_sign = np.sign(np.where(np.abs(j[a] - j[b]) <= _TOLERANCE, 0.0, j[a] - j[b]))
        strict = r_sign != 0
        ref_ties += int((~strict).sum())
        agree += int((strict & (j_sign == r_sign)).sum())
        ties += int((strict & (j_sign == 0)).sum())
        opposite += int((strict & (j_sign == -r_sign)).sum())
    pairs = agree + ties + opposite
    share = (lambda k: k / pairs if pairs else None)
    return {"pairs": pairs, "accuracy": share(agree), "judge_ties": share(ties), "opposite": share(opposite),
            "reference_ties": ref_ties}


def system_means(systems: Sequence[Any], values: Sequence[float]) -> dict[str, float]:
    """Mean of ``values`` per system label."""
    labels = np.asarray(systems, dtype=object).astype(str)
    names, inverse = np.unique(labels, return_inverse=True)
    v = _floats(values)
    sums = np.bincount(inverse, weights=v, minlength=len(names))
    counts = np.bincount(inverse, minlength=len(names))
    return {str(name): float(s / c) for name, s, c in zip(names, sums, counts)}


def system_agreement(systems: Sequence[Any], judge: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """Spearman / Kendall of per-system mean scores; ``note`` = ``n/a (k systems)`` below 3 systems."""
    j_means, r_means = system_means(systems, judge), system_means(systems, reference)
    k = len(j_means)
    if k < MIN_SYSTEMS:
        return {"systems": k, "spearman": None, "kendall": None, "note": f"n/a ({k} system{'s' * (k != 1)})"}
    names = sorted(j_means)
    rho, tau = rank_correlations([j_means[s] for s in names], [r_means[s] for s in names])
    note = None if rho is not None else "n/a (constant means)"
    return {"systems": k, "spearman": rho, "kendall": tau, "note": note}


def length_bias(words: Sequence[float], judge: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """Spearman of score vs answer length (words) for the judge and for the reference, on the same cells."""
    return {"n": len(words), "judge": rank_correlations(judge, words)[0],
            "reference": rank_correlations(reference, words)[0]}


def model_family(name: str) -> str:
    """The family of a model name: the leading letters of its last path component, lower-cased
    (``gpt-3.5-turbo-0301`` → ``gpt``, ``Qwen/Qwen2.5-0.5B`` → ``qwen``, ``Llama-2-7b-chat-hf`` → ``llama``)."""
    last = re.split(r"[/:\\]", str(name).rstrip("/"))[-1]
    match = re.match(r"[a-z]+", last.lower())
    return match.group(0) if match else ""


def judge_families(judge: str, models: Sequence[str]) -> list[str]:
    """Families (:func:`model_family`, ≥ 2 letters) of ``models`` that the judge's name contains as a word
    start (``gpt`` in ``gpt-4-1106-preview``, ``qwen`` in ``local:Qwen/Qwen2.5-1.5B``)."""
    name = str(judge).lower()
    families = sorted({model_family(m) for m in models} - {""})
    return [f for f in families if len(f) >= 2 and re.search(rf"(?<![a-z]){re.escape(f)}", name)]


def self_preference(own: Sequence[bool], judge: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """Score gap own-family answers − other answers, for the judge and for the reference on the same cells;
    ``difference`` = judge gap − reference gap (> 0: the judge favours its family more than the reference)."""
    mask = np.asarray(own, dtype=bool)
    j, r = _floats(judge), _floats(reference)
    n_own, n_other = int(mask.sum()), int((~mask).sum())
    out: dict[str, Any] = {"n_family": n_own, "n_other": n_other, "judge_gap": None, "reference_gap": None,
                           "difference": None}
    if n_own and n_other:
        out["judge_gap"] = float(j[mask].mean() - j[~mask].mean())
        out["reference_gap"] = float(r[mask].mean() - r[~mask].mean())
        out["difference"] = out["judge_gap"] - out["reference_gap"]
    return out
