"""Metric values in NumPy alone, equal to scikit-learn's (to float rounding) on the inputs they take.

Loops that score many candidates call a metric hundreds of times on a few thousand rows: a stacking's
ensemble selection (about 750 roc_auc values per refit), permutation importance, bootstrap intervals.
scikit-learn's input checks cost 3-7 ms a call there, far more than the metric: an ensemble's refit on
interactions_20k spent 4.6 s of its 7.1 s in them. `value` returns None wherever scikit-learn would raise
or warn, or the input is not one of the plain cases handled here; the caller then asks scikit-learn, so
errors and warnings stay scikit-learn's own.
"""
from __future__ import annotations

from typing import Any


def value(name: str, y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None) -> float | None:
    """The metric `name` (mlops.metrics.METRICS) as scikit-learn computes it, or None (ask scikit-learn)."""
    import numpy as np

    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or len(y_true) == 0:
        return None
    if name in ("roc_auc", "log_loss"):
        return _from_proba(name, y_true, proba, classes)
    y_pred = np.asarray(y_pred)
    if y_pred.shape != y_true.shape:
        return None
    if name in _REGRESSION:
        if y_true.dtype.kind not in "iuf" or y_pred.dtype.kind not in "iuf" or len(y_true) < 2:
            return None
        y, p = y_true.astype(float), y_pred.astype(float)
        if not (np.isfinite(y).all() and np.isfinite(p).all()):
            return None
        return float(_REGRESSION[name](y, p))
    if name == "accuracy":
        y_true, y_pred = _labels(y_true), _labels(y_pred)
        if y_true is not None and y_pred is not None and y_true.dtype.kind == y_pred.dtype.kind:
            return float(np.mean(y_true == y_pred))
    return None


def auc(positive: Any, score: Any) -> float:
    """The area under the ROC curve as the Mann-Whitney statistic (tied scores count half): the trapezoids
    under scikit-learn's ROC curve add up to it. A ValueError when `positive` holds one class only."""
    import numpy as np

    positive = np.asarray(positive, dtype=bool)
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("one class only: the AUC is undefined")
    _, inverse, counts = np.unique(np.asarray(score), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse.reshape(-1)]  # 1-based, a tie's ranks averaged
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def roc_auc(y_true: Any, proba: Any, labels: Any) -> float:
    """roc_auc_score's value: two labels, the greater one's column (as it is); more, one-vs-rest, macro.
    `proba`'s columns are `labels`' (sorted); a ValueError when a label is missing from y_true."""
    import numpy as np

    if len(labels) == 2:
        return auc(y_true == labels[1], proba[:, 1])
    return float(np.mean([auc(y_true == label, proba[:, i]) for i, label in enumerate(labels)]))


def _from_proba(name: str, y_true: Any, proba: Any, classes: Any) -> float | None:
    """roc_auc (two classes: the greater label's column; more: one-vs-rest, macro) and log_loss, when every
    class of `classes` (sorted, one probability column each) is in y_true and the rows are probabilities."""
    import numpy as np

    if proba is None or classes is None:
        return None
    proba, labels, y_true = np.asarray(proba), _labels(np.asarray(classes)), _labels(y_true)
    if labels is None or y_true is None or labels.dtype.kind != y_true.dtype.kind:
        return None
    if proba.ndim != 2 or proba.dtype.kind != "f" or proba.shape != (len(y_true), len(labels)) or len(labels) < 2:
        return None
    present = np.unique(y_true)
    if not np.array_equal(present, labels):  # a class missing from y_true, or a label outside the classes
        return None
    if not np.isfinite(proba).all() or proba.min() < 0 or proba.max() > 1:
        return None
    eps, sums = np.finfo(proba.dtype).eps, proba.sum(axis=1)
    if name == "roc_auc":
        if len(labels) > 2 and not np.allclose(1, sums):  # scikit-learn raises: these are no probabilities
            return None
        return roc_auc(y_true, proba, labels)
    if not np.all(np.abs(sums - 1) <= 1e-8 + float(np.sqrt(eps))):  # scikit-learn warns that they do not sum to one
        return None
    picked = proba[np.arange(len(y_true)), np.searchsorted(labels, y_true)]
    return float(-np.mean(np.log(np.clip(picked, eps, 1 - eps))))


def _labels(values: Any) -> Any:
    """Class labels as an array of bools, integers or strings; None for anything else (floats, which
    scikit-learn may take for continuous values, or objects of mixed types)."""
    if values.dtype.kind == "O" and all(isinstance(v, str) for v in values.tolist()):
        values = values.astype(str)
    return values if values.dtype.kind in "biuU" else None


def _r2(y: Any, p: Any) -> float:
    residual, total = float(((y - p) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
    if total == 0:  # scikit-learn's force_finite: a constant target scores 1 when predicted exactly, else 0
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def _mape(y: Any, p: Any) -> float:
    import numpy as np

    return float(np.mean(np.abs(p - y) / np.maximum(np.abs(y), np.finfo(np.float64).eps)))


def _rmse(y: Any, p: Any) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((y - p) ** 2)))


def _mae(y: Any, p: Any) -> float:
    import numpy as np

    return float(np.mean(np.abs(y - p)))


_REGRESSION = {"rmse": _rmse, "mae": _mae, "r2": _r2, "mape": _mape}
