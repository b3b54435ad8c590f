"""The replica's own paths, in process (no Ray; the real replica class, a real model object): a model that
fails on its own is a 500 for its request only, concurrent requests share model calls while a lone one is
answered at once, and a version that does not load is counted and refused while the old one serves."""
from __future__ import annotations

import asyncio
import hashlib
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlops.models.bundle import Bundle
from mlops.serving.endpoint_config import EndpointConfig
from mlops.spec.serving import Batching
from serving_settings import settings_for
from mlops.serving.ingress import EndpointAPI
from mlops.serving.replica import Endpoint
from mlops.serving.scoring import RowRefused

ReplicaClass = Endpoint.__mro__[1]  # the class Serve's ingress decorator wraps: constructible without Serve
SCHEMA = [{"name": "x", "type": "number", "nullable": False}]
AUTH = {"authorization": "Bearer t0ken"}


class Picky:
    """Doubles x; x == 13 breaks the model itself (a 500), x < 0 is input it cannot take (a 422)."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, X: pd.DataFrame):
        self.calls += 1
        if (X["x"] == 13).any():
            raise RuntimeError("the model's own failure")
        if (X["x"] < 0).any():
            raise ValueError("x must be >= 0")
        return (X["x"] * 2).to_numpy()


class Recorder:
    """Stands in for the Prometheus metrics (they need a running Ray): records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, *args))


def replica(wait_ms: float = 5, tracking_uri: str = "sqlite://") -> ReplicaClass:
    config = EndpointConfig(settings_for("pick", fast_path=False, batching=Batching(wait_ms=wait_ms)), tracking_uri=tracking_uri,
                            version="1", input_schema=SCHEMA, token_sha256=hashlib.sha256(b"t0ken").hexdigest())
    made = ReplicaClass(config)
    made._metrics = Recorder()
    made.serving = (Bundle(Picky(), {"task": "regression", "input_schema": SCHEMA}), None, "1")
    return made


def test_in_one_batch_a_model_failure_is_that_requests_500_and_bad_input_its_422():
    served = replica()
    outcomes = served._score_rows([[[1.0]], [[13.0]], [[2.0], [-1.0]], [[3.0]]])
    assert served.bundle.model.calls == 1 + 4 + 2  # one call for the batch; then request by request; then row by row
    assert outcomes[0][0].tolist() == [2.0] and outcomes[3][0].tolist() == [6.0]
    assert isinstance(outcomes[1], RuntimeError)                         # the model, not the input: a 500
    assert isinstance(outcomes[2], RowRefused) and outcomes[2].field == "rows.1"  # the row the model refuses


def test_over_http_the_model_failure_is_a_500_counted_and_the_replica_keeps_serving():
    served = replica()
    with TestClient(EndpointAPI(served.config, served)) as client:
        broken = client.post("/predict", json={"rows": [{"x": 13}]}, headers=AUTH)
        assert broken.status_code == 500 and broken.json() == {"detail": "prediction failed: RuntimeError"}
        refused = client.post("/predict", json={"rows": [{"x": -1}]}, headers=AUTH)
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "rows.0"
        assert client.post("/predict", json={"rows": [{"x": 4}]}, headers=AUTH).json()["predictions"] == [8.0]
    assert ("error", "internal") in served.metrics.calls and ("error", "validation") in served.metrics.calls


def test_concurrent_requests_go_to_the_batch_and_a_lone_request_does_not_wait_for_company():
    """The adaptive choice: alone, a request is scored at once (no batch window waited out); with company,
    each request goes to the batch (Serve's @serve.batch needs a Serve replica, so the batch is stood in for
    by one that scores what it is given)."""
    served = replica(wait_ms=300)
    batched: list[int] = []

    async def batch(rows):  # what @serve.batch would do with these rows, counted
        batched.append(len(rows))
        return served._score([rows])[0]

    served._predict_batch = batch

    async def lone():
        start = time.perf_counter()
        await served._predict([[1.0]])
        return time.perf_counter() - start

    assert asyncio.run(lone()) < 0.15 and batched == []  # scored at once; the 300 ms window was not waited

    async def together():
        return await asyncio.gather(*(served._predict([[float(i)]]) for i in range(12)))

    answers = asyncio.run(together())
    assert [a[0].tolist() for a in answers] == [[2.0 * i] for i in range(12)]
    assert len(batched) >= 11, f"only {len(batched)} of 12 concurrent requests went to the batch"


def test_a_version_that_does_not_load_is_counted_and_the_old_one_keeps_serving(tmp_path):
    served = replica(tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}")  # no version 2 there
    served.reconfigure({"version": "2"})
    assert served.version == "1" and served.swap_error["version"] == "2"
    assert ("swap_failed", "2") in served.metrics.calls
    assert served.readiness()["refused_version"] == "2"
    served.reconfigure({"version": "1"})  # asked for what it serves: the refusal clears
    assert served.swap_error is None


def test_a_replica_with_nothing_to_serve_fails_its_first_load(tmp_path):
    served = replica(tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}")
    served.serving = (None, None, None)
    with pytest.raises(Exception):
        served.reconfigure({"version": "1"})


def test_a_routing_table_splits_requests_sticky_per_header_on_every_protocol():
    """Two live versions (an a/b table, sticky by a header): each caller gets one version on /predict,
    /invocations and /v2 infer alike, and every answer names it, in the body and the X-Model-Version header."""
    from mlops.serving.traffic_split import Router, Routing

    served = replica()
    bundle = served.bundle
    served.loaded = {"1": (bundle, None), "2": (bundle, None)}
    served.router = Router(Routing("1", {"1": 50, "2": 50}, sticky_header="x-user", epoch=3, at=1.0), {"1", "2"})
    seen: dict[str, set] = {}
    with TestClient(EndpointAPI(served.config, served)) as client:
        for user in range(12):
            headers = {**AUTH, "x-user": f"u{user}"}
            answers = [client.post("/predict", json={"rows": [{"x": 1}]}, headers=headers),
                       client.post("/invocations", json={"dataframe_records": [{"x": 1}]}, headers=headers),
                       client.post("/v2/models/pick/infer", headers=headers, json={"inputs": [
                           {"name": "x", "datatype": "FP64", "shape": [1], "data": [1.0]}]})]
            for answer in answers:
                assert answer.status_code == 200 and answer.headers["x-model-version"] == answer.json()["model_version"]
                seen.setdefault(f"u{user}", set()).add(answer.json()["model_version"])
    assert all(len(versions) == 1 for versions in seen.values()) and set().union(*seen.values()) == {"1", "2"}
    assert {v for (epoch, v) in served.vdelta.entries} == {"1", "2"}  # counted per version, under the table's epoch


class OnMonitor:
    """Stands in for the Serve handle on the monitor deployment: `routing.remote()` awaits the real Monitor's method."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor

    @property
    def routing(self):
        async def call():
            return self.monitor.routing()

        return type("Method", (), {"remote": staticmethod(call)})


def test_the_plain_deploy_that_ends_a_rollout_never_sends_a_replica_back_to_the_replaced_version():
    """A finished rollout deploys its winner plain; Serve reconfigures the monitor and the replicas in no set
    order. A replica polling between the two (monitor done, replica not yet) keeps the winner, not the version
    its own, older user_config names (once seen in CI: answers from the replaced version after the finish)."""
    from mlops.serving.traffic_monitor import Monitor
    from mlops.serving.traffic_split import Routing

    served = replica()
    served.reconfigure({"version": "1"})  # as `mlops apply` deployed it
    served.loaded = {**served.loaded, "2": (served.bundle, None)}
    monitor = Monitor(served.config)
    monitor.reconfigure({"version": "1"})
    served.monitor = OnMonitor(monitor)

    def poll() -> str:
        asyncio.run(served._poll_once())
        return served.version

    monitor.set_routing({**Routing("2", {"2": 100.0}, mode="bake", epoch=4).to_dict(), "at": 100.0})
    assert poll() == "2"
    monitor.set_routing({**Routing.single("2").to_dict(), "at": 101.0})  # the rollout's end, as a table first
    assert poll() == "2"
    monitor.reconfigure({"version": "2"})  # the plain deploy reaches the monitor first
    assert poll() == "2" and monitor.routing()["champion"] == "2" and monitor.routing()["at"] > 101.0
    served.reconfigure({"version": "2"})  # then the replica
    assert poll() == "2" and served.version == "2"
    restarted = Monitor(served.config)  # a monitor restarted after the rollout: no table, the replica's own config
    restarted.reconfigure({"version": "2"})
    served.monitor = OnMonitor(restarted)
    assert restarted.routing() is None and poll() == "2"
