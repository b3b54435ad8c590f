"""The built-in drift and outlier detectors, as registered in mlops.builtin_types, and the two calls the rest
of mlops makes through that registry (so a plugin's detector is used exactly like a built-in one).

A drift detector is `fn(reference, frame, p_val, correction, seed) -> DriftReport`; an outlier detector is
`fn(reference, threshold_percentile, seed) -> object with .score(frame) -> (scores, is_outlier)` and
`.save(dir)`. References and reports are those of mlops.detectors.drift.
"""
from __future__ import annotations

from typing import Any


def run_drift(reference: Any, frame: Any, cfg: Any, seed: int = 0) -> Any:
    """Test `frame` against `reference` with the detector `cfg` names (a DriftSpec or its dict)."""
    from mlops.plugins import detectors

    cfg = cfg if isinstance(cfg, dict) else cfg.model_dump()
    return detectors.get(cfg["detector"]).load()(reference, frame, cfg["p_val"], cfg["correction"], seed)


def fit_outliers(reference: Any, cfg: Any, seed: int = 0) -> Any:
    """Fit the outlier detector `cfg` names (an OutlierSpec or its dict) on the reference rows."""
    from mlops.plugins import detectors

    cfg = cfg if isinstance(cfg, dict) else cfg.model_dump()
    return detectors.get(cfg["detector"]).load()(reference, cfg["threshold_percentile"], seed)


def _drift(name: str):
    def detector(reference: Any, frame: Any, p_val: float, correction: str, seed: int = 0) -> Any:
        from mlops.detectors.drift import detect_drift

        return detect_drift(reference, frame, name, p_val, correction, seed)

    detector.__doc__ = f"alibi-detect's {name} drift test (see mlops.detectors.drift)."
    return detector


def _outliers(name: str):
    def detector(reference: Any, threshold_percentile: float, seed: int = 0) -> Any:
        from mlops.detectors.outliers import fit_outlier_detector

        return fit_outlier_detector(reference, name, threshold_percentile, seed)

    detector.__doc__ = f"the {name} outlier detector (see mlops.detectors.outliers)."
    return detector


ks_drift = _drift("ks")  # Kolmogorov-Smirnov per numeric feature
chi2_drift = _drift("chi2")  # chi-squared per categorical feature
tabular_drift = _drift("tabular")  # KS + chi-squared, one correction over all features
mmd_drift = _drift("mmd")  # MMD permutation test over all features (per-feature tests locate the shift)
iforest_outliers = _outliers("iforest")
mahalanobis_outliers = _outliers("mahalanobis")
