"""Every bundle is an MLflow model: mlflow.pyfunc loads it through mlops' loader, which verifies the files
before deserializing them and predicts with the bundle's own preprocessing."""
from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from mlops.detectors.column_profile import column_schema
from mlops.errors import DataError, RegistryError
from mlops.models.bundle import (INTEGRITY_FILE, MLFLOW_REGISTERED_META, load_bundle, manifest_sha256, save_bundle,
                                 write_integrity)
from mlops.models.preprocessing import build_pipeline
from mlops.models.pyfunc import _load_pyfunc
from mlops.models.scores import labels_from_proba

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
            "encode": "onehot", "derived": {"ratio": "size / (age + 1)"}}


def _rows(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(10, 3, n), "age": rng.integers(1, 40, n),
                          "plan": rng.choice(["basic", "plus", "pro"], n)})
    frame.loc[::7, "size"] = np.nan  # a nullable column: the pipeline imputes it
    return frame


def _save(directory, task: str = "classification", example: bool = True) -> tuple[pd.DataFrame, object]:
    """A small fitted pipeline saved as a bundle, with the metadata training records."""
    X = _rows()
    if task == "classification":
        y, estimator = np.where(X["age"] > 20, "old", "young"), RandomForestClassifier(n_estimators=5, random_state=0)
    else:
        y, estimator = X["age"] * 2.0, RandomForestRegressor(n_estimators=5, random_state=0)
    pipe = build_pipeline(FEATURES, ["size", "age", "ratio"], ["plan"], estimator).fit(X, y)
    classes = pipe.classes_.tolist() if task == "classification" else None
    meta = {"flavor": "sklearn", "task": task, "classes": classes,
            "input_schema": [column_schema(X[c], c == "plan") for c in X.columns]}
    save_bundle(pipe, meta, directory, input_example=X.head(3) if example else None)
    return X, pipe


def test_pyfunc_load_model_predicts_the_labels_mlops_predicts(tmp_path):
    X, pipe = _save(tmp_path / "model")
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    scored = X.assign(customer_id=range(len(X)))  # an id column beside the inputs is dropped, as online
    assert model.predict(scored).tolist() == labels_from_proba(pipe.classes_, pipe.predict_proba(X)).tolist()
    signature = model.metadata.signature
    assert signature.inputs.input_names() == ["size", "age", "plan"]
    assert [c.type.name for c in signature.inputs.inputs] == ["double", "long", "string"]
    assert [c.required for c in signature.inputs.inputs] == [False, True, True]  # size had nulls in training
    assert signature.outputs.inputs[0].type.name == "string"
    assert list(model.input_example.columns) == ["size", "age", "plan"] and len(model.input_example) == 3


def test_regression_values_and_inputs_without_a_dataframe(tmp_path):
    X, pipe = _save(tmp_path / "model", task="regression", example=False)
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    expected = pipe.predict(X.head(4))
    assert np.allclose(model.predict(X.head(4)), expected)
    rows = X.head(4).drop(columns="size").to_dict(orient="records")  # a nullable column may be left out
    assert np.allclose(model.predict(rows), pipe.predict(X.head(4).assign(size=np.nan)))
    assert model.get_raw_model().task == "regression"  # the mlops bundle itself
    direct = _load_pyfunc(str(tmp_path / "model"))  # what MLflow calls; used without a signature to enforce
    assert np.allclose(direct.predict(X.head(4).to_numpy()), expected)  # unnamed columns: in schema order
    with pytest.raises(DataError, match=r"lack input columns \['age'\]"):
        direct.predict([{"size": 1.0, "plan": "pro"}])
    assert model.metadata.signature.outputs.inputs[0].type.name == "double"


def test_a_changed_file_is_refused_before_anything_is_deserialized(tmp_path):
    _save(tmp_path / "model")
    with open(tmp_path / "model" / "pipeline.skops", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(RegistryError, match="fails its integrity check"):
        mlflow.pyfunc.load_model(str(tmp_path / "model"))


def test_with_a_signing_key_the_record_must_be_signed_by_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "key-one")
    _save(tmp_path / "model")
    with pytest.raises(RegistryError, match="is not signed"):  # saved, not yet registered: no version to sign
        mlflow.pyfunc.load_model(str(tmp_path / "model"))
    write_integrity(tmp_path / "model", manifest_sha256(tmp_path / "model"), "m", "1")  # what registration does
    mlflow.pyfunc.load_model(str(tmp_path / "model"))  # signed with the configured key: loads
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "key-two")
    with pytest.raises(RegistryError, match="signature does not match"):
        mlflow.pyfunc.load_model(str(tmp_path / "model"))
    record = json.loads((tmp_path / "model" / INTEGRITY_FILE).read_text())
    (tmp_path / "model" / INTEGRITY_FILE).write_text(json.dumps({**record, "signature": None}))
    with pytest.raises(RegistryError, match="is not signed"):
        mlflow.pyfunc.load_model(str(tmp_path / "model"))


def test_the_hash_covers_the_mlmodel_but_not_the_files_loaders_add(tmp_path):
    _save(tmp_path / "model")
    directory = tmp_path / "model"
    sha = json.loads((directory / INTEGRITY_FILE).read_text())["sha256"]
    assert manifest_sha256(directory) == sha
    # MLflow writes this into the store's folder when it loads models:/NAME/1 from a local store.
    (directory / MLFLOW_REGISTERED_META).write_text("model_name: m\nmodel_version: '1'\n")
    assert load_bundle(directory, sha).task == "classification"
    (directory / "MLmodel").write_text((directory / "MLmodel").read_text().replace("mlops.models.pyfunc", "evil"))
    assert manifest_sha256(directory) != sha


def test_a_bundle_from_before_mlmodel_still_loads_in_mlops(tmp_path):
    X, pipe = _save(tmp_path / "model")
    directory = tmp_path / "model"
    for name in ("MLmodel", "input_example.json", "serving_input_example.json", INTEGRITY_FILE):
        (directory / name).unlink(missing_ok=True)
    loaded = load_bundle(directory, manifest_sha256(directory))  # the registry tag recorded at the time
    assert (loaded.predict(X) == pipe.predict(X)).all()
    with pytest.raises(MlflowException, match="MLmodel"):
        mlflow.pyfunc.load_model(str(directory))


def test_a_torch_bundle_is_an_mlflow_model_too(tmp_path):
    pytest.importorskip("torch")
    from mlops.models.torch_mlp import TorchMLP

    X = _rows().drop(columns="plan")
    y = np.where(X["age"] > 20, 1, 0)
    torch_section = {"task": "classification", "training": {"epochs": 3, "batch_size": 16}}
    pipe = build_pipeline({**FEATURES, "derived": {}}, ["size", "age"], [], TorchMLP(torch_section)).fit(X, y)
    meta = {"flavor": "torch", "task": "classification", "classes": [0, 1],
            "input_schema": [column_schema(X[c], False) for c in X.columns]}
    save_bundle(pipe, meta, tmp_path / "model", input_example=X.head(2))
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert model.predict(X).tolist() == labels_from_proba(pipe.classes_, pipe.predict_proba(X)).tolist()
    assert model.metadata.signature.outputs.inputs[0].type.name == "long"
