"""`mlops plan --json` carries the column roles table `mlops plan` prints: every column of the training
data, its role, whether the model uses it and why, as plain data next to the plan."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from messy_data import EXPECTED_ROLES, messy_frame


def test_plan_json_lists_every_column_with_its_role(tmp_path):
    from mlops.cli import app

    messy_frame(400).to_csv(tmp_path / "houses.csv", index=False)
    (tmp_path / "spec.yaml").write_text(
        "name: houses\ndata:\n  source: {type: csv, path: houses.csv}\n  target: price\n"
        "model: {type: sklearn, task: regression, estimator: random_forest, params: {n_estimators: 5}}\n")
    result = CliRunner().invoke(app, ["plan", str(tmp_path / "spec.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    columns = {c["column"]: c for c in plan["columns"]}
    assert {name: c["role"] for name, c in columns.items()} == EXPECTED_ROLES
    assert columns["zip_code"]["used"] and not columns["description"]["used"] and all(c["why"] for c in columns.values())
    assert plan["nodes"] and plan["hash"]  # the plan itself, as before
