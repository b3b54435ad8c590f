"""`mlops check` on the drift example's data, as a user runs it: the last line names the worst finding and
the exit code follows it (`--fail-on warn|error`), from a real process once and in this process for the
rest (each process pays ~8 s of imports: alibi-detect, skops); and `mlops predict --batch --input` reads a
path relative to where the command runs, not to the spec. A real champion trained on real Ray."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import EXAMPLES
from mlops import api

pytestmark = pytest.mark.slow


def real_mlops(*args, cwd):
    """The real `mlops` command run in `cwd`; stdout and stderr together, as a terminal shows them."""
    done = subprocess.run([sys.executable, "-m", "mlops", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})
    return done.returncode, done.stdout + done.stderr


def mlops(*args, cwd):
    """The `mlops` command's app run in this process, in `cwd`: its exit code, stdout and stderr together."""
    from typer.testing import CliRunner

    from mlops.cli import app

    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(map(str, args)), env={"COLUMNS": "200"})
    finally:
        os.chdir(before)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def drift(ray_local, tmp_path_factory):
    """The drift example with its champion trained on the unshifted data, and batches 0..7 (5.. shifted)."""
    root = tmp_path_factory.mktemp("drift") / "project"
    root.mkdir()
    shutil.copy(EXAMPLES / "drift" / "spec.yaml", root / "spec.yaml")
    subprocess.run([sys.executable, str(EXAMPLES / "drift" / "generate.py"), "--upto", "8", "--out", str(root / "data")],
                   check=True, capture_output=True, timeout=120)
    assert api.apply(root / "spec.yaml").version == "1"
    return root


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_a_clean_batch_is_ok_and_exits_0(drift):
    code, out = mlops("check", "spec.yaml", "--data", "data/new/batch-004.csv", "--fail-on", "warn", cwd=drift)
    assert (code, last_line(out)) == (0, "ok: no findings"), out


def test_drift_is_the_worst_finding_and_fails_only_with_fail_on_warn(drift):
    code, out = mlops("check", "spec.yaml", "--data", "data/new/batch-006.csv", cwd=drift)
    assert code == 0, out
    assert "drift in" in out and last_line(out).startswith("warn: 1 warning (drift: "), out
    assert "--fail-on warn makes warnings exit 1" in last_line(out)
    code, out = real_mlops("check", "spec.yaml", "--data", "data/new/batch-006.csv", "--fail-on", "warn", cwd=drift)
    assert code == 1 and last_line(out).startswith("warn: 1 warning (drift: "), out


def test_an_error_finding_fails_by_default_and_a_bad_fail_on_is_named(drift):
    batch = pd.read_csv(drift / "data" / "new" / "batch-006.csv").drop(columns=["age"])
    batch.to_csv(drift / "no-age.csv", index=False)  # missing_column is an error in the example's on_violation
    code, out = mlops("check", "spec.yaml", "--data", "no-age.csv", cwd=drift)
    assert code == 1 and last_line(out).startswith("error: 1 error (missing_column in age)"), out
    code, out = mlops("check", "spec.yaml", "--data", "no-age.csv", "--fail-on", "warm", cwd=drift)
    assert code == 2 and "--fail-on: not a severity" in out and "did you mean 'warn'?" in out, out


def test_batch_input_is_read_from_the_working_directory_not_the_specs(drift, tmp_path):
    shutil.copy(drift / "data" / "new" / "batch-001.csv", tmp_path / "rows.csv")  # here, not beside the spec
    serving = "+serving={mode: batch, batch: {input: data/train.csv, output: out/p.parquet, executor: local}}"
    code, out = mlops("predict", drift / "spec.yaml", serving, "--batch", "--input", "rows.csv", "--output",
                      "scored.parquet", cwd=tmp_path)
    assert code == 0 and (tmp_path / "scored.parquet").is_file(), out
    assert len(pd.read_parquet(tmp_path / "scored.parquet")) == 500
    code, out = mlops("predict", "spec.yaml", serving, "--batch", "--input", "rows.csv", cwd=drift)
    assert code == 2 and "--input: no such file" in out and "relative to the working directory" in out, out
