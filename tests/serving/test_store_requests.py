"""Requests filled from the online store (serving.online.features_from_store), in process (no Ray): the
request schema (store-supplied fields optional, entity keys and the target column accepted), the replica's
the replica's batch filling rows by key on every route, and the 404/422 each protocol answers for a key the
store cannot serve or a row without one."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from mlops.errors import MlopsError, SpecError
from mlops.feature_store.online_store import OnlineStore
from mlops.serving.deploy import check_online_store
from mlops.serving.endpoint_config import EndpointConfig
from serving_settings import settings_for
from mlops.serving.ingress import EndpointAPI
from mlops.serving.replica import Endpoint

SCHEMA = [{"name": "sessions", "type": "number", "nullable": False}, {"name": "plan", "type": "string", "nullable": False},
          {"name": "tenure", "type": "number", "nullable": False}]
VIEWS = [{"name": "activity", "key": "customer_id", "features": ["sessions", "plan"], "ttl_s": 3600.0,
          "defaults": {"sessions": 0, "plan": "none"}},
         {"name": "profile", "key": "customer_id", "features": ["tenure", "region"], "ttl_s": None, "defaults": {}}]
HOUR_NS = 3600 * 10**9

ReplicaClass = Endpoint.__mro__[1]  # the class Serve's ingress decorator wraps: constructible without Serve


class NoMetrics:
    """Ray's metrics need a running Ray: counted nowhere here."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class RecordingReplica(ReplicaClass):
    """The real replica (request_rows, answer, the store fill, error counting) over a model that echoes its input rows."""

    def __init__(self, config):
        super().__init__(config)
        self._metrics, self.seen, self.errors = NoMetrics(), [], []

    def count_error(self, kind, version=None):
        self.errors.append(kind)

    def _score_rows(self, requests, version=None):  # the model call, after the store filled the rows
        self.seen.extend(requests)
        return [(list(range(len(rows))), None, "1", None, rows, None) for rows in requests]


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "online.db"
    store = OnlineStore(path)
    now = time.time_ns()
    store.write("activity", [("1", now - HOUR_NS // 2, {"sessions": 5, "plan": "pro"}),
                             ("2", now - 2 * HOUR_NS, {"sessions": 9, "plan": "basic"})])  # 2: older than the TTL
    store.write("profile", [("1", now - 100 * HOUR_NS, {"tenure": 12}), ("2", now, {"tenure": 3}),
                            ("3", now, {"tenure": 7})])
    store.close()
    return path


def client_for(config: EndpointConfig) -> TestClient:
    replica = RecordingReplica(config)
    client = TestClient(EndpointAPI(config, replica))
    client.replica = replica
    return client


@pytest.fixture
def client(store_path):
    config = EndpointConfig(settings_for("churn", feature_views=VIEWS), tracking_uri="sqlite://", version="1",
                            input_schema=SCHEMA, target_column="churned", online_store=str(store_path))
    with client_for(config) as test_client:
        yield test_client


def test_a_request_with_only_the_key_is_filled_from_the_store_on_every_route(client):
    assert client.post("/predict", json={"rows": [{"customer_id": 1}]}).status_code == 200
    assert client.post("/invocations", json={"dataframe_split": {"columns": ["customer_id"], "data": [[1]]}}).status_code == 200
    assert client.post("/invocations", content=b"customer_id,churned\n1,true\n",
                       headers={"content-type": "text/csv"}).status_code == 200
    infer = client.post("/v2/models/churn/infer", json={"inputs": [
        {"name": "customer_id", "datatype": "INT64", "shape": [1], "data": [1]}]})
    assert infer.status_code == 200, infer.text
    assert client.replica.seen == [[[5, "pro", 12]]] * 4  # the model's column order


def test_v2_model_metadata_lists_the_entity_key_beside_the_features(store_path):
    from mlops.serving.open_inference import model_metadata

    config = EndpointConfig(settings_for("churn", feature_views=VIEWS), tracking_uri="sqlite://", version="1",
                            input_schema=SCHEMA, online_store=str(store_path))
    meta = model_metadata("churn", "1", SCHEMA, "classification", [0, 1], config.entity_keys)
    assert [t["name"] for t in meta["inputs"]] == [c["name"] for c in SCHEMA] + ["customer_id"]


def test_values_sent_win_stale_values_are_missing_and_take_the_defaults(client):
    response = client.post("/predict", json={"rows": [{"customer_id": 1, "sessions": 2.0}, {"customer_id": 2},
                                                      {"customer_id": "3", "tenure": 1.0}, {"sessions": 1.0, "plan": "x", "tenure": 4.0},
                                                      {"customer_id": 42, "tenure": 5.0}]})
    assert response.status_code == 200, response.text
    # 2's activity is older than the TTL: missing, so the view's defaults; 3 has no activity row: defaults too;
    # a row that sends every feature needs no key; 42 has no profile row, but sends the one profile feature the
    # model takes (region is a view feature the model does not take: never looked up).
    assert client.replica.seen == [[[2.0, "pro", 12], [0, "none", 3], [0, "none", 1.0], [1.0, "x", 4.0], [0, "none", 5.0]]]


def test_a_key_the_store_cannot_serve_is_a_404_naming_it_in_each_protocol(client):
    predict = client.post("/predict", json={"rows": [{"customer_id": 1}, {"customer_id": 42}]})
    assert predict.status_code == 404
    (detail,) = predict.json()["detail"]
    assert detail["field"] == "rows.1.customer_id"
    assert detail["message"].startswith("customer_id=42: no row in feature view 'profile'")
    invocations = client.post("/invocations", json={"dataframe_records": [{"customer_id": 42}]})
    assert invocations.status_code == 404 and invocations.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert invocations.json()["detail"][0]["field"] == "dataframe_records.0.customer_id"
    infer = client.post("/v2/models/churn/infer", json={"inputs": [
        {"name": "customer_id", "datatype": "INT64", "shape": [1], "data": [42]}]})
    assert infer.status_code == 404 and infer.json()["error"].startswith("inputs.customer_id.data.0: customer_id=42")
    assert client.replica.seen == [] and client.replica.errors == ["validation"] * 3


def test_one_batch_is_filled_together_and_a_key_the_store_cannot_serve_refuses_only_its_request(client):
    replica = client.replica
    names = replica.row_fields  # what request_rows hands the batch: every field, in the row model's order
    row = lambda **fields: [fields.get(name) for name in names]  # noqa: E731
    outcomes = replica._score([[row(customer_id=1)], [row(customer_id=1), row(customer_id=42)], [row(customer_id=3, tenure=2.0)]])
    assert outcomes[0][4] == [[5, "pro", 12]] and outcomes[2][4] == [[0, "none", 2.0]]
    assert outcomes[1].status == 404 and outcomes[1].field == "rows.1.customer_id"
    assert replica.seen == [[[5, "pro", 12]], [[0, "none", 2.0]]]  # the model scores the others, not the refused one


def test_a_row_without_the_key_or_the_features_is_a_422_naming_the_key(client):
    response = client.post("/predict", json={"rows": [{"sessions": 1.0}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "rows.0.customer_id"
    assert "'customer_id' is missing" in response.json()["detail"][0]["message"]
    wrong = client.post("/predict", json={"rows": [{"customer_id": 1.5}]})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"].startswith("rows.0.customer_id")


def test_the_schema_shows_what_the_store_supplies_and_documents_the_404(client):
    openapi = client.get("/openapi.json").json()
    row = openapi["components"]["schemas"]["Row"]
    assert "required" not in row  # every feature can come from the store
    assert "online store supplies it" in row["properties"]["sessions"]["description"]
    assert "entity key" in row["properties"]["customer_id"]["description"]
    assert "ignored (the label" in row["properties"]["churned"]["description"]
    for path in ("/predict", "/invocations", "/v2/models/{model_name}/infer"):
        assert "online store" in openapi["paths"][path]["post"]["responses"]["404"]["description"]


def test_the_target_column_is_accepted_and_ignored_on_every_route(tmp_path):
    config = EndpointConfig(settings_for("churn"), tracking_uri="sqlite://", version="1", input_schema=SCHEMA,
                            target_column="churned")
    row = {"sessions": 1.0, "plan": "pro", "tenure": 2.0}
    with client_for(config) as client:
        assert client.post("/predict", json={"rows": [{**row, "churned": True}]}).status_code == 200
        assert client.post("/invocations", json={"dataframe_records": [{**row, "churned": 1}]}).status_code == 200
        csv = b"sessions,plan,tenure,churned\n1,pro,2,True\n"
        assert client.post("/invocations", content=csv, headers={"content-type": "text/csv"}).status_code == 200
        tensors = [{"name": k, "datatype": "BYTES" if k == "plan" else "FP64", "shape": [1], "data": [v]} for k, v in row.items()]
        infer = client.post("/v2/models/churn/infer", json={"inputs": [
            *tensors, {"name": "churned", "datatype": "BOOL", "shape": [1], "data": [False]}]})
        assert infer.status_code == 200, infer.text
        assert client.replica.seen == [[[1.0, "pro", 2.0]]] * 4
        refused = client.post("/predict", json={"rows": [{**row, "label": 1}]})  # only the target's own name
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "rows.0.label"
        openapi = client.get("/openapi.json").json()
        assert "404" not in openapi["paths"]["/predict"]["post"]["responses"]  # no store: no 404 from /predict


def test_a_store_never_materialized_is_refused_naming_the_command(tmp_path):
    with pytest.raises(SpecError, match="mlops features materialize SPEC"):
        check_online_store(str(tmp_path / "none.db"))
    config = EndpointConfig(settings_for("churn", feature_views=VIEWS), tracking_uri="sqlite://", version="1",
                            input_schema=SCHEMA, online_store=str(tmp_path / "none.db"))
    with pytest.raises(MlopsError, match="mlops features materialize SPEC"):
        ReplicaClass(config)
