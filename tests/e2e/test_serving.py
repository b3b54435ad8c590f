"""Online serving on a real local Ray Serve, over real HTTP on loopback."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from mlops import api

pytestmark = pytest.mark.slow

COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


from conftest import delete_app, scrape_metric_names, wait_ready  # noqa: E402
from conftest import SERVE_PORT as PORT  # noqa: E402  (one port per Ray instance, see conftest)


def iris_rows(n: int = 30) -> list[dict]:
    frame = load_iris(as_frame=True).frame.sample(n, random_state=3)
    frame.columns = COLUMNS + ["target"]
    return frame[COLUMNS].to_dict(orient="records")


@pytest.fixture(scope="module")
def endpoint(ray_local, tmp_path_factory):
    """iris trained, registered and deployed online (mode: both) on the session's Ray."""
    import shutil

    from conftest import EXAMPLES

    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(EXAMPLES / "iris", root / "iris", ignore=shutil.ignore_patterns("out"))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = root / "iris" / "online.yaml"
    # Open (`auth: none`) so that the tests below need no header; test_token_auth covers the default token.
    overrides = [f"tracking.uri={uri}", f"serving.online.port={PORT}", "serving.online.auth=none", "serving.online.route=/iris"]
    result = api.apply(spec, overrides)
    assert result.endpoint is not None and result.endpoint.version == "1"
    url = f"http://127.0.0.1:{PORT}/iris"
    wait_ready(url)
    yield {"url": url, "uri": uri, "spec": spec, "overrides": overrides}
    delete_app("iris")


def test_predictions_equal_the_registered_model(endpoint):
    rows = iris_rows(30)
    response = httpx.post(f"{endpoint['url']}/predict", json={"rows": rows}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    bundle = api.load_model("iris", uri=endpoint["uri"])
    frame = pd.DataFrame(rows)[bundle.input_columns]
    assert body["predictions"] == bundle.predict(frame).tolist()
    # Exactly equal: the forest is served through mlops' fast path, which must be bit-identical.
    assert body["probabilities"] == bundle.predict_proba(frame).tolist()
    assert body["classes"] == [0, 1, 2] and body["model_version"] == "1" and len(body["request_id"]) == 32


def _post(url: str, payload, **kw) -> httpx.Response:
    content = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return httpx.post(f"{url}/predict", content=content, headers={"content-type": "application/json", **kw.pop("headers", {})},
                      timeout=10, **kw)


GOOD = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
MALFORMED = [
    ("missing field", {"rows": [{k: v for k, v in GOOD.items() if k != "petal_width_cm"}]}, "rows.0.petal_width_cm"),
    ("extra field", {"rows": [{**GOOD, "colour": "red"}]}, "rows.0.colour"),
    ("wrong type", {"rows": [{**GOOD, "sepal_width_cm": "wide"}]}, "rows.0.sepal_width_cm"),
    ("numeric string", {"rows": [{**GOOD, "sepal_width_cm": "3.5"}]}, "rows.0.sepal_width_cm"),
    # null where the pipeline imputes (iris: median) is served: tests/e2e/test_serving_protocols.py
    ("empty rows", {"rows": []}, "rows"),
    ("no rows key", {"data": [GOOD]}, "rows"),
    ("too many rows", {"rows": [GOOD] * 1001}, "rows"),
]


@pytest.mark.parametrize("kind,payload,field", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_422_naming_the_field(endpoint, kind, payload, field):
    response = _post(endpoint["url"], payload)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["detail"]]


def test_nan_is_a_null_and_infinity_a_bad_value(endpoint):
    """As the input contract has it on every path (docs/serving.md#the-input-contract): NaN, how pandas
    clients write a missing value, is imputed where a null is; Infinity is refused naming the field."""
    row = '"sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2'
    assert _post(endpoint["url"], '{"rows": [{"sepal_length_cm": NaN, ' + row + '}]}').status_code == 200
    response = _post(endpoint["url"], '{"rows": [{"sepal_length_cm": Infinity, ' + row + '}]}')
    assert response.status_code == 422 and response.json()["detail"] == [
        {"field": "rows.0.sepal_length_cm", "message": "value inf is not a finite number"}]


def test_invalid_json_and_oversize_payload(endpoint):
    assert _post(endpoint["url"], b"{not json").status_code == 422
    huge = json.dumps({"rows": [GOOD] * 20000})  # > 1 MB default limit
    response = _post(endpoint["url"], huge)
    assert response.status_code == 413 and "max_request_bytes" in response.text
    chunked = httpx.post(f"{endpoint['url']}/predict", content=iter([b'{"rows": []}']), timeout=10)  # no length
    assert chunked.status_code == 411 and "Content-Length" in chunked.text
    assert _post(endpoint["url"], {"rows": [GOOD]}).status_code == 200  # and it keeps serving


def test_metrics_reach_the_prometheus_endpoint(endpoint):

    for _ in range(5):
        httpx.post(f"{endpoint['url']}/predict", json={"rows": [GOOD]}, timeout=10)
    _post(endpoint["url"], {"rows": []})
    wanted = {"ray_mlops_requests_total", "ray_mlops_errors_total", "ray_mlops_request_latency_ms_bucket",
              "ray_mlops_batch_rows_bucket", "ray_mlops_predicted_class_total"}
    found = scrape_metric_names("iris", wanted)
    assert wanted <= found, found


def test_health_ready_metadata_docs(endpoint):
    url = endpoint["url"]
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz").json()["ready"] is True
    meta = httpx.get(f"{url}/metadata").json()
    assert meta["name"] == "iris" and meta["version"] == "1" and meta["metric"] == "f1_macro"
    assert meta["fast_path"] is True  # a random forest, verified at load
    assert [c["name"] for c in meta["input_schema"]] == COLUMNS
    assert httpx.get(f"{url}/docs").status_code == 200
    openapi = httpx.get(f"{url}/openapi.json").json()
    assert "sepal_length_cm" in json.dumps(openapi)


def with_auth_default(endpoint) -> list[str]:
    """The module endpoint's overrides without `auth: none` (and without its route)."""
    return [o for o in endpoint["overrides"] if not o.startswith(("serving.online.auth", "serving.online.route"))]


def test_missing_token_env_is_a_spec_error(endpoint, monkeypatch):
    from mlops.errors import SpecError
    from mlops.project import load_project
    from mlops.serving.deploy import endpoint_config, endpoint_node

    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    project = load_project(endpoint["spec"], [*with_auth_default(endpoint), "+serving.online.auth.token_env=NO_SUCH_TOKEN_VAR"],
                           check_data=False)
    with pytest.raises(SpecError, match="serving.online.auth.token_env"):
        endpoint_config(endpoint_node(project))


def test_bounded_load_with_malformed_requests(endpoint):
    """2,000 requests at concurrency 16, 10% malformed: no 5xx, every malformed 4xx, every valid correct."""
    bundle = api.load_model("iris", uri=endpoint["uri"])
    rows = iris_rows(50)
    expected = bundle.predict(pd.DataFrame(rows)[bundle.input_columns]).tolist()

    async def run() -> list[tuple[int, bool, object]]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16)) as client:
            async def one(i: int):
                async with sem:
                    bad = i % 10 == 0
                    payload = {"rows": [{**rows[i % 50], "petal_width_cm": "oops"}]} if bad else {"rows": [rows[i % 50]]}
                    r = await client.post(f"{endpoint['url']}/predict", json=payload)
                    return r.status_code, bad, (r.json()["predictions"][0] if r.status_code == 200 else None), i
            return await asyncio.gather(*(one(i) for i in range(2000)))

    results = asyncio.run(run())
    assert not [r for r in results if r[0] >= 500]
    assert all(400 <= status < 500 for status, bad, _, _ in results if bad)
    wrong = [(s, p, expected[i % 50]) for s, bad, p, i in results if not bad and (s != 200 or p != expected[i % 50])]
    assert wrong == []


def test_hot_swap_under_load_drops_nothing(endpoint):
    """Promote another version, then roll back, while four clients send requests: every request is counted,
    none fails (no error status, no connection error), and both versions answer."""
    second = api.apply(endpoint["spec"], [*endpoint["overrides"], "model.params.max_depth=1", "model.params.n_estimators=3"])
    current = api.registry(endpoint["uri"]).by_alias("iris", "champion").version
    target = "2" if current != "2" else "1"
    assert second.version == "2"
    seen, failures, stop = set(), [], threading.Event()
    answered, order = [0] * 4, []

    def hammer(k: int):
        """Counts every answer; any error (a refused connection, a timeout, a non-200) is a failure."""
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{endpoint['url']}/predict", json={"rows": [GOOD]})
                except httpx.HTTPError as exc:
                    failures.append(("error", repr(exc)))
                    continue
                answered[k] += 1
                if r.status_code != 200:
                    failures.append((r.status_code, r.text))
                else:
                    seen.add(r.json()["model_version"])
                    order.append(r.json()["model_version"])

    def wait_for(condition, what: str, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while not condition():
            assert time.time() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: current in seen and min(answered) >= 5, "every client to be served by the champion")
    serving = api.promote("iris", target, endpoint["uri"])
    wait_for(lambda: target in seen, f"v{target} to answer")
    after_swap = sum(answered)
    wait_for(lambda: sum(answered) >= after_swap + 40, "requests after the swap")
    rolled_at = len(order)
    rolled_back = api.rollback("iris", endpoint["uri"])
    wait_for(lambda: current in order[rolled_at:], f"v{current} to answer again after the rollback")
    stop.set()
    for t in threads:
        t.join()
    assert serving == target and rolled_back == current
    assert failures == []
    assert {current, target} <= seen
    api.promote("iris", target, endpoint["uri"])  # the later tests of this module expect v2 to serve
    assert httpx.get(f"{endpoint['url']}/readyz").json()["model_version"] == target


async def _concurrently(url: str, payloads: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(payloads))) as client:
        return await asyncio.gather(*(client.post(f"{url}/predict", json=p) for p in payloads))


def test_one_bad_request_among_concurrent_good_ones_fails_alone(endpoint):
    """A value no model can take is refused at validation, naming the field; its neighbours are served."""
    rows = iris_rows(40)
    for _ in range(3):  # several rounds, so the bad request lands in a batch with good ones
        bad = {"rows": [{**GOOD, "sepal_length_cm": 1e300}]}
        answers = asyncio.run(_concurrently(endpoint["url"], [{"rows": [r]} for r in rows[:20]] + [bad]
                                            + [{"rows": [r]} for r in rows[20:]]))
        assert answers[20].status_code == 422, answers[20].text
        assert answers[20].json()["detail"][0]["field"] == "rows.0.sepal_length_cm"
        assert [a.status_code for i, a in enumerate(answers) if i != 20] == [200] * 40


def test_a_derived_division_by_zero_is_imputed_not_an_error(endpoint):
    """petal_ratio = petal_length / (petal_width + 1): width -1 makes inf, which becomes NaN, then the median."""
    response = _post(endpoint["url"], {"rows": [{**GOOD, "petal_width_cm": -1.0}]})
    assert response.status_code == 200, response.text


def test_a_row_the_model_rejects_fails_its_own_request_only(endpoint):
    """Without imputation a NaN from a derived column reaches a model that refuses it: that request gets a
    422 naming its row, every other request of the same batch its predictions."""

    overrides = [o for o in endpoint["overrides"] if not o.startswith("serving.online.route")]
    overrides += ["name=iris_lr", "serving.mode=online", "~serving.batch", "serving.online.route=/iris_lr",
                  "model.estimator=logistic_regression", "~model.params", "+model.params.max_iter=500", "features.impute.numeric=none"]
    result = api.apply(endpoint["spec"], overrides)
    url = f"http://127.0.0.1:{PORT}/iris_lr"
    try:
        wait_ready(url)
        rows = iris_rows(30)
        bad = {"rows": [rows[0], {**GOOD, "petal_width_cm": -1.0}, rows[1]]}
        for _ in range(3):
            answers = asyncio.run(_concurrently(url, [{"rows": [r]} for r in rows[:15]] + [bad]
                                                + [{"rows": [r]} for r in rows[15:]]))
            assert answers[15].status_code == 422, answers[15].text
            detail = answers[15].json()["detail"][0]
            assert detail["field"] == "rows.1" and "NaN" in detail["message"]
            assert [a.status_code for i, a in enumerate(answers) if i != 15] == [200] * 30
        assert result.endpoint.version == "1"
    finally:
        delete_app("iris_lr")


def test_a_stacking_ensemble_serves_like_any_model(endpoint):
    """The ensemble estimator model.ensemble registers (here written in the spec: its members and metric) is
    fitted, registered, deployed and answers over HTTP exactly as the registered model predicts."""
    overrides = [o for o in endpoint["overrides"] if not o.startswith("serving.online.route")]
    overrides += ["name=iris_stack", "serving.mode=online", "~serving.batch", "serving.online.route=/iris_stack",
                  "model.estimator=stacking", "~model.params",
                  "+model.params.members=[{estimator: knn, params: {n_neighbors: 15}}, "
                  "{estimator: logistic_regression, params: {max_iter: 500}}]", "+model.params.metric=accuracy"]
    result = api.apply(endpoint["spec"], overrides)
    url = f"http://127.0.0.1:{PORT}/iris_stack"
    try:
        wait_ready(url)
        rows = iris_rows(20)
        response = _post(url, {"rows": rows})
        assert response.status_code == 200, response.text
        bundle = api.load_model("iris_stack", uri=endpoint["uri"])
        stacking = bundle.model.steps[-1][1]
        assert bundle.meta["estimator"] == "stacking" and stacking.combination_ in ("stack", "weighted", "member")
        frame = pd.DataFrame(rows)[bundle.input_columns]
        body = response.json()
        assert body["predictions"] == bundle.predict(frame).tolist() and body["model_version"] == result.version
        assert np.allclose(body["probabilities"], bundle.predict_proba(frame))
    finally:
        delete_app("iris_stack")


def test_a_second_port_on_the_same_serve_is_refused_with_a_message(endpoint):
    """Serve on a running Ray keeps its HTTP address; asking for another is an error, not a silent ignore."""
    from mlops.errors import MlopsError

    from mlops.serving.deploy import start_http

    with pytest.raises(MlopsError, match=rf"already listens on 127.0.0.1:{PORT}"):
        start_http("127.0.0.1", PORT + 1, 10)
    start_http("127.0.0.1", PORT, 10)  # the same address: fine, and quiet


def swap_replicas_to(project, loadable: str, version: str) -> None:
    """Redeploy the endpoint's app with `version` in its user_config, built from a loadable version's config."""
    from dataclasses import replace

    from ray import serve

    from mlops.serving.app import build_application
    from mlops.serving.deploy import endpoint_config, endpoint_node

    cfg = replace(endpoint_config(endpoint_node(project), loadable), version=version)
    serve.run(build_application(cfg), name=project.spec.name, route_prefix=cfg.settings.route, blocking=False)


@pytest.fixture(scope="module")
def tampered_version(endpoint) -> str:
    """A registered iris version (not the champion) whose stored bundle no longer matches its hash."""
    from urllib.parse import unquote, urlparse

    store = api.registry(endpoint["uri"])
    batch_only = [*endpoint["overrides"], "serving.mode=batch", "~serving.online", "model.params.n_estimators=7"]
    champion = store.by_alias("iris", "champion").version
    bad = api.apply(endpoint["spec"], batch_only).version
    store.promote("iris", champion)  # whatever the apply decided: the version about to break is no champion
    files = sorted(p for p in Path(unquote(urlparse(store.version("iris", bad).source).path)).rglob("*") if p.is_file())
    with files[0].open("ab") as handle:
        handle.write(b"tampered")  # the stored bundle no longer matches its recorded hash
    return bad


@pytest.mark.reliability  # a fault injected; listed in docs/reliability.md
def test_a_version_that_does_not_load_is_refused_and_the_old_one_keeps_serving(endpoint, tampered_version):
    """A hot swap to a tampered version: the replica keeps its version and says why; promote refuses it."""
    from mlops.errors import RegistryError
    from mlops.project import load_project
    from mlops.serving.deploy import update_version

    url, store, bad = endpoint["url"], api.registry(endpoint["uri"]), tampered_version
    serving = httpx.get(f"{url}/readyz").json()["model_version"]
    champion = store.by_alias("iris", "champion").version
    with pytest.raises(RegistryError, match="does not load"):
        api.promote("iris", bad, endpoint["uri"])
    assert store.by_alias("iris", "champion").version == champion  # the alias did not move

    # The driver refuses it too (it reads the version's input schema), so hand the replicas the bad version
    # directly, as if the artifact broke between the driver's check and the replicas' load.
    project = load_project(endpoint["spec"], endpoint["overrides"], check_data=False)
    with pytest.raises(RegistryError):
        update_version("iris", bad)
    swap_replicas_to(project, serving, bad)
    deadline, meta = time.time() + 60, {}
    while time.time() < deadline:
        meta = httpx.get(f"{url}/metadata").json()
        if meta.get("swap_error"):
            break
        time.sleep(0.5)
    assert meta["swap_error"]["version"] == bad and meta["version"] == serving, meta
    answer = _post(url, {"rows": [GOOD]})
    assert answer.status_code == 200 and answer.json()["model_version"] == serving
    assert httpx.get(f"{url}/readyz").json()["refused_version"] == bad
    update_version("iris", serving)  # back to a loadable version: the error clears
    deadline = time.time() + 30
    while httpx.get(f"{url}/metadata").json().get("swap_error") and time.time() < deadline:
        time.sleep(0.5)
    assert httpx.get(f"{url}/metadata").json()["swap_error"] is None


@pytest.mark.reliability
def test_replicas_that_cannot_start_are_one_clear_deploy_error(endpoint, tampered_version):
    """A new endpoint whose replicas die loading their first model (the artifact broke after the driver's
    check): Serve gives up on the application, and the user reads the exception, not Serve's traceback."""
    from dataclasses import replace


    from mlops.errors import DeployError
    from mlops.project import load_project
    from mlops.serving.deploy import endpoint_config, endpoint_node, run_application

    project = load_project(endpoint["spec"], endpoint["overrides"], check_data=False)
    champion = api.registry(endpoint["uri"]).by_alias("iris", "champion").version
    cfg = endpoint_config(endpoint_node(project), champion)
    cfg = replace(cfg, version=tampered_version, settings=cfg.settings.model_copy(update={"route": "/iris_broken"}))
    try:
        with pytest.raises(DeployError) as failed:
            run_application("iris_broken", cfg)
        message = str(failed.value)
        assert message.startswith("the endpoint 'iris_broken' did not start: its replicas failed with ")
        assert "RegistryError" in message and "modified after registration" in message, message  # the cause
        assert "Traceback" not in message and len(message.splitlines()) == 2, message
        assert httpx.get(f"{endpoint['url']}/readyz").status_code == 200  # the other endpoint is untouched
    finally:
        delete_app("iris_broken")


def _raw_status(url: str, head: str) -> int:
    """Send a request's head (and no body) over a plain socket; the status code of the answer."""
    import socket
    from urllib.parse import urlparse

    where = urlparse(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(head.replace("HTTP/1.1\r\n", f"HTTP/1.1\r\nhost: {where.hostname}\r\n", 1).encode())
        return int(conn.recv(4096).split(b" ", 2)[1])


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_serving_only_change_updates_the_endpoint_in_place(endpoint):
    """Only `deploy` runs: no training, no new version, no failed request; then an unchanged apply is a no-op.
    Serve's "New http_options ... will not be applied" (mlops passes none) and its INFO lines are not shown."""
    store = api.registry(endpoint["uri"])
    api.apply(endpoint["spec"], endpoint["overrides"])  # other tests scored other variants into the same output file
    before = [v.version for v in store.versions("iris")]
    failures, served, stop, answered = [], set(), threading.Event(), [0]

    def hammer():
        """Counts every answer; a connection error or a non-200 is a failure."""
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{endpoint['url']}/predict", json={"rows": [GOOD]})
                except httpx.HTTPError as exc:
                    failures.append(("error", repr(exc)))
                    continue
                answered[0] += 1
                (served.add(r.status_code) if r.status_code == 200 else failures.append((r.status_code, r.text)))

    serve_logger, records = logging.getLogger("ray.serve"), _Records()
    level = serve_logger.level
    serve_logger.setLevel(logging.INFO)  # what a user's console shows (the tests' Ray logs errors only)
    serve_logger.addHandler(records)
    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        changed = [*endpoint["overrides"], "serving.online.max_ongoing_requests=48"]
        plan = api.explain(api.plan(endpoint["spec"], changed))
        assert plan["deploy"]["action"] == "run" and "max_ongoing_requests" in plan["deploy"]["reasons"][0]
        result = api.apply(endpoint["spec"], changed)
        after, deadline = answered[0], time.time() + 30
        while answered[0] < after + 20 and time.time() < deadline:  # requests to the updated deployment
            time.sleep(0.05)
        assert answered[0] >= after + 20, "no requests answered after the update"
        serve_logger.warning("still listening")  # what the handler sees is what a console would
    finally:
        stop.set()
        thread.join()
        serve_logger.removeHandler(records)
        serve_logger.setLevel(level)
    assert result.ran == ["deploy"] and failures == [] and served == {200}
    assert "still listening" in records.messages  # Serve's INFO chatter and reconnect notice are not:
    assert not [m for m in records.messages if "will not be applied" in m or "is ready at" in m or m.startswith("Deploying")]
    assert [v.version for v in store.versions("iris")] == before
    assert api.apply(endpoint["spec"], changed).up_to_date  # running with these settings: left alone


def test_a_failed_deploy_leaves_the_champion_in_place(endpoint):
    """A version that would win is registered, but the apply fails at deploy: the alias does not move."""
    from mlops.errors import MlopsError

    store = api.registry(endpoint["uri"])
    champion = store.by_alias("iris", "champion").version
    failing = [*endpoint["overrides"], f"serving.online.port={PORT + 7}", "model.params.n_estimators=150"]
    with pytest.raises(MlopsError, match="already listens"):  # Serve here holds another port
        api.apply(endpoint["spec"], failing)
    newest = str(max(int(v.version) for v in store.versions("iris")))
    assert newest != champion and store.by_alias("iris", "champion").version == champion
    # Fixed, applied again: the registration is reused, and its decision is carried out now.
    decision = store.client.get_run(store.version("iris", newest).run_id).data.tags.get("mlops.decision", "")
    done = api.apply(endpoint["spec"], [*endpoint["overrides"], "model.params.n_estimators=150"])
    assert "register" not in done.ran and done.version == newest
    expected = newest if decision.endswith(": promoted") else champion
    assert store.by_alias("iris", "champion").version == expected, decision


@pytest.mark.reliability  # load beyond capacity; listed in docs/reliability.md
def test_overload_is_refused_with_503_and_retry_after(endpoint):
    """Beyond what the replicas take at once plus the queue, requests get 503 + Retry-After at once: no
    timeouts, no other 5xx, and every accepted request is answered correctly. Then the limits go back."""
    tight = [*endpoint["overrides"], "serving.online.max_ongoing_requests=1", "serving.online.max_queued_requests=1"]
    rows = iris_rows(150) * 6  # 900 rows per request: slow enough that 64 at once overflow one slot and one queued
    bundle = api.load_model("iris", uri=endpoint["uri"])
    expected = bundle.predict(pd.DataFrame(rows)[bundle.input_columns]).tolist()

    body = json.dumps({"rows": rows}).encode()  # encoded once: the client's own work must not pace the burst

    async def burst() -> list[tuple[int, str | None, bool]]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
            # Connections opened first, so the 64 POSTs leave together instead of one handshake at a time.
            await asyncio.gather(*(client.get(f"{endpoint['url']}/healthz") for _ in range(64)))

            async def one():
                r = await client.post(f"{endpoint['url']}/predict", content=body, headers={"content-type": "application/json"})
                return r.status_code, r.headers.get("retry-after"), r.status_code == 200 and r.json()["predictions"] == expected
            return await asyncio.gather(*(one() for _ in range(64)))

    api.apply(endpoint["spec"], endpoint["overrides"])  # earlier tests applied (and scored) other variants
    try:
        assert api.apply(endpoint["spec"], tight).ran == ["deploy"]
        results = asyncio.run(burst())
    finally:
        api.apply(endpoint["spec"], endpoint["overrides"])
    statuses = sorted({status for status, _, _ in results})
    assert set(statuses) <= {200, 503}, statuses
    refused = [retry for status, retry, _ in results if status == 503]
    assert refused and all(retry is not None and float(retry) > 0 for retry in refused)
    assert all(correct for status, _, correct in results if status == 200)
    assert any(status == 200 for status, _, _ in results)


def test_explain_on_the_real_endpoint_batches_adds_up_and_refuses_like_predict(endpoint):
    """POST /explain through Serve's real @serve.batch: concurrent requests each get their own rows'
    explanations, whose contributions add up to the probability /predict answers; a bad request gets
    /predict's exact 422."""
    pytest.importorskip("shap")
    rows = iris_rows(12)

    async def both():
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=16)) as client:
            explained = asyncio.gather(*(client.post(f"{endpoint['url']}/explain?top=2", json={"rows": [r]}) for r in rows))
            predicted = asyncio.gather(*(client.post(f"{endpoint['url']}/predict", json={"rows": [r]}) for r in rows))
            return await explained, await predicted

    explained, predicted = asyncio.run(both())
    for e, p in zip(explained, predicted):
        assert e.status_code == 200 and p.status_code == 200, e.text
        row, answer = e.json()["explanations"][0], p.json()
        assert row["prediction"] == answer["predictions"][0] and e.headers["x-model-version"] == answer["model_version"]
        assert len(row["contributions"]) == 2 and {c["feature"] for c in row["contributions"]} <= set(COLUMNS)
        assert row["output"] == pytest.approx(max(answer["probabilities"][0]), abs=1e-6)
    full = httpx.post(f"{endpoint['url']}/explain", json={"rows": rows[:3]}, timeout=60).json()
    for row in full["explanations"]:
        assert row["base_value"] + sum(c["contribution"] for c in row["contributions"]) == pytest.approx(row["output"])
    bad = {"rows": [{**GOOD, "sepal_length_cm": "wide"}]}
    refused, refused_too = (httpx.post(f"{endpoint['url']}/{route}", json=bad, timeout=30) for route in ("explain", "predict"))
    assert refused.status_code == refused_too.status_code == 422 and refused.json() == refused_too.json()


def test_token_auth(endpoint):
    """Without serving.online.auth the endpoint wants a token: one mlops generates beside the spec (owner-only),
    which `mlops predict` and `mlops status` send; every path but the probes is a 401 without it, checked before
    the body is read; deleting the file makes a new one on the next deploy. (Tokens from a variable:
    test_serving_protocols.py, test_serving_cli.py, test_controller.py.) Replaces the module's app (an app is
    named after the project): keep this test last."""
    import stat

    from mlops.project import load_project
    from mlops.serving.client import predict
    from mlops.serving.control import endpoint_status
    from mlops.serving.deploy import deploy_project, endpoint_node, endpoint_unchanged

    project = load_project(endpoint["spec"], [*with_auth_default(endpoint), "serving.online.route=/iris-auth"],
                           check_data=False)
    token_file = endpoint["spec"].parent / ".mlops" / "tokens" / "iris"
    token_file.unlink(missing_ok=True)
    deployed = deploy_project(project)
    url = f"http://127.0.0.1:{PORT}/iris-auth"
    wait_ready(url)
    try:
        token = token_file.read_text().strip()
        bearer = {"authorization": f"Bearer {token}"}
        assert len(token) >= 32
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
        refused = _post(url, {"rows": [GOOD]})
        assert refused.status_code == 401 and ".mlops/tokens/" in refused.json()["detail"]  # says where to look
        assert _post(url, {"rows": [GOOD]}, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert _post(url, {"rows": [GOOD]}, headers=bearer).status_code == 200
        assert httpx.get(f"{url}/metadata").status_code == 401
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes stay open
        assert httpx.get(f"{url}/stats").status_code == 401
        for doc in ("docs", "openapi.json"):  # the API's description is behind the token too
            assert httpx.get(f"{url}/{doc}").status_code == 401
            assert httpx.get(f"{url}/{doc}", headers=bearer).status_code == 200
        # The token is checked before the body is looked at: a stranger learns nothing about the limits.
        assert _raw_status(url, "POST /iris-auth/predict HTTP/1.1\r\ncontent-length: 999999999\r\n"
                                "content-type: application/json\r\n\r\n{") == 401
        assert predict(project, [GOOD])["predictions"] in ([0], [1], [2])  # `mlops predict` reads the file
        [row] = [r for r in endpoint_status(deployed.name, None, None) if r["deployment"] == "endpoint"]
        assert row["stats"] is not None and "stats_hint" not in row, row  # so does `mlops status`
        node = endpoint_node(project)
        assert endpoint_unchanged(node, deployed.version)  # an unchanged re-apply leaves it (and its token) alone
        token_file.unlink()  # deleted: the next apply deploys again, with a new token
        assert not endpoint_unchanged(node, deployed.version)
        deploy_project(project)
        renewed = token_file.read_text().strip()
        assert renewed != token
        assert _post(url, {"rows": [GOOD]}, headers=bearer).status_code == 401
        assert _post(url, {"rows": [GOOD]}, headers={"authorization": f"Bearer {renewed}"}).status_code == 200
    finally:
        from ray import serve

        serve.delete(deployed.name)  # same app name as the module's endpoint: this test runs last
