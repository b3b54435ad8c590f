"""Honest global importance: permutation importance of each input column on the test split, for every
model family (it only calls predict), with its spread over repeats, beside the estimator's own importance
where it has one (impurity importance favours columns with many values; permutation does not).

Cost is bounded: at most MAX_ROWS test rows and REPEATS shuffles per column, so one evaluation adds
columns x REPEATS predictions of at most MAX_ROWS rows; and about PREDICT_BUDGET_S seconds of predictions:
a model slow to predict (a search's winner of a thousand deep trees, on one thread) is scored on fewer rows,
never fewer than MIN_ROWS, then with fewer shuffles, never fewer than MIN_REPEATS (the table records both): a
stacking ensemble on digits' 64 columns took 28 s of evaluate with 5 shuffles of its 450 test rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

MAX_ROWS = 2000  # test rows permuted (a fixed random sample above this)
REPEATS = 5  # shuffles per column: the spread is their standard deviation
PREDICT_BUDGET_S = 3.0  # seconds the shuffled predictions may take, measured from the unshuffled one
MIN_ROWS = 300
MIN_REPEATS = 2  # a spread needs two
# Shuffled rows scored per predict call: the shuffles of several columns of a small test split go together
# (a forest's predict costs about the same for 30 rows as for 600: its per-call overhead is per tree).
STACKED_ROWS = 20_000

@dataclass
class Importance:
    """Per input column: the mean drop of `metric` when the column is shuffled, its standard deviation over
    the repeats, and the estimator's own importance (None where it has none); sorted by the mean drop."""

    metric: str
    rows: int
    repeats: int
    columns: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the artifact importance/importance.json)."""
        return {"metric": self.metric, "rows": self.rows, "repeats": self.repeats, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Importance":
        """The inverse of to_dict."""
        return cls(data["metric"], int(data["rows"]), int(data["repeats"]), list(data["columns"]))

    def to_csv(self) -> str:
        """One line per column: feature, permutation_mean, permutation_std, own (the table artifact)."""
        lines = ["feature,permutation_mean,permutation_std,own_importance"]
        for c in self.columns:
            own = "" if c["own"] is None else f"{c['own']:.6g}"
            lines.append(f"{_csv(c['feature'])},{c['mean']:.6g},{c['std']:.6g},{own}")
        return "\n".join(lines) + "\n"

    def ranking(self) -> list[str]:
        """The input columns, most important first."""
        return [c["feature"] for c in self.columns]


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n') else text


def permutation(pipeline: Any, X: Any, y: Any, metric: str, *, columns: Optional[list[str]] = None,
                repeats: int = REPEATS, max_rows: int = MAX_ROWS, seed: int = 0, budget_s: float = PREDICT_BUDGET_S,
                min_rows: int = MIN_ROWS) -> Optional[Importance]:
    """Permutation importance of each input column (`columns`, default every column of `X`) through the
    whole pipeline (so derived columns, encodings and a torch net all count), scored by the spec's `metric`
    (the model's own score, accuracy or R^2, for "score" or where the metric cannot score the rows); None
    for no rows. The shuffles of as many columns as STACKED_ROWS allows are scored in one predict call
    (small test splits pay the call overhead once, not once per shuffle). A model whose shuffled predictions would take more than
    `budget_s` (timed from the first predict) is scored on fewer rows, at least `min_rows`, then with fewer
    repeats, at least MIN_REPEATS."""
    import time

    import numpy as np
    import pandas as pd

    from mlops.models.feature_names import own_importance

    if len(X) == 0:
        return None
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        picked = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[picked], y[picked]
    X = X.reset_index(drop=True)
    names = columns or [str(c) for c in X.columns]
    started = time.perf_counter()
    predicted = _predict(pipeline, X)
    per_row = (time.perf_counter() - started) / len(X)

    def rows_for(shuffles: int) -> int:
        return int(budget_s / max(per_row * shuffles * len(names), 1e-12))

    affordable = max(rows_for(repeats), min_rows)
    while repeats > MIN_REPEATS and rows_for(repeats) < min(min_rows, len(X)):
        repeats -= 1  # at the rows' floor: fewer shuffles of each column
    if affordable < len(X):  # the same rows' predictions, fewer of them
        picked = np.sort(rng.choice(len(X), size=affordable, replace=False))
        X, y = X.iloc[picked].reset_index(drop=True), y[picked]
        predicted = tuple(None if part is None else part[picked] for part in predicted)
    score, metric = _scorer(pipeline, y, metric)
    try:
        base = score(*predicted)[0]
    except (ValueError, TypeError, IndexError):  # the metric cannot score these rows (no probabilities, one class)
        score, metric = _scorer(pipeline, y, "score")
        base = score(*predicted)[0]
    rows = []
    per_call = max(1, STACKED_ROWS // (len(X) * repeats))  # columns whose shuffles go to one predict call
    for first in range(0, len(names), per_call):
        group = names[first:first + per_call]
        stacked = pd.concat([X.assign(**{name: X[name].to_numpy()[rng.permutation(len(X))]})
                             for name in group for _ in range(repeats)], ignore_index=True)
        scores = score(*_predict(pipeline, stacked), parts=len(group) * repeats)
        for i, name in enumerate(group):
            drops = [base - s for s in scores[i * repeats:(i + 1) * repeats]]
            rows.append({"feature": name, "mean": float(np.mean(drops)), "std": float(np.std(drops)), "own": None})
    own = own_importance(pipeline) or {}
    for row in rows:
        row["own"] = own.get(row["feature"])
    for name in own:  # a derived column has its own share, but no input of its own to shuffle
        if name not in {r["feature"] for r in rows}:
            rows.append({"feature": name, "mean": 0.0, "std": 0.0, "own": own[name], "derived": True})
    rows.sort(key=lambda c: (-c["mean"], -(c["own"] or 0.0)))
    return Importance(metric, len(X), repeats, rows)


def _predict(pipeline: Any, X: Any) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) for `X`."""
    import numpy as np

    from mlops.models.scores import predict_with_proba

    if getattr(pipeline, "classes_", None) is not None and hasattr(pipeline, "predict_proba"):
        labels, proba = predict_with_proba(pipeline, X)
        return np.asarray(labels), np.asarray(proba)
    return np.asarray(pipeline.predict(X)), None


def _scorer(pipeline: Any, y: Any, metric: str) -> tuple[Any, str]:
    """score(predictions, proba, parts=1) -> one value per equal part of the rows, greater is better: the spec's
    metric where it scores these rows (losses negated), else accuracy or R^2; and the name of what it scores."""
    from mlops.metrics import METRICS
    from mlops.models.scores import metric_value

    classes = getattr(pipeline, "classes_", None)
    task = "classification" if classes is not None else "regression"
    chosen = metric if metric in METRICS and METRICS[metric].task == task else "accuracy" if classes is not None else "r2"
    sign = 1.0 if METRICS[chosen].greater_is_better else -1.0

    def function(predictions: Any, proba: Any) -> float:
        return sign * metric_value(chosen, y, predictions, proba, classes)

    def score(predictions: Any, proba: Any, parts: int = 1) -> list[float]:
        size = len(predictions) // parts
        return [float(function(predictions[i * size:(i + 1) * size], None if proba is None else proba[i * size:(i + 1) * size]))
                for i in range(parts)]

    return score, (metric if chosen == metric else "score")
