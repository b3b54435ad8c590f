"""Named features: the columns an estimator sees keep the spec's names through preprocessing (derived columns,
one-hot columns grouped back to their input), for scikit-learn, torch and a plugin's estimator; permutation
importance on generated data ranks the decisive column first and the irrelevant one last."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.explain.importance import permutation
from mlops.models.estimators import build_estimator
from mlops.models.feature_names import encoded_names, input_sources, own_importance
from mlops.models.preprocessing import build_pipeline
from mlops.stages.plots import feature_importance_values

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot",
            "derived": {"helper_twice": "helper * 2"}}
INPUTS = ["signal", "helper", "noise", "city"]


def generated(rows: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """`signal` decides the class, `helper` and `city` nudge it, `noise` has nothing to do with it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"signal": rng.normal(size=rows), "helper": rng.normal(size=rows),
                          "noise": rng.normal(size=rows), "city": rng.choice(["paris", "lyon", "nice"], size=rows)})
    score = 3 * frame["signal"] + 1.5 * frame["helper"] + 1.5 * (frame["city"] == "paris")
    return frame, np.where(score > 0.3, "yes", "no")


def fitted(estimator) -> tuple:
    X, y = generated()
    pipe = build_pipeline(FEATURES, ["signal", "helper", "noise", "helper_twice"], ["city"], estimator)
    return pipe.fit(X.iloc[:400], y[:400]), X.iloc[400:], y[400:]


ESTIMATORS = {
    "sklearn": lambda: build_estimator({"estimator": "random_forest", "task": "classification",
                                        "params": {"n_estimators": 20, "random_state": 0}}),
    "plugin lightgbm_dart": lambda: build_estimator({"estimator": "lightgbm_dart", "task": "classification",
                                                     "params": {"n_estimators": 40, "verbose": -1}}),
    "torch": lambda: __import__("mlops.models.torch_mlp", fromlist=["TorchMLP"]).TorchMLP(
        model={"task": "classification", "type": "torch", "training": {"epochs": 15, "batch_size": 64, "lr": 0.02}}),
}


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def model(request):
    pytest.importorskip("torch" if request.param == "torch" else "lightgbm" if "lightgbm" in request.param else "sklearn")
    return request.param, *fitted(ESTIMATORS[request.param]())


def test_encoded_names_are_the_input_columns_the_derived_ones_and_one_hot_columns(model):
    _, pipe, _, _ = model
    names = encoded_names(pipe)
    assert names[:4] == ["signal", "helper", "noise", "helper_twice"]
    assert sorted(names[4:]) == ["city_lyon", "city_nice", "city_paris"]
    sources = input_sources(pipe)
    assert {sources[n] for n in names} == {"signal", "helper", "noise", "helper_twice", "city"}
    assert list(pipe[:-1].get_feature_names_out()) == names  # the derive step passes the names on


def test_permutation_importance_ranks_the_decisive_column_first_and_the_irrelevant_one_last(model):
    family, pipe, X, y = model
    table = permutation(pipe, X, y, "f1_macro", columns=INPUTS, repeats=5)
    shuffled = [c for c in table.ranking() if c in INPUTS]
    assert set(shuffled) == set(INPUTS) and table.metric == "f1_macro" and table.repeats == 5
    assert shuffled[0] == "signal", (family, table.columns)
    assert shuffled[-1] == "noise", (family, table.columns)
    assert all(c["std"] >= 0 for c in table.columns)
    assert "feature,permutation_mean,permutation_std,own_importance" in table.to_csv()


def test_own_importance_and_the_plot_values_are_named(model):
    family, pipe, X, y = model
    own = own_importance(pipe)
    if family == "torch":
        assert own is None  # no importance of its own: the plot falls back to permutation, named all the same
    else:
        assert set(own) == {"signal", "helper", "noise", "helper_twice", "city"}
    values = feature_importance_values(pipe, X, y)
    assert set(values) <= {"signal", "helper", "noise", "helper_twice", "city"} and not any(
        k.startswith(("f", "Column_")) and k[1:].isdigit() for k in values)


class SlowToPredict:
    """A fitted pipeline whose predictions take `per_row` seconds a row (a search's winner of deep trees)."""

    def __init__(self, pipe, per_row: float):
        self.pipe, self.per_row, self.rows_predicted = pipe, per_row, 0
        self.classes_ = pipe.classes_

    def predict_proba(self, X):
        import time

        time.sleep(self.per_row * len(X))
        self.rows_predicted += len(X)
        return self.pipe.predict_proba(X)

    def predict(self, X):
        return self.pipe.classes_[self.predict_proba(X).argmax(axis=1)]


def test_a_model_slow_to_predict_is_scored_on_fewer_rows_within_the_budget():
    pipe, _, _ = fitted(ESTIMATORS["sklearn"]())
    X, y = generated(rows=3000, seed=1)
    slow = SlowToPredict(pipe, per_row=2e-5)  # 2,000 rows: 0.04 s; 4 columns x 5 repeats x 2,000 rows: 0.8 s
    table = permutation(slow, X, y, "f1_macro", columns=INPUTS, budget_s=0.2, min_rows=300)
    assert 300 <= table.rows < 2000 and table.repeats == 5  # about 0.2 s / (20 x 2e-5 s) = 500 rows
    assert slow.rows_predicted == 2000 + len(INPUTS) * 5 * table.rows  # the first predict's rows are reused
    assert table.ranking()[0] == "signal"
    fast = permutation(pipe, X, y, "f1_macro", columns=INPUTS)
    assert fast.rows == 2000  # the default budget holds every sampled row of a quick model
    floor = permutation(SlowToPredict(pipe, per_row=1e-4), X, y, "f1_macro", columns=INPUTS, budget_s=0.01, min_rows=400)
    assert floor.rows == 400 and floor.repeats == 2  # never fewer than min_rows, then fewer shuffles, at least 2
    assert all(column["std"] >= 0 for column in floor.columns) and floor.ranking()[0] == "signal"
    # 400 rows x 4 columns x 3 shuffles at 1e-4 s a row: 0.48 s (x 4: 0.64 s); a budget of 0.55 s keeps 3 of 5
    some = permutation(SlowToPredict(pipe, per_row=1e-4), X, y, "f1_macro", columns=INPUTS, budget_s=0.55, min_rows=400)
    assert some.rows == 400 and some.repeats == 3
