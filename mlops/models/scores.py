"""Scores of fitted models: every metric of the task computed from predictions (the names, directions
and which need probabilities live in mlops.metrics, which imports no scikit-learn)."""
from __future__ import annotations

from typing import Any


def labels_from_proba(classes: Any, proba: Any) -> Any:
    """The class each row's probabilities pick: the one place labels are derived from probabilities, so
    every route (evaluation, registration, batch, online, monitoring) labels a row the same way."""
    return classes[proba.argmax(axis=1)]


def predict_with_proba(model: Any, X: Any) -> tuple[Any, Any]:
    """Labels and, where the model has them, class probabilities, from one call when it can."""
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    if proba is not None:
        return labels_from_proba(model.classes_, proba), proba
    return model.predict(X), None


def scorable_by_proba(y_true: Any, classes: Any) -> bool:
    """roc_auc and log_loss can be computed: two labels or more, each one a class the model knows. A label the
    training split never had (a rare class that fell wholly in the test split) has no probability column, so
    those two metrics are left out for it, not an error; the label-based metrics still count it."""
    import numpy as np

    present = np.unique(np.asarray(y_true))
    return classes is not None and len(present) > 1 and bool(np.isin(present, np.asarray(classes)).all())


def compute_metrics(task: str, y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None) -> dict[str, float]:
    """Every metric of the task that the predictions allow (probabilities enable roc_auc, log_loss)."""
    import numpy as np
    from sklearn import metrics as skm

    if task == "regression":
        y_true = np.asarray(y_true, dtype=float)
        y_pred = np.asarray(y_pred, dtype=float)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
            "mape": float(skm.mean_absolute_percentage_error(y_true, y_pred)),
        }
    out = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_weighted": float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "precision_macro": float(skm.precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall_macro": float(skm.recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    if proba is not None and scorable_by_proba(y_true, classes):
        labels = list(classes)
        if len(labels) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
        out["log_loss"] = float(skm.log_loss(y_true, proba, labels=labels))
    return out
