"""split: hold out a test set (random, stratified, or the latest rows by timestamp)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.errors import DataError, Problem


@dataclass
class Split:
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any


def run(features: Any, params: dict[str, Any]) -> Split:
    """Train and test rows by data.split: the latest rows by timestamp, or a random (stratified) cut."""
    from sklearn.model_selection import train_test_split

    frame, target, cfg = features.frame, params["target"], params["split"]
    if len(frame) < 4:
        raise DataError(Problem("data.source", f"only {len(frame)} labelled rows; need at least 4 to split"))
    X, y = frame[features.raw_inputs], frame[target]
    if cfg["method"] == "time":
        from mlops.models.datetime_parts import time_order

        order = time_order(frame[params["timestamp"]])
        cut = int(round(len(frame) * (1 - cfg["test_size"])))
        train, test = order[:cut], order[cut:]
        return Split(X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test])
    stratify = y if cfg["method"] == "stratified" else None
    if stratify is not None and y.value_counts().min() < 2:
        raise DataError(Problem("data.split.method", "stratified split needs at least 2 rows of every class",
                                value="stratified", hint="use method: random"))
    try:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=cfg["test_size"], random_state=cfg["seed"], stratify=stratify)
    except ValueError as exc:
        raise DataError(Problem("data.split", f"cannot split: {exc}")) from None
    return Split(X_tr, X_te, y_tr, y_te)
