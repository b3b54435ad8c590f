"""Pytest fixtures for mlops and its plugins (`-p mlops.testing`): real Ray, real MLflow store."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray instance shared by every test that needs Ray (mlops reuses an initialized Ray)."""
    import ray

    from mlops.serving.deploy import throughput_env

    # Serve's throughput mode (HAProxy ingress) is read by the controller from the cluster's environment.
    for key, value in throughput_env().items():
        os.environ.setdefault(key, value)
    if not ray.is_initialized():
        from mlops.cluster.session import start_embedded

        start_embedded(2)  # as mlops starts it: loopback only, token auth
    yield ray
    ray.shutdown()


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh MLflow SQLite store in a temp dir; specs read it through ${oc.env:MLOPS_TRACKING_URI}."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLOPS_TRACKING_URI", uri)
    return uri
