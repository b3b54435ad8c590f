"""Feature inference and the recorded input schema (the contract online requests are checked against)."""
from __future__ import annotations

from feature_data import frame, run
from mlops.stages.load import frame_fingerprint

def test_inference_by_dtype():
    """A date column is an input (its parts are numeric features), never dropped without a word."""
    fs = run(frame())
    assert fs.numeric == ["x", "n", "seen", "ratio"] and fs.datetime == ["seen"]
    assert fs.categorical == ["city", "vip"]
    assert fs.raw_inputs == ["x", "n", "seen", "city", "vip"]


def test_input_schema_records_types_nulls_and_categories():
    schema = {c["name"]: c for c in run(frame()).input_schema}
    assert schema["x"]["type"] == "number" and schema["x"]["nullable"] is False
    assert schema["n"]["type"] == "integer"
    assert schema["city"]["categorical"] and schema["city"]["nullable"] and schema["city"]["categories"] == ["paris", "rome"]
    assert schema["vip"]["type"] == "boolean"


def test_one_list_given_infers_the_other():
    fs = run(frame(), numeric=["x"])
    assert fs.numeric == ["x", "seen", "ratio"] and fs.categorical == ["city", "vip"]  # seen: a date, inferred
    assert "n" in fs.raw_inputs  # read by the derived column


def test_rows_without_target_are_dropped():
    data = frame()
    data.loc[:9, "y"] = None
    assert len(run(data).frame) == len(data) - 10


def test_fingerprint_changes_with_content():
    a, b = frame(), frame()
    b.loc[0, "x"] += 1
    assert frame_fingerprint(a)["sha256"] == frame_fingerprint(frame())["sha256"] != frame_fingerprint(b)["sha256"]


def test_derived_infinities_become_missing_values():
    """A division by zero or an overflow is no value for a model: NaN, which imputation then fills."""
    import numpy as np

    from mlops.spec.expressions import evaluate

    out = evaluate("a / (b + 1) + exp(a)", {"a": np.array([1.0, 1.0, 1000.0]), "b": np.array([0.0, -1.0, 0.0])})
    assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])
