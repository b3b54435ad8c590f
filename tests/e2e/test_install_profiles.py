"""The core install, alone in a fresh venv, runs the README's commands, online serving included; a spec
that needs a missing extra is refused by `mlops validate` before any work, naming the field and the fix."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops.cluster.processes import stable_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def core_venv() -> Path:
    """`pip install -e . -c constraints.txt` in a new venv: the core, no extras (the README's first command adds
    `[boosting]`; without it the boosting families are left out of `model.type: auto`). Started in the
    background when the session collected this file (tests/core_install.py)."""
    from core_install import core_install

    venv = core_install().wait()
    for extra_module in ("torch", "alibi_detect", "pandera", "optuna", "lightgbm", "xgboost"):
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {extra_module}"], capture_output=True)
        assert probe.returncode != 0, f"{extra_module} came with the core install"
    return venv


def test_the_readme_commands_work_on_the_core_install(core_venv, tmp_path):
    work = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "iris", work / "iris", ignore=shutil.ignore_patterns("out"))
    home = tmp_path / "home"  # a new user: no Ray token, no MLflow store yet
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLOPS_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), PATH=f"{core_venv / 'bin'}:{env.get('PATH', '')}", RAY_USAGE_STATS_ENABLED="0")
    port = stable_port()  # bound later, by the endpoint

    def mlops(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(core_venv / "bin" / "mlops"), *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout)

    online = ["iris/online.yaml", f"serving.online.port={port}"]
    said = {}
    try:
        for args in (["validate", "iris/spec.yaml"], ["plan", "iris/spec.yaml"], ["apply", "iris/spec.yaml"],
                     ["validate", *online], ["apply", *online], ["predict", *online, "--input", "iris/rows.json"],
                     ["status"]):
            done = mlops(*args)
            assert done.returncode == 0, f"mlops {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            assert "Traceback" not in done.stderr, done.stderr[-3000:]
            said[args[0]] = done.stdout
        assert (work / "iris" / "out" / "iris_predictions.parquet").is_file()
        assert '"predictions"' in said["predict"]
        assert "off" in said["status"]  # no drift library: the endpoint says so instead of failing
    finally:
        stopped = mlops("stop", timeout=120)
    assert stopped.returncode == 0, stopped.stderr[-2000:]

    # What needs an extra is refused up front, by field, with the install command.
    refused = mlops("validate", "iris/spec.yaml", "+validation={outliers: {detector: mahalanobis}}")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "validation.outliers.detector" in refused.stderr and "mlops[monitoring]" in refused.stderr
    assert "Traceback" not in refused.stderr
    # The default outlier detector (iforest) is scikit-learn's: the core install takes it.
    taken = mlops("validate", "iris/spec.yaml", "+validation={}")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    refused = mlops("validate", *online, "+validation={outliers: null}")
    assert refused.returncode == 2 and "validation.drift" in refused.stderr, refused.stderr
    refused = mlops("check", "iris/spec.yaml", "--data", "iris/rows.json")
    assert refused.returncode == 2 and "mlops[monitoring]" in refused.stderr, refused.stderr
