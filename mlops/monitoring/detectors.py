"""The built-in drift and outlier detectors (alibi-detect), registered in mlops.builtins.

A drift detector is `fn(ref, new, categorical_mask, p_val, correction) -> FeatureDrift`, over the
encoded float matrices of mlops.monitoring.encoding; an outlier detector is
`fn(ref, categorical_mask, seed) -> fitted object with .score(X) -> higher = more unusual`.
Plugins register their own under the same contracts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FeatureDrift:
    """Per-feature p-values and statistics (NaN for features a detector does not test) and the threshold."""

    p_values: np.ndarray
    statistics: np.ndarray
    threshold: float
    is_drift: bool


def _per_feature(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
    data = result["data"]
    return np.asarray(data["p_val"], dtype=float), np.asarray(data["distance"], dtype=float), float(data["threshold"])


def _scatter(columns: np.ndarray, n: int, p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p_all, d_all = np.full(n, np.nan), np.full(n, np.nan)
    p_all[columns], d_all[columns] = p, d
    return p_all, d_all


def _subset(ref, new, columns, what: str):
    if not len(columns):
        raise ValueError(f"this detector tests {what} features and the model has none")
    return ref[:, columns], new[:, columns]


def ks_drift(ref, new, categorical, p_val, correction) -> FeatureDrift:
    """Kolmogorov-Smirnov per numeric feature."""
    from alibi_detect.cd import KSDrift

    cols = np.flatnonzero(~categorical)
    r, x = _subset(ref, new, cols, "numeric")
    out = KSDrift(r, p_val=p_val, correction=correction).predict(x, drift_type="batch", return_p_val=True, return_distance=True)
    p, d, threshold = _per_feature(out)
    return FeatureDrift(*_scatter(cols, ref.shape[1], p, d), threshold, bool(out["data"]["is_drift"]))


def chi2_drift(ref, new, categorical, p_val, correction) -> FeatureDrift:
    """Chi-squared per categorical feature."""
    from alibi_detect.cd import ChiSquareDrift

    cols = np.flatnonzero(categorical)
    r, x = _subset(ref, new, cols, "categorical")
    out = ChiSquareDrift(r, p_val=p_val, correction=correction).predict(x, drift_type="batch", return_p_val=True,
                                                                        return_distance=True)
    p, d, threshold = _per_feature(out)
    return FeatureDrift(*_scatter(cols, ref.shape[1], p, d), threshold, bool(out["data"]["is_drift"]))


def tabular_drift(ref, new, categorical, p_val, correction) -> FeatureDrift:
    """KS for numeric and chi-squared for categorical features, one correction over all of them."""
    from alibi_detect.cd import TabularDrift

    cats = {int(i): None for i in np.flatnonzero(categorical)}
    out = TabularDrift(ref, p_val=p_val, categories_per_feature=cats, correction=correction).predict(
        new, drift_type="batch", return_p_val=True, return_distance=True)
    p, d, threshold = _per_feature(out)
    return FeatureDrift(p, d, threshold, bool(out["data"]["is_drift"]))


MMD_MAX_ROWS = 1000  # the permutation test is quadratic in rows


def mmd_drift(ref, new, categorical, p_val, correction) -> FeatureDrift:
    """Maximum mean discrepancy over all features together (one verdict; per-feature values from KS)."""
    from alibi_detect.cd import MMDDrift

    rng = np.random.default_rng(0)
    pick = lambda a: a[rng.choice(len(a), MMD_MAX_ROWS, replace=False)] if len(a) > MMD_MAX_ROWS else a  # noqa: E731
    mean, std = ref.mean(axis=0), ref.std(axis=0) + 1e-9
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    out = MMDDrift(scale(pick(ref)), backend="pytorch", p_val=p_val, n_permutations=100, device="cpu").predict(scale(pick(new)))
    per_feature = tabular_drift(ref, new, categorical, p_val, correction)
    return FeatureDrift(per_feature.p_values, per_feature.statistics, float(out["data"]["threshold"]),
                        bool(out["data"]["is_drift"]))


class _Scorer:
    """Wraps an alibi-detect outlier detector: score(X) -> instance scores (higher = more unusual)."""

    def __init__(self, detector: Any, stateful: bool = False):
        self.detector = detector
        self.stateful = stateful  # alibi's Mahalanobis updates itself on every call: score a copy instead

    def score(self, X: np.ndarray) -> np.ndarray:
        import copy

        detector = copy.deepcopy(self.detector) if self.stateful else self.detector
        return np.asarray(detector.score(X.astype(np.float32)), dtype=float)


def _quiet() -> None:
    import logging

    # alibi logs "No threshold level set" on every fit: mlops sets the threshold itself (a percentile).
    logging.getLogger("alibi_detect").setLevel(logging.ERROR)


def iforest_outliers(ref, categorical, seed) -> _Scorer:
    """Isolation forest fitted on the reference rows."""
    from alibi_detect.od import IForest

    _quiet()
    detector = IForest(n_estimators=100)
    detector.isolationforest.set_params(random_state=seed)
    detector.fit(ref.astype(np.float32))
    return _Scorer(detector)


def mahalanobis_outliers(ref, categorical, seed) -> _Scorer:
    """Mahalanobis distance from the reference rows' mean and covariance (alibi's online estimate)."""
    from alibi_detect.od import Mahalanobis

    _quiet()
    detector = Mahalanobis(n_components=min(3, ref.shape[1]))
    detector.score(ref.astype(np.float32))  # builds the mean and covariance from the reference
    return _Scorer(detector, stateful=True)
