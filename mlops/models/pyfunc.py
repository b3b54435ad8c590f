"""MLflow's python_function loader for mlops bundles, so `mlflow.pyfunc.load_model("models:/iris@champion")`
and `mlflow models predict` serve a registered version with mlops' own checks and preprocessing.

MLflow hands `_load_pyfunc` only the model's local folder, with no registry tag. The folder carries the
manifest sha256 save_bundle recorded (mlops_integrity.json, left out of the manifest it describes), and
registration adds the model's name and version. With a signing key configured, the record's signature
must be the key's for that name, version and hash, and when MLflow loaded the folder through the
registry (models:/, which leaves `registered_model_meta` beside it) the name and version MLflow resolved
must be the record's, before anything is read; then every file must hash to it before anything is
deserialized (load_bundle). Without a key the check catches changed or damaged files, not a rewritten
record: docs/mlflow.md says what signing adds.

Predictions are one value per row, as a numpy array: for a classifier the class labels (the class of
highest probability, as `mlops predict --local`, the endpoint and batch scoring label rows), for a
regressor the values. Probabilities stay with mlops' own routes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem, RegistryError
from mlops.models.bundle import HASH_SCHEME, MLFLOW_REGISTERED_META, Bundle, load_bundle, read_integrity


def _load_pyfunc(path: str, model_config: Any = None) -> "BundleModel":
    """MLflow's entry point: verify the bundle at `path` (signature, then manifest hash), then load it."""
    directory = Path(path)
    record = read_integrity(directory)
    verify_record(directory, record)  # before any file is read
    return BundleModel(load_bundle(directory, record["sha256"], record.get("hash_scheme") or HASH_SCHEME))


def verify_record(directory: Path, record: dict[str, Any]) -> None:
    """With a signing key, the record must be signed for the name, version and hash it holds, and be the
    version MLflow resolved when it loaded the folder by registry name; raises RegistryError."""
    from mlops.signing import signing_key, verify

    name, version = str(record.get("name") or ""), str(record.get("version") or "")
    verify(name, version, record["sha256"], record.get("signature"), f"the model at {directory}")
    asked = registered_as(directory)
    if signing_key() is not None and asked is not None and asked != (name, version):
        raise RegistryError(f"the model at {directory} is signed as '{name}' v{version}, but MLflow loaded it as "
                            f"'{asked[0]}' v{asked[1]}: refusing it (another model's or version's bundle in its place)")


def registered_as(directory: Path) -> tuple[str, str] | None:
    """The (name, version) MLflow wrote beside a model it loaded through models:/; None for a plain path."""
    import yaml

    try:
        found = yaml.safe_load((Path(directory) / MLFLOW_REGISTERED_META).read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(found, dict) or "model_name" not in found:
        return None
    return str(found["model_name"]), str(found.get("model_version"))


class BundleModel:
    """A verified bundle behind MLflow's pyfunc predict: raw input rows in, labels or values out."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle

    def get_raw_model(self) -> Bundle:
        """The mlops bundle (model + metadata), for `PyFuncModel.get_raw_model()`."""
        return self.bundle

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Labels (classifiers) or values (regressors) for the rows of `model_input`, one per row."""
        import numpy as np

        from mlops.models.scores import labels_from_proba

        frame = input_frame(model_input, self.bundle.meta["input_schema"])
        proba = self.bundle.predict_proba(frame)
        if proba is not None:
            return np.asarray(labels_from_proba(self.bundle.model.classes_, proba))
        return np.asarray(self.bundle.predict(frame))


def input_frame(model_input: Any, input_schema: list[dict[str, Any]]) -> Any:
    """The rows as a DataFrame of the input columns in schema order: a DataFrame, a dict of columns,
    a list of row dicts, or a 2-D array in schema order. Other columns (an id) are dropped; a nullable
    column may be absent (the pipeline imputes it), any other missing column is an error naming it."""
    import numpy as np
    import pandas as pd

    columns = [c["name"] for c in input_schema]
    if isinstance(model_input, pd.DataFrame):
        frame = model_input
    elif isinstance(model_input, dict):
        columnar = all(np.ndim(v) > 0 for v in model_input.values())  # {"a": [1, 2]}, not one row {"a": 1}
        frame = pd.DataFrame(model_input if columnar else [model_input])
    elif isinstance(model_input, list) and all(isinstance(row, dict) for row in model_input):
        frame = pd.DataFrame(model_input)
    else:
        array = np.asarray(model_input, dtype=object)
        if array.ndim != 2 or array.shape[1] != len(columns):
            raise DataError(Problem("model_input", "rows without column names must be a 2-D array with one value "
                                    "per input column, in schema order", value=f"shape {array.shape}",
                                    expected=f"(n, {len(columns)})"))
        frame = pd.DataFrame(array, columns=columns).infer_objects()
    required = [c["name"] for c in input_schema if not c.get("nullable") and c["name"] not in frame.columns]
    if required:
        raise DataError(Problem("model_input", f"rows lack input columns {required}", expected=", ".join(columns)))
    return frame.reindex(columns=columns)
