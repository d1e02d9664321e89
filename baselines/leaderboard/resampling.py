"""Bootstrap intervals and sign-flip permutation tests for the leaderboard (numpy, vectorised).

Intervals are 95% percentile bootstrap intervals over a group's responses: one (B, n) matrix of
multiplicities times the (n, aspects) score matrix, each resample recomputing every aspect mean
and the overall (mean of the regular aspects, else safety). Resamples depend only on (seed, n), so
a rerun gives the same intervals and groups of equal size share their draws.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench.vocabulary import ASPECTS, REGULAR_ASPECTS

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20231201


def _overall_from_means(means: np.ndarray) -> np.ndarray:
    """Overall per resample from (B, 6) aspect means: mean of the regular ones, else safety."""
    regular = means[:, : len(REGULAR_ASPECTS)]
    count = np.sum(~np.isnan(regular), axis=1)
    total = np.nansum(regular, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(count > 0, total / np.maximum(count, 1), means[:, len(REGULAR_ASPECTS)])
    return overall


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(B, n) multiplicities of n rows drawn with replacement, B times; depends only on (n, seed)."""
    rng = np.random.default_rng([int(seed), int(n)])
    draws = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def bootstrap_means(matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, k) column means of `matrix` (n, k; NaN = missing) under each row of resample `counts` (B, n)."""
    mask = ~np.isnan(matrix)
    both = counts @ np.hstack([np.where(mask, matrix, 0.0), mask.astype(np.float64)])
    k = matrix.shape[1]
    sums, dens = both[:, :k], both[:, k:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(dens > 0, sums / np.where(dens > 0, dens, 1.0), np.nan)


def bootstrap_intervals(table: Any, resamples: int, seed: int) -> dict[tuple, dict]:
    """95% percentile intervals per group and aspect (+ overall), resampling the group's responses.

    ``table``: a pyarrow table of one row per response, sorted by group (``model``, ``method``,
    ``language``, ``judge``, ``by_value``), with one column per aspect (NULL = missing)."""
    n_rows = table.num_rows
    if n_rows == 0 or resamples < 1:
        return {}
    keys = list(zip(*(table.column(c).to_pylist() for c in ("model", "method", "language", "judge", "by_value"))))
    values = np.column_stack([table.column(a).to_numpy(zero_copy_only=False).astype(np.float64) for a in ASPECTS])
    out: dict[tuple, dict] = {}
    counts_by_n: dict[int, np.ndarray] = {}  # groups of the same size share their resamples
    start = 0
    for stop in range(1, n_rows + 1):
        if stop < n_rows and keys[stop] == keys[start]:
            continue
        key, size = keys[start], stop - start
        if size not in counts_by_n:
            counts_by_n[size] = resample_counts(size, resamples, seed)
        means = bootstrap_means(values[start:stop], counts_by_n[size])
        stats = np.column_stack([means, _overall_from_means(means)])
        intervals: dict[str, list[float] | None] = {}
        for i, name in enumerate((*ASPECTS, "overall")):
            column = stats[:, i]
            column = column[~np.isnan(column)]
            intervals[name] = None if column.size == 0 else [float(x) for x in np.percentile(column, [2.5, 97.5])]
        out[key] = intervals
        start = stop
    return out


def paired_stats(d: np.ndarray, resamples: int, seed: int) -> tuple[float, list[float], float]:
    """Mean of the paired differences, its 95% bootstrap interval and a two-sided sign-flip p-value."""
    n = d.size
    observed = float(d.mean())
    boot = bootstrap_means(d[:, None], resample_counts(n, resamples, seed))[:, 0]
    rng = np.random.default_rng([int(seed), n, 1])
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    permuted = np.abs(signs @ d) / n
    p_value = float((1 + np.sum(permuted >= abs(observed) - 1e-12)) / (resamples + 1))
    return observed, [float(x) for x in np.percentile(boot, [2.5, 97.5])], min(1.0, p_value)
