"""No secret of the spec reaches MLflow or the files beside the store, whichever way it came in: an override
with a webhook token in its path and query, and a tracking URI with a password read from the environment.

The store is a real MLflow tracking server on loopback (an HTTP store is where a password lives in the
URI); the apply trains, registers, batch-scores and deploys (the deploy node's plan carries the overrides).
Afterwards every param, tag, artifact and registered version, and every byte under the project, the
server's database and its artifact root, is searched for the secrets.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import fresh_stores
from conftest import SERVE_PORT, free_port, wait_ready

pytestmark = pytest.mark.slow

PASSWORD = "pw-Str0ngPassw0rd-4711"
PATH_SECRET = "PathS3cretXq9v8w7u6t5s4r"
QUERY_SECRET = "QueryS3cret-c0ffee"
HOOK = f"https://hooks.slack.com/services/T0001/B0002/{PATH_SECRET}?token={QUERY_SECRET}"
SECRETS = [PASSWORD, PATH_SECRET, QUERY_SECRET]


@pytest.fixture
def password_store(tmp_path):
    """An MLflow tracking server on loopback; its URI (with user:password) and its folder."""
    folder = tmp_path / "server"
    folder.mkdir()
    fresh_stores.create(folder / "mlflow.db")  # the server's tables, made as fast as the suite's other stores
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--workers", "1",
                             "--default-artifact-root", (folder / "artifacts").as_uri(), "--no-serve-artifacts"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "mlflow server exited"
            time.sleep(0.5)
        yield f"http://mlops:{PASSWORD}@127.0.0.1:{port}", folder
    finally:
        proc.terminate()
        proc.wait(30)


def everything_recorded(uri: str, name: str, tmp: Path) -> list[str]:
    """Every param, tag, artifact, experiment tag and registered version field of the store, as text."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    seen: list[str] = []
    for experiment in client.search_experiments():
        seen += [str(experiment.tags), experiment.artifact_location or ""]
        for run in client.search_runs([experiment.experiment_id]):
            seen += [str(run.data.params), str(run.data.tags), run.info.artifact_uri or "", run.info.run_name or ""]
            local = Path(client.download_artifacts(run.info.run_id, "", str(tmp / run.info.run_id)))
            seen += [p.read_bytes().decode("utf-8", "replace") for p in local.rglob("*") if p.is_file()]
    model = client.get_registered_model(name)
    seen += [str(model.tags), str(model.aliases), model.description or ""]
    for version in client.search_model_versions(f"name = '{name}'"):
        seen += [str(version.tags), version.source or "", version.run_link or "", version.description or ""]
    assert any("spec/plan.json" in s or '"nodes"' in s for s in seen), "the plan artifact was not read"
    return seen


def test_no_secret_reaches_mlflow_or_the_files_beside_the_store(tmp_path, example, ray_local, password_store, monkeypatch):
    from mlops import api

    uri, server = password_store
    monkeypatch.setenv("SECRET_TRACKING_URI", uri)
    project = example("iris")
    overrides = ["name=secretive", f"serving.online.port={SERVE_PORT}", "serving.online.route=/secretive",
                 "tracking.uri='${oc.env:SECRET_TRACKING_URI}'", "+monitoring.sink.type=webhook",
                 f"+monitoring.sink.url='{HOOK}'"]
    try:
        result = api.apply(project / "online.yaml", overrides)
        assert result.version == "1" and result.endpoint is not None
        wait_ready(f"http://127.0.0.1:{SERVE_PORT}/secretive")  # the replicas reached the store with the password
        # The plan is the contract: the nodes still get the password they run with.
        plan = api.plan(project / "online.yaml", overrides)
        assert plan.node("register").runtime["tracking_uri"] == uri == plan.node("deploy").runtime["tracking_uri"]
        seen = everything_recorded(uri, "secretive", tmp_path / "download")
    finally:
        from ray import serve

        serve.delete("secretive")
    leaked = [s for s in SECRETS if any(s in text for text in seen)]
    assert not leaked, f"{leaked} recorded in MLflow"
    # What was recorded with the secrets in it is there, redacted: the plan (and the applied state, which holds
    # the plan) with the store's URI, and the resolved spec with the webhook (the sink is outside the plan).
    plans = [s for s in seen if '"nodes"' in s and '"tracking_uri"' in s]
    assert plans and all("http://***@127.0.0.1" in text for text in plans)
    assert any("https://hooks.slack.com/services/***" in text for text in seen)
    files = [p for folder in (project, server) for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in files) and any(p.suffix == ".pkl" for p in files)  # db and node cache
    written = [p for p in files if any(s.encode() in p.read_bytes() for s in SECRETS)]
    assert not written, f"secrets written to {written}"
