"""Each protocol's request becomes the same rows, validated by the one request model: MLflow's scoring formats
(JSON and CSV), the Open Inference Protocol's tensors (JSON and binary), the id column, nulls where imputed."""
from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings, strategies as st

from mlops.serving.mlflow_scoring import parse_invocation
from mlops.serving.open_inference import checked_infer, column_rows, infer_answer, model_metadata, parse_infer
from mlops.serving.request_input import RequestError, validate
from mlops.serving.schema import request_model

SCHEMA = [{"name": "x", "type": "number", "nullable": False}, {"name": "n", "type": "integer", "nullable": False},
          {"name": "city", "type": "string", "nullable": True, "categories": ["paris", "rome"]}]
COLUMNS = [c["name"] for c in SCHEMA]
MODEL = request_model(SCHEMA, max_rows=100, id_column="user", takes_null=["x"])
ROWS = [{"x": 1.5, "n": 2.0, "city": "paris"}, {"x": None, "n": 0.0, "city": None}]


def values(body) -> list[dict]:
    """The validated rows as {column: value} (the id column under its name; a missing value, which the input
    contract gives the model as NaN, as None)."""
    return [{k: None if v != v else v for k, v in row.model_dump(by_alias=True).items()} for row in body.rows]


def invoke(payload, content_type="application/json"):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return validate(MODEL, parse_invocation(raw, content_type, SCHEMA, "user"))


def refusal(call) -> list[dict]:
    with pytest.raises(RequestError) as caught:
        call()
    return caught.value.details


@pytest.mark.parametrize("payload", [
    {"dataframe_split": {"columns": COLUMNS, "data": [[1.5, 2, "paris"], [None, 0, None]]}},
    {"dataframe_split": {"index": [7, 8], "columns": ["city", "n", "x"], "data": [["paris", 2, 1.5], [None, 0, None]]}},
    {"dataframe_records": ROWS},
    {"instances": ROWS},
    {"instances": [[1.5, 2, "paris"], [None, 0, None]]},
    {"inputs": {"x": [1.5, None], "n": [2, 0], "city": ["paris", None]}},
    {"inputs": [[1.5, 2, "paris"], [None, 0, None]], "params": {"unused": 1}},
], ids=["split", "split-reordered", "records", "instances", "instances-positional", "inputs-columns", "inputs-rows"])
def test_every_mlflow_format_gives_the_same_rows(payload):
    assert values(invoke(payload)) == [{**row, "user": None} for row in ROWS]


def test_pandas_nan_is_a_missing_value_and_csv_reads_as_pandas_would():
    """MLflow's client writes a DataFrame's missing values as NaN literals; CSV cells as read_csv does."""
    nan = b'{"dataframe_split": {"columns": ["x", "n", "city"], "data": [[1.5, 2, "paris"], [NaN, 0, NaN]]}}'
    assert values(invoke(nan)) == [{**row, "user": None} for row in ROWS]
    csv = b"user,x,n,city\n17,1.5,2,paris\nab-3,,0,\n"
    assert values(invoke(csv, "text/csv; charset=utf-8")) == [{**ROWS[0], "user": 17}, {**ROWS[1], "user": "ab-3"}]


@pytest.mark.parametrize("payload,field", [
    ({"dataframe_records": [{"x": 1.0, "n": None, "city": "rome"}]}, "dataframe_records.0.n"),  # null, not imputed
    ({"dataframe_split": {"columns": COLUMNS, "data": [[1.0, "two", "rome"]]}}, "dataframe_split.data.0.n"),
    ({"dataframe_records": [{"x": 1.0, "n": 1, "city": "rome", "colour": "red"}]}, "dataframe_records.0.colour"),
    ({"inputs": {"x": [1e300], "n": [1], "city": ["rome"]}}, "inputs.x.0"),
    ({"instances": [[1.0, 2]]}, "instances.0"),
    ({"dataframe_records": []}, "dataframe_records"),
    ({"dataframe_records": [], "instances": []}, "body"),
    ({"rows": []}, "rows"),
])
def test_mlflow_requests_are_refused_naming_the_field(payload, field):
    assert field in [d["field"] for d in refusal(lambda: invoke(payload))]


def test_csv_refusals_name_the_row_and_column():
    assert refusal(lambda: invoke(b"x,n,city\n1.0,abc,rome\n", "text/csv"))[0]["field"] == "csv.0.n"
    assert refusal(lambda: invoke(b"x,n\n1.0,2,3\n", "text/csv"))[0]["field"] == "csv.0"
    with pytest.raises(RequestError) as caught:
        invoke(b"x\n1", "application/vnd.apache.parquet")
    assert caught.value.status == 415


def tensor(name, datatype, data, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def infer(body: dict, binary: bytes = b""):
    raw = json.dumps(body).encode()
    request = parse_infer(raw + binary, str(len(raw)).encode() if binary else None, COLUMNS, "user")
    return request, validate(MODEL, request.parsed)


def test_v2_named_tensors_and_one_matrix_give_the_same_rows():
    named = {"id": "r1", "inputs": [tensor("x", "FP64", [1.5, None]), tensor("n", "INT64", [2, 0]),
                                    tensor("city", "BYTES", ["paris", None]), tensor("user", "INT64", [4, 5])]}
    request, body = infer(named)
    assert values(body) == [{**ROWS[0], "user": 4}, {**ROWS[1], "user": 5}] and request.id == "r1"
    matrix = {"inputs": [tensor("input__0", "BYTES", [[1.5, 2, "paris"], [None, 0, None]], [2, 3])]}
    assert values(infer(matrix)[1]) == [{**row, "user": None} for row in ROWS]


def test_v2_binary_tensor_extension_as_tritonclient_sends_it():
    """FP64 as little-endian doubles (NaN: missing), BYTES as 4-byte length + UTF-8 per element."""
    def strings(*items):
        return b"".join(struct.pack("<I", len(s)) + s for s in items)

    xs, ns, cities = struct.pack("<2d", 1.5, float("nan")), struct.pack("<2q", 2, 0), strings(b"paris", b"")
    inputs = [{"name": name, "datatype": datatype, "shape": [2], "parameters": {"binary_data_size": len(blob)}}
              for name, datatype, blob in (("x", "FP64", xs), ("n", "INT64", ns), ("city", "BYTES", cities))]
    _, body = infer({"inputs": inputs}, xs + ns + cities)
    assert values(body) == [{**ROWS[0], "user": None}, {"x": None, "n": 0.0, "city": "", "user": None}]


@pytest.mark.parametrize("inputs,field", [
    ([tensor("x", "FP64", [1.0]), tensor("n", "BYTES", ["two"]), tensor("city", "BYTES", ["rome"])], "inputs.n.data.0"),
    ([tensor("x", "FP64", [1.0]), tensor("city", "BYTES", ["rome"])], "inputs.n.data.0"),  # a column missing
    ([tensor("x", "FP64", [1.0]), tensor("n", "INT64", [1]), tensor("colour", "BYTES", ["red"])], "inputs.colour"),
    ([tensor("x", "FP64", [1.0, 2.0], [3])], "inputs.x.data"),
    ([tensor("x", "FP128", [1.0])], "inputs.x.datatype"),
    ([tensor("m", "FP64", [[1.0, 2.0]], [1, 2])], "inputs.m.shape"),
    ([], "inputs"),
])
def test_v2_requests_are_refused_naming_the_tensor(inputs, field):
    assert field in [d["field"] for d in refusal(lambda: infer({"inputs": inputs}))]


def test_v2_metadata_lists_one_tensor_per_feature_and_the_answer_its_outputs():
    meta = model_metadata("iris", "3", SCHEMA, "classification", [0, 1, 2])
    assert meta["inputs"] == [{"name": "x", "datatype": "FP64", "shape": [-1]}, {"name": "n", "datatype": "INT64", "shape": [-1]},
                              {"name": "city", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "proba"]
    request, _ = infer({"inputs": [tensor("x", "FP64", [1.0]), tensor("n", "INT64", [1]), tensor("user", "BYTES", ["a"])],
                        "outputs": [{"name": "proba"}, {"name": "user"}]})
    answer = {"predictions": [2], "classes": [0, 1, 2], "probabilities": [[0.1, 0.2, 0.7]], "ids": ["a"],
              "model_version": "3", "request_id": "abc"}
    out = infer_answer(answer, "iris", request, "user")
    assert out["outputs"] == [{"name": "proba", "datatype": "FP64", "shape": [1, 3], "data": [0.1, 0.2, 0.7]},
                              {"name": "user", "datatype": "BYTES", "shape": [1], "data": ["a"]}]
    assert out["model_version"] == "3" and out["id"] == "abc"


def test_predict_rows_take_the_id_column_and_nulls_where_imputed():
    body = MODEL.model_validate({"rows": [{"x": None, "n": 1, "city": None, "user": "u-1"}]})
    assert values(body) == [{"x": None, "n": 1.0, "city": None, "user": "u-1"}]
    schema = MODEL.model_json_schema()["$defs"]["Row"]["properties"]
    assert "imputation" in schema["x"]["description"] and "echoed" in schema["user"]["description"]
    with pytest.raises(Exception, match="n"):
        MODEL.model_validate({"rows": [{"x": 1.0, "n": None, "city": None}]})


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=3))
TENSORS = st.fixed_dictionaries(
    {"name": st.sampled_from(["x", "n", "city", "user", "other", 3]),
     "datatype": st.sampled_from(["FP64", "INT64", "BYTES", "FP8", None]),
     "shape": st.one_of(st.lists(st.integers(0, 3), min_size=1, max_size=3), st.just([1.0]), st.just("2"), st.just([2, True])),
     "data": st.one_of(JSON_VALUES, st.lists(st.one_of(JSON_VALUES, st.lists(JSON_VALUES, max_size=2)), max_size=4))},
    optional={"parameters": st.just({})})


@settings(max_examples=500, deadline=None)
@given(st.lists(TENSORS, min_size=1, max_size=3))
def test_v2_column_fast_path_takes_only_what_the_checked_path_takes_with_the_same_rows(inputs):
    """Any body: what the one-pass reading takes, the field-by-field checks take too, with the same rows.
    (Random tensors rarely make a well-formed request, so this is the refusal side; the next test is the
    acceptance side, on well-formed requests built to take the fast path.)"""
    fast = column_rows({"inputs": inputs}, COLUMNS, "user")
    if fast is not None:
        _same_rows_as_checked(inputs, fast)


COLUMN_VALUES = {"FP64": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                 "INT64": st.one_of(st.none(), st.integers(-(2**53), 2**53)),
                 "BYTES": st.one_of(st.none(), st.text(max_size=5))}


@st.composite
def column_requests(draw):
    """Well-formed named columns ([n] or [n, 1]) of the model's inputs and its id column, n rows each."""
    n = draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from([*COLUMNS, "user"]), min_size=1, max_size=4, unique=True))
    inputs = []
    for name in names:
        datatype = draw(st.sampled_from(sorted(COLUMN_VALUES)))
        data = draw(st.lists(COLUMN_VALUES[datatype], min_size=n, max_size=n))
        inputs.append({"name": name, "datatype": datatype, "shape": draw(st.sampled_from([[n], [n, 1]])), "data": data})
    return inputs


@settings(max_examples=300, deadline=None)
@given(column_requests())
def test_v2_every_well_formed_column_request_takes_the_fast_path_with_the_checked_rows(inputs):
    fast = column_rows({"inputs": inputs}, COLUMNS, "user")
    assert fast is not None, "a well-formed column request must take the one-pass reading"
    _same_rows_as_checked(inputs, fast)


def _same_rows_as_checked(inputs, fast):
    checked = checked_infer(json.dumps({"inputs": inputs}).encode(), None, COLUMNS, "user")
    assert fast.rows == checked.parsed.rows
    assert [fast.field(0, "x"), fast.field(None, "x")] == [checked.parsed.field(0, "x"), checked.parsed.field(None, "x")]


def test_v2_the_fast_path_takes_the_common_request():
    inputs = [{"name": "x", "datatype": "FP64", "shape": [2], "data": [1.5, None]},
              {"name": "n", "datatype": "INT64", "shape": [2, 1], "data": [2, 0]},
              {"name": "user", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}]
    assert column_rows({"inputs": inputs}, COLUMNS, "user").rows == [{"x": 1.5, "n": 2, "user": "a"},
                                                                    {"x": None, "n": 0, "user": "b"}]
