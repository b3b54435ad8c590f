"""Outlier scores for single rows: an isolation forest or alibi-detect's Mahalanobis distance, fitted on the
drift reference sample, with a threshold at a percentile of the reference rows' own scores.

The isolation forest is scikit-learn's, scored as alibi-detect's IForest scores it (that class is a thin
wrapper: the same forest settings, score = -decision_function, threshold = a percentile of the reference
scores), without importing alibi-detect: its package imports torch and transformers on the way to IForest,
3-5 s in every process that fits or loads a detector (a Serve replica, the profile task, a driver that
reuses a cached profile). tests/detectors/test_drift.py checks the scores are alibi-detect's."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops.detectors.drift import DriftReference, dense, encode, quiet_alibi_detect

OUTLIER_DETECTORS = ("iforest", "mahalanobis")
N_ESTIMATORS = 100


@dataclass(eq=False)
class OutlierDetector:
    """A fitted detector: `score(frame)` -> (scores, is_outlier); higher scores are more unusual."""

    reference: DriftReference
    detector: str
    threshold_percentile: float
    seed: int
    threshold: float
    model: Any = field(repr=False)

    def score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Scores and outlier flags (score above the threshold) for each row of a raw input frame."""
        scores = _scores(self.model, _features(self.detector, self.reference, encode(self.reference, frame)))
        return scores, scores > self.threshold

    def save(self, path: str | Path) -> Path:
        """Write the reference and the settings to `path`; no pickle (see `load`)."""
        path = Path(path)
        self.reference.to_dir(path)
        meta = {"format": 1, "detector": self.detector, "threshold_percentile": self.threshold_percentile,
                "seed": self.seed, "threshold": self.threshold, "versions": _versions()}
        (path / "outliers.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "OutlierDetector":
        """Refit from the saved reference with the saved seed: the same detector, without unpickling anything."""
        # Fitting takes ~0.2 s for 5000 rows and is deterministic, so the directory holds only data and JSON.
        # alibi-detect's own save_detector would write dill (a pickle) for both detectors.
        path = Path(path)
        meta = json.loads((path / "outliers.json").read_text())
        fitted = fit_outlier_detector(DriftReference.from_dir(path), meta["detector"], meta["threshold_percentile"],
                                      meta["seed"])
        if not np.isclose(fitted.threshold, meta["threshold"], rtol=1e-5, atol=1e-6):
            warnings.warn(f"outlier threshold refitted as {fitted.threshold:.6g}, saved as {meta['threshold']:.6g}: "
                          f"library versions differ (saved with {meta.get('versions')}, now {_versions()}); "
                          "using the refitted one, which matches the refitted detector", stacklevel=2)
        return fitted


def fit_outlier_detector(reference: DriftReference, detector: str = "iforest", threshold_percentile: float = 99.0,
                         seed: int = 0) -> OutlierDetector:
    """Fit `detector` on the reference rows; rows scoring above their `threshold_percentile` are outliers."""
    if detector not in OUTLIER_DETECTORS:
        raise ValueError(f"unknown outlier detector {detector!r}; expected one of {list(OUTLIER_DETECTORS)}")
    if not 0 < threshold_percentile < 100:
        raise ValueError(f"threshold_percentile must be in (0, 100), got {threshold_percentile}")
    X = _features(detector, reference, reference.matrix)
    if detector == "iforest":
        model, threshold = _fit_iforest(X, threshold_percentile, seed)
    else:
        model, threshold = _fit_mahalanobis(X, threshold_percentile)
    return OutlierDetector(reference, detector, float(threshold_percentile), int(seed), threshold, model)


def _fit_iforest(X: np.ndarray, percentile: float, seed: int) -> tuple[Any, float]:
    from sklearn.ensemble import IsolationForest

    # alibi-detect's IForest defaults: 256 rows per tree at most, every feature, no bootstrap, one thread.
    model = IsolationForest(n_estimators=N_ESTIMATORS, max_samples="auto", max_features=1.0, bootstrap=False,
                            n_jobs=1, random_state=seed).fit(X)
    return model, float(np.percentile(_scores(model, X), percentile))


def _fit_mahalanobis(X: np.ndarray, percentile: float) -> tuple[Any, float]:
    # The pytorch-backed detector, not `alibi_detect.od.Mahalanobis`: that older one is an online detector
    # whose score() updates its mean and covariance on every call (the same row scores differently twice)
    # and builds an n x d x d array per batch. This one fits once and scores with one matrix product.
    quiet_alibi_detect()
    from alibi_detect.od._mahalanobis import Mahalanobis

    model = Mahalanobis(device="cpu")
    model.fit(X)
    fpr = 1 - percentile / 100
    if fpr < 1 / len(X):
        # alibi refuses a false-positive rate below one reference row; use the strictest it allows.
        warnings.warn(f"threshold_percentile={percentile} needs at least {int(np.ceil(1 / fpr))} reference rows, "
                      f"got {len(X)}; using the largest reference score as the threshold", stacklevel=3)
        fpr = 1 / len(X)
    model.infer_threshold(X, fpr=fpr)  # the (1 - fpr) quantile of the reference scores
    return model, float(model.backend.threshold)


def _features(detector: str, reference: DriftReference, encoded: np.ndarray) -> np.ndarray:
    # Trees split ordinal category codes as well as one-hot columns, and fewer columns mean more splits
    # on each numeric one; a distance needs standardized numbers and one-hot categories.
    return encoded.astype(np.float32) if detector == "iforest" else dense(reference, encoded)


def _scores(model: Any, X: np.ndarray) -> np.ndarray:
    """Higher is more unusual. An isolation forest's score is its negated decision function (as alibi-detect's
    IForest, which an output cached by an earlier release may still hold, scores it); Mahalanobis has score()."""
    forest = getattr(model, "isolationforest", model)
    if hasattr(forest, "decision_function"):
        return -np.asarray(forest.decision_function(X), dtype=np.float64)
    return np.asarray(model.score(X), dtype=np.float64)


def _versions() -> dict[str, str | None]:
    """Versions of the libraries a saved detector depends on (None: not installed, as torch on the
    monitoring extra without the torch one)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed_version(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {name: installed_version(name) for name in ("alibi-detect", "scikit-learn", "torch")}
