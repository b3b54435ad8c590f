"""mlops.models.scores against scikit-learn called directly (killing mutants the other fast tests let
through): every metric of each task, roc_auc for two classes and for many, no probability metrics when
the rows hold one class, and labels taken from the probabilities' argmax."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlops.models.scores import compute_metrics, labels_from_proba, predict_with_proba

CLASSIFICATION = {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro"}


def test_regression_metrics_are_scikit_learns():
    y_true, y_pred = [1.0, 2.0, 4.0, 8.0], [1.5, 2.0, 3.0, 9.0]
    got = compute_metrics("regression", y_true, y_pred)
    assert got == pytest.approx({"rmse": math.sqrt(skm.mean_squared_error(y_true, y_pred)),
                                 "mae": skm.mean_absolute_error(y_true, y_pred),
                                 "r2": skm.r2_score(y_true, y_pred),
                                 "mape": skm.mean_absolute_percentage_error(y_true, y_pred)})
    assert all(type(v) is float for v in got.values())


def test_binary_classification_with_probabilities():
    y_true = np.array(["no", "yes", "yes", "no", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9], [0.4, 0.6]])
    classes = np.array(["no", "yes"])
    y_pred = labels_from_proba(classes, proba)
    assert list(y_pred) == ["no", "yes", "no", "no", "yes", "yes"]
    got = compute_metrics("classification", y_true, y_pred, proba, classes)
    assert set(got) == CLASSIFICATION | {"roc_auc", "log_loss"}
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(y_true, y_pred, average="weighted"))
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro"))
    assert got["recall_macro"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, proba[:, 1]))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=["no", "yes"]))


def test_multiclass_roc_auc_is_one_vs_rest_over_the_models_classes():
    y_true = np.array([0, 1, 2, 0, 1, 2, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3], [0.5, 0.4, 0.1],
                      [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]])
    classes = np.array([0, 1, 2])
    got = compute_metrics("classification", y_true, labels_from_proba(classes, proba), proba, classes)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=[0, 1, 2]))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=[0, 1, 2]))


def test_one_class_in_the_rows_or_no_probabilities_means_no_probability_metrics():
    proba = np.array([[0.2, 0.8], [0.4, 0.6]])
    classes = np.array([0, 1])
    one_class = compute_metrics("classification", [1, 1], [1, 1], proba, classes)
    assert set(one_class) == CLASSIFICATION
    assert set(compute_metrics("classification", [0, 1], [0, 1], None, classes)) == CLASSIFICATION
    assert set(compute_metrics("classification", [0, 1], [0, 1], proba, None)) == CLASSIFICATION


def test_predict_with_proba_uses_the_probabilities_when_the_model_has_them():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    clf = LogisticRegression().fit(X, ["a", "a", "b", "b"])
    labels, proba = predict_with_proba(clf, X)
    assert proba is not None and proba.shape == (4, 2)
    assert list(labels) == list(clf.classes_[proba.argmax(axis=1)])
    reg = LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0])
    values, none = predict_with_proba(reg, X)
    assert none is None and values == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_a_class_never_predicted_or_never_true_scores_zero_not_one():
    """Class 1 is never predicted (its precision is 0/0) and class 2 never occurs (its recall is 0/0):
    such a class counts as 0, so a model that ignores a class is not flattered."""
    y_true, y_pred = [0, 0, 1, 1], [0, 2, 0, 0]
    got = compute_metrics("classification", y_true, y_pred)
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["recall_macro"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["precision_macro"] == pytest.approx(1 / 9) and got["recall_macro"] == pytest.approx(1 / 6)
