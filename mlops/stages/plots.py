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
    from mlops.explain.importance import permutation
    from mlops.models.feature_names import own_importance

    totals = own_importance(pipeline)
    if totals is None:
        table = permutation(pipeline, X, y, "score", repeats=3)
        totals = {c["feature"]: c["mean"] for c in table.columns} if table else {}
    return dict(sorted(totals.items(), key=lambda p: -abs(p[1]))[:top])


def permutation_importance(table: Any, top: int = 20) -> bytes:
    """Permutation importance (mean drop of the metric, with its spread over repeats as error bars), the
    most important column at the top; PNG bytes."""
    columns = [c for c in table.columns if not c.get("derived")][:top][::-1]
    plt, fig, ax = _figure(7, max(3, 0.3 * len(columns) + 1))
    ax.barh([c["feature"] for c in columns], [c["mean"] for c in columns], xerr=[c["std"] for c in columns],
            color="#4c72b0", ecolor="#333333", capsize=3)
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlabel(f"drop in {table.metric} when the column is shuffled ({table.repeats} repeats, {table.rows} test rows)")
    ax.set_title("Permutation importance (test split)")
    return _png(plt, fig)


def feature_importance(importance: dict[str, float]) -> bytes:
    """Horizontal bars of `importance`, its first entry at the top; PNG bytes."""
    plt, fig, ax = _figure(7, max(3, 0.3 * len(importance) + 1))
    names = list(importance)[::-1]
    ax.barh(names, [importance[n] for n in names])
    ax.set_title("Feature importance (the model's own)")
    return _png(plt, fig)
