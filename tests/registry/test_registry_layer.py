"""The registry layer over a real MLflow SQLite store, without Ray: versions, the champion alias and its
history, verified loading, the applied state kept in MLflow, and read-only commands never creating a store."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops.errors import RegistryError
from mlops.models.bundle import save_bundle
from mlops.registry import CHAMPION, Registry


@pytest.fixture
def store(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    X = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    model = LogisticRegression().fit(X, X["a"] > 0.5)
    meta = {"flavor": "sklearn", "task": "classification", "classes": [False, True],
            "input_schema": [{"name": "a", "type": "number"}]}

    def register(n: int) -> str:
        run_id = registry.start_run("demo")
        directory = tmp_path / f"bundle{n}"
        sha = save_bundle(model, meta, directory)
        uri = registry.log_dir(run_id, directory, "model")
        registry.end_run(run_id)
        return registry.register("demo", uri, run_id, sha).version

    return registry, register


def test_versions_alias_history_and_rollback(store):
    registry, register = store
    first, second = register(1), register(2)
    registry.promote("demo", first)
    registry.promote("demo", second)
    assert registry.by_alias("demo", CHAMPION).version == second
    assert registry.champion_history("demo") == [first, second]
    assert registry.rollback("demo") == first
    assert registry.by_alias("demo", CHAMPION).version == first


def test_loading_verifies_the_bundle(store):
    registry, register = store
    version = register(1)
    bundle = registry.load("demo", alias=None, version=version)
    assert bundle.predict(pd.DataFrame({"a": [0.9]})).tolist() == [True]


def test_applied_state_round_trips_through_mlflow(store):
    registry, _ = store
    run_id = registry.start_run("demo")
    registry.record_applied_state("demo", run_id, "demo", {"plan_hash": "abc", "nodes": {}})
    registry.end_run(run_id)
    assert registry.applied_state("demo", "demo")["plan_hash"] == "abc"
    assert registry.applied_state("demo", "other") == {}


def test_read_only_access_never_creates_a_store(tmp_path):
    with pytest.raises(RegistryError, match="no tracking store"):
        Registry(f"sqlite:///{tmp_path / 'nothing' / 'mlflow.db'}", create=False)
    assert not (tmp_path / "nothing").exists()
