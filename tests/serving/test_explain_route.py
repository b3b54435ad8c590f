"""POST {route}/explain, in process (no Ray; the real replica class and app, a real fitted pipeline): the
same token, body limits and 422s as /predict; contributions plus base value equal the model's output;
requests explained together in one batch get their own rows back; a request over the explainer's row
limit is refused naming `rows`; a model SHAP cannot explain is a 501 naming `model`."""
from __future__ import annotations

import asyncio
import hashlib

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

pytest.importorskip("shap")

from mlops.models.bundle import Bundle  # noqa: E402
from mlops.models.preprocessing import build_pipeline  # noqa: E402
from mlops.serving.endpoint_config import EndpointConfig  # noqa: E402
from mlops.serving.ingress import EndpointAPI  # noqa: E402
from mlops.serving.replica import Endpoint  # noqa: E402
from serving_settings import settings_for  # noqa: E402

ReplicaClass = Endpoint.__mro__[1]  # the class Serve's ingress decorator wraps: constructible without Serve
SCHEMA = [{"name": "a", "type": "number", "nullable": False}, {"name": "b", "type": "number", "nullable": False},
          {"name": "city", "type": "string", "nullable": False}]
AUTH = {"authorization": "Bearer t0ken"}
FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot"}


class Recorder:
    """Stands in for the Prometheus metrics (they need a running Ray): records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, *args))


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows),
                         "city": rng.choice(["paris", "lyon", "nice"], size=rows)})


def fitted(estimator, task: str = "classification") -> Bundle:
    X = frame(300)
    value = 3 * X["a"] - 0.2 * X["b"] + (X["city"] == "paris")
    y = np.where(value > 0, "yes", "no") if task == "classification" else value.to_numpy()
    return Bundle(build_pipeline(FEATURES, ["a", "b"], ["city"], estimator).fit(X, y),
                  {"task": task, "input_schema": SCHEMA, "target": "y"})


def replica(bundle: Bundle, **settings) -> ReplicaClass:
    config = EndpointConfig(settings_for("explained", fast_path=False, **settings), tracking_uri="sqlite://", version="1",
                            input_schema=SCHEMA, token_sha256=hashlib.sha256(b"t0ken").hexdigest())
    made = ReplicaClass(config)
    made._metrics = Recorder()
    made.serving = (bundle, None, "1")

    async def batch(rows):  # @serve.batch needs a Serve replica (the e2e test runs the real one): a batch of one
        return (await asyncio.to_thread(made.explain_requests, [rows]))[0]

    made._explain_batch = batch
    return made


@pytest.fixture(scope="module")
def forest() -> Bundle:
    from sklearn.ensemble import RandomForestClassifier

    return fitted(RandomForestClassifier(25, random_state=0))


def rows_of(data: pd.DataFrame) -> list[dict]:
    return data.to_dict(orient="records")


def test_contributions_add_up_to_the_probability_predict_answers(forest):
    served = replica(forest)
    data = frame(5, seed=3)
    with TestClient(EndpointAPI(served.config, served)) as client:
        explained = client.post("/explain", json={"rows": rows_of(data)}, headers=AUTH)
        predicted = client.post("/predict", json={"rows": rows_of(data)}, headers=AUTH).json()
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["method"] == "tree" and body["model_version"] == "1" and explained.headers["x-model-version"] == "1"
    assert [r["prediction"] for r in body["explanations"]] == predicted["predictions"]
    for i, row in enumerate(body["explanations"]):
        assert row["row"] == i
        assert {c["feature"] for c in row["contributions"]} == {"a", "b", "city"}  # one-hot columns summed back
        assert row["base_value"] + sum(c["contribution"] for c in row["contributions"]) == pytest.approx(row["output"])
        assert row["output"] == pytest.approx(max(predicted["probabilities"][i]), abs=1e-6)
        sizes = [abs(c["contribution"]) for c in row["contributions"]]
        assert sizes == sorted(sizes, reverse=True)
    # the decisive column drives most rows
    assert sum(r["contributions"][0]["feature"] == "a" for r in body["explanations"]) >= 4
    assert any(c[0] == "observe_explain" and c[2] == "1" for c in served.metrics.calls)


def test_top_keeps_the_largest_contributions_and_is_checked(forest):
    served = replica(forest)
    with TestClient(EndpointAPI(served.config, served)) as client:
        top = client.post("/explain?top=1", json={"rows": rows_of(frame(2))}, headers=AUTH).json()
        assert all(len(r["contributions"]) == 1 for r in top["explanations"])
        bad = client.post("/explain?top=0", json={"rows": rows_of(frame(2))}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "query.top"
        for query in ("top=x", "top=", "top=-1", "top=\u0663", "=false", "tops=3"):
            refused = client.post(f"/explain?{query}", json={"rows": rows_of(frame(2))}, headers=AUTH)
            assert refused.status_code == 422 and refused.json()["detail"][0]["field"].startswith("query."), query


def test_bad_requests_get_exactly_predicts_answers(forest):
    served = replica(forest, max_rows=3, max_request_bytes=2000)
    bodies = [({"rows": [{"a": "big", "b": 1, "city": "paris"}]}, {}),  # a bad value
              ({"rows": [{"a": 1, "city": "paris"}]}, {}),  # a missing column
              ({"rows": [{"a": 1, "b": 1, "city": "paris", "zzz": 2}]}, {}),  # an unknown column
              ({"rows": rows_of(frame(4))}, {}),  # over max_rows
              ({"rows": []}, {}),
              ({"nope": 1}, {})]
    with TestClient(EndpointAPI(served.config, served)) as client:
        for body, _ in bodies:
            explained = client.post("/explain", json=body, headers=AUTH)
            predicted = client.post("/predict", json=body, headers=AUTH)
            assert explained.status_code == predicted.status_code == 422, body
            assert explained.json() == predicted.json(), body
        for raw in (b"{", b"[1, 2]", b'{"rows": 5}'):
            not_json = client.post("/explain", content=raw, headers={**AUTH, "content-type": "application/json"})
            predicted = client.post("/predict", content=raw, headers={**AUTH, "content-type": "application/json"})
            assert not_json.status_code == predicted.status_code == 422, raw
            assert not_json.json()["detail"][0]["field"] == predicted.json()["detail"][0]["field"], (raw, not_json.json(), predicted.json())
        assert client.post("/explain", json={"rows": rows_of(frame(1))}).status_code == 401
        assert client.post("/explain", json={"rows": rows_of(frame(1))}, headers={"authorization": "Bearer nope"}).status_code == 401
        big = client.post("/explain", content=b"[" + b" " * 3000 + b"]", headers={**AUTH, "content-type": "application/json"})
        assert big.status_code == 413


def test_requests_explained_in_one_batch_get_their_own_rows(forest):
    served = replica(forest)
    first, second = frame(2, seed=5), frame(3, seed=6)
    from mlops.serving.live_versions import Routed

    pooled = served.explain_requests([Routed(first.values.tolist(), "1"), Routed(second.values.tolist(), "1")])
    alone = served.explain_requests([Routed(second.values.tolist(), "1")])
    assert [len(rows) for _, rows in pooled] == [2, 3]
    assert [r.row for r in pooled[1][1]] == [0, 1, 2]
    for together, single in zip(pooled[1][1], alone[0][1]):
        assert together.contributions == pytest.approx(single.contributions)


def test_concurrent_http_requests_are_all_answered(forest):
    served = replica(forest)
    body = {"rows": rows_of(frame(2))}

    async def many():
        from httpx import ASGITransport, AsyncClient

        async with AsyncClient(transport=ASGITransport(EndpointAPI(served.config, served)), base_url="http://t") as client:
            return await asyncio.gather(*(client.post("/explain", json=body, headers=AUTH) for _ in range(6)))

    answers = asyncio.run(many())
    assert all(a.status_code == 200 for a in answers)
    assert len({tuple(r["prediction"] for r in a.json()["explanations"]) for a in answers}) == 1


def test_over_the_row_limit_is_refused_naming_rows():
    from sklearn.svm import SVR

    served = replica(fitted(SVR(), "regression"), max_rows=1000)
    limit = served.explainer("1").row_limit()
    with TestClient(EndpointAPI(served.config, served)) as client:
        if limit < 1000:
            refused = client.post("/explain", json={"rows": rows_of(frame(limit + 1))}, headers=AUTH)
            assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "rows"
            assert f"at most {limit}" in refused.json()["detail"][0]["message"]
        fine = client.post("/explain", json={"rows": rows_of(frame(2))}, headers=AUTH).json()
    assert fine["method"] == "permutation"
    for row in fine["explanations"]:
        assert row["base_value"] + sum(c["contribution"] for c in row["contributions"]) == pytest.approx(row["output"], abs=1e-6)


def test_a_model_without_a_pipeline_is_a_501_naming_the_model():
    class Bare:
        def predict(self, X):
            return X["a"].to_numpy()

    served = replica(Bundle(Bare(), {"task": "regression", "input_schema": SCHEMA}))
    with TestClient(EndpointAPI(served.config, served)) as client:
        answer = client.post("/explain", json={"rows": rows_of(frame(1))}, headers=AUTH)
        assert answer.status_code == 501 and answer.json()["detail"][0]["field"] == "model"
        assert client.post("/predict", json={"rows": rows_of(frame(1))}, headers=AUTH).status_code == 200


def test_the_route_is_documented():
    from sklearn.linear_model import LogisticRegression

    served = replica(fitted(LogisticRegression()))
    with TestClient(EndpointAPI(served.config, served)) as client:
        schema = client.get("/openapi.json", headers=AUTH).json()
    operation = schema["paths"]["/explain"]["post"]
    assert {"200", "401", "411", "413", "422", "501"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"]] == ["top"]
