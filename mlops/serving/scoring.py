"""One model call over served rows, and what to answer when the model cannot take a request's input.
Pure model code: no Ray, no HTTP."""
from __future__ import annotations

import math
from typing import Any

INPUT_ERRORS = (ValueError, TypeError, ArithmeticError)  # what a model raises on input it cannot take
LOCATE_ROWS = 256  # a refused request up to this size is scored row by row to name the bad row


class RowRefused(Exception):
    """A request's input the model cannot score (422 naming the row, never 500 for others), or whose
    features the online store cannot fill (404 naming the entity key; 422 for a row without it)."""

    def __init__(self, field: str, message: str, status: int = 422, column: str | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.status, self.column = field, message, status, column

    def detail(self) -> dict[str, Any]:
        """The 422 body."""
        return {"detail": [{"field": self.field, "message": self.message}]}


def store_refusal(exc: Exception) -> RowRefused:
    """The answer to a row the online store cannot fill (mlops.feature_store.lookup's UnknownEntity or
    MissingEntityKey): 404 for a key without a usable row, 422 for a row without the key; either names
    the row's key field."""
    field = f"rows.{exc.row}.{exc.key}" if exc.row is not None else "rows"
    return RowRefused(field, str(exc), exc.status_code, column=exc.key)


def infer(bundle: Any, fast: Any, requests: list[list[list[Any]]]) -> tuple:
    """One model call over the rows of several requests: (frame, labels, probabilities, outlier scores,
    outlier flags). `fast` is the verified forest fast path or None."""
    import pandas as pd

    from mlops.models.scores import labels_from_proba

    frame = pd.DataFrame([row for rows in requests for row in rows], columns=bundle.input_columns)
    if fast is not None:
        out = fast(frame)
        proba = out if bundle.task == "classification" else None
        labels = labels_from_proba(bundle.model.classes_, out) if proba is not None else out
    else:
        proba = bundle.predict_proba(frame)
        labels = labels_from_proba(bundle.model.classes_, proba) if proba is not None else bundle.predict(frame)
    outliers = bundle.monitoring.outliers if bundle.monitoring is not None else None
    scores, flags = outliers.score(frame) if outliers is not None else (None, None)
    return frame, labels, proba, scores, flags


def refusal(bundle: Any, rows: list[list[Any]], exc: Exception) -> Exception:
    """What to answer a request whose rows failed on their own: a RowRefused naming the first row the
    model cannot take (an input error), or the exception itself (500: the model, not the input)."""
    if not isinstance(exc, INPUT_ERRORS):
        return exc
    field = "rows"
    if 1 < len(rows) <= LOCATE_ROWS:
        for i, row in enumerate(rows):
            try:
                infer(bundle, None, [[row]])
            except INPUT_ERRORS:
                field = f"rows.{i}"
                break
    elif len(rows) == 1:
        field = "rows.0"
    return RowRefused(field, f"the model cannot score this input: {str(exc)[:300]}")


def label_problems(bundle: Any, items: list[Any]) -> list[dict[str, str]]:
    """422 details for labels the model could never have predicted: a class it does not have, or (for
    regression) anything but a finite number. Such labels would only poison metric_drop and retraining."""
    problems = []
    classes = getattr(bundle.model, "classes_", None) if bundle.task == "classification" else None
    known = sorted({str(c) for c in classes}) if classes is not None else None
    for i, item in enumerate(items):
        label = item.label
        if known is not None:
            if str(label) not in known:
                problems.append({"field": f"labels.{i}.label", "message": f"not a class of the model (got {label!r}; "
                                                                           f"expected one of {known})"})
        elif isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
            problems.append({"field": f"labels.{i}.label", "message": f"a regression label must be a finite number (got {label!r})"})
    return problems


def columns_taking_null(bundle: Any) -> list[str]:
    """The input columns the model scores with their value missing: null is accepted there (the input
    contract's finding, the same batch scoring and `mlops check` use)."""
    from mlops.models.model_contract import imputed_columns

    return imputed_columns(bundle)  # (found, when not recorded, with the errors of INPUT_ERRORS)
