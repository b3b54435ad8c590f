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


def test_class_labels_read_as_floats_for_want_of_some_are_whole_numbers_again():
    """'1', '0' and a blank in a CSV read as 1.0, 0.0 and NaN: once the unlabelled rows are gone the classes
    are 0 and 1 (columns proba_0, proba_1), not 0.0 and 1.0; a regression target keeps its floats."""
    import numpy as np
    import pandas as pd

    from mlops.stages import featurize
    from mlops.stages.load import Loaded

    data = frame(40).assign(y=[1.0, 0.0, np.nan, 1.0] * 10)
    assert run(data).frame["y"].dtype == "int64" and sorted(run(data).frame["y"].unique()) == [0, 1]
    halves = data.assign(y=[0.5, 1.0, np.nan, 2.0] * 10)
    assert run(halves).frame["y"].dtype == "float64"  # not whole numbers: left as they are
    params = {"data": {"target": "y", "id_column": None, "timestamp": None},
              "features": {**run.__globals__["FEATURES"]}, "task": "regression"}
    assert featurize.run(Loaded(data, frame_fingerprint(data)), params).frame["y"].dtype == "float64"
    assert pd.api.types.is_float_dtype(data["y"])  # the loaded frame itself is not changed
