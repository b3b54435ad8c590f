"""Per-prediction explanations: SHAP contributions per input column (one-hot columns summed back to theirs)
add up with the base value to the model's output; rows go through the model's input contract, which refuses
bad input exactly as batch scoring does; a row limit bounds the cost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("shap")

from mlops.errors import DataError  # noqa: E402
from mlops.explain import explainer as explain  # noqa: E402
from mlops.models.bundle import Bundle  # noqa: E402
from mlops.models.model_contract import contract_for  # noqa: E402
from mlops.models.preprocessing import build_pipeline  # noqa: E402
from mlops.stages.batch_rows import check_columns  # noqa: E402

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot",
            "derived": {"ratio": "a / (abs(b) + 1)"}}
SCHEMA = [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}, {"name": "city", "type": "string"}]


def frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows),
                         "city": rng.choice(["paris", "lyon", "nice"], size=rows)})


def bundle(estimator, task: str) -> Bundle:
    X = frame()
    value = 2 * X["a"] - X["b"] + (X["city"] == "paris")
    y = np.where(value > 0, "yes", "no") if task == "classification" else value.to_numpy()
    pipe = build_pipeline(FEATURES, ["a", "b", "ratio"], ["city"], estimator).fit(X, y)
    return Bundle(pipe, {"task": task, "input_schema": SCHEMA, "target": "y"})


def test_tree_contributions_plus_base_value_equal_the_predicted_class_probability():
    from sklearn.ensemble import RandomForestClassifier

    model = bundle(RandomForestClassifier(30, random_state=0), "classification")
    rows = frame(8, seed=1)
    result = explain.ModelExplainer(model).explain(explain.checked_rows(model, rows))
    assert result.method == "tree"
    proba = model.model.predict_proba(rows)
    for i, row in enumerate(result.rows):
        assert set(row.contributions) == {"a", "b", "ratio", "city"}  # city's three one-hot columns, summed
        assert row.explained == f"P(class={row.prediction})"
        assert row.base_value + sum(row.contributions.values()) == pytest.approx(proba[i].max(), abs=1e-6)
        assert row.output == pytest.approx(proba[i].max(), abs=1e-6)
    top = result.to_dict(2)["rows"][0]["contributions"]
    assert len(top) == 2 and abs(top[0]["contribution"]) >= abs(top[1]["contribution"])


def test_boosted_regression_and_binary_margins_are_additive():
    from sklearn.ensemble import HistGradientBoostingRegressor

    lightgbm = pytest.importorskip("lightgbm")
    reg = bundle(HistGradientBoostingRegressor(max_iter=40, random_state=0), "regression")
    rows = frame(6, seed=2)
    for row, value in zip(explain.ModelExplainer(reg).explain(rows).rows, reg.model.predict(rows)):
        assert row.explained == "value" and row.output == pytest.approx(value, abs=1e-6)
    clf = bundle(lightgbm.LGBMClassifier(n_estimators=30, verbose=-1), "classification")
    margin = clf.model[-1].predict(clf.model[:-1].transform(rows), raw_score=True)
    for row, raw in zip(explain.ModelExplainer(clf).explain(rows).rows, margin):
        assert row.explained == "log-odds(class=yes)" and row.output == pytest.approx(raw, abs=1e-5)


def test_other_families_get_the_permutation_explainer_additive_to_the_model_output():
    from sklearn.linear_model import LogisticRegression

    model = bundle(LogisticRegression(max_iter=500), "classification")
    rows = frame(4, seed=3)
    explainer = explain.ModelExplainer(model, background=frame(40, seed=4))
    result = explainer.explain(rows, top=3)
    assert result.method == "permutation"
    proba = model.model.predict_proba(rows)
    for i, row in enumerate(result.rows):
        assert row.output == pytest.approx(proba[i].max(), abs=1e-6)
    assert explainer.row_limit() == explain.MODEL_ROWS // (2 * explain.PERMUTATIONS * 6 * explain.BACKGROUND)


def test_the_contract_refuses_bad_rows_as_batch_scoring_does():
    from sklearn.ensemble import RandomForestClassifier

    model = bundle(RandomForestClassifier(10, random_state=0), "classification")
    bad = frame(3).astype({"a": object})
    bad.loc[1, "a"] = "big"
    with pytest.raises(DataError) as refused:
        explain.checked_rows(model, bad)
    paths = [p.path for p in refused.value.problems]
    assert paths[0] == "--input" and "row 1, column a" in paths
    judged = contract_for(model).judge(bad)
    assert [p.message for p in refused.value.problems[1:]] == [c.message for c in judged.cells]

    unknown = frame(3).drop(columns="b").assign(colour="red")
    with pytest.raises(DataError) as refused:
        explain.checked_rows(model, unknown)
    with pytest.raises(DataError) as batch:
        check_columns(contract_for(model), list(unknown.columns))
    mine = {(p.path, p.message) for p in refused.value.problems[1:]}
    theirs = {(p.path, p.message) for p in batch.value.problems[1:]}
    assert mine == theirs and {"column b", "column colour"} <= {p for p, _ in mine}


def test_a_call_over_the_row_limit_is_refused(monkeypatch):
    from sklearn.ensemble import RandomForestClassifier

    model = bundle(RandomForestClassifier(5, random_state=0), "classification")
    monkeypatch.setattr(explain, "TREE_ROWS", 3)
    with pytest.raises(DataError, match="at most 3 a call"):
        explain.ModelExplainer(model).explain(frame(4))
