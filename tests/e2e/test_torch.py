"""Torch models: spec errors, the plan's worker resources, in-process fits, and Ray Train end to end."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from conftest import EXAMPLES, write_spec
from mlops import api
from mlops.cli import app
from mlops.errors import ResourceError

TORCH = EXAMPLES / "tabular-torch" / "spec.yaml"
FAST = ["model.training.epochs=5", "model.training.batch_size=128"]  # keeps each apply to a few seconds of training

SPEC = """
name: torchy
data:
  source: {type: csv, path: data.csv}
  target: label
model:
  type: torch
  task: classification
"""
CSV = "a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n" for i in range(12))


def validate(tmp_path, extra: str):
    (tmp_path / "data.csv").write_text(CSV)
    return CliRunner().invoke(app, ["validate", str(write_spec(tmp_path, SPEC + extra))])


@pytest.mark.parametrize("extra, fragments", [
    ("  architecture: {activation: relux}\n", ["model.architecture.activation", "relux", "did you mean 'relu'"]),
    ("  training: {lr: -0.01}\n", ["model.training.lr", "greater than 0"]),
    ("  training: {optimizer: adamm}\n", ["model.training.optimizer", "did you mean 'adam'"]),
    ("  training: {epoch: 3}\n", ["model.training.epoch", "unknown key", "did you mean 'epochs'"]),
    ("  training: {early_stopping: {patience: 0}}\n", ["model.training.early_stopping.patience"]),
    ("  architecture: {hidden: [16, 0]}\n", ["model.architecture.hidden.1"]),
    ("  architecture: {dropout: 1.5}\n", ["model.architecture.dropout", "1.5"]),
])
def test_bad_torch_section_names_the_field(tmp_path, extra, fragments):
    result = validate(tmp_path, extra)
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in {result.output}"
    assert "Traceback" not in result.output


def test_torch_plan_trains_from_the_driver_with_worker_resources():
    plan = api.plan(TORCH)
    train = plan.node("train")
    assert (train.kind, train.placement) == ("train_torch", "driver")
    assert train.params["workers"] == 2 and train.params["use_gpu"] is False
    assert train.params["resources_per_worker"] == {"CPU": 1.0} and train.resources == {"CPU": 2.0}
    assert Path(train.runtime["checkpoint_dir"]).is_absolute()
    assert [n.id for n in plan.nodes][:5] == ["load", "featurize", "split", "train", "evaluate"]


def test_gpu_spec_compiles_to_use_gpu_and_gpu_resources():
    plan = api.plan(TORCH, ["hardware.accelerator=gpu", "hardware.workers=4", "hardware.cpus_per_worker=2"])
    train = plan.node("train")
    assert train.params["use_gpu"] is True
    assert train.params["resources_per_worker"] == {"CPU": 2.0, "GPU": 1.0}
    assert train.resources == {"CPU": 8.0, "GPU": 4.0}
    half = api.plan(TORCH, ["hardware.gpus_per_worker=0.5"]).node("train")  # asking for GPUs means GPU training
    assert half.params["use_gpu"] is True and half.resources == {"CPU": 2.0, "GPU": 1.0}
    auto = api.plan(TORCH, ["hardware.accelerator=auto"]).node("train")
    assert auto.params["use_gpu"] == "auto" and "GPU" not in auto.resources
    shown = CliRunner().invoke(app, ["plan", str(TORCH), "hardware.accelerator=gpu"])
    assert shown.exit_code == 0 and "use_gpu=True" in " ".join(shown.output.split())


def test_planning_a_torch_spec_imports_no_torch_or_ray():
    code = ("import sys; from mlops import api; api.plan(sys.argv[1]).to_json(); "
            "print([m for m in ('ray', 'torch', 'mlflow', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code, str(TORCH)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_accelerator_auto_falls_back_to_cpu_with_a_warning():
    from mlops.runtime.ray_train import check_workers, use_gpu_on

    plan = api.plan(TORCH, ["hardware.accelerator=auto"])
    params = plan.node("train").params
    with pytest.warns(UserWarning, match="no GPUs, so torch training runs on CPU"):
        check_workers(plan, [{"CPU": 2.0}])
    assert use_gpu_on(params, [{"CPU": 8.0, "GPU": 2.0}]) is True
    check_workers(plan, [{"CPU": 8.0, "GPU": 2.0}])  # fits: no error


def test_fit_in_process_reports_epochs_and_round_trips_through_the_flavor(tmp_path):
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from mlops.models.torch_mlp import TorchFlavor, fit_in_process

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = np.where(y == 1, "benign", "malignant")
    seen = []
    section = {"task": "classification", "training": {"epochs": 40, "batch_size": 32, "lr": 3e-3,
                                                      "early_stopping": {"patience": 2}}}
    model = fit_in_process(section, X[:400], y[:400], X[400:], y[400:], report=lambda epoch, m: seen.append((epoch, m)))
    assert [e for e, _ in seen] == list(range(1, len(seen) + 1)) and len(seen) < 40  # stopped early
    assert {"train_loss", "val_loss", "val_f1_macro"} <= set(seen[0][1])
    assert list(model.classes_) == ["benign", "malignant"] and (model.predict(X[400:]) == y[400:]).mean() > 0.9
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("scale", StandardScaler().fit(X)), ("model", model)])
    TorchFlavor.save(pipeline, tmp_path)
    loaded = TorchFlavor.load(tmp_path, {})
    assert np.allclose(loaded.predict_proba(X), pipeline.predict_proba(X)) and list(loaded.classes_) == list(model.classes_)


@pytest.mark.slow
def test_torch_on_two_workers_end_to_end(ray_local, tracking_uri, example):
    from mlops.stages import evaluate
    from mlops.stages.train import Trained

    spec = example("tabular-torch") / "spec.yaml"
    result = api.apply(spec, FAST)
    assert result.metrics["f1_macro"] > 0.9
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["mlops.ray_train.workers"] == "2" and run.data.tags["mlops.ray_train.use_gpu"] == "False"
    steps = [m.step for m in client.get_metric_history(result.run_id, "val_f1_macro")]
    assert sorted(steps) == list(range(1, int(run.data.tags["mlops.ray_train.epochs_run"]) + 1))
    assert list(Path(run.data.tags["mlops.ray_train.path"]).glob("checkpoint_*")), "no checkpoint kept"
    # The registered model (downloaded, sha256-verified) scores exactly as the in-memory one did in evaluate.
    bundle = api.load_model("tabular-torch", uri=tracking_uri)
    assert bundle.meta["flavor"] == "torch" and bundle.meta["architecture"]["hidden"] == [64, 32]
    project = api.load(spec, FAST)
    split = _split_of(project)
    again = evaluate.run(Trained(bundle.model, bundle.meta), split, {"task": "classification", "metric": "f1_macro"})
    for name in ("f1_macro", "log_loss", "roc_auc"):
        assert again.metrics[name] == pytest.approx(result.metrics[name], abs=1e-9)
    predictions = pd.read_parquet(spec.parent / "out" / "predictions.parquet")
    assert len(predictions) == 569 and {"prediction", "proba_0", "proba_1"} <= set(predictions.columns)


@pytest.mark.slow
@pytest.mark.reliability  # a fault injected; listed in docs/reliability.md
def test_worker_failure_resumes_from_the_last_checkpoint(ray_local, tracking_uri, example, monkeypatch):
    """A Ray Train worker fails mid-training: the run restarts from its last checkpoint and finishes with every epoch."""
    monkeypatch.setenv("MLOPS_TEST_FAIL_AT_EPOCH", "2")
    spec = example("tabular-torch") / "spec.yaml"
    result = api.apply(spec, [*FAST, "model.training.epochs=4", "~model.training.early_stopping", "hardware.max_failures=1"])
    client = MlflowClient(tracking_uri=tracking_uri)
    tags = client.get_run(result.run_id).data.tags
    assert tags["mlops.ray_train.resumed_from_epoch"] == "2"  # epoch 1's checkpoint was restored
    assert (Path(tags["mlops.ray_train.path"]) / "test_hook_failed_once").is_file()
    assert [m.step for m in client.get_metric_history(result.run_id, "train_loss")] == [1, 2, 3, 4]
    assert result.metrics["f1_macro"] > 0.9


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_gpu_on_a_cpu_only_cluster_fails_before_scheduling(ray_local, tracking_uri, example):
    spec = example("tabular-torch") / "spec.yaml"
    with pytest.raises(ResourceError, match=r"hardware.gpus_per_worker=1 but the cluster has 0 GPUs"):
        api.apply(spec, ["hardware.accelerator=gpu"])
    with pytest.raises(ResourceError, match=r"hardware.workers=3 x hardware.cpus_per_worker=1 needs 3 CPUs but the cluster has 2"):
        api.apply(spec, ["hardware.workers=3"])
    client = MlflowClient(tracking_uri=tracking_uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []  # nothing started
    result = CliRunner().invoke(app, ["apply", str(spec), "hardware.gpus_per_worker=1"])
    assert result.exit_code == 2 and "0 GPUs" in result.output and "Traceback" not in result.output


def _split_of(project):
    """The train/test split apply used, rebuilt in-process from the same stage functions."""
    from mlops.plan import compile_plan
    from mlops.stages import featurize, load, split

    plan = compile_plan(project)
    loaded = load.run(plan.node("load").call_params())
    features = featurize.run(loaded, plan.node("featurize").call_params())
    return split.run(features, plan.node("split").call_params())


@pytest.mark.slow
def test_tuning_a_torch_model_searches_training_and_refits_on_ray_train(ray_local, tracking_uri, example):
    """Trials fit in-process per epoch (ASHA can stop them); the best config is retrained on Ray Train."""
    spec = example("tabular-torch") / "spec.yaml"
    result = api.apply(spec, [*FAST, "hardware.workers=1", "+tuning.num_samples=2", "+tuning.search=random",
                              "+tuning.scheduler=asha", "+tuning.search_space.training.lr.loguniform=[1e-3,1e-2]"])
    trials = result.tuning.trials
    assert len(trials) == 2 and all(1e-3 <= t.params["training.lr"] <= 1e-2 for t in trials)
    assert all(t.steps >= 1 for t in trials)  # reported per epoch
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(result.run_id)
    assert float(run.data.params["tune.best.training.lr"]) == pytest.approx(result.tuning.best.params["training.lr"])
    bundle = api.load_model("tabular-torch", uri=tracking_uri)
    assert bundle.meta["flavor"] == "torch"
    assert run.data.tags["mlops.ray_train.workers"] == "1" and result.metrics["f1_macro"] > 0.85
