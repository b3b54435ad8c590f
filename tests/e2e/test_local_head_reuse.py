"""One head for everything: with mlops' local head up (`mlops up`), `apply` runs on it instead of starting its
own Ray; `mlops down` leaves nothing running. (`predict --batch` and `monitor` open Ray through the same
mlops.cluster.session.ray_session; Ray Data's start-up would add about 15 s here, so they are not run.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mlops.cluster.processes import alive, descendants

pytestmark = pytest.mark.slow


def cli(*args: str, cwd, python: tuple[str, ...] = ()) -> tuple[int, subprocess.CompletedProcess]:
    """Run the real CLI (`python`: options of the interpreter); (its pid, the finished process): a driver on the
    head is known by its pid."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    proc = subprocess.Popen([sys.executable, *python, "-m", "mlops.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    return proc.pid, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def drivers_on(gcs: str) -> dict[int, str]:
    """Every driver (job) the head's GCS has seen: {driver pid: entrypoint}, asked from a separate process so
    this test's own Ray (if any) is not touched."""
    probe = ("import json, ray; from ray._private import state; "
             "from mlops.cluster.access import reach_loopback_head; from mlops.cluster.session import use_cluster_token; "
             f"reach_loopback_head(); use_cluster_token(); ray.init(address={gcs!r}, logging_level='ERROR'); "
             "print(json.dumps({j['DriverPid']: j['Entrypoint'] for j in state.jobs()}))")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return {int(pid): entry for pid, entry in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def test_up_apply_on_the_head_then_down(tmp_path, example):
    spec = example("iris") / "spec.yaml"
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    tree: list[int] = []
    try:
        up = cli("up", "--num-cpus", "2", cwd=tmp_path)[1]
        log = tmp_path / ".mlops" / "ray-head.log"
        assert up.returncode == 0 and "started the local Ray head" in up.stdout, \
            up.stdout + up.stderr + (log.read_text()[-3000:] if log.exists() else "")
        head = json.loads((tmp_path / ".mlops" / "ray-head.json").read_text())
        again = cli("up", cwd=tmp_path)[1]
        assert again.returncode == 0 and "already runs" in again.stdout  # one head per directory
        apply_pid, applied = cli("apply", str(spec), store, cwd=tmp_path, python=("-X", "importtime"))
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert f"on the local Ray head at {head['gcs']}" in applied.stdout and "model version 1" in applied.stdout
        assert "predictions 150 rows with v1" in applied.stdout
        # The driver trained, registered and scored without importing the model's library: the model was saved,
        # and the batch scored, by the plan's warm workers (mlops.runtime.model_work).
        imported = {line.rsplit("|", 1)[-1].strip() for line in applied.stderr.splitlines() if line.startswith("import time:")}
        assert "ray" in imported and not {m for m in imported if m.split(".")[0] in ("sklearn", "skops")}
        # The head's GCS had the apply as one of its drivers: it ran there, not on a Ray of its own.
        drivers = drivers_on(head["gcs"])
        assert "apply" in drivers.get(apply_pid, ""), drivers
        tree = [head["pid"], *descendants(head["pid"])]
    finally:
        down = cli("down", cwd=tmp_path)[1]
    assert down.returncode == 0 and "stopped the local Ray head" in down.stdout, down.stdout + down.stderr
    assert not (tmp_path / ".mlops" / "ray-head.json").exists()
    deadline = time.time() + 30
    while any(alive(pid) for pid in tree) and time.time() < deadline:  # SIGKILLed: gone within moments
        time.sleep(0.1)
    assert tree and not [pid for pid in tree if alive(pid)]
    gone = cli("down", cwd=tmp_path)[1]
    assert gone.returncode == 0 and "no local mlops Ray head is running" in gone.stdout
