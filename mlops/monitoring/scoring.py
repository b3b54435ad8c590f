"""Score a model on labelled rows: the one function triggers and champion/challenger both use."""
from __future__ import annotations

from typing import Any

from mlops.errors import ScoreError
from mlops.metrics import METRICS
from mlops.models.scores import compute_metrics, labels_from_proba


def score(bundle: Any, rows: Any, target: str, metric: str) -> float:
    """`metric` of `bundle` on `rows` (inputs + target); a ScoreError says why it cannot be computed."""
    missing = [c for c in [*bundle.input_columns, target] if c not in rows.columns]
    if missing:
        raise ScoreError(f"cannot score {metric} on {len(rows)} labelled rows: columns {missing} are missing")
    try:
        return _score(bundle, rows, target, metric)
    except ScoreError:
        raise
    except Exception as exc:  # the model or the metric refused these rows (unseen labels, bad values, ...)
        raise ScoreError(f"cannot score {metric} on {len(rows)} labelled rows: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


def _score(bundle: Any, rows: Any, target: str, metric: str) -> float:
    X, y = rows[bundle.input_columns], rows[target]
    if bundle.task == "classification":
        proba = bundle.predict_proba(X)
        classes = getattr(bundle.model, "classes_", None)
        y_pred = labels_from_proba(classes, proba) if proba is not None else bundle.predict(X)
        if METRICS[metric].needs_proba and proba is not None and len(set(y)) < 2:
            raise ScoreError(f"cannot score {metric}: it needs at least two classes among the {len(rows)} labelled rows")
        values = compute_metrics("classification", y, y_pred, proba, classes)
    else:
        values = compute_metrics("regression", y, bundle.predict(X))
    if metric not in values:
        raise ScoreError(f"cannot score {metric} on {len(rows)} labelled rows (it needs class probabilities and >= 2 classes)")
    return values[metric]
