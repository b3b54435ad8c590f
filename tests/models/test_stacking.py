"""Stacking that earns its place (mlops.models.stacking): of the learnt stack, a greedily weighted average and
the best member alone, the combination that scores best out of fold is the model, and only the members it
uses are refitted. Real scikit-learn fits on small generated data, no Ray."""
from __future__ import annotations

import numpy as np
import pytest

from mlops.models.estimators import build_estimator


def stacking(task: str, members: list[dict], metric: str):
    return build_estimator({"estimator": "stacking", "type": "sklearn", "task": task,
                            "params": {"members": members, "metric": metric}})


def rows(n: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(n, 3))


def test_the_stack_wins_where_it_can_undo_its_members_shrinkage():
    """Both members shrink a steep linear target towards its mean; only a learnt combination can scale them
    back (a weighted average of shrunk predictions is still shrunk)."""
    rng, X = rows()
    y = 10 * X[:, 0] + rng.normal(scale=0.5, size=len(X))
    members = [{"estimator": "knn", "params": {"n_neighbors": 200}},
               {"estimator": "random_forest", "params": {"max_depth": 1, "n_estimators": 10, "random_state": 0}}]
    model = stacking("regression", members, "rmse").fit(X, y)
    assert model.combination_ == "stack" and model.used_ == [0, 1] and model.weights_ is None
    assert model.scores_["stack"] < 0.5 * model.scores_["member"], model.scores_  # rmse: lower is better
    assert np.sqrt(np.mean((model.predict(X) - y) ** 2)) < model.scores_["member"]


def test_the_best_member_alone_when_nothing_beats_it_and_only_it_is_refitted():
    """A linear label: logistic regression gets it, 1-nearest-neighbour adds noise; a tie goes to the member."""
    _, X = rows()
    y = (X[:, 0] > 0).astype(int)
    members = [{"estimator": "knn", "params": {"n_neighbors": 1}}, {"estimator": "logistic_regression", "params": {"C": 100.0}}]
    model = stacking("classification", members, "accuracy").fit(X, y)
    assert model.combination_ == "member" and model.used_ == [1] and list(model.weights_) == [1.0]
    assert len(model.estimators_) == 1 and type(model.estimators_[0]).__name__ == "LogisticRegression"
    assert model.scores_["member"] >= max(model.scores_["stack"], model.scores_["weighted"])
    assert (model.predict(X) == model.estimators_[0].predict(X)).all()
    assert np.allclose(model.predict_proba(X), model.estimators_[0].predict_proba(X))


def test_ensemble_selection_weights_members_that_are_right_on_different_rows():
    """Each member is confidently right on half of the rows and mildly wrong on the other half: alone each
    scores 0.5, their average is right everywhere."""
    model = stacking("classification", [{"estimator": "knn", "params": {}}] * 2, "accuracy")
    model.classes_, model.metric_ = np.array([0, 1]), "accuracy"
    y = np.array([0, 1] * 100)
    sure = np.where(y[:, None] == [0, 1], 0.9, 0.1)
    unsure = np.where(y[:, None] == [0, 1], 0.45, 0.55)
    first = np.where(np.arange(200)[:, None] < 100, sure, unsure)
    second = np.where(np.arange(200)[:, None] < 100, unsure, sure)
    weights = model._selection([first, second], y)
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all(), weights
    assert model._score(y, weights[0] * first + weights[1] * second) == 1.0
    assert model._score(y, first) == model._score(y, second) == 0.5


@pytest.mark.parametrize("metric", ["log_loss", "mae"])
def test_a_loss_is_minimised(metric):
    """The direction comes from the metric: for a loss the smallest out-of-fold value wins."""
    rng, X = rows(600)
    task = "classification" if metric == "log_loss" else "regression"
    y = (X[:, 0] + X[:, 1] > 0).astype(int) if task == "classification" else X[:, 0] * 3 + rng.normal(size=600)
    members = [{"estimator": "knn", "params": {"n_neighbors": 1}},
               {"estimator": "logistic_regression" if task == "classification" else "ridge", "params": {}}]
    model = stacking(task, members, metric).fit(X, y)
    chosen = model.scores_[model.combination_]
    assert chosen == min(model.scores_.values()), model.scores_
    assert model.member_scores_[1] < model.member_scores_[0]  # the linear member's loss is the smaller


def test_a_class_rarer_than_the_folds_still_stacks():
    """Folds that cannot all hold a class of 3 rows: the final models' probabilities keep its column."""
    rng, X = rows(400)
    y = (X[:, 0] > 0).astype(int)
    y[:3] = 2
    members = [{"estimator": "logistic_regression", "params": {}}, {"estimator": "knn", "params": {"n_neighbors": 5}}]
    model = stacking("classification", members, "accuracy").fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (400, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == [0, 1, 2]


def test_it_saves_in_the_safe_format_and_loads_back(tmp_path):
    from mlops.models import safe_format

    rng, X = rows(300)
    y = X[:, 0] * 2 + rng.normal(size=300)
    members = [{"estimator": "knn", "params": {"n_neighbors": 200}}, {"estimator": "ridge", "params": {}}]
    model = stacking("regression", members, "rmse").fit(X, y)
    safe_format.save(model, tmp_path / "stack.skops")
    loaded = safe_format.load(tmp_path / "stack.skops")
    assert np.allclose(loaded.predict(X), model.predict(X)) and loaded.combination_ == model.combination_
