"""The compiled plan: nodes, edges, resources and content hashes, with no Ray involved."""
from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from conftest import EXAMPLES
from mlops import api
from mlops.cli import app

IRIS = EXAMPLES / "iris" / "spec.yaml"
DIABETES = EXAMPLES / "diabetes" / "spec.yaml"


def test_iris_plan_nodes_and_edges():
    plan = api.plan(IRIS)
    assert [n.id for n in plan.nodes] == ["load", "featurize", "split", "train", "evaluate", "profile", "register",
                                            "batch_predict"]
    assert set(plan.edges) == {("load", "featurize"), ("featurize", "split"), ("featurize", "train"), ("split", "train"),
                               ("train", "evaluate"), ("split", "evaluate"), ("featurize", "profile"), ("split", "profile"),
                               ("train", "register"), ("evaluate", "register"), ("profile", "register"),
                               ("split", "register"),  # the champion is scored on the same test rows
                               ("register", "batch_predict")}
    assert plan.node("register").placement == "driver"


def test_plan_without_serving_has_no_batch_node():
    plan = api.plan(DIABETES, ["~serving"])
    assert "batch_predict" not in [n.id for n in plan.nodes]


def test_resources_come_from_hardware():
    plan = api.plan(IRIS, ["hardware=local_2cpu", "+hardware.memory_per_task_gb=2"])
    assert plan.node("train").resources == {"CPU": 2.0, "memory_gb": 2.0}


def test_hashes_are_stable_across_runs():
    assert api.plan(IRIS).to_dict() == api.plan(IRIS).to_dict()
    out = subprocess.run([sys.executable, "-m", "mlops.cli", "plan", str(IRIS), "--json"], capture_output=True, text=True)
    assert json.loads(out.stdout)["hash"] == api.plan(IRIS).hash


def test_param_change_rehashes_downstream_only():
    base = {n.id: n.hash for n in api.plan(IRIS).nodes}
    changed = {n.id: n.hash for n in api.plan(IRIS, ["model.params.max_depth=3"]).nodes}
    assert [k for k in base if base[k] != changed[k]] == ["train", "evaluate", "register", "batch_predict"]


def test_split_change_rehashes_from_split():
    base = {n.id: n.hash for n in api.plan(IRIS).nodes}
    changed = {n.id: n.hash for n in api.plan(IRIS, ["data.split.seed=1"]).nodes}
    assert base["load"] == changed["load"] and base["featurize"] == changed["featurize"]
    assert base["split"] != changed["split"] and base["train"] != changed["train"]


def test_plan_json_is_plain_data_and_imports_no_ray():
    code = ("import sys, json; from mlops import api; p = api.plan(sys.argv[1]); json.loads(p.to_json()); "
            "heavy = [m for m in ('ray', 'mlflow', 'torch', 'sklearn', 'alibi_detect') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code, str(IRIS)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plan_cli_table():
    result = CliRunner().invoke(app, ["plan", str(IRIS)])
    assert result.exit_code == 0 and "batch_predict" in result.output


def test_schema_covers_every_section():
    result = CliRunner().invoke(app, ["schema"])
    doc = json.loads(result.output)
    assert {"data", "features", "model", "serving", "hardware", "tracking"} <= set(doc["properties"])
    assert "csv" in json.dumps(doc) and "sklearn" in json.dumps(doc)
