"""The MLflow side of a bundle: an `MLmodel` file that makes every bundle a valid MLflow model.

The file declares MLflow's `python_function` flavor with mlops' own loader (mlops.models.pyfunc, which
verifies the bundle before deserializing it), the input/output signature built from the input schema
recorded at training, and a few rows as the input example. It is written before the bundle is hashed,
so the registered sha256 covers it like every other file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

LOADER_MODULE = "mlops.models.pyfunc"

# The input schema's kinds (mlops.detectors.column_profile) as MLflow column types. An integer column
# with nulls arrives as floats (pandas has no missing integers), so it is declared double.
_COLUMN_TYPES = {"number": "double", "integer": "long", "boolean": "boolean", "string": "string"}


def column_type(column: dict[str, Any]) -> str | None:
    """The MLflow type of one input-schema column; None for a column whose kind is not recorded."""
    kind = column.get("type")
    if kind == "integer" and column.get("nullable"):
        return "double"
    return _COLUMN_TYPES.get(kind)


def _label_type(meta: dict[str, Any]) -> str:
    """What one prediction is: a regression value, or a class label of the recorded classes' type."""
    classes = meta.get("classes") or []
    if meta.get("task") != "classification" or not classes:
        return "double"
    if all(isinstance(c, bool) for c in classes):
        return "boolean"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "long"
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        return "double"
    return "string"


def signature_of(meta: dict[str, Any]) -> Any:
    """The model's MLflow signature: one named column per raw input (nullable ones optional), and one
    unnamed output column (the label or value); None when a column's kind is not recorded."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns = meta.get("input_schema") or []
    types = [column_type(c) for c in columns]
    if not columns or None in types:
        return None
    inputs = Schema([ColSpec(t, c["name"], required=not c.get("nullable", False)) for t, c in zip(types, columns)])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec(_label_type(meta))]))


def write_mlmodel(directory: Path, meta: dict[str, Any], input_example: Any = None) -> None:
    """Write `MLmodel` (python_function flavor, signature) and the input example into the bundle."""
    from mlflow.models import Model
    from mlflow.models.utils import _save_example  # what every MLflow flavor uses to write its example
    from mlflow.pyfunc import add_to_model

    model = Model(signature=signature_of(meta),
                  metadata={"mlops": {"flavor": meta.get("flavor"), "task": meta.get("task"),
                                      "bundle_format": meta.get("format"), "mlops_version": meta.get("mlops_version")}})
    add_to_model(model, loader_module=LOADER_MODULE)
    if input_example is not None and len(input_example):
        columns = [c["name"] for c in meta["input_schema"]]
        _save_example(model, input_example[columns].reset_index(drop=True), str(directory))
    model.save(str(Path(directory) / "MLmodel"))
