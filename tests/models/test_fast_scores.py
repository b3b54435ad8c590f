"""mlops.models.fast_scores against scikit-learn called directly: on the plain inputs it takes (which it must
take: a None there would silently send every scoring loop back to the slow path) it equals scikit-learn to
float rounding, ties and float32 probabilities included; where scikit-learn raises or warns it answers None,
so `metric_value` raises scikit-learn's own error."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlops.models.fast_scores import auc, value
from mlops.models.scores import metric_value


def _sklearn(name, y_true, y_pred, proba=None, classes=None):
    labels = None if classes is None else list(classes)
    return {
        "roc_auc": lambda: (skm.roc_auc_score(y_true, proba[:, 1]) if len(labels) == 2
                            else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)),
        "log_loss": lambda: skm.log_loss(y_true, proba, labels=labels),
        "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
        "rmse": lambda: math.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mae": lambda: skm.mean_absolute_error(y_true, y_pred),
        "r2": lambda: skm.r2_score(y_true, y_pred),
        "mape": lambda: skm.mean_absolute_percentage_error(y_true, y_pred),
    }[name]()


@st.composite
def classified(draw):
    """Rows of 2-4 classes (each present), probabilities rounded so that scores tie, as ints or strings."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(k + 1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    rng.shuffle(codes)
    raw = np.round(rng.random((n, k)), draw(st.integers(1, 3))) + 1e-3
    proba = (raw / raw.sum(axis=1, keepdims=True)).astype(draw(st.sampled_from([np.float64, np.float32])))
    proba = proba / proba.sum(axis=1, keepdims=True)
    kind = draw(st.sampled_from(["int", "str", "object"]))
    classes = np.arange(k) * 3 if kind == "int" else np.array([f"c{i}" for i in range(k)])
    y_true = classes[codes]
    if kind == "object":
        y_true = y_true.astype(object)
    return y_true, proba, classes


@settings(max_examples=150, deadline=None)
@given(classified())
def test_probability_metrics_equal_scikit_learns(case):
    y_true, proba, classes = case
    y_pred = classes[proba.argmax(axis=1)]
    for name in ("roc_auc", "log_loss", "accuracy"):
        fast = value(name, y_true, y_pred, proba, classes)
        assert fast is not None, name
        assert fast == pytest.approx(_sklearn(name, y_true, y_pred, proba, classes), rel=1e-9, abs=1e-12), name
        assert type(fast) is float


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 80), st.integers(0, 2**32 - 1), st.booleans())
def test_regression_metrics_equal_scikit_learns(n, seed, constant):
    rng = np.random.default_rng(seed)
    y_true = np.full(n, 3.0) if constant else rng.normal(size=n) * 10
    y_pred = y_true.copy() if constant and seed % 2 else y_true + rng.normal(size=n)
    for name in ("rmse", "mae", "r2", "mape"):
        fast = value(name, y_true, y_pred)
        assert fast is not None, name
        assert fast == pytest.approx(_sklearn(name, y_true, y_pred), rel=1e-9, abs=1e-12), name


def test_auc_counts_ties_half():
    assert auc([True, False], [0.5, 0.5]) == 0.5
    assert auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]) == pytest.approx(0.875)
    with pytest.raises(ValueError, match="one class"):
        auc([True, True], [0.1, 0.2])


@pytest.mark.parametrize("case", [
    "one class in y_true", "a label outside the classes", "rows that are no probabilities", "float labels",
    "NaN in the probabilities", "classes out of order"])
def test_what_scikit_learn_refuses_goes_to_scikit_learn(case):
    y_true, classes = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 1, 2])
    proba = np.full((6, 3), 1 / 3)
    if case == "one class in y_true":
        y_true = np.zeros(6, dtype=int)
    elif case == "a label outside the classes":
        y_true = np.array([0, 1, 2, 0, 1, 7])
    elif case == "rows that are no probabilities":
        proba = proba * 1.1
    elif case == "float labels":
        y_true, classes = y_true.astype(float), classes.astype(float)
    elif case == "NaN in the probabilities":
        proba[0, 0] = np.nan
    elif case == "classes out of order":
        classes = np.array([2, 1, 0])
    assert value("roc_auc", y_true, None, proba, classes) is None
    assert value("log_loss", y_true, None, proba, classes) is None
    for name in ("roc_auc", "log_loss"):  # metric_value then answers, raises or warns as scikit-learn does
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _outcome(lambda: metric_value(name, y_true, None, proba, classes)) == \
                _outcome(lambda: _sklearn(name, y_true, None, proba, classes))


def _outcome(call):
    try:
        got = call()
    except ValueError as error:
        return ("ValueError", str(error))
    return ("nan",) if math.isnan(got) else ("value", pytest.approx(got))

def test_labels_of_different_kinds_and_short_inputs_go_to_scikit_learn():
    assert value("accuracy", np.array([0, 1]), np.array(["0", "1"])) is None
    assert value("accuracy", np.array([0.0, 1.0]), np.array([0.0, 1.0])) is None
    assert value("r2", np.array([1.0]), np.array([1.0])) is None  # scikit-learn warns: fewer than two rows
    assert value("rmse", np.array([1.0, np.inf]), np.array([1.0, 2.0])) is None
    assert value("balanced_accuracy", np.array([0, 1]), np.array([0, 1])) is None  # not one it computes


def test_an_average_of_float32_and_float64_probabilities_takes_the_fast_path():
    """A stacking's selection averages XGBoost's float32 probabilities with others': rows off one by ~1e-7.
    scikit-learn's binary roc_auc does not check the sums, so neither may the fast path (it once did, and every
    call of a refit went back to scikit-learn)."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 500)
    p32 = rng.random(500).astype(np.float32)
    first = np.column_stack([1 - p32, p32])
    second = np.column_stack([1 - rng.random(500), rng.random(500)])
    second /= second.sum(axis=1, keepdims=True)
    averaged = (first + second) / 2
    assert np.abs(averaged.sum(axis=1) - 1).max() > 1e-9
    fast = value("roc_auc", y_true, None, averaged, np.array([0, 1]))
    assert fast == pytest.approx(skm.roc_auc_score(y_true, averaged[:, 1]), rel=1e-12)
