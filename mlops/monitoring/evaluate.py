"""Score a model on labelled rows: the one function triggers and champion/challenger both use."""
from __future__ import annotations

from typing import Any

from mlops.metrics import METRICS, compute_metrics


def score(bundle: Any, rows: Any, target: str, metric: str) -> float:
    """`metric` of `bundle` on `rows` (inputs + target)."""
    X, y = rows[bundle.input_columns], rows[target]
    if bundle.task == "classification":
        proba = bundle.predict_proba(X)
        classes = getattr(bundle.model, "classes_", None)
        y_pred = classes[proba.argmax(axis=1)] if proba is not None else bundle.predict(X)
        if METRICS[metric].needs_proba and proba is not None and len(set(y)) < 2:
            raise ValueError(f"{metric} needs at least two classes among the labelled rows")
        values = compute_metrics("classification", y, y_pred, proba, classes)
    else:
        values = compute_metrics("regression", y, bundle.predict(X))
    if metric not in values:
        raise ValueError(f"{metric} cannot be computed on these rows (it needs class probabilities and >= 2 classes)")
    return values[metric]
