"""Metric names the spec may use, which task each fits, and which direction is better."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool = False


METRICS = {
    m.name: m
    for m in [
        Metric("accuracy", "classification", True),
        Metric("balanced_accuracy", "classification", True),
        Metric("f1_macro", "classification", True),
        Metric("f1_weighted", "classification", True),
        Metric("precision_macro", "classification", True),
        Metric("recall_macro", "classification", True),
        Metric("roc_auc", "classification", True, needs_proba=True),
        Metric("log_loss", "classification", False, needs_proba=True),
        Metric("rmse", "regression", False),
        Metric("mae", "regression", False),
        Metric("r2", "regression", True),
        Metric("mape", "regression", False),
    ]
}


def metrics_for(task: str) -> list[str]:
    """Metric names valid for a task."""
    return [m.name for m in METRICS.values() if m.task == task]


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
    if proba is not None and classes is not None and len(np.unique(y_true)) > 1:
        labels = list(classes)
        if len(labels) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
        out["log_loss"] = float(skm.log_loss(y_true, proba, labels=labels))
    return out


def better(metric: str, a: float, b: float, min_improvement: float = 0.0) -> bool:
    """True when score `a` beats `b` on `metric` by at least `min_improvement`."""
    if METRICS[metric].greater_is_better:
        return a >= b + min_improvement if min_improvement else a > b
    return a <= b - min_improvement if min_improvement else a < b
