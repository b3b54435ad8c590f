"""The endpoint's HTTP face for every protocol, in process (no Ray): the same token check, size limits,
request model and replica call behind /predict, /invocations and /v2; and which columns take null."""
from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from feature_data import FEATURES, frame, run
from mlops.models.bundle import Bundle
from mlops.models.preprocessing import build_pipeline
from mlops.serving.endpoint_config import EndpointConfig
from serving_settings import settings_for
from mlops.serving.ingress import EndpointAPI
from mlops.serving.scoring import columns_taking_null

SCHEMA = [{"name": "x", "type": "number", "nullable": False}, {"name": "city", "type": "string", "nullable": True}]
AUTH = {"authorization": "Bearer t0ken"}
ROW = {"x": 1.5, "city": "rome"}


class FakeReplica:
    """Answers every row with class 1; remembers what it was asked, by route."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict]]] = []
        self.errors: list[str] = []

    async def answer(self, body, route="predict", headers=None):
        # A missing value reaches the model as NaN (the input contract's), shown here as None.
        rows = [{k: None if v != v else v for k, v in row.model_dump(by_alias=True).items()} for row in body.rows]
        self.calls.append((route, rows))
        answer = {"predictions": [1] * len(rows), "classes": [0, 1], "probabilities": [[0.25, 0.75]] * len(rows),
                  "model_version": "4", "request_id": "r" * 32}
        if any(row.get("key") is not None for row in rows):
            answer["ids"] = [row.get("key") for row in rows]
        return answer

    def count_error(self, kind):
        self.errors.append(kind)

    def readiness(self):
        return {"ready": True, "model_version": "4"}

    def metadata(self):
        return {"version": "4", "task": "classification", "classes": [0, 1]}


@pytest.fixture
def client():
    config = EndpointConfig(settings_for("shop"), tracking_uri="sqlite://", version="4", input_schema=SCHEMA,
                            id_column="key", takes_null=["x"], token_sha256=hashlib.sha256(b"t0ken").hexdigest())
    replica = FakeReplica()
    with TestClient(EndpointAPI(config, replica)) as test_client:
        test_client.replica = replica
        yield test_client


def test_every_route_takes_the_same_rows_and_echoes_the_id(client):
    rows = [{**ROW, "key": 7}, {"x": None, "city": None, "key": 8}]
    predict = client.post("/predict", json={"rows": rows}, headers=AUTH).json()
    invocations = client.post("/invocations", json={"dataframe_records": rows}, headers=AUTH).json()
    infer = client.post("/v2/models/shop/infer", headers=AUTH, json={"inputs": [
        {"name": "x", "datatype": "FP64", "shape": [2], "data": [1.5, None]},
        {"name": "city", "datatype": "BYTES", "shape": [2], "data": ["rome", None]},
        {"name": "key", "datatype": "INT64", "shape": [2], "data": [7, 8]}]}).json()
    assert [route for route, _ in client.replica.calls] == ["predict", "invocations", "infer"]
    assert all(seen == rows for _, seen in client.replica.calls)
    assert predict["ids"] == invocations["ids"] == [7, 8] and invocations["predictions"] == [1, 1]
    assert {o["name"]: o["data"] for o in infer["outputs"]} == {"predict": [1, 1], "proba": [0.25, 0.75] * 2, "key": [7, 8]}


def test_refusals_speak_each_protocol(client):
    bad = {"x": "abc", "city": 3}  # a category written as a number is its text: only x is refused
    predict = client.post("/predict", json={"rows": [bad]}, headers=AUTH)
    invocations = client.post("/invocations", json={"dataframe_records": [bad]}, headers=AUTH)
    infer = client.post("/v2/models/shop/infer", headers=AUTH, json={"inputs": [
        {"name": "x", "datatype": "BYTES", "shape": [1], "data": ["abc"]}, {"name": "city", "datatype": "INT64", "shape": [1], "data": [3]}]})
    assert predict.status_code == invocations.status_code == infer.status_code == 422
    message = "value 'abc' is not a number"  # the input contract's words, on every route
    assert predict.json()["detail"] == [{"field": "rows.0.x", "message": message}]
    assert invocations.json()["detail"] == [{"field": "dataframe_records.0.x", "message": message}]
    assert invocations.json()["error_code"] == "BAD_REQUEST"
    assert infer.json()["error"] == f"inputs.x.data.0: {message}"
    assert client.replica.errors == ["validation"] * 3 and client.replica.calls == []


def test_token_size_limits_and_unknown_models_in_the_protocols_own_format(client):
    assert client.post("/invocations", json={"inputs": [ROW]}).status_code == 401
    unauthorized = client.post("/v2/models/shop/infer", json={"inputs": []})
    assert unauthorized.status_code == 401 and "error" in unauthorized.json()
    assert client.get("/v2/models/shop").status_code == 401  # metadata behind the token, as /metadata
    too_big = client.post("/v2/models/shop/infer", content=b"x" * 2_000_000, headers=AUTH)
    assert too_big.status_code == 413 and "max_request_bytes" in too_big.json()["error"]
    missing = client.post("/v2/models/other/infer", json={"inputs": []}, headers=AUTH)
    assert missing.status_code == 404 and "'shop'" in missing.json()["error"]
    assert client.get("/v2/models/shop/versions/9", headers=AUTH).status_code == 404


def test_v2_health_and_metadata(client):
    assert client.get("/v2/health/live").status_code == 200 and client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/shop/ready", headers=AUTH).json() == {"name": "shop", "ready": True}
    meta = client.get("/v2/models/shop", headers=AUTH).json()
    assert meta["inputs"] == [{"name": "x", "datatype": "FP64", "shape": [-1]}, {"name": "city", "datatype": "BYTES", "shape": [-1]}]
    assert meta["versions"] == ["4"] and [o["name"] for o in meta["outputs"]] == ["predict", "proba"]
    openapi = client.get("/openapi.json", headers=AUTH).json()
    assert {"/invocations", "/v2/models/{model_name}/infer", "/v2/health/ready"} <= set(openapi["paths"])
    row = openapi["components"]["schemas"]["Row"]["properties"]
    assert "key" in row and "imputation" in row["x"]["description"]


def fitted(estimator, **features) -> Bundle:
    data = frame(120)
    feature_set = run(data, **features)
    pipeline = build_pipeline({**FEATURES, **features}, feature_set.numeric, feature_set.categorical, estimator)
    pipeline.fit(data[feature_set.raw_inputs], data["y"])
    return Bundle(pipeline, {"task": "classification", "input_schema": feature_set.input_schema})


def test_null_is_taken_where_the_pipeline_imputes():
    imputed = fitted(RandomForestClassifier(n_estimators=5, random_state=0))
    assert columns_taking_null(imputed) == imputed.input_columns
    unimputed = fitted(LogisticRegression(), impute={"numeric": "none", "categorical": "most_frequent"})
    taken = columns_taking_null(unimputed)
    assert "city" in taken and "x" not in taken and "n" not in taken
