"""The endpoint's protocols with clients nobody here wrote: MLflow's scoring client against /invocations,
tritonclient against the Open Inference Protocol (V2) routes; and one input contract with batch scoring:
the CSV batch scores (id column, missing values) is taken online too. One deployment, with token auth."""
from __future__ import annotations

import os
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from conftest import delete_app, SERVE_PORT, wait_ready
from mlops import api

pytestmark = pytest.mark.slow

TOKEN = "protocols-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}  # passed as copies: tritonclient adds its own headers to the dict
COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
SPEC = """\
name: flowers
defaults:
  - hardware: local_cpu
  - _self_
data:
  source: {type: csv, path: flowers.csv}
  target: species
  id_column: flower_id
  split: {method: stratified, test_size: 0.2, seed: 42}
features:
  impute: {numeric: median}
  scale: standard
model:
  task: classification
  type: sklearn
  estimator: random_forest
  params: {n_estimators: 20, max_depth: 4, random_state: 0}
  metric: f1_macro
serving:
  mode: both
  batch: {input: flowers.csv, output: out/scored.csv}
  online:
    route: /flowers
    port: PORT
    auth: {token_env: MLOPS_PROTOCOLS_TOKEN}
tracking:
  uri: URI
"""


@pytest.fixture(scope="module")
def endpoint(ray_local, tmp_path_factory):
    """Iris with string classes and an id column, from a CSV that batch scoring also reads; deployed once."""
    root = tmp_path_factory.mktemp("protocols")
    iris = load_iris(as_frame=True)
    flowers = iris.frame.drop(columns="target")
    flowers.columns = COLUMNS
    flowers.insert(0, "flower_id", [f"f{i:03d}" for i in range(len(flowers))])
    flowers["species"] = iris.target_names[iris.target]
    flowers.to_csv(root / "flowers.csv", index=False)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    (root / "spec.yaml").write_text(SPEC.replace("PORT", str(SERVE_PORT)).replace("URI", uri))
    os.environ["MLOPS_PROTOCOLS_TOKEN"] = TOKEN
    result = api.apply(root / "spec.yaml", [])
    url = f"http://127.0.0.1:{SERVE_PORT}/flowers"
    wait_ready(url)
    yield {"url": url, "uri": uri, "frame": flowers, "version": result.endpoint.version,
           "bundle": api.load_model("flowers", uri=uri), "scored": pd.read_csv(root / "out" / "scored.csv")}
    delete_app("flowers")


@pytest.fixture
def mlflow_client(endpoint, monkeypatch):
    """MLflow's own scoring client (`mlflow.pyfunc.scoring_server.client`). It has no way to pass headers, so
    the bearer token is added to the `requests.post` it calls; its request and answer handling stay its own."""
    import requests
    from mlflow.pyfunc.scoring_server import client as scoring_client

    def post(url, **kwargs):
        return requests.post(url, **{**kwargs, "headers": {**kwargs.get("headers", {}), **AUTH}})

    monkeypatch.setattr(scoring_client, "requests", type("WithToken", (), {"post": staticmethod(post)}))
    host, _, route = endpoint["url"].removeprefix("http://").partition("/")
    address, port = host.split(":")
    return scoring_client.ScoringServerClient(address, f"{port}/{route}")  # url_prefix is http://host:port


@pytest.fixture
def triton(endpoint):
    """tritonclient's HTTP client on the endpoint's route (it takes a base path after host:port)."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=endpoint["url"].removeprefix("http://"))
    yield client
    client.close()


def expected(endpoint, frame: pd.DataFrame) -> list:
    return endpoint["bundle"].predict(frame[COLUMNS]).tolist()


def labels(tensor: np.ndarray) -> list[str]:
    """A BYTES output as text (the endpoint answers JSON tensors, which tritonclient gives as str)."""
    return [v.decode() if isinstance(v, bytes) else v for v in tensor.tolist()]


def test_mlflow_scoring_client_on_invocations(endpoint, mlflow_client):
    rows = endpoint["frame"].sample(20, random_state=1)
    answer = mlflow_client.invoke(rows[COLUMNS])  # posts {"dataframe_split": ...} as MLflow's client does
    assert answer.get_predictions(predictions_format="ndarray").tolist() == expected(endpoint, rows)
    with pytest.raises(Exception, match=r"422.*dataframe_split\.data\.0\.petal_width_cm"):
        mlflow_client.invoke(rows[COLUMNS].head(1).assign(petal_width_cm="wide"))


def test_csv_that_batch_scores_is_taken_online_with_ids_and_missing_values(endpoint):
    """The batch input CSV as it is (its id column, a missing value, its target column, which every route
    accepts and ignores) on /invocations: what batch scoring answered for the same rows."""
    frame = endpoint["frame"].head(12).copy()
    frame.loc[3, "sepal_width_cm"] = np.nan  # no missing values in training, but the pipeline imputes
    assert "species" in frame.columns  # data.target: ignored online, as batch scoring ignores it
    response = httpx.post(f"{endpoint['url']}/invocations", content=frame.to_csv(index=False),
                          headers={**AUTH, "content-type": "text/csv"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ids"] == frame["flower_id"].tolist() and body["predictions"] == expected(endpoint, frame)
    scored = endpoint["scored"].set_index("flower_id").loc[frame["flower_id"].drop(3), "prediction"].tolist()
    assert [p for i, p in enumerate(body["predictions"]) if i != 3] == scored
    refused = httpx.post(f"{endpoint['url']}/invocations", content=b"sepal_length_cm,sepal_width_cm\n5.1,x\n",
                         headers={**AUTH, "content-type": "text/csv"})
    assert refused.status_code == 422 and {"csv.0.sepal_width_cm", "csv.0.petal_length_cm"} <= {
        d["field"] for d in refused.json()["detail"]}


def test_predict_takes_the_id_column_and_nulls_where_imputed(endpoint):
    row = {"flower_id": "f-new", "sepal_length_cm": 5.9, "sepal_width_cm": None, "petal_length_cm": 5.1, "petal_width_cm": 1.8}
    response = httpx.post(f"{endpoint['url']}/predict", json={"rows": [row]}, headers=dict(AUTH))
    assert response.status_code == 200, response.text
    assert response.json()["ids"] == ["f-new"]
    labelled = httpx.post(f"{endpoint['url']}/predict", json={"rows": [{**row, "species": "virginica"}]}, headers=dict(AUTH))
    assert labelled.status_code == 200 and labelled.json()["predictions"] == response.json()["predictions"], labelled.text
    too_big = httpx.post(f"{endpoint['url']}/predict", json={"rows": [{**row, "sepal_length_cm": 1e300}]}, headers=dict(AUTH))
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["field"] == "rows.0.sepal_length_cm"
    assert httpx.post(f"{endpoint['url']}/invocations", json={"inputs": [row]}).status_code == 401


def test_tritonclient_named_tensors_binary_and_json(endpoint, triton):
    import tritonclient.http as httpclient

    assert triton.is_server_live() and triton.is_server_ready()  # the probes' routes: open
    assert triton.is_model_ready("flowers", headers=dict(AUTH)) and not triton.is_model_ready("flowers")  # names the model
    meta = triton.get_model_metadata("flowers", headers=dict(AUTH))
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [(c, "FP64") for c in COLUMNS]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [("predict", "BYTES"), ("proba", "FP64")]
    rows = endpoint["frame"].sample(16, random_state=2)
    for binary in (True, False):  # Triton's default is the binary tensor extension
        inputs = []
        for column in COLUMNS:
            tensor = httpclient.InferInput(column, [len(rows)], "FP64")
            tensor.set_data_from_numpy(rows[column].to_numpy(dtype=np.float64), binary_data=binary)
            inputs.append(tensor)
        ids = httpclient.InferInput("flower_id", [len(rows)], "BYTES")
        ids.set_data_from_numpy(rows["flower_id"].to_numpy(dtype=object), binary_data=binary)
        result = triton.infer("flowers", [*inputs, ids], headers=dict(AUTH))
        assert labels(result.as_numpy("predict")) == expected(endpoint, rows)
        proba = endpoint["bundle"].predict_proba(rows[COLUMNS])
        assert np.array_equal(result.as_numpy("proba"), proba)  # bit for bit: the same model call
        assert result.as_numpy("flower_id").tolist() == rows["flower_id"].tolist()


def test_tritonclient_one_matrix_and_errors_naming_the_field(endpoint, triton):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    rows = endpoint["frame"].head(5)
    matrix = httpclient.InferInput("input__0", [5, 4], "FP64")
    matrix.set_data_from_numpy(rows[COLUMNS].to_numpy(dtype=np.float64))
    result = triton.infer("flowers", [matrix], outputs=[httpclient.InferRequestedOutput("predict")], headers=dict(AUTH))
    assert labels(result.as_numpy("predict")) == expected(endpoint, rows)
    assert result.as_numpy("proba") is None  # only the output asked for
    wrong = httpclient.InferInput("petal_colour", [5], "BYTES")
    wrong.set_data_from_numpy(np.array(["red"] * 5, dtype=object))
    with pytest.raises(InferenceServerException, match="inputs.petal_colour") as caught:
        triton.infer("flowers", [matrix, wrong], headers=dict(AUTH))
    assert caught.value.status() == "422"
    with pytest.raises(InferenceServerException, match="token"):
        triton.infer("flowers", [matrix])
    with pytest.raises(InferenceServerException, match="not served here"):
        triton.infer("iris", [matrix], headers=dict(AUTH))


def test_every_route_feeds_the_monitor(endpoint):
    """Requests of all three protocols reach the same replica path: counted in /stats by the monitor."""
    row = {c: 5.0 for c in COLUMNS}
    for _ in range(3):
        assert httpx.post(f"{endpoint['url']}/invocations", json={"dataframe_records": [row]}, headers=dict(AUTH)).status_code == 200
        assert httpx.post(f"{endpoint['url']}/v2/models/flowers/infer", headers=AUTH, json={"inputs": [
            {"name": c, "datatype": "FP64", "shape": [1], "data": [5.0]} for c in COLUMNS]}).status_code == 200
    deadline, stats = time.time() + 30, {}
    while time.time() < deadline:
        stats = httpx.get(f"{endpoint['url']}/stats", headers=dict(AUTH)).json()
        if stats["requests"] >= 6:
            break
        time.sleep(1)
    assert stats["requests"] >= 6 and stats["version"] == endpoint["version"]


def test_with_auth_on_a_stranger_learns_no_more_than_a_401(endpoint):
    """Without the token every route but the probes' is a 401 that names nothing: V2 readiness and metadata
    of any model name, V2 server metadata, the API description, a path that does not exist. With the
    token, a model name it does not serve is a 404 naming the one it does."""
    from importlib.metadata import version

    url = endpoint["url"]
    for method, path in (("GET", "/v2/models/nope/ready"), ("GET", "/v2/models/flowers/ready"), ("GET", "/v2/models/nope"),
                         ("GET", "/v2/models/nope/versions/1/ready"), ("GET", "/v2"), ("GET", "/metadata"),
                         ("GET", "/openapi.json"), ("GET", "/no/such/path"), ("POST", "/v2/models/nope/infer"),
                         ("DELETE", "/predict")):
        response = httpx.request(method, f"{url}{path}")
        assert response.status_code == 401, (path, response.status_code, response.text)
        text = response.text
        assert "flowers" not in text and endpoint["version"] not in text and version("mlops") not in text, (path, text)
    for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"):  # open for probes
        assert httpx.get(f"{url}{path}").status_code == 200, path
    authorized = httpx.get(f"{url}/v2/models/nope/ready", headers=dict(AUTH))
    assert authorized.status_code == 404 and "'flowers'" in authorized.json()["error"]
