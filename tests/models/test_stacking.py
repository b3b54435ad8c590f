"""Stacking that earns its place (mlops.models.stacking): of the learnt stack, a greedily weighted average and
the best member alone, the combination that scores best out of fold is the model, and only the members it
uses are refitted. Real scikit-learn fits on small generated data, no Ray."""
from __future__ import annotations

import numpy as np
import pytest

from mlops.models.estimators import build_estimator
from mlops.models.stacking import SELECTION_ROUNDS


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
    # round 1: a tie, the first; round 2: the second (the average is right everywhere); then every addition
    # keeps it right until the first outweighs the second 8 to 1, and a tie goes to the first member
    assert list(weights) == [22 / SELECTION_ROUNDS, 3 / SELECTION_ROUNDS], weights
    assert model._score(y, weights[0] * first + weights[1] * second) == 1.0
    assert model._score(y, first) == model._score(y, second) == 0.5


def test_a_weighted_average_is_registered_when_it_wins_out_of_fold():
    """A forest and k-NN on a noisy interaction (seeded, deterministic): their weighted average scores a lower
    mae out of fold than either alone and than the learnt stack; the model predicts that average."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=300)
    members = [{"estimator": "random_forest", "params": {"n_estimators": 30, "random_state": 0}},
               {"estimator": "knn", "params": {"n_neighbors": 10}}]
    model = stacking("regression", members, "mae").fit(X, y)
    assert model.combination_ == "weighted", model.scores_
    assert model.used_ == [0, 1] and (model.weights_ > 0).all() and model.weights_.sum() == pytest.approx(1.0)
    counts = model.weights_ * SELECTION_ROUNDS  # each round added one member once
    assert np.allclose(counts, np.round(counts)), model.weights_
    assert model.scores_["weighted"] < min(model.scores_["stack"], model.scores_["member"])
    forest, knn = model.estimators_
    assert np.allclose(model.predict(X), model.weights_[0] * forest.predict(X) + model.weights_[1] * knn.predict(X))


def test_ensemble_selection_averages_what_it_has_chosen():
    """A perfect member and one 10 too high: every round adds the perfect one (any share of the other moves the
    average off), which needs the sum of the chosen divided by their count."""
    model = stacking("regression", [{"estimator": "knn", "params": {}}] * 2, "mae")
    model.metric_ = "mae"
    y = 10 + np.random.default_rng(0).normal(scale=0.1, size=50)
    assert list(model._selection([y, y + 10], y)) == [1.0, 0.0]


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


def test_the_members_parameters_are_the_ensembles():
    """As scikit-learn's ensembles expose theirs (label-keyed ones are re-keyed through them: class_weight)."""
    model = stacking("classification", [{"estimator": "knn", "params": {}},
                                        {"estimator": "logistic_regression", "params": {}}], "accuracy")
    assert model.get_params()["m0_knn__n_neighbors"] == 5 and "m1_logistic_regression__C" in model.get_params()
    assert model.set_params(m0_knn__n_neighbors=3) is model and model.estimators[0][1].n_neighbors == 3


def test_folds_keep_every_class_when_they_can_and_two_class_members_give_one_column():
    model = stacking("classification", [{"estimator": "knn", "params": {}}] * 2, "accuracy")
    assert type(model._folds(np.array([0] * 5 + [1] * 7))).__name__ == "StratifiedKFold"  # 5 rows: one per fold
    assert type(model._folds(np.array([0] * 4 + [1] * 8))).__name__ == "KFold"
    binary, three = np.full((4, 2), 0.5), np.full((4, 3), 1 / 3)
    assert model._columns([binary, binary]).shape == (4, 2) and model._columns([three, three]).shape == (4, 6)


def test_it_saves_in_the_safe_format_and_loads_back(tmp_path):
    from mlops.models import safe_format

    rng, X = rows(300)
    y = X[:, 0] * 2 + rng.normal(size=300)
    members = [{"estimator": "knn", "params": {"n_neighbors": 200}}, {"estimator": "ridge", "params": {}}]
    model = stacking("regression", members, "rmse").fit(X, y)
    safe_format.save(model, tmp_path / "stack.skops")
    loaded = safe_format.load(tmp_path / "stack.skops")
    assert np.allclose(loaded.predict(X), model.predict(X)) and loaded.combination_ == model.combination_
