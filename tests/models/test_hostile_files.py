"""A skops file that names a callable from a trusted package (the issue's reproduction: numpy's runstring
with a code string) is refused before anything in it runs, through every loader: safe_format.load,
load_bundle and mlflow.pyfunc.load_model (bundle rewritten with its integrity record, no signing key)."""
from __future__ import annotations

import io
import json
import zipfile

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from mlops.errors import RegistryError
from mlops.models import safe_format
from mlops.models.bundle import SklearnFlavor, load_bundle, manifest_sha256, save_bundle, write_integrity


def _code(marker) -> str:
    return f"open({str(marker)!r}, 'w').close()"


# One callable per package mlops used to trust by prefix (and the lightgbm plugin's), each of which
# creates `marker` when a file makes skops call it: (module, function, its arguments).
CALLABLES = {
    "numpy": lambda m: ("numpy.testing._private.utils", "runstring", (_code(m), {})),
    "sklearn": lambda m: ("sklearn.utils._testing", "assert_run_python_script_without_output", (_code(m),)),
    "scipy": lambda m: ("scipy.io", "savemat", (str(m), {})),
    "mlops.models": lambda m: ("mlops.models.safe_format", "save", ("x", str(m))),
    "plugin": lambda m: ("lightgbm.basic", "_dump_pandas_categorical", (None, str(m))),
}


def hostile_skops(path, module: str, function: str, args: tuple) -> None:
    """A skops file whose root is a reduce node: loading it calls module.function(*args)."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(args))) as packed:  # skops' own encoding of the arguments
        schema = json.loads(packed.read("schema.json"))
        others = {name: packed.read(name) for name in packed.namelist() if name != "schema.json"}
    root = {"__class__": function, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {k: v for k, v in schema.items() if k not in ("protocol", "_skops_version")},
            "protocol": schema["protocol"], "_skops_version": schema["_skops_version"]}
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("schema.json", json.dumps(root))
        for name, data in others.items():
            out.writestr(name, data)


@pytest.fixture(params=sorted(CALLABLES))
def hostile(request, tmp_path):
    """(file, marker, type name): a hostile file, proven to run code when its callable is trusted."""
    if request.param == "plugin":
        pytest.importorskip("lightgbm")
    marker = tmp_path / "ran"
    module, function, args = CALLABLES[request.param](marker)
    path = tmp_path / "hostile.skops"
    hostile_skops(path, module, function, args)
    assert sio.get_untrusted_types(file=path) == [f"{module}.{function}"]
    sio.load(path, trusted=[f"{module}.{function}"])  # what a prefix trust list did: the code runs
    assert marker.exists()
    marker.unlink()
    return path, marker, f"{module}.{function}"


def test_safe_format_refuses_it_before_anything_runs(hostile):
    path, marker, name = hostile
    with pytest.raises(RegistryError, match=f"does not trust to rebuild: {name}; nothing in it was loaded"):
        safe_format.load(path)
    assert not marker.exists()


def _bundle_with(directory, hostile_file) -> str:
    """A real bundle whose pipeline.skops is replaced, its integrity record rewritten to match."""
    X = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    meta = {"flavor": "sklearn", "task": "classification", "classes": [False, True],
            "input_schema": [{"name": "a", "type": "number"}]}
    save_bundle(LogisticRegression().fit(X, X["a"] > 0.5), meta, directory)
    (directory / SklearnFlavor.file).write_bytes(hostile_file.read_bytes())
    sha = manifest_sha256(directory)
    write_integrity(directory, sha)
    return sha


def test_load_bundle_and_mlflow_refuse_it_before_anything_runs(hostile, tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_SIGNING_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))  # no signing key: the hash record alone
    path, marker, name = hostile
    sha = _bundle_with(tmp_path / "model", path)
    with pytest.raises(RegistryError, match=f"pipeline.skops names types mlops does not trust to rebuild: {name}"):
        load_bundle(tmp_path / "model", sha)
    with pytest.raises(RegistryError, match=f"does not trust to rebuild: {name}"):
        mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert not marker.exists()


def test_a_hostile_node_deep_inside_a_real_pipeline_is_refused(tmp_path):
    # The callable's node sits among a fitted model's attributes, not at the root of the file.
    marker = tmp_path / "ran"
    X = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    sio.dump(LogisticRegression().fit(X, X["a"] > 0.5), tmp_path / "real.skops")
    with zipfile.ZipFile(tmp_path / "real.skops") as packed:
        schema = json.loads(packed.read("schema.json"))
        files = {n: packed.read(n) for n in packed.namelist() if n != "schema.json"}
    hostile_skops(tmp_path / "node.skops", *CALLABLES["numpy"](marker)[:2], (_code(marker), {}))
    with zipfile.ZipFile(tmp_path / "node.skops") as packed:
        node = json.loads(packed.read("schema.json"))
    schema["content"]["content"]["C"] = {k: v for k, v in node.items() if k not in ("protocol", "_skops_version")}
    with zipfile.ZipFile(tmp_path / "evil.skops", "w") as out:
        out.writestr("schema.json", json.dumps(schema))
        for name, data in files.items():
            out.writestr(name, data)
    with pytest.raises(RegistryError, match="numpy.testing._private.utils.runstring"):
        safe_format.load(tmp_path / "evil.skops")
    assert not marker.exists()
