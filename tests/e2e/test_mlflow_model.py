"""A registered version is an MLflow model: MLflow's own loader and CLI, pointed at the spec's store, predict
what `mlops predict --local` predicts. One apply of examples/iris serves every test here."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from conftest import EXAMPLES
from mlops import api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def iris(ray_local, tmp_path_factory):
    """examples/iris applied once into a fresh store; MLflow's client reads that store from its env vars."""
    root = tmp_path_factory.mktemp("mlflow-model")
    copy = shutil.copytree(EXAMPLES / "iris", root / "iris", ignore=shutil.ignore_patterns("out", ".mlops"))
    spec = Path(copy) / "spec.yaml"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as env:
        for name in ("MLOPS_TRACKING_URI", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            env.setenv(name, uri)
        api.apply(spec, ["~serving"])  # no batch scoring: only the registered version matters here
        rows = json.loads((EXAMPLES / "iris" / "rows.json").read_text())["rows"]
        yield {"spec": spec, "uri": uri, "rows": rows,
               "local": api.predict(spec, [], str(EXAMPLES / "iris" / "rows.json"), local=True)["predictions"]}


def test_pyfunc_load_model_of_the_champion_predicts_what_mlops_predicts(iris):
    model = mlflow.pyfunc.load_model("models:/iris@champion")
    assert model.predict(pd.DataFrame(iris["rows"])).tolist() == iris["local"]
    info = mlflow.models.get_model_info("models:/iris/1")  # what the MLflow UI shows for the version
    assert info.signature.inputs.input_names() == list(iris["rows"][0])
    assert info.flavors["python_function"]["loader_module"] == "mlops.models.pyfunc"
    assert len(model.input_example) == 5
    # MLflow left registered_model_meta in the store's folder of that version: mlops' own check ignores it.
    assert api.load_model("iris", uri=iris["uri"]).meta["registered_version"] == "1"


def test_mlflow_models_predict_scores_a_csv_with_the_registered_version(iris, tmp_path):
    rows = tmp_path / "rows.csv"
    pd.DataFrame(iris["rows"]).assign(row_id=range(len(iris["rows"]))).to_csv(rows, index=False)  # an id is ignored
    out = tmp_path / "predictions.json"
    cli = Path(sys.executable).parent / "mlflow"
    done = subprocess.run([str(cli), "models", "predict", "-m", "models:/iris/1", "-i", str(rows), "-t", "csv",
                           "--env-manager", "local", "-o", str(out)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(out.read_text())["predictions"] == iris["local"]
