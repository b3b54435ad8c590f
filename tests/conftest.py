"""Shared fixtures: one real local Ray for the whole session, a real MLflow SQLite store per test."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray instance shared by every test that needs Ray (mlops reuses an initialized Ray)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh MLflow SQLite store in a temp dir; specs read it through ${oc.env:MLOPS_TRACKING_URI}."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLOPS_TRACKING_URI", uri)
    return uri


@pytest.fixture
def example(tmp_path):
    """Copy an example project into a temp dir so outputs never land in the repo."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("out", ".mlops"))
        return target

    return copy


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    """Write a spec file for a test and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path
