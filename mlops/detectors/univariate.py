"""Per-feature two-sample tests (Kolmogorov-Smirnov, chi-squared) and the batch verdict, with the answers
of alibi-detect's KSDrift / ChiSquareDrift / TabularDrift bit for bit (same statistics, p-values, float32
rounding, Bonferroni and FDR thresholds), at a fraction of the cost on large batches.

Why not call alibi-detect: its KS goes through scipy's `ks_2samp`, which sorts both samples, concatenates
them and binary-searches every point of both, and its chi-squared counts each category with one pass
over the batch and sorts the batch to find its categories. On a 1M-row window that is ~3 s per check, and
the controller checks every tick. Here the new column is sorted once and only the reference's points
(a few thousand) are searched in it; categories are counted with one `bincount`. The statistic is the
same maximum of the same integer-count fractions (see `ks_statistic`), so the floats are identical.
tests/detectors/test_univariate.py checks that against alibi-detect on ties, shifts and categories.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

MAX_CODE = 1 << 20  # larger values are not category codes: counted value by value, as alibi-detect does

def ks_statistic(ref_sorted: np.ndarray, new_sorted: np.ndarray) -> float:
    """scipy's two-sided two-sample KS statistic from both samples sorted.

    scipy takes max and -min of cdf_ref(z) - cdf_new(z) over every point z of both samples. Between two
    consecutive reference points the reference's CDF is flat and the new one only rises, so the largest
    difference is at a reference point and the smallest just before the next one, i.e. at the last new
    point below it. Both are the same integer counts divided by the same sizes as in scipy, hence the same
    floats; the extra candidates (0 before the first and after the last reference point) never exceed the
    true minimum, which is at most 0 (both CDFs reach 1 at the largest point)."""
    n1, n2 = len(ref_sorted), len(new_sorted)
    if min(n1, n2) == 0:
        raise ValueError("Data passed to ks_2samp must not be empty")
    ref_le = np.searchsorted(ref_sorted, ref_sorted, side="right")  # cdf_ref at each reference point
    new_le = np.searchsorted(new_sorted, ref_sorted, side="right")  # new points <= each reference point
    new_lt = np.searchsorted(new_sorted, ref_sorted, side="left")  # new points < each reference point
    max_s = np.max(ref_le / n1 - new_le / n2)
    # Flat step j (from reference point j - 1 to point j): cdf_ref = ref_le[j - 1] (0 before the first).
    before_next = np.concatenate([[0], ref_le]) / n1 - np.concatenate([new_lt, [n2]]) / n2
    min_s = np.clip(-np.min(before_next), 0, 1)
    return float(min_s if min_s > max_s else max_s)


def ks_test(ref: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of scipy's `ks_2samp(ref, new, mode='asymp')`, two-sided."""
    from scipy.stats import distributions, ks_2samp

    if np.isnan(ref).any() or np.isnan(new).any():  # scipy's NaN policy decides; encoded data has none
        result = ks_2samp(ref, new, alternative="two-sided", method="asymp")
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic(np.sort(ref), np.sort(new))
    m, n = sorted([float(len(ref)), float(len(new))], reverse=True)
    return d, float(np.clip(distributions.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def chi2_test(ref: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of alibi-detect's chi-squared test of one categorical feature: a contingency
    table over the union of both samples' values, in the same (set) order, counted the same."""
    from scipy.stats import chi2_contingency

    ref_values = list(np.unique(ref))
    codes = new.astype(np.int64)
    if len(new) and 0 <= codes.min() and codes.max() < MAX_CODE and np.array_equal(codes, new):
        counts = np.bincount(codes)  # encoded categories are small integer codes: one pass counts them all
        new_values = [np.float64(v) for v in np.flatnonzero(counts)]  # == list(np.unique(new)), same order
        values = list(set().union(ref_values, new_values))
        new_counts = [counts[int(v)] if v == int(v) and 0 <= v < len(counts) else np.int64(0) for v in values]
    else:
        values = list(set().union(ref_values, list(np.unique(new))))
        new_counts = [(new == v).sum() for v in values]
    table = np.vstack(([(ref == v).sum() for v in values], new_counts))
    statistic, p_value, _, _ = chi2_contingency(table)
    return float(statistic), float(p_value)


def feature_scores(ref: np.ndarray, new_column: Callable[[int], np.ndarray], columns: Sequence[int],
                   categorical: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """(p-values, statistics) as float32, one per column of `columns` (indices into `ref`'s columns):
    chi-squared for those in `categorical`, KS for the others. `new_column(c)` gives column c of the new
    batch, so a large batch is never held as one matrix; columns run in parallel (numpy's sort, where the
    time goes, releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(c: int) -> tuple[float, float]:
        statistic, p_value = (chi2_test if c in categorical else ks_test)(ref[:, c], new_column(c))
        return p_value, statistic

    workers = max(1, min(len(columns), _cpus()))
    if workers == 1:
        results = [one(c) for c in columns]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlops-drift") as pool:
            results = list(pool.map(one, columns))
    p_values = np.zeros(len(columns), dtype=np.float32)  # alibi-detect keeps both as float32
    statistics = np.zeros_like(p_values)
    for i, (p_value, statistic) in enumerate(results):
        p_values[i], statistics[i] = p_value, statistic
    return p_values, statistics


def batch_verdict(p_values: np.ndarray, p_val: float, correction: str) -> tuple[int, Any]:
    """(is_drift, threshold) as alibi-detect's `predict(drift_type='batch')` gives them: Bonferroni's
    p_val / n, or the Benjamini-Hochberg cut-off (every candidate when none is significant)."""
    n = p_values.shape[0]
    if correction == "bonferroni":
        threshold = p_val / n
        return int((p_values < threshold).any()), threshold
    q_threshold = p_val * (np.arange(n) + 1) / n
    below = np.sort(p_values) < q_threshold
    if not below.any():
        return 0, q_threshold
    return 1, q_threshold[np.where(below)[0].max()]


def _cpus() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
