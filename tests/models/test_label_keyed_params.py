"""`class_weight: {0: 1, 1: 5}` in a spec: the plan is JSON, so the keys reach the fit as text ('0', '1');
the fit gives them back the training labels' own type, or scikit-learn rejects integer labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from conftest import EXAMPLES
from mlops import api
from mlops.models.estimators import build_estimator, key_by_labels
from mlops.models.preprocessing import build_pipeline
from mlops.stages.trial import TrialData, fit_and_score

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot",
            "derived": None}


def _model(estimator: str, weights: str) -> dict:
    plan = api.plan(EXAMPLES / "iris" / "spec.yaml", [f"model.estimator={estimator}", "~model.params",
                                                      f"+model.params={{class_weight: {weights}}}"])
    return plan.node("train").params["model"]


@pytest.mark.parametrize("estimator", ["random_forest", "logistic_regression"])
def test_integer_labels_get_their_weights_back_after_the_plan(estimator):
    model = _model(estimator, "{0: 1, 1: 5, 2: 1}")
    assert model["params"]["class_weight"] == {"0": 1, "1": 5, "2": 1}  # what JSON makes of the keys
    X, y = load_iris(return_X_y=True, as_frame=True)
    pipeline = build_pipeline(FEATURES, list(X.columns), [], build_estimator(model))
    key_by_labels(pipeline, y)
    pipeline.fit(X, y)
    assert pipeline[-1].class_weight == {0: 1, 1: 5, 2: 1}
    weighted = pipeline.predict(X)
    assert (weighted == 1).sum() > (y == 1).sum() - 5  # class 1 weighed up: predicted at least as often


def test_text_labels_and_unknown_keys_are_left_as_written():
    model = _model("random_forest", "{yes: 2, no: 1}")
    y = pd.Series(["yes", "no"] * 20)
    pipeline = build_pipeline(FEATURES, ["a"], [], build_estimator(model))
    key_by_labels(pipeline, y)
    assert pipeline[-1].class_weight == {"yes": 2, "no": 1}
    pipeline.set_params(**{pipeline.steps[-1][0] + "__class_weight": {"7": 1}})
    key_by_labels(pipeline, pd.Series([0, 1] * 20))
    assert pipeline[-1].class_weight == {"7": 1}  # no label reads '7': scikit-learn names it at fit time


def test_a_tuning_trial_fits_with_integer_label_weights():
    X, y = load_iris(return_X_y=True, as_frame=True)
    data = TrialData(X, y, list(X.columns), [])
    rows = np.random.default_rng(0).permutation(len(X))
    metrics, _ = fit_and_score(_model("random_forest", "{0: 1, 1: 5, 2: 1}"), data, FEATURES, rows[:120], rows[120:])
    assert metrics["f1_macro"] > 0.8
