"""Neural architecture search in AutoML: the torch family competes with tree families in one Ray Tune run, on
the same validation rows; it wins where an MLP is the right model and loses where trees are (seeded)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SERVE_PORT as PORT  # one Serve port per Ray instance (see conftest)
from conftest import wait_ready, write_spec
from mlops import api
from mlops.cli import app

pytest.importorskip("torch")

SPEC = """
name: nas-{data}
data:
  source: {{type: csv, path: {data}.csv}}
  target: y
  split: {{test_size: 0.25, seed: 0}}
model: {{type: auto, task: regression, metric: rmse, candidates: [torch, random_forest, extra_trees]}}
tuning: {{num_samples: 6, search: optuna, seed: 0, folds: null}}
hardware: {{max_concurrent_trials: 1}}  # one trial at a time: the seeded search proposes the same trials anywhere
tracking: {{uri: "${{oc.env:MLOPS_TRACKING_URI}}"}}
"""
# The winner served online: a torch model behind the same endpoint as any model.
SERVED = "serving: {{mode: online, online: {{route: /nas, port: {port}, batching: {{max_batch_size: 32}}, auth: none}}}}\n"


def write_data(directory, rows: int = 2000, seed: int = 0) -> None:
    """smooth: a smooth function of a few random projections of 20 features (an MLP's home ground; axis-aligned
    trees need many splits for each rotated direction). steps: thresholds of single features (trees' home ground)."""
    rng = np.random.default_rng(seed)
    columns = [f"x{i}" for i in range(20)]
    X = rng.normal(size=(rows, 20))
    Z = X @ (rng.normal(size=(20, 4)) / np.sqrt(20))
    y = np.sin(2 * Z[:, 0]) + Z[:, 1] * Z[:, 2] + np.tanh(2 * Z[:, 3]) + 0.05 * rng.normal(size=rows)
    pd.DataFrame(X, columns=columns).assign(y=y).to_csv(directory / "smooth.csv", index=False)
    X = rng.uniform(-1, 1, size=(rows, 20))
    y = (3.0 * (X[:, 0] > 0.3) + 2.0 * ((X[:, 1] > -0.2) & (X[:, 2] < 0.5)) - 2.5 * (X[:, 3] > 0.7) * (X[:, 4] > 0)
         + 0.1 * rng.normal(size=rows))
    pd.DataFrame(X, columns=columns).assign(y=y).to_csv(directory / "steps.csv", index=False)


def best_of_each_family(tuning) -> dict[str, float]:
    best: dict[str, float] = {}
    for trial in tuning.trials:
        if "rmse" in trial.metrics:
            best[trial.family] = min(best.get(trial.family, np.inf), trial.metrics["rmse"])
    return best


@pytest.mark.slow
def test_the_torch_family_wins_on_a_smooth_function_and_loses_on_steps(ray_local, tracking_uri, tmp_path):
    import mlflow.pyfunc
    from mlflow import MlflowClient

    write_data(tmp_path)
    smooth = api.apply(write_spec(tmp_path, SPEC.format(data="smooth") + SERVED.format(port=PORT), "smooth.yaml"))
    board = best_of_each_family(smooth.tuning)
    assert smooth.tuning.best.family == "torch", board
    assert board["torch"] < 0.8 * min(v for f, v in board.items() if f != "torch"), board
    # the winner is a torch model like any other: saved in the torch flavor, loaded through mlflow.pyfunc
    bundle = api.load_model("nas-smooth", uri=tracking_uri)
    assert bundle.meta["flavor"] == "torch" and bundle.meta["model_type"] == "torch"
    hidden = bundle.meta["architecture"]["hidden"]
    assert len(hidden) == smooth.tuning.best.params["architecture.depth"]
    assert hidden[0] == smooth.tuning.best.params["architecture.width"]
    assert 1 <= bundle.meta["best_epoch"] <= smooth.tuning.best.fitted["training.epochs"]  # the refit's epoch cap
    rows = pd.read_csv(tmp_path / "smooth.csv").drop(columns="y").head(20)
    mlflow.set_tracking_uri(tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/nas-smooth/{smooth.version}").predict(rows)
    assert np.allclose(np.asarray(served, dtype=float), bundle.predict(rows), atol=1e-5)
    # MLflow: the best architecture as readable parameters; `mlops models`: the families side by side
    params = MlflowClient(tracking_uri=tracking_uri).get_run(smooth.run_id).data.params
    assert params["tune.best.estimator"] == "torch" and params["tune.best.architecture.hidden"] == str(hidden)
    assert float(params["tune.best.training.lr"]) == smooth.tuning.best.params["training.lr"]
    shown = CliRunner().invoke(app, ["models", "nas-smooth", "--tracking-uri", tracking_uri], env={"COLUMNS": "160"})
    assert shown.exit_code == 0 and "torch (best trial)" in shown.output and "random_forest" in shown.output, shown.output
    # served online by a replica without a GPU: on the CPU, the spec's batch cap, the registered model's answers
    answers = served_answers(rows, {"device": "cpu", "max_batch_size": 32})
    assert np.allclose(answers, bundle.predict(rows), atol=1e-5)

    steps = api.apply(write_spec(tmp_path, SPEC.format(data="steps"), "steps.yaml"))
    board = best_of_each_family(steps.tuning)
    assert steps.tuning.best.family != "torch" and "torch" in board, board
    assert min(v for f, v in board.items() if f != "torch") < 0.8 * board["torch"], board


def served_answers(rows: pd.DataFrame, expected: dict) -> np.ndarray:
    """The nas endpoint's /metadata holds `expected`; its /predict answers for `rows` (the app is deleted after)."""
    import httpx
    from ray import serve

    url = f"http://127.0.0.1:{PORT}/nas"
    try:
        wait_ready(url)
        meta = httpx.get(f"{url}/metadata").json()
        assert {key: meta[key] for key in expected} == expected, meta
        answer = httpx.post(f"{url}/predict", json={"rows": rows.to_dict(orient="records")}, timeout=30)
        assert answer.status_code == 200, answer.text
        return np.asarray(answer.json()["predictions"], dtype=float)
    finally:
        serve.delete("nas-smooth")


@pytest.mark.slow
@pytest.mark.gpu
def test_on_a_gpu_networks_train_and_serve_there_and_predict_as_on_the_cpu(ray_local, tracking_uri, tmp_path):
    """The trials and refit of the torch family take the task's GPU, the replica places the model on its GPU and
    batches more; a model trained there predicts on the CPU as on the GPU."""
    write_data(tmp_path)
    spec = write_spec(tmp_path, SPEC.format(data="smooth") + SERVED.format(port=PORT), "smooth.yaml")
    result = api.apply(spec, ["hardware.gpus_per_task=1", "hardware.gpus_per_replica=1"])
    assert result.tuning.best.family == "torch"
    rows = pd.read_csv(tmp_path / "smooth.csv").drop(columns="y").head(200)
    bundle = api.load_model("nas-smooth", uri=tracking_uri)  # loaded here, outside Ray: on the CPU
    answers = served_answers(rows, {"device": "cuda", "max_batch_size": 256})
    spread = float(pd.read_csv(tmp_path / "smooth.csv")["y"].std())
    assert np.max(np.abs(answers - bundle.predict(rows))) <= 1e-4 * spread


@pytest.mark.slow
def test_a_ray_task_without_a_gpu_trains_and_predicts_on_the_cpu(ray_local):
    import ray

    @ray.remote(num_cpus=1, num_gpus=0)
    def where() -> tuple:
        from mlops.models.device import held_device, held_gpus

        return held_gpus(), held_device()

    assert ray.get(where.remote()) == ([], "cpu")
