"""Confidence intervals of test metrics by the bootstrap: the test rows resampled with replacement, every
metric recomputed from the predictions already made (no model call), the 2.5th and 97.5th percentiles kept."""
from __future__ import annotations

from typing import Any

RESAMPLES = 200  # a 95% interval's ends to about the second decimal; numpy alone per resample
LEVEL = 0.95


def bootstrap(task: str, y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None, *,
              resamples: int = RESAMPLES, seed: int = 0) -> dict[str, dict[str, float]]:
    """{metric: {"value", "low", "high"}}: each metric of compute_metrics on all rows, with its bootstrap
    interval; a metric a resample cannot compute (one class drawn) is left out of that resample."""
    import numpy as np

    from mlops.models.scores import compute_metrics

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    proba = None if proba is None else np.asarray(proba)
    point = compute_metrics(task, y_true, y_pred, proba, classes)
    draws: dict[str, list[float]] = {name: [] for name in point}
    rng = np.random.default_rng(seed)
    for _ in range(resamples if len(y_true) > 1 else 0):
        rows = rng.integers(0, len(y_true), len(y_true))
        try:
            values = resampled_metrics(task, y_true[rows], y_pred[rows], None if proba is None else proba[rows], classes)
        except ValueError:
            continue
        for name, value in values.items():
            if name in draws and np.isfinite(value):
                draws[name].append(value)
    tail = (1 - LEVEL) / 2 * 100
    out = {}
    for name, value in point.items():
        low, high = (np.percentile(draws[name], [tail, 100 - tail]) if draws[name] else (value, value))
        out[name] = {"value": float(value), "low": float(low), "high": float(high)}
    return out


def resampled_metrics(task: str, y_true: Any, y_pred: Any, proba: Any, classes: Any) -> dict[str, float]:
    """compute_metrics' values from numpy counts (the same definitions: macro over the labels present, zero
    where a ratio is undefined), so a resample costs microseconds (roc_auc: mlops.models.fast_scores)."""
    import numpy as np

    from mlops.models.fast_scores import roc_auc
    from mlops.models.scores import scorable_by_proba

    if task == "regression":
        y, p = y_true.astype(float), y_pred.astype(float)
        err = y - p
        total = float(((y - y.mean()) ** 2).sum())
        return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))),
                "r2": (1 - float((err ** 2).sum()) / total) if total > 0 else float("nan"),
                "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(y), np.finfo(np.float64).eps)))}
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p, k = codes[:len(y_true)], codes[len(y_true):], len(labels)
    matrix = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    tp, true, pred = np.diag(matrix).astype(float), matrix.sum(axis=1).astype(float), matrix.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        f1 = np.where(true + pred > 0, 2 * tp / (true + pred), 0.0)
    out = {"accuracy": float(tp.sum() / len(t)), "balanced_accuracy": float(recall[true > 0].mean()),
           "f1_macro": float(f1.mean()), "f1_weighted": float((f1 * true).sum() / true.sum()),
           "precision_macro": float(precision.mean()), "recall_macro": float(recall.mean())}
    if proba is not None and scorable_by_proba(y_true, classes):
        order = list(classes)
        out["roc_auc"] = roc_auc(y_true, proba, order)
        column = {c: i for i, c in enumerate(order)}
        picked = proba[np.arange(len(y_true)), [column[v] for v in y_true]]
        eps = np.finfo(proba.dtype).eps
        out["log_loss"] = float(-np.mean(np.log(np.clip(picked / proba.sum(axis=1), eps, 1 - eps))))
    return out

