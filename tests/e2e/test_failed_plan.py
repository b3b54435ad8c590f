"""A user error raised inside a Ray task ends the apply with a message: Ray is never crashed (no
`Check failed` from the task manager, as force-cancelling running tasks once did) and no process of
its embedded Ray is left behind."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry.name}: {cmdline[:120]}")
    return found


@pytest.mark.reliability  # a fault injected; listed in docs/reliability.md
def test_a_fit_error_inside_ray_is_a_message_and_leaves_nothing_running(example, tmp_path):
    """A user error raised inside a Ray task (the estimator refuses its parameters at fit): exit 2 with the message, no Ray crash output, and no process of that Ray left."""
    spec = example("iris") / "spec.yaml"
    # Valid parameters one by one (validate passes them), refused together by the estimator's fit, in the
    # `train` task while `profile` may still run beside it.
    bad = ["model.estimator=logistic_regression", "~model.params", "+model.params={penalty: l1, solver: lbfgs}",
           f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"]
    ray_tmp = tempfile.mkdtemp(prefix="mlr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        done = subprocess.run([sys.executable, "-m", "mlops.cli", "apply", str(spec), *bad], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "RAY_TMPDIR": ray_tmp})
        assert done.returncode == 2, done.stderr[-3000:]
        assert "fitting logistic_regression failed" in done.stderr
        assert "Check failed" not in done.stderr and "Traceback" not in done.stderr
        deadline = time.monotonic() + 15
        while _processes_mentioning(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _processes_mentioning(ray_tmp) == []
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
