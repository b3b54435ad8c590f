"""The recorded plan drives a running endpoint: a spec edited but not applied changes nothing that runs (a
promote redeploys the recorded deploy node), `mlops plan` shows the edit as pending, and `mlops apply`
deploys it. The replicas run exactly the recorded settings (the settings hash they report at /metadata
equals the hash of the deploy node's params recorded by the apply). Real Ray, Serve on loopback, MLflow."""
from __future__ import annotations

import httpx
import pytest

from conftest import delete_app, SERVE_PORT, wait_ready, write_spec
from mlops import api

pytestmark = pytest.mark.slow

NAME = "iris_recorded"
SPEC = """
name: {name}
data:
  source: {{type: sklearn, name: iris}}
  target: target
model:
  task: classification
  type: sklearn
  estimator: random_forest
  params: {{n_estimators: 10, max_depth: {depth}, random_state: 0}}
  metric: f1_macro
serving:
  mode: online
  online: {{route: /{name}, port: {port}, max_rows: {max_rows}, replicas: {{fixed: 1}}{auth}}}
tracking: {{uri: "{uri}"}}
"""
ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
TOKEN_ENV = "IRIS_RECORDED_TOKEN"


def spec_text(uri: str, *, depth: int = 3, max_rows: int = 100, auth: bool = False) -> str:
    return SPEC.format(name=NAME, port=SERVE_PORT, uri=uri, depth=depth, max_rows=max_rows,
                       auth=f", auth: {{token_env: {TOKEN_ENV}}}" if auth else ", auth: none")


@pytest.fixture(scope="module")
def endpoint(ray_local, tmp_path_factory):
    """Version 1 applied and serving with max_rows 100; version 2 registered (by a second apply)."""
    root = tmp_path_factory.mktemp("recorded")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = write_spec(root, spec_text(uri))
    assert api.apply(spec).version == "1"
    url = f"http://127.0.0.1:{SERVE_PORT}/{NAME}"
    wait_ready(url)
    write_spec(root, spec_text(uri, depth=2))
    assert api.apply(spec).version == "2"
    yield {"url": url, "uri": uri, "spec": spec, "root": root}
    delete_app(NAME)


def eventually(check, what: str, timeout: float = 60) -> None:
    """Poll `check` until it holds: replicas of a redeploy take over within a few seconds."""
    import time

    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def predict(url: str, rows: int, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/predict", json={"rows": [ROW] * rows}, headers=headers, timeout=30)


def recorded_settings_hash(endpoint) -> str:
    """The hash of the deploy node's params as the last apply recorded them in the store."""
    from mlops.plan.graph import content_hash
    from mlops.runtime.applied import applied_deploy_node

    node = applied_deploy_node(api.load(endpoint["spec"], check_data=False))
    return content_hash(node.params)


def served_settings_hash(url: str, token: str | None = None) -> str:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{url}/metadata", headers=headers, timeout=10).json()["settings_hash"]


def test_the_replicas_run_the_recorded_settings(endpoint):
    assert served_settings_hash(endpoint["url"]) == recorded_settings_hash(endpoint)


def test_an_edit_not_applied_changes_nothing_a_promote_deploys(endpoint, monkeypatch):
    """The reproduced bug: applied with max_rows 100, promote, file edited to max_rows 1 and auth on (not
    applied), promote again: the new version serves with the recorded settings (5 rows, no token)."""
    from typer.testing import CliRunner

    from mlops.cli import app

    url, uri, spec = endpoint["url"], endpoint["uri"], endpoint["spec"]
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    assert api.promote(NAME, "2", uri) == "2"
    applied = recorded_settings_hash(endpoint)
    write_spec(endpoint["root"], spec_text(uri, depth=2, max_rows=1, auth=True))  # edited, not applied
    assert api.promote(NAME, "1", uri) == "1"
    eventually(lambda: predict(url, 1).json().get("model_version") == "1", "version 1 to serve")
    answer = predict(url, 5)
    assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
    assert served_settings_hash(url) == applied == recorded_settings_hash(endpoint)

    # `mlops plan` shows the edit as pending: the deploy node will run, naming each changed setting.
    actions = api.explain(api.plan(spec))
    assert actions["deploy"]["action"] == "run"
    reasons = actions["deploy"]["reasons"]
    assert "max_rows: 100 -> 1" in reasons and any(TOKEN_ENV in reason for reason in reasons), reasons
    shown = CliRunner().invoke(app, ["plan", str(spec)], env={"COLUMNS": "400"})
    deploy_row = next(line for line in shown.output.splitlines() if line.strip("│ ").startswith("deploy"))
    assert "will run" in deploy_row and "max_rows: 100 -> 1" in deploy_row, shown.output
    assert "Plan: 1 to run, 7 cached." in shown.output

    # `mlops apply` deploys it: the limit and the token hold now, and the replicas run the new record.
    assert "deploy" in api.apply(spec).ran
    eventually(lambda: predict(url, 5).status_code == 401, "the token to be asked for")
    assert predict(url, 5, "s3cret").status_code == 422
    assert predict(url, 1, "s3cret").status_code == 200
    assert served_settings_hash(url, "s3cret") == recorded_settings_hash(endpoint) != applied
