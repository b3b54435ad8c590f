"""A class of a few rows: the test split or a trial's fold may hold it without the training rows (or the
reverse). Label metrics still count it; probability metrics are left out, and a search that selects by one
stops with the reason, never a traceback."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.errors import MlopsError
from mlops.models.intervals import bootstrap
from mlops.models.scores import compute_metrics, scorable_by_proba
from mlops.stages.trial import TrialData, scores

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
            "encode": "onehot", "derived": None}


def test_a_test_label_the_model_never_saw_leaves_out_probability_metrics_only():
    y_true = np.array(["a", "b", "a", "rare", "b", "a"])
    y_pred = np.array(["a", "b", "b", "a", "b", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.1, 0.9], [0.8, 0.2]])
    classes = np.array(["a", "b"])
    assert not scorable_by_proba(y_true, classes) and scorable_by_proba(y_true[y_true != "rare"], classes)
    metrics = compute_metrics("classification", y_true, y_pred, proba, classes)
    assert "roc_auc" not in metrics and "log_loss" not in metrics
    assert metrics["accuracy"] == pytest.approx(4 / 6)  # the rare row counts as a miss
    with_intervals = bootstrap("classification", y_true, y_pred, proba, classes, resamples=20)
    assert set(with_intervals) == set(metrics)
    known = compute_metrics("classification", y_true[:3], y_pred[:3], proba[:3], classes)
    assert "roc_auc" in known and "log_loss" in known


def _rare(rows: int = 300) -> TrialData:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    y = pd.Series(np.where(X["a"] > 0, "high", "low"))
    y.iloc[:2] = "rare"
    return TrialData(X, y, ["a", "b"], [])


@pytest.mark.parametrize("section", [
    {"type": "sklearn", "task": "classification", "metric": "roc_auc", "estimator": "logistic_regression", "params": {}},
])
def test_a_search_selecting_by_roc_auc_names_the_class_a_fold_lacks(section):
    params = {"tuning": {"folds": 5, "seed": 0, "validation_size": 0.2}, "metric": "roc_auc", "features": FEATURES,
              "scheduler": "fifo", "model": section}
    with pytest.raises(MlopsError, match=r"model.metric=roc_auc cannot be computed on a trial's validation rows: "
                                         r"they (hold|lack) class 'rare'"):
        list(scores(section, _rare(), params))
    by_labels = {**params, "metric": "f1_macro"}
    assert all("f1_macro" in metrics for _, metrics in scores({**section, "metric": "f1_macro"}, _rare(), by_labels))


def test_a_torch_trial_says_the_same():
    pytest.importorskip("torch")
    from mlops.stages.trial import fit_torch

    section = {"type": "torch", "task": "classification", "metric": "roc_auc", "training": {"epochs": 2}}
    params = {"tuning": {"folds": 5, "seed": 0, "validation_size": 0.2}, "metric": "roc_auc", "features": FEATURES,
              "threads": 1}
    with pytest.raises(MlopsError, match=r"cannot be computed on a trial's validation rows: they (hold|lack) class 'rare'"):
        fit_torch(section, _rare(), params, lambda step, metrics: None)
