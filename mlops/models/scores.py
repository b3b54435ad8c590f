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

    if task == "regression":
        y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
        return {name: metric_value(name, y_true, y_pred) for name in ("rmse", "mae", "r2", "mape")}
    out = {name: metric_value(name, y_true, y_pred)
           for name in ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro")}
    if proba is not None and scorable_by_proba(y_true, classes):
        out.update({name: metric_value(name, y_true, y_pred, proba, classes) for name in ("roc_auc", "log_loss")})
    return out


def metric_value(name: str, y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None) -> float:
    """One metric (a name of mlops.metrics.METRICS) from labels or values, and for roc_auc and log_loss the class
    probabilities (columns in `classes`' order): what a loop that scores many candidates computes, alone.
    NumPy computes it where it can (mlops.models.fast_scores), scikit-learn otherwise."""
    import numpy as np
    from sklearn import metrics as skm

    from mlops.models.fast_scores import value

    fast = value(name, y_true, y_pred, proba, classes)
    if fast is not None:
        return fast

    if name in ("roc_auc", "log_loss"):
        labels = list(classes)
        if name == "log_loss":
            return float(skm.log_loss(y_true, proba, labels=labels))
        if len(labels) == 2:
            return float(skm.roc_auc_score(y_true, proba[:, 1]))
        return float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    functions = {
        "rmse": lambda: np.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mae": lambda: skm.mean_absolute_error(y_true, y_pred),
        "r2": lambda: skm.r2_score(y_true, y_pred),
        "mape": lambda: skm.mean_absolute_percentage_error(y_true, y_pred),
        "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": lambda: skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "f1_weighted": lambda: skm.f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "precision_macro": lambda: skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall_macro": lambda: skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
    }
    return float(functions[name]())
