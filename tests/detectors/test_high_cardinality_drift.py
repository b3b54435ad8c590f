"""Drift on a 600-value category is tested on its frequent values plus "(other)": clean batches pass,
a batch concentrated in a few values is flagged; importance is reported per input column."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from messy_data import messy_frame
from mlops.detectors.drift import OTHER, DriftReference, detect_drift
from mlops.models.preprocessing import build_pipeline
from mlops.spec.features import FeaturesSpec
from mlops.stages.plots import feature_importance_values

COLUMNS = ["sqft", "city", "zip_code", "garage"]


def reference() -> DriftReference:
    return DriftReference.from_frame(messy_frame(5000, seed=0)[COLUMNS], ["sqft"], ["city", "zip_code", "garage"])


def test_clean_batches_pass_and_a_concentrated_one_is_flagged():
    ref = reference()
    assert "zip_code" in ref.grouped and ref.labels("zip_code")[-1] == OTHER
    for seed in (1, 2, 3, 4, 5):
        report = detect_drift(ref, messy_frame(500, seed=seed)[COLUMNS], "chi2", p_val=0.01)
        assert not report.is_drift, report.to_dict()["features"]
    shifted = messy_frame(500, seed=9, shift=0.0001)[COLUMNS]  # sizes as before, sales in 10 zip codes
    report = detect_drift(ref, shifted, "chi2", p_val=0.01)
    assert report.is_drift and "zip_code" in report.drifted_features


def test_low_cardinality_columns_keep_every_category():
    ref = reference()
    assert "city" not in ref.grouped and len(ref.categories["city"]) == 6


def test_importance_is_named_by_input_column_never_by_encoded_column():
    frame = messy_frame(1000)
    numeric, categorical = ["sqft", "rooms", "built_date"], ["city", "zip_code", "garage"]
    X = frame[numeric + categorical]
    pipe = build_pipeline(FeaturesSpec().model_dump(mode="json"), numeric, categorical,
                          RandomForestRegressor(20, random_state=0)).fit(X, frame["price"])
    importance = feature_importance_values(pipe, X, frame["price"])
    assert set(importance) == set(numeric + categorical)
    assert np.isclose(sum(importance.values()), 1.0)  # forest importances, summed per input column
