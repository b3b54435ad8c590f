"""Stacking that earns its place (mlops.models.stacking): of the learnt stack, a greedily weighted average and
the best member alone, the combination that scores best out of fold is the model, and only the members it
uses are refitted. Real scikit-learn fits on small generated data, no Ray."""
from __future__ import annotations

import numpy as np
import pytest

from mlops.models.estimators import build_estimator
from mlops.models.stacking import MIN_ROWS, SELECTION_ROUNDS


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


def test_given_out_of_fold_predictions_are_used_as_they_are_and_only_the_missing_ones_computed():
    """A search's cross-validated trials already predicted every row out of fold (mlops.stages.out_of_fold):
    the stacking learns from those and computes only the members it was not given."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    rng, X = rows(600)
    y = (X[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(int)
    members = [{"estimator": "knn", "params": {"n_neighbors": 25}}, {"estimator": "logistic_regression", "params": {}}]
    computed = stacking("classification", members, "roc_auc").fit(X, y)
    assert computed.given_ == 0
    folds = computed._folds(y)
    same = [cross_val_predict(clone(m), X, y, cv=folds, method="predict_proba") for _, m in computed.estimators]
    given = stacking("classification", members, "roc_auc").fit(X, y, out_of_fold=same)
    assert given.given_ == 2 and given.scores_ == pytest.approx(computed.scores_)
    assert given.member_scores_ == pytest.approx(computed.member_scores_)
    # a member given predictions that favour it is judged by them: they are not recomputed
    perfect = np.eye(2)[y]
    one = stacking("classification", members, "roc_auc").fit(X, y, out_of_fold=[None, perfect])
    assert one.given_ == 1 and one.member_scores_[1] == 1.0 and one.member_scores_[0] == pytest.approx(computed.member_scores_[0])
    assert one.combination_ == "member" and one.used_ == [1]


def test_given_out_of_fold_predictions_of_the_wrong_shape_are_refused():
    rng, X = rows(200)
    y = (X[:, 0] > 0).astype(int)
    members = [{"estimator": "knn", "params": {}}, {"estimator": "logistic_regression", "params": {}}]
    with pytest.raises(ValueError, match=r"shape \(199, 2\) where \(200, 2\)"):
        stacking("classification", members, "accuracy").fit(X, y, out_of_fold=[np.zeros((199, 2)), None])
    with pytest.raises(ValueError, match="1 entries for 2 members"):
        stacking("classification", members, "accuracy").fit(X, y, out_of_fold=[None])
    values = X[:, 0] * 3
    with pytest.raises(ValueError, match=r"shape \(200, 1\) where \(200,\)"):
        stacking("regression", [{"estimator": "ridge", "params": {}}] * 2, "rmse").fit(X, values, out_of_fold=[values[:, None], None])


def test_given_hold_out_predictions_make_it_learn_from_the_hold_out_rows():
    """Trials scored on a hold-out predicted only its rows (NaN elsewhere): the combinations learn from the rows
    every given member predicted, a member not given is fitted on the other rows to predict them, and every
    used member is still refitted on every row."""
    from sklearn.base import clone

    rng, X = rows(800)
    y = X[:, 0] * 2 + X[:, 1] + rng.normal(scale=0.3, size=800)
    members = [{"estimator": "ridge", "params": {}}, {"estimator": "knn", "params": {"n_neighbors": 15}}]
    hold_out = np.zeros(800, dtype=bool)
    hold_out[rng.choice(800, size=200, replace=False)] = True
    model = stacking("regression", members, "rmse")
    ridge = clone(model.estimators[0][1]).fit(X[~hold_out], y[~hold_out])
    given = np.full(800, np.nan)
    given[hold_out] = ridge.predict(X[hold_out])
    model.fit(X, y, out_of_fold=[given, None])
    assert model.given_ == 1 and model.rows_ == 200
    knn = clone(model.estimators[1][1]).fit(X[~hold_out], y[~hold_out])
    rmse = lambda p: float(np.sqrt(np.mean((y[hold_out] - p) ** 2)))  # noqa: E731
    assert model.member_scores_ == pytest.approx([rmse(given[hold_out]), rmse(knn.predict(X[hold_out]))])
    refitted = model.estimators_[model.used_.index(0)]
    assert np.allclose(refitted.coef_, clone(model.estimators[0][1]).fit(X, y).coef_)  # on every row
    # A table (what the pipeline hands it) is split by position, as the array was: the same member scores.
    import pandas as pd

    table = stacking("regression", members, "rmse").fit(pd.DataFrame(X, columns=["a", "b", "c"]), y, out_of_fold=[given, None])
    assert table.rows_ == 200 and table.member_scores_ == pytest.approx(model.member_scores_)
    # MIN_ROWS rows with predictions are enough to learn the combinations from; one fewer is not: then every
    # member's are computed over the folds
    enough = np.full(800, np.nan)
    enough[:MIN_ROWS] = y[:MIN_ROWS]
    assert stacking("regression", members, "rmse").fit(X, y, out_of_fold=[enough, None]).rows_ == MIN_ROWS == 50
    enough[MIN_ROWS - 1] = np.nan
    too_few = stacking("regression", members, "rmse").fit(X, y, out_of_fold=[enough, None])
    assert too_few.rows_ == 800 and too_few.given_ == 0


def test_averaged_float32_probabilities_still_sum_to_one_exactly():
    """XGBoost gives float32 probabilities; their weighted average must still pass log_loss's check."""
    import warnings

    from sklearn.metrics import log_loss

    rng, X = rows(400)
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    members = [{"estimator": "xgboost", "params": {"n_estimators": 20}}, {"estimator": "knn", "params": {"n_neighbors": 30}}]
    model = stacking("classification", members, "log_loss").fit(X, y)
    model.combination_, model.weights_, model.final_estimator_ = "weighted", np.array([1 / 3, 2 / 3]), None
    model.estimators_ = [m.fit(X, y) for _, m in model.estimators]  # both members, averaged
    proba = model.predict_proba(X)
    assert np.abs(proba.sum(axis=1) - 1.0).max() < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_loss(y, proba)
