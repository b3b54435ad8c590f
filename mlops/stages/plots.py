"""Matplotlib figures for a run, rendered to PNG bytes (the driver logs them to MLflow)."""
from __future__ import annotations

import io
from typing import Any


def _figure(width: float = 6, height: float = 5):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height))


def _png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def confusion_matrix(y_true: Any, y_pred: Any, labels: list) -> bytes:
    """The test split's confusion matrix over `labels`; PNG bytes."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt, fig, ax = _figure()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, ax=ax, colorbar=False)
    ax.set_title("Confusion matrix (test split)")
    return _png(plt, fig)


def residuals(y_true: Any, y_pred: Any) -> bytes:
    """Residuals (actual - predicted) against the predictions on the test split; PNG bytes."""
    import numpy as np

    plt, fig, ax = _figure()
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    ax.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual - predicted")
    ax.set_title("Residuals (test split)")
    return _png(plt, fig)


def feature_importance_values(pipeline: Any, X: Any, y: Any, top: int = 20) -> dict[str, float]:
    """Importance per input column: the model's own when it has one (summed over the columns a one-hot
    encoding or a date's parts made of it), else permutation importance of the input columns."""
    import numpy as np

    estimator = pipeline.steps[-1][1]
    values = getattr(estimator, "feature_importances_", None)
    if values is None and getattr(estimator, "coef_", None) is not None:
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    names = encoded_sources(pipeline, len(values)) if values is not None else None
    if names is None:
        from sklearn.inspection import permutation_importance

        result = permutation_importance(pipeline, X, y, n_repeats=3, random_state=0, n_jobs=1)
        values, names = result.importances_mean, [str(c) for c in X.columns]
        totals = dict(zip(names, map(float, values)))
    else:
        totals: dict[str, float] = {}
        for name, value in zip(names, map(float, np.abs(values))):
            totals[name] = totals.get(name, 0.0) + value
    pairs = sorted(totals.items(), key=lambda p: -abs(p[1]))[:top]
    return dict(pairs)


def encoded_sources(pipeline: Any, width: int) -> list[str] | None:
    """The input column of each of the `width` columns the estimator sees; None when they cannot be
    traced back (then permutation importance over the input columns is used instead)."""
    from mlops.models.preprocessing import output_sources

    preprocess = dict(pipeline.steps).get("preprocess")
    if preprocess is None:
        return None
    try:
        names = [str(n) for n in preprocess.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        return None
    if len(names) != width:
        return None
    sources = output_sources(preprocess)
    return [sources.get(n, n) for n in names]


def feature_importance(importance: dict[str, float]) -> bytes:
    """Horizontal bars of `importance`, its first entry at the top; PNG bytes."""
    plt, fig, ax = _figure(7, max(3, 0.3 * len(importance) + 1))
    names = list(importance)[::-1]
    ax.barh(names, [importance[n] for n in names])
    ax.set_title("Feature importance")
    return _png(plt, fig)
