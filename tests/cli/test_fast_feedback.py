"""`mlops validate` and `mlops plan` of the iris example import none of the heavy libraries (issue 21, fast
feedback): the model's parameters come from the committed table of scikit-learn's, the columns and their
roles from the committed table of its data sets, the node cache's state from a JSON file. A property of the
imports, not a timing (benchmarks/cold_start.py measures the time)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "examples" / "iris" / "spec.yaml"
HEAVY = ("sklearn", "pandas", "numpy", "scipy", "pyarrow", "ray", "mlflow", "torch", "lightgbm", "xgboost", "alibi_detect")


def run(args: list[str], store: Path, expect: int = 0) -> tuple[set[str], str]:
    """The top-level packages `python -m mlops ARGS` imported (from -X importtime), and what it printed, after
    checking its exit code."""
    env = {**os.environ, "MLOPS_TRACKING_URI": f"sqlite:///{store}/mlflow.db", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlops", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert done.returncode == expect, done.stdout + done.stderr[-3000:]
    lines = done.stderr.splitlines()
    packages = {line.split("|")[-1].strip().split(".")[0] for line in lines if line.startswith("import time:")}
    return packages, done.stdout + "\n".join(line for line in lines if not line.startswith("import time:"))


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_of_iris_import_no_heavy_library(command, tmp_path):
    packages, output = run([command, str(IRIS)], tmp_path)
    assert packages & set(HEAVY) == set()
    assert "petal_length_cm" in output and "numbers (43 distinct values)" in output  # the roles table is shown


def test_bad_params_are_found_without_importing_scikit_learn(tmp_path):
    packages, output = run(["validate", str(IRIS), "model.params.n_estimators=many", "+model.params.max_dept=3"],
                           tmp_path, expect=2)
    assert packages & set(HEAVY) == set()
    assert "model.params.n_estimators: must be an int in the range [1, inf)" in output
    assert "did you mean 'max_depth'" in output


def test_plan_reads_the_last_applys_state_without_heavy_imports(tmp_path):
    from mlops import api
    from mlops.runtime.node_cache import NodeCache, cache_dir

    plan = api.plan(IRIS, [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"])
    cache = NodeCache(cache_dir(plan.node("register").runtime["tracking_uri"], IRIS.parent))
    for node in plan.nodes:  # as an apply leaves them: each node's hash recorded, outputs in the cache
        cache.put(node.hash, {"output of": node.id})
    cache.write_state(plan.name, {"nodes": {n.id: {"hash": n.hash, "kind": n.kind, "params": n.params,
                                                   "inputs": dict(n.inputs)} for n in plan.nodes}})
    packages, output = run(["plan", str(IRIS)], tmp_path)
    assert packages & set(HEAVY) == set()
    assert "cached" in output and "never applied" not in output


def test_check_data_reads_every_row_as_apply_does(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mlops", "validate", str(IRIS), "--check-data"], capture_output=True,
                          text=True, env={**os.environ, "MLOPS_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
                                          "COLUMNS": "200"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "roles inferred from all rows" in done.stdout and "petal_width_cm" in done.stdout
    # Past the rows the cheap sample reads: a code column that turns to text at row 5500 is text (object) as
    # pandas reads the whole file for apply, where the first 5000 rows alone say int64.
    rows = "\n".join(f"{i % 7}.5,{i % 3},{'x' if i == 5500 else i % 11},{i % 2}" for i in range(6000))
    (tmp_path / "late.csv").write_text("a,b,code,label\n" + rows + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: late\ndata:\n  source: {type: csv, path: late.csv}\n  target: label\n"
                    "model: {task: classification, type: sklearn, estimator: random_forest}\n")
    code_row = lambda output: next(line for line in output.splitlines() if "│ code " in line)  # noqa: E731
    _, sampled = run(["validate", str(spec)], tmp_path)
    packages, checked = run(["validate", str(spec), "--check-data"], tmp_path)
    assert "int64" in code_row(sampled) and "object" in code_row(checked), (code_row(sampled), code_row(checked))
    assert "12 values" in code_row(checked)  # the 11 codes and the 'x' of row 5500: every row counted
    assert "pandas" in packages  # read as apply reads it
