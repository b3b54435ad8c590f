"""The committed JSON Schema of the spec matches the models, and every example spec validates against it."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlops.config import load_config
from mlops.spec.schema import spec_schema

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema" / "spec.schema.json"
EXAMPLES = sorted(p for p in (REPO / "examples").rglob("*.yaml") if "defaults" in p.read_text() or "name:" in p.read_text())


def test_the_committed_schema_is_current():
    assert json.loads(COMMITTED.read_text()) == spec_schema(builtin_only=True), (
        "schema/spec.schema.json is stale: regenerate it with `python -m mlops.spec.schema > schema/spec.schema.json`")


def test_registered_names_are_enums_editors_can_complete():
    defs = json.loads(COMMITTED.read_text())["$defs"]
    assert "random_forest" in defs["SklearnModelSpec"]["properties"]["estimator"]["enum"]
    assert "lightgbm" in defs["SklearnModelSpec"]["properties"]["estimator"]["enum"]  # built in (mlops[boosting])
    assert "lightgbm_dart" not in defs["SklearnModelSpec"]["properties"]["estimator"]["enum"]  # built-ins only
    assert set(defs["DriftSpec"]["properties"]["detector"]["enum"]) >= {"ks", "chi2", "tabular"}
    assert "iforest" in defs["OutlierSpec"]["properties"]["detector"]["enum"]


@pytest.mark.parametrize("spec", [p for p in EXAMPLES if p.name in ("spec.yaml", "online.yaml")],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_spec_validates_against_the_committed_schema(spec, monkeypatch):
    monkeypatch.delenv("MLOPS_TRACKING_URI", raising=False)
    document = load_config(spec).data
    jsonschema.validate(document, json.loads(COMMITTED.read_text()))


def test_a_misspelt_estimator_fails_the_schema_too():
    with pytest.raises(jsonschema.ValidationError, match="random_forrest"):
        jsonschema.validate({"estimator": "random_forrest"},
                            {**json.loads(COMMITTED.read_text())["$defs"]["SklearnModelSpec"],
                             "$defs": json.loads(COMMITTED.read_text())["$defs"], "required": []})
