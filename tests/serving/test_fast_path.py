"""The serving fast path for forests: bit-identical to the model's own output, and only for forests."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor

from mlops.models.bundle import Bundle
from mlops.models.preprocessing import build_pipeline
from mlops.serving.fast_path import forest_path, sample_rows, verified_fast_path
from feature_data import FEATURES, frame, run


def bundle_for(estimator, task: str) -> tuple[Bundle, object]:
    data = frame(300)
    features = run(data)
    target = data["y"] if task == "classification" else data["x"] * 3 + data["n"]
    inputs = data[features.raw_inputs]
    pipeline = build_pipeline(FEATURES, features.numeric, features.categorical, estimator).fit(inputs, target)
    return Bundle(pipeline, {"task": task, "input_schema": features.input_schema}), inputs


@pytest.mark.parametrize("estimator,task", [
    (RandomForestClassifier(n_estimators=25, random_state=0), "classification"),
    (RandomForestRegressor(n_estimators=25, random_state=0), "regression"),
    (ExtraTreesRegressor(n_estimators=10, random_state=0), "regression"),
])
def test_forest_path_is_bit_identical_with_nulls_categories_and_derived_columns(estimator, task):
    bundle, inputs = bundle_for(estimator, task)
    fast = verified_fast_path(bundle)
    assert fast is not None
    expected = bundle.predict_proba(inputs) if task == "classification" else bundle.predict(inputs)
    assert np.array_equal(fast(inputs), expected)
    assert np.array_equal(fast(inputs.head(1)), expected[:1])  # one row, as at concurrency 1


def test_other_estimators_serve_through_the_model():
    bundle, _ = bundle_for(GradientBoostingClassifier(n_estimators=5, random_state=0), "classification")
    assert forest_path(bundle.model) is None and verified_fast_path(bundle) is None


def test_schema_sample_covers_every_input_column_with_valid_values():
    bundle, inputs = bundle_for(RandomForestClassifier(n_estimators=5, random_state=0), "classification")
    sample = sample_rows(bundle)
    assert list(sample.columns) == list(inputs.columns) and len(sample) > 1
    assert set(sample["city"]) <= {"paris", "rome"}
    assert bundle.predict_proba(sample).shape == (len(sample), 2)
