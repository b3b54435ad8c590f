"""A signature says which model and version it is for: another model's, or an older version's, signed bundle
(files, hash and signature all copied) put in a version's place is refused, by mlops' own loads and by
MLflow's pyfunc loader. A real MLflow SQLite store, without Ray."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops import tracking_tags
from mlops.errors import RegistryError
from mlops.models.bundle import INTEGRITY_FILE, save_bundle
from mlops.registry import Registry


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store, a signing key, and `register(name, threshold)` -> the new version."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no key file of the user's
    monkeypatch.setenv("MLOPS_SIGNING_KEY", "the-key")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # for mlflow.pyfunc.load_model("models:/...")
        monkeypatch.setenv(name, uri)
    registry = Registry(uri)
    X = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    meta = {"flavor": "sklearn", "task": "classification", "classes": [False, True],
            "input_schema": [{"name": "a", "type": "number"}]}

    def register(name: str, threshold: float) -> str:
        run_id = registry.start_run("demo")
        directory = tmp_path / f"bundle-{name}-{threshold}"
        sha = save_bundle(LogisticRegression().fit(X, X["a"] > threshold), meta, directory)
        source = registry.log_dir(run_id, directory, "model")
        registry.end_run(run_id)
        return registry.register(name, source, run_id, sha).version

    return registry, register


def _folder(registry: Registry, name: str, version: str) -> Path:
    return Path(urlparse(registry.version(name, version).source).path)


def _swap(registry: Registry, into: tuple[str, str], taken_from: tuple[str, str]) -> None:
    """Put another version's files and its sha256 and signature tags in the place of `into`."""
    source = registry.version(*taken_from)
    target = _folder(registry, *into)
    shutil.rmtree(target)
    shutil.copytree(_folder(registry, *taken_from), target)
    for tag in (tracking_tags.SHA256, tracking_tags.SIGNATURE):
        registry.client.set_model_version_tag(into[0], into[1], tag, source.tags[tag])


def test_a_signed_version_loads_and_its_record_names_it(store):
    registry, register = store
    version = register("iris", 0.5)
    assert registry.version("iris", version).tags[tracking_tags.SIGNATURE].startswith("v2:")
    assert registry.load("iris", alias=None, version=version).task == "classification"
    record = json.loads((_folder(registry, "iris", version) / INTEGRITY_FILE).read_text())
    assert (record["name"], record["version"]) == ("iris", version) and record["signature"].startswith("v2:")
    assert mlflow.pyfunc.load_model(f"models:/iris/{version}").predict(pd.DataFrame({"a": [0.9]})).tolist() == [True]


def test_an_older_versions_signed_bundle_is_refused(store):
    registry, register = store
    old, new = register("iris", 0.5), register("iris", 0.2)
    _swap(registry, into=("iris", new), taken_from=("iris", old))
    with pytest.raises(RegistryError, match=f"model 'iris' v{new}: its signature does not match .* for model 'iris' v{new}"):
        registry.load("iris", alias=None, version=new)
    with pytest.raises(RegistryError, match=f"signed as 'iris' v{old}, but MLflow loaded it as 'iris' v{new}"):
        mlflow.pyfunc.load_model(f"models:/iris/{new}")


def test_another_models_signed_bundle_is_refused(store):
    registry, register = store
    iris, churn = register("iris", 0.5), register("churn", 0.3)
    _swap(registry, into=("iris", iris), taken_from=("churn", churn))
    with pytest.raises(RegistryError, match="signature does not match this signing key for model 'iris'"):
        registry.load("iris", alias=None, version=iris)
    with pytest.raises(RegistryError, match=f"signed as 'churn' v{churn}, but MLflow loaded it as 'iris' v{iris}"):
        mlflow.pyfunc.load_model(f"models:/iris/{iris}")


def test_a_signature_of_the_old_hash_only_scheme_is_refused_with_what_to_do(store):
    import hashlib
    import hmac

    registry, register = store
    version = register("iris", 0.5)
    sha = registry.version("iris", version).sha256
    legacy = hmac.new(b"the-key", sha.encode(), hashlib.sha256).hexdigest()  # how mlops signed before
    registry.client.set_model_version_tag("iris", version, tracking_tags.SIGNATURE, legacy)
    with pytest.raises(RegistryError, match=r"older scheme, over its hash alone.*register it again"):
        registry.load("iris", alias=None, version=version)


def test_a_replica_loads_a_recorded_version_from_its_folder_under_the_same_checks(store, tmp_path):
    """What a deployer hands the replicas (mlops.registry.version_record) loads without the store when the
    files are on this machine, and is refused as the registry's own load refuses: a signature for another
    version, or a changed file. A store the files are not beside (a server's) goes through the registry."""
    from mlops.registry import fetch_recorded, load_version, version_record

    registry, register = store
    old, new = register("iris", 0.5), register("iris", 0.2)
    record = version_record(registry.version("iris", new))
    nowhere = f"sqlite:///{tmp_path / 'no-such-dir' / 'mlflow.db'}"  # the store is not opened (it would fail)
    assert json.loads(json.dumps(record)) == record  # plain data: it travels in Serve's user_config
    assert load_version(nowhere, "iris", new, record).predict(pd.DataFrame({"a": [0.3]})).tolist() == [True]

    forged = {**record, "tags": {**record["tags"], tracking_tags.SIGNATURE: registry.version("iris", old).tags[tracking_tags.SIGNATURE]}}
    with pytest.raises(RegistryError, match=f"model 'iris' v{new}: its signature does not match"):
        load_version(registry.uri, "iris", new, forged)
    assert fetch_recorded({**record, "source": "mlflow-artifacts:/1/abc/artifacts/model"}, tmp_path / "x") is None
    assert load_version(registry.uri, "iris", old, record).predict(pd.DataFrame({"a": [0.3]})).tolist() == [False]  # not v{old}'s record

    with (_folder(registry, "iris", new) / "MLmodel").open("a") as handle:
        handle.write("# changed\n")
    with pytest.raises(RegistryError, match="modified after registration"):
        load_version(nowhere, "iris", new, record)
