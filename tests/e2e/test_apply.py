"""End to end on a real local Ray and a real MLflow SQLite store: apply, track, register, predict."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import write_spec
from mlops import api
from mlops.errors import RegistryError

pytestmark = pytest.mark.slow


def run_of(uri, run_id):
    return MlflowClient(tracking_uri=uri).get_run(run_id)


def artifacts(uri, run_id, path=""):
    return {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id, path)}


def test_apply_iris_tracks_registers_and_predicts(ray_local, tracking_uri, example):
    spec = example("iris") / "spec.yaml"
    result = api.apply(spec)
    assert result.metrics["f1_macro"] > 0.85
    run = run_of(tracking_uri, result.run_id)
    assert run.data.metrics["f1_macro"] == pytest.approx(result.metrics["f1_macro"])
    assert run.data.params["model.estimator"] == "random_forest"
    assert run.data.tags["data.rows"] == "150" and len(run.data.tags["data.sha256"]) == 64
    assert "version.scikit-learn" in run.data.tags
    assert {"plots/confusion_matrix.png", "plots/feature_importance.png"} <= artifacts(tracking_uri, result.run_id, "plots")
    assert "spec/resolved_spec.yaml" in artifacts(tracking_uri, result.run_id, "spec")
    version = api.registry(tracking_uri).by_alias("iris", "champion")
    assert version.version == result.version == "1" and len(version.sha256) == 64
    predictions = pd.read_parquet(spec.parent / "out" / "iris_predictions.parquet")
    assert len(predictions) == 150
    assert {"prediction", "proba_0", "proba_1", "proba_2"} <= set(predictions.columns)
    assert np.allclose(predictions[["proba_0", "proba_1", "proba_2"]].sum(axis=1), 1.0)


def test_apply_twice_is_a_no_op_and_a_change_reruns(ray_local, tracking_uri, example):
    spec = example("iris") / "spec.yaml"
    first = api.apply(spec)
    again = api.apply(spec)
    assert again.up_to_date and again.run_id == first.run_id
    changed = api.apply(spec, ["model.params.max_depth=2"])
    assert not changed.up_to_date and changed.version == "2"


def test_apply_diabetes_regression(ray_local, tracking_uri, example):
    spec = example("diabetes") / "spec.yaml"
    result = api.apply(spec)
    assert result.metrics["rmse"] < 75 and "r2" in result.metrics
    assert "plots/residuals.png" in artifacts(tracking_uri, result.run_id, "plots")
    assert len(pd.read_parquet(spec.parent / "out" / "diabetes_predictions.parquet")) == 442


def _churn_project(tmp_path, executor: str):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in range(n)],
        "tenure": rng.integers(1, 72, n),
        "charges": rng.normal(70, 20, n).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], n),
    })
    frame.loc[rng.choice(n, 30, replace=False), "charges"] = np.nan  # imputation must handle gaps
    frame["churn"] = np.where((frame["tenure"] < 12) & (frame["plan"] == "basic"), "yes", "no")
    frame.to_csv(tmp_path / "train.csv", index=False)
    scoring = frame.drop(columns="churn").sample(frac=1.0, random_state=1)  # shuffled order must be kept
    scoring.to_parquet(tmp_path / "score.parquet", index=False)
    spec = write_spec(tmp_path, f"""
name: churn
data:
  source: {{type: csv, path: train.csv}}
  target: churn
  id_column: customer_id
  split: {{method: stratified}}
features:
  derived: {{charge_per_month: charges / (tenure + 1)}}
model: {{task: classification, type: sklearn, estimator: logistic_regression, metric: roc_auc}}
serving:
  mode: batch
  batch: {{input: score.parquet, output: out/scored.parquet, executor: {executor}, batch_size: 128}}
tracking: {{uri: "${{oc.env:MLOPS_TRACKING_URI}}"}}
""")
    return spec, scoring


@pytest.mark.parametrize("executor", ["local", "ray_data"])
def test_batch_keeps_rows_order_and_ids(ray_local, tracking_uri, tmp_path, executor):
    spec, scoring = _churn_project(tmp_path, executor)
    result = api.apply(spec)
    assert result.batch.executor == executor and result.batch.rows == len(scoring)
    out = pd.read_parquet(tmp_path / "out" / "scored.parquet")
    assert out["customer_id"].tolist() == scoring["customer_id"].tolist()
    model = api.load_model("churn", uri=tracking_uri)
    expected = model.predict(scoring[model.input_columns])
    assert (out["prediction"].to_numpy() == expected).all()
    assert {"proba_no", "proba_yes"} <= set(out.columns)


def test_registered_model_predicts_like_the_trained_one(ray_local, tracking_uri, example):
    from sklearn.datasets import load_iris

    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    bundle = api.load_model("iris", uri=tracking_uri)
    frame = load_iris(as_frame=True).frame
    frame.columns = bundle.input_columns + ["target"]
    predictions = pd.read_parquet(spec.parent / "out" / "iris_predictions.parquet")
    assert (bundle.predict(frame[bundle.input_columns]) == predictions["prediction"].to_numpy()).all()


@pytest.mark.reliability  # a fault injected; listed in docs/reliability.md
def test_tampered_artifact_is_refused(ray_local, tracking_uri, example):
    """A registered bundle changed on disk after registration: loading it is refused before anything is unpickled."""
    from pathlib import Path
    from urllib.parse import urlparse

    api.apply(example("iris") / "spec.yaml")
    registry = api.registry(tracking_uri)
    version = registry.by_alias("iris", "champion")
    stored = Path(urlparse(version.source).path) / "pipeline.skops"
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(RegistryError, match="integrity check"):
        registry.load("iris")


def test_signed_versions_refuse_a_wrong_or_missing_signature(ray_local, tracking_uri, example, monkeypatch, tmp_path):
    """With a signing key kept outside MLflow, a version is signed at registration and checked at load."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no key file of the user's
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "first-key")
    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    registry = api.registry(tracking_uri)
    version = registry.by_alias("iris", "champion")
    assert version.tags["mlops.hash_scheme"] == "manifest-v1" and version.tags["mlops.signature"].startswith("v2:")
    assert registry.load("iris").meta["format"] == 2  # signed with the key in force: loads
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "another-key")
    with pytest.raises(RegistryError, match="signature does not match"):
        registry.load("iris")
    monkeypatch.delenv("MLOPS_SIGNING_KEY")
    key_file = tmp_path / "config" / "mlops" / "signing_key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("first-key\n")  # the key file works like the variable
    assert registry.load("iris").meta["name"] == "iris"
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "first-key")
    registry.client.delete_model_version_tag("iris", version.version, "mlops.signature")
    with pytest.raises(RegistryError, match="not signed"):
        registry.load("iris")


def test_promote_and_rollback(ray_local, tracking_uri, example):
    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    api.apply(spec, ["model.params.max_depth=1", "model.params.n_estimators=5"])
    registry = api.registry(tracking_uri)
    api.promote("iris", "2", tracking_uri)
    assert registry.by_alias("iris", "champion").version == "2"
    assert api.rollback("iris", tracking_uri) == "1"
    assert registry.by_alias("iris", "champion").version == "1"
    with pytest.raises(RegistryError, match="no previous champion"):
        api.rollback("iris", tracking_uri)


def test_infeasible_request_fails_before_scheduling(ray_local, tracking_uri, example):
    from mlops.errors import ResourceError

    with pytest.raises(ResourceError, match=r"hardware.cpus_per_task=64 but the largest node has 2 CPUs"):
        api.apply(example("iris") / "spec.yaml", ["hardware.cpus_per_task=64"])


def test_the_ray_nodes_run_while_the_tracking_store_opens(ray_local, tracking_uri, example, tmp_path, monkeypatch):
    """Opening MLflow's store (its import, a new store's schema) takes seconds that the plan's Ray nodes
    spend loading and training: the store opens after they were handed to Ray, not before. The stage is
    the real one, noting when it starts; the store waits (bounded) for the load to have started."""
    import time
    from pathlib import Path

    import mlops.registry as registry_module
    import mlops.runtime.execute as execute_module
    from mlops.runtime.node_calls import run_task

    marks = tmp_path / "marks"
    marks.mkdir()

    @ray_local.remote(num_returns=2)
    def noting_stage(node, *values):
        Path(marks, node.id).touch()
        start = time.perf_counter()
        return run_task(node, dict(zip(node.inputs, values))), time.perf_counter() - start

    real_registry = registry_module.Registry
    load_started_before_the_store: list[bool] = []

    def waiting_registry(uri, create=True):
        deadline = time.time() + 15
        while not (marks / "load").exists() and time.time() < deadline:
            time.sleep(0.05)
        load_started_before_the_store.append((marks / "load").exists())
        return real_registry(uri, create)

    monkeypatch.setattr(execute_module, "_run_stage", noting_stage)
    monkeypatch.setattr(registry_module, "Registry", waiting_registry)
    result = api.apply(example("iris") / "spec.yaml")
    assert load_started_before_the_store == [True]
    assert result.version == "1" and {"load", "train", "evaluate"} <= set(result.ran)
