"""The plugin registers through the entry point and trains like a built-in estimator."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlops import api
from mlops.cli import app
from mlops.plugins import estimators

SPEC = """
name: lgbm-dart-wine
data:
  source: {type: sklearn, name: wine}
  target: target
  split: {method: stratified}
model:
  task: classification
  type: sklearn
  estimator: lightgbm_dart
  params: {n_estimators: 50, num_leaves: 15}
serving:
  mode: batch
  batch: {input: "sklearn:wine", output: out/wine.parquet}
tracking: {uri: "${oc.env:MLOPS_TRACKING_URI}"}
"""


def test_entry_point_registers_lightgbm_dart():
    entry = estimators.get("lightgbm_dart")
    assert entry.origin == "plugin mlops_lightgbm:register"
    assert set(entry.target.tasks) == {"classification", "regression"}


def test_plugins_command_lists_it():
    result = CliRunner().invoke(app, ["plugins"])
    assert "lightgbm_dart" in result.output and "mlops_lightgbm" in result.output


def test_misspelt_param_is_caught(tmp_path, tracking_uri):
    from mlops.errors import SpecError

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("num_leaves", "num_leafs"))
    with pytest.raises(SpecError, match="model.params.num_leafs.*num_leaves"):
        api.preflight(api.load(spec))


@pytest.mark.slow
def test_apply_with_plugin_estimator(ray_local, tracking_uri, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = api.apply(spec)
    assert result.metrics["f1_macro"] > 0.85
    assert result.batch.rows == 178
    bundle = api.load_model("lgbm-dart-wine", uri=tracking_uri)
    assert type(bundle.model.steps[-1][1]).__name__ == "LGBMClassifier"
    assert bundle.model.steps[-1][1].get_params()["boosting_type"] == "dart"
