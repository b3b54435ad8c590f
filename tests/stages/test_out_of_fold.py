"""A search's out-of-fold predictions kept for a stacking ensemble (mlops.stages.out_of_fold): trials put their
folds' predictions together row by row, a store on Ray keeps the best trials' ones, and the refit gets its
members' predictions only for the very labels they were made for."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.stages import out_of_fold
from mlops.stages.out_of_fold import Collector, Kept, for_members, labels_digest, wanted
from mlops.stages.trial import TrialData, _splits, fit_and_score

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
            "encode": "onehot", "derived": None}


def _data(task: str, n: int = 300) -> TrialData:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    signal = X["a"] + 0.5 * X["b"] + rng.normal(scale=0.7, size=n)
    y = pd.Series(np.digitize(signal, [-0.5, 0.5]) if task == "classification" else signal)
    return TrialData(X, y, list(X.columns), [])


def test_a_trials_folds_fill_every_row_once_with_the_predictions_its_scores_came_from():
    data = _data("classification")
    tuning = {"folds": 3, "seed": 0, "validation_size": 0.2}
    section = {"type": "sklearn", "task": "classification", "estimator": "logistic_regression", "params": {}}
    collector = Collector("unused", data.y, "classification")
    accuracies = []
    for train_idx, val_idx in _splits(data, "classification", tuning):
        metrics, _ = fit_and_score(section, data, FEATURES, train_idx, val_idx, 1, predictions=collector.add)
        accuracies.append(metrics["accuracy"])
    assert collector.filled.all() and collector.values.dtype == np.float32
    assert np.allclose(collector.values.sum(axis=1), 1.0, atol=1e-5)
    # three folds of 100 rows: the out-of-fold accuracy is the folds' mean accuracy
    assert np.mean(collector.values.argmax(axis=1) == data.y.to_numpy()) == pytest.approx(np.mean(accuracies))
    values = Collector("unused", _data("regression").y, "regression")
    for train_idx, val_idx in _splits(_data("regression"), "regression", tuning):
        fit_and_score({**section, "task": "regression", "estimator": "ridge"}, _data("regression"), FEATURES,
                      train_idx, val_idx, predictions=values.add)
    assert values.filled.all() and values.values.shape == (300,) and np.corrcoef(values.values, _data("regression").y)[0, 1] > 0.5


def test_a_class_a_fold_never_saw_gets_probability_zero_in_its_column():
    collector = Collector("unused", pd.Series(["a", "b", "c", "a"]), "classification")
    collector.add(np.array([0, 3]), np.array([[0.25, 0.75], [0.5, 0.5]]), np.array(["a", "c"]))
    assert collector.values[[0, 3]].tolist() == [[0.25, 0.0, 0.75], [0.5, 0.0, 0.5]]
    assert collector.filled.tolist() == [True, False, False, True] and np.isnan(collector.values[[1, 2]]).all()
    collector.add(np.array([1, 2]), None)  # a classifier without probabilities: nothing of it is kept
    assert not collector.usable


def test_the_refit_gets_predictions_only_for_the_labels_they_were_made_for():
    y = pd.Series([0, 1, 1, 1])
    kept = {"t1": Kept(labels_digest(y), np.ones((4, 2))), "t3": Kept(labels_digest(y[::-1]), np.ones((4, 2)))}
    given = for_members(kept, ["t1", "t2", "t3"], y.to_numpy())  # a numpy array of the same labels is the same
    assert given[0] is kept["t1"].values and given[1] is None and given[2] is None  # t3: other rows' order
    assert for_members(kept, ["t2", "t3"], y) is None and for_members({}, ["t1"], y) is None
    assert labels_digest(pd.Series([1, 0])) != labels_digest(pd.Series([1.0, 0.0])) != labels_digest(pd.Series(["1", "0"]))


def test_only_a_stacking_keeps_them():
    params = lambda method: {"model": {"ensemble": {"method": method, "top_k": 3} if method else None}}  # noqa: E731
    assert wanted(params("stacking")) and not wanted(params("voting")) and not wanted(params(None))


def test_the_store_keeps_the_best_trials(ray_local):
    """Trials send from their own Ray workers, by the store's name; the store keeps the best `keep`."""
    ray = ray_local
    store = out_of_fold.Store(keep=2, greater_is_better=False)  # a loss: lower is better

    @ray.remote(num_cpus=0)
    def trial(name: str, score: float, rows: int) -> None:
        y = pd.Series(np.arange(4.0))
        collector = Collector(name, y, "regression")
        collector.add(np.arange(rows), np.full(rows, score))
        collector.send(f"t{score:g}", score)  # one that predicted no row has nothing to send

    ray.get([trial.remote(store.name, score, rows) for score, rows in ((0.5, 4), (0.25, 3), (0.75, 4), (0.125, 0))])
    kept = store.take()
    assert sorted(kept) == ["t0.25", "t0.5"] and kept["t0.5"].values.tolist() == [0.5] * 4
    assert kept["t0.25"].values[:3].tolist() == [0.25] * 3 and np.isnan(kept["t0.25"].values[3])
    assert kept["t0.25"].labels == labels_digest(np.arange(4.0))
    with pytest.raises(ValueError):
        ray.get_actor(store.name)  # the store ends when it is taken
