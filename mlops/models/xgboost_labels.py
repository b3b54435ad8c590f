"""XGBoost's classifier for any class labels. XGBoost itself only takes 0..n-1; scikit-learn's classifiers
(and so mlops' pipelines, reports and serving) take the labels as they are: strings, or numbers of any values.

Imported only when an xgboost classifier is built or loaded (the registry names it lazily).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBClassifier


class XGBLabelClassifier(XGBClassifier):
    """XGBClassifier that encodes the labels it is fitted on, and answers in them (`classes_`, `predict`)."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> "XGBLabelClassifier":
        """Fit on `y` encoded as 0..n-1 (eval_set's labels too); `classes_` keeps the labels."""
        labels, encoded = np.unique(np.asarray(y), return_inverse=True)
        if kwargs.get("eval_set"):
            kwargs["eval_set"] = [(X_val, np.searchsorted(labels, np.asarray(y_val))) for X_val, y_val in kwargs["eval_set"]]
        self.__dict__.pop("labels_", None)  # while XGBoost fits, classes_ is its own 0..n-1
        super().fit(X, encoded, **kwargs)
        self.labels_ = labels
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The labels `fit` saw, in sorted order (the columns of predict_proba)."""
        labels = self.__dict__.get("labels_")
        return labels if labels is not None else np.arange(self.n_classes_)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """The most likely label of each row."""
        return self.classes_[np.asarray(super().predict(X, **kwargs), dtype=int)]
