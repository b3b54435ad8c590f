"""profile: what the training inputs looked like, kept with the model so new data can be checked.

Produces the data profile (schema inference), the drift reference sample and, when
`validation.outliers` is set, a fitted outlier detector; `register` saves them in the bundle.
"""
from __future__ import annotations

from typing import Any


def run(features: Any, split: Any, params: dict[str, Any]) -> Any:
    """The training split's profile, drift reference and (when configured) outlier detector."""
    from mlops.detectors.artifacts import MonitoringArtifacts
    from mlops.detectors.drift import DriftReference
    from mlops.detectors.column_profile import infer_profile

    validation = params["validation"]
    rules = validation["schema"] if isinstance(validation.get("schema"), dict) else None
    X = split.X_train
    dates = getattr(features, "datetime", [])
    profile = infer_profile(X, features.raw_inputs, features.categorical, rules, dates)
    categorical = [c for c in features.raw_inputs if c in features.categorical]
    # Dates drift as what the model reads of them would be hard to read back; their parts are not columns
    # a batch carries, so they stay out of the drift reference (the data contract still checks them).
    numeric = [c for c in features.raw_inputs if c not in categorical and c not in dates]
    drift = validation.get("drift") or {}
    reference = DriftReference.from_frame(X, numeric, categorical, drift.get("reference_rows", 5000), params["seed"])
    outliers = None
    if validation.get("outliers"):
        from mlops.detectors.builtin import fit_outliers

        outliers = fit_outliers(reference, validation["outliers"], params["seed"])
    return MonitoringArtifacts(profile, reference, validation, outliers)
