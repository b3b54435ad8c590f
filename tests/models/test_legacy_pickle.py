"""Only a bundle whose recorded format predates skops (format 1) may unpickle, and only with MLOPS_ALLOW_PICKLE=1."""
from __future__ import annotations

import json

import joblib
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops.errors import RegistryError
from mlops.models.bundle import BUNDLE_FORMAT, META_FILE, SklearnFlavor, load_bundle, manifest_sha256, save_bundle, write_integrity

X = pd.DataFrame({"a": np.linspace(0, 1, 20)})
META = {"flavor": "sklearn", "task": "classification", "classes": [False, True],
        "input_schema": [{"name": "a", "type": "number"}]}


class Marker:
    """Unpickling it creates `path`: the proof that a pickle was (or was not) loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def _old_bundle(directory, payload, meta=META):
    """A bundle as mlops wrote it before skops: meta without "format" (format 1), pipeline.pkl."""
    directory.mkdir()
    joblib.dump(payload, directory / SklearnFlavor.legacy_file)
    (directory / META_FILE).write_text(json.dumps(meta))
    return manifest_sha256(directory)


def test_a_format_1_pickle_is_refused_without_the_flag_and_loads_with_it(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_ALLOW_PICKLE", raising=False)
    model = LogisticRegression().fit(X, X["a"] > 0.5)
    sha = _old_bundle(tmp_path / "old", model)
    with pytest.raises(RegistryError, match=r"pipeline.pkl is a pickle.*MLOPS_ALLOW_PICKLE=1"):
        load_bundle(tmp_path / "old", sha)
    monkeypatch.setenv("MLOPS_ALLOW_PICKLE", "1")
    assert load_bundle(tmp_path / "old", sha).predict(X).tolist() == model.predict(X).tolist()


def test_without_the_flag_nothing_is_unpickled(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_ALLOW_PICKLE", raising=False)
    marker = tmp_path / "ran"
    sha = _old_bundle(tmp_path / "old", Marker(marker))
    with pytest.raises(RegistryError, match="MLOPS_ALLOW_PICKLE"):
        load_bundle(tmp_path / "old", sha)
    assert not marker.exists()


def test_a_current_format_bundle_with_only_a_pickle_is_refused_even_with_the_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_ALLOW_PICKLE", "1")
    directory, marker = tmp_path / "model", tmp_path / "ran"
    save_bundle(LogisticRegression().fit(X, X["a"] > 0.5), META, directory)
    assert json.loads((directory / META_FILE).read_text())["format"] == BUNDLE_FORMAT == 2
    # Someone who can write the store swaps the skops file for a pickle and rewrites the hash record.
    (directory / SklearnFlavor.file).unlink()
    joblib.dump(Marker(marker), directory / SklearnFlavor.legacy_file)
    write_integrity(directory, manifest_sha256(directory))
    for load in (lambda: load_bundle(directory, manifest_sha256(directory)),
                 lambda: mlflow.pyfunc.load_model(str(directory))):
        with pytest.raises(RegistryError, match=r"format 2.*never hold a pickle.*not even with MLOPS_ALLOW_PICKLE"):
            load()
    assert not marker.exists()


def test_a_bundle_with_neither_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_ALLOW_PICKLE", "1")
    directory = tmp_path / "empty"
    directory.mkdir()
    (directory / META_FILE).write_text(json.dumps(META))
    with pytest.raises(RegistryError, match="has neither pipeline.skops nor pipeline.pkl"):
        load_bundle(directory, manifest_sha256(directory))


def test_a_format_1_torch_bundle_unpickles_its_preprocessing_only_with_the_flag(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from mlops.models.torch_mlp import TorchFlavor

    monkeypatch.delenv("MLOPS_ALLOW_PICKLE", raising=False)
    directory, marker = tmp_path / "torch", tmp_path / "ran"
    directory.mkdir()
    joblib.dump(Marker(marker), directory / TorchFlavor.legacy_preprocessing_file)
    (directory / META_FILE).write_text(json.dumps({**META, "flavor": "torch", "format": 1}))
    with pytest.raises(RegistryError, match=r"preprocessing.pkl is a pickle.*MLOPS_ALLOW_PICKLE=1"):
        load_bundle(directory, manifest_sha256(directory))
    assert not marker.exists()
