"""profile: what the training inputs looked like, kept with the model so new data can be checked.

Produces the data profile (schema inference), the drift reference sample and, when
`validation.outliers` is set, a fitted outlier detector; `register` saves them in the bundle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Monitoring:
    """Everything monitoring needs from training time (see mlops.monitoring.artifacts)."""

    profile: dict[str, Any]
    reference: Any  # DataFrame sample of the raw training inputs
    config: dict[str, Any]  # the validation section as applied
    outliers: Any = None  # fitted detector, or None


def run(features: Any, split: Any, params: dict[str, Any]) -> Monitoring:
    from mlops.monitoring.profile import infer_profile

    validation = params["validation"]
    rules = validation["schema"] if isinstance(validation.get("schema"), dict) else None
    X = split.X_train
    profile = infer_profile(X, features.raw_inputs, features.categorical, rules)
    drift = validation.get("drift") or {}
    rows = min(len(X), drift.get("reference_rows", 5000))
    reference = X.sample(n=rows, random_state=params["seed"]) if rows < len(X) else X
    reference = reference.reset_index(drop=True)
    outliers = None
    if validation.get("outliers"):
        from mlops.monitoring.artifacts import fit_outliers

        outliers = fit_outliers(reference, features.raw_inputs, features.categorical, validation["outliers"], params["seed"])
    return Monitoring(profile, reference, validation, outliers)
