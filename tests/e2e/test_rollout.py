"""Progressive rollout on a real endpoint (Ray Serve on loopback, MLflow store): a good challenger goes through a
canary to 100% with no failed request; a crippled one is rolled back at its first step while the champion goes
on answering, with both versions' tags saying why; a breach during bake restores the previous champion; a
shadow records agreement and latency without changing an answer; an a/b split keeps each caller on one variant.
Ticks are driven by calling rollout_tick with second-long settings (the controller calls it on its own loop)."""
from __future__ import annotations

import json
import random
import threading
import time

import httpx
import pytest

from conftest import delete_app, SERVE_PORT, wait_ready, write_spec
from mlops import api
from mlops.monitoring.rollout import begin_rollout, load_state, rollout_status, rollout_tick, state_file
from mlops.spec.rollout import RolloutSpec

pytestmark = pytest.mark.slow

NAME = "iris_rollout"
SPEC = """
name: {name}
data:
  source: {{type: sklearn, name: iris}}
  target: target
model:
  task: classification
  type: sklearn
  estimator: random_forest
  params: {{n_estimators: 10, max_depth: 3, random_state: 0}}
  metric: f1_macro
monitoring:
  sink: {{type: log, path: events.jsonl}}
serving:
  mode: online
  online:
    route: /{name}
    port: {port}
    replicas: {{fixed: 1}}
    auth: none
    rollout: {{strategy: canary, steps: [50, 100], step_every: 1s, min_requests: 30, bake: 1s}}
tracking: {{uri: "{uri}"}}
"""
COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


def iris_rows():
    from sklearn.datasets import load_iris

    data = load_iris()
    return [dict(zip(COLUMNS, map(float, row))) for row in data.data], list(data.target)


@pytest.fixture(scope="module")
def endpoint(ray_local, tmp_path_factory):
    """v1 applied and serving as champion; v2 (depth 2: a good challenger) and v3 (one stump: a crippled one)
    registered by the retraining plan, which never moves the champion."""
    from mlops.plan.compile import compile_retrain_plan
    from mlops.runtime.apply import apply_plan

    root = tmp_path_factory.mktemp("rollout")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = write_spec(root, SPEC.format(name=NAME, port=SERVE_PORT, uri=uri))
    assert api.apply(spec).version == "1"
    url = f"http://127.0.0.1:{SERVE_PORT}/{NAME}"
    wait_ready(url)
    for overrides, version in ((["model.params.max_depth=2"], "2"),
                               (["model.params.n_estimators=1", "model.params.max_depth=1"], "3")):
        project = api.load(spec, overrides)
        assert apply_plan(project, compile_retrain_plan(project, project.spec.data.source), force=True).version == version
    rows, labels = iris_rows()
    yield {"url": url, "project": api.load(spec), "root": root, "rows": rows, "labels": labels}
    delete_app(NAME)


@pytest.fixture
def rollout(endpoint):
    """Each test starts with v1 champion serving alone and no rollout; and leaves it so, even on failure."""
    yield endpoint
    from mlops.registry import Registry
    from mlops.serving.routing_control import end_routing

    project = endpoint["project"]
    registry = Registry(project.spec.tracking.uri)
    if registry.by_alias(NAME, "champion").version != "1":
        registry.promote(NAME, "1")
    state_file(project).unlink(missing_ok=True)
    end_routing(NAME, "1")


class Traffic:
    """Requests in a background thread (5 rows each, drawn from `pool`) until stopped: every answer's status,
    version field and X-Model-Version header is kept."""

    def __init__(self, url: str, pool: list[dict], headers: dict | None = None):
        self.url, self.pool, self.headers = url, pool, headers or {}
        self.answers: list[tuple[int, str | None, str | None, float]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stopping.is_set():
                response = client.post(f"{self.url}/predict", json={"rows": random.sample(self.pool, 5)}, headers=self.headers)
                body = response.json() if response.status_code == 200 else {"model_version": response.text[:200]}
                self.answers.append((response.status_code, body.get("model_version"),
                                     response.headers.get("x-model-version"), time.time()))

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def failed(self) -> list:
        return [a for a in self.answers if a[0] != 200 or a[1] != a[2]]

    def since(self, at: float) -> set:
        return {a[1] for a in self.answers if a[3] > at}


def routed(rollout, project) -> None:
    """Wait until the replica routes by the rollout's table (it loads the challenger first, in a thread)."""
    epoch, deadline = load_state(project).epoch, time.time() + 30
    while httpx.get(f"{rollout['url']}/metadata", timeout=10).json()["routing"]["epoch"] != epoch:
        assert time.time() < deadline, "the replica never took the rollout's routing table"
        time.sleep(0.1)


def tick_until(project, kinds: set[str], timeout: float = 30) -> list[dict]:
    """Tick (as the controller would) until one of `kinds` happens; every event on the way."""
    events, deadline = [], time.time() + timeout
    while not any(e["kind"] in kinds for e in events):
        assert time.time() < deadline, f"no {kinds} within {timeout}s: {events}, {rollout_status(project)}"
        time.sleep(0.3)
        events += rollout_tick(project, time.time())
    return events


def tags(project, version: str) -> dict:
    from mlops.registry import Registry

    return Registry(project.spec.tracking.uri).version(NAME, version).tags


def champion(project) -> str:
    from mlops.registry import Registry

    return Registry(project.spec.tracking.uri).by_alias(NAME, "champion").version


def test_a_good_challenger_goes_through_the_canary_to_100_with_no_failed_request(rollout):
    project = rollout["project"]
    with Traffic(rollout["url"], rollout["rows"]) as traffic:
        begin_rollout(project, "1", "2")  # the applied settings: steps [50, 100], step_every 1s, bake 1s
        state = load_state(project)
        assert state.phase == "canary"
        # Each table names where both versions' files are, so replicas load the challenger without the store.
        from mlops.registry import local_folder

        records = state.routing["models"]
        assert sorted(records) == ["1", "2"] and all(local_folder(r["source"]) and r["sha256"] for r in records.values())
        promoted = tick_until(project, {"rollout.promote"})
        assert [e["kind"] for e in promoted] == ["rollout.promote"] and champion(project) == "2"
        finished = tick_until(project, {"rollout.finish"})[-1]
        assert finished["phase"] == "done"
        assert finished["message"].startswith("done: v2 is champion and takes all traffic; v1 unloaded (bake of ")
        done = time.time()
        time.sleep(0.6)
    assert traffic.failed() == [] and len(traffic.answers) > 40
    assert {a[1] for a in traffic.answers} == {"1", "2"} and traffic.since(done + 0.3) == {"2"}
    assert tags(project, "2")["mlops.rollout"] == "done"
    events = [json.loads(line)["kind"] for line in (rollout["root"] / "events.jsonl").read_text().splitlines()]
    assert events[-3:] == ["rollout.started", "rollout.promote", "rollout.finish"]


def test_promote_during_a_canary_is_refused_and_with_force_ends_the_rollout_first(rollout):
    """A champion moved by hand behind a rollout's back left the rollout waiting for requests under a table
    no longer in force: `mlops promote` names the rollout and refuses; with --force it ends it, then promotes."""
    from mlops.errors import MlopsError

    project, uri = rollout["project"], rollout["project"].spec.tracking.uri
    begin_rollout(project, "1", "2")
    routed(rollout, project)
    with pytest.raises(MlopsError, match=r"a canary rollout of v2 against v1 \(v2 takes 50% of traffic\) is in progress.*"
                                         r"`mlops promote iris_rollout 3 --force`"):
        api.promote(NAME, "3", uri)
    assert champion(project) == "1" and load_state(project).phase == "canary"
    ended = []
    assert api.promote(NAME, "3", uri, force=True, on_ended=ended.append) == "3"
    assert ended == ["a canary rollout of v2 against v1 (v2 takes 50% of traffic)"]
    assert champion(project) == "3" and load_state(project).phase == "ended"
    assert load_state(project).history[-1]["message"] == "ended by `mlops promote iris_rollout 3`"
    assert tags(project, "2")["mlops.rollout"] == "ended"
    assert rollout_tick(project, time.time()) == []  # no tick acts on it again
    deadline = time.time() + 20
    while httpx.post(f"{rollout['url']}/predict", json={"rows": rollout["rows"][:3]}, timeout=10).json()["model_version"] != "3":
        assert time.time() < deadline, "the endpoint never followed the promotion"
        time.sleep(0.2)
    assert api.rollback(NAME, uri) == "1"  # nothing in progress now: no --force needed


def test_an_apply_that_would_redeploy_during_a_rollout_is_refused_before_anything_runs(rollout):
    """A redeploy is a plain deploy: it would end the canary's split behind the rollout's back."""
    from mlops.errors import MlopsError

    project = rollout["project"]
    begin_rollout(project, "1", "2")
    spec = project.config.spec_file
    with pytest.raises(MlopsError, match=r"a canary rollout of v2 against v1 \(v2 takes 50% of traffic\) is in "
                                         r"progress, and this apply would redeploy its endpoint"):
        api.apply(spec, ["serving.online.timeout_s=29"])
    assert load_state(project).phase == "canary" and champion(project) == "1"


def test_a_promotion_loads_the_new_version_once_for_its_check_and_the_endpoint(rollout, monkeypatch):
    """promote verifies the version by loading it, and the endpoint's config needs that loaded model again
    (the columns it takes null in): one load serves both."""
    from mlops.registry import Registry

    loads, real = [], Registry.load

    def counted(self, name, alias="champion", version=None):
        loads.append(str(version))
        return real(self, name, alias, version)

    monkeypatch.setattr(Registry, "load", counted)
    assert api.promote(NAME, "2", rollout["project"].spec.tracking.uri) == "2"
    assert loads == ["2"]


def test_a_crippled_challenger_is_rolled_back_at_its_first_step_and_the_champion_never_stops(rollout):
    project = rollout["project"]
    with Traffic(rollout["url"], rollout["rows"]) as traffic:
        begin_rollout(project, "1", "3")
        rolled = tick_until(project, {"rollout.rollback"})[-1]
        back = time.time()
        time.sleep(0.8)
    assert rolled["phase"] == "rolled_back" and load_state(project).step == 0  # at the first step (50%)
    assert traffic.failed() == [] and "3" in {a[1] for a in traffic.answers}
    assert traffic.since(back + 0.5) == {"1"}  # a routing weight, not a redeploy: every answer within a poll
    assert champion(project) == "1"
    assert tags(project, "3")["mlops.rollout"] == "rejected" and "prediction_shift" in tags(project, "3")["mlops.rollout_reason"]
    assert tags(project, "1")["mlops.rollout"] == "kept" and "prediction_shift" in tags(project, "1")["mlops.rollout_reason"]
    assert rollout_status(project)["phase"] == "rolled_back" and "prediction_shift" in rollout_status(project)["reason"]
    sink = [json.loads(line) for line in (rollout["root"] / "events.jsonl").read_text().splitlines()]
    assert sink[-1]["kind"] == "rollout.rollback" and "prediction_shift" in sink[-1]["message"]


def test_a_breach_during_bake_restores_the_previous_champion(rollout):
    project = rollout["project"]
    settings = RolloutSpec(strategy="canary", steps=[100], bake="1h", min_requests=20)  # straight to bake
    with Traffic(rollout["url"], rollout["rows"]) as traffic:
        begin_rollout(project, "1", "3", settings)
        assert load_state(project).phase == "bake" and champion(project) == "3"
        restored = tick_until(project, {"rollout.restore"})[-1]
        back = time.time()
        time.sleep(0.8)
    assert restored["phase"] == "restored" and champion(project) == "1"
    assert traffic.failed() == [] and traffic.since(back + 0.5) == {"1"}
    assert tags(project, "1")["mlops.rollout"] == "restored" and tags(project, "3")["mlops.rollout"] == "rejected"


def test_a_shadow_records_agreement_and_latency_without_changing_any_answer(rollout):
    from mlops.serving.routing_control import version_stats

    project = rollout["project"]
    settings = RolloutSpec(strategy="shadow", step_every="1h", guards={"prediction_shift_above": None})
    rows = rollout["rows"][::3]
    begin_rollout(project, "1", "3", settings)
    routed(rollout, project)
    with httpx.Client(timeout=30) as client:
        answers = [client.post(f"{rollout['url']}/predict", json={"rows": rows[i:i + 5]}).json() for i in range(0, 50, 5)]
    from mlops.registry import Registry

    v1 = Registry(project.spec.tracking.uri).load(NAME, version="1")
    import pandas as pd

    expected = v1.predict(pd.DataFrame(rows[:50])[v1.input_columns]).tolist()
    assert {a["model_version"] for a in answers} == {"1"}
    assert [str(p) for a in answers for p in a["predictions"]] == [str(p) for p in expected]  # v1's own answers
    deadline = time.time() + 10
    while True:  # the replica ships its numbers about once a second
        shadow = version_stats(NAME, load_state(project).epoch)["by_version"].get("3", {})
        if shadow.get("shadow_rows", 0) >= 50 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert shadow["shadow_rows"] >= 50 and 0 < shadow["agreement"] < 1 and shadow["latency_p99_ms"] > 0
    assert rollout_tick(project, time.time()) == []  # step_every 1h: the shadow goes on


def test_an_ab_split_is_sticky_per_caller_and_every_protocol_names_the_version(rollout):
    from mlops.registry import Registry

    project = rollout["project"]
    Registry(project.spec.tracking.uri).promote(NAME, "2", alias="challenger")
    begin_rollout(project, "1", "2", RolloutSpec(strategy="ab", sticky={"header": "x-user"}))
    routed(rollout, project)
    seen: dict[str, set] = {}
    row = rollout["rows"][0]
    with httpx.Client(timeout=30) as client:
        for user in range(16):
            for _ in range(3):
                response = client.post(f"{rollout['url']}/predict", json={"rows": [row]}, headers={"x-user": f"u{user}"})
                assert response.headers["x-model-version"] == response.json()["model_version"]
                seen.setdefault(f"u{user}", set()).add(response.json()["model_version"])
        invocations = client.post(f"{rollout['url']}/invocations", json={"dataframe_records": [row]}, headers={"x-user": "u1"})
        infer = client.post(f"{rollout['url']}/v2/models/{NAME}/infer", headers={"x-user": "u1"}, json={"inputs": [
            {"name": c, "datatype": "FP64", "shape": [1], "data": [row[c]]} for c in COLUMNS]})
        routing = client.get(f"{rollout['url']}/metadata").json()["routing"]
    assert all(len(versions) == 1 for versions in seen.values()), (seen, routing)  # the same caller, the same variant
    assert {v for versions in seen.values() for v in versions} == {"1", "2"}
    for response in (invocations, infer):
        assert response.status_code == 200 and response.headers["x-model-version"] == response.json()["model_version"]
        assert {response.json()["model_version"]} == seen["u1"], (routing, load_state(project).routing)
