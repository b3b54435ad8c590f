"""An existing Ray cluster (token auth on, as Ray 2.59+ sets up local clusters): --address and submit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow


from mlops.cluster.processes import stable_port as free_port  # noqa: E402  (ports bound later, by the head)


def _kill_tree(pgid: int, marker: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        time.sleep(2)
    for pid in filter(str.isdigit, os.listdir("/proc")):  # daemons that left the group but name our temp dir
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_text(errors="ignore"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


@pytest.fixture(scope="module")
def ray_cluster():
    """A real `ray start --head` cluster, started as a user would (it records itself in /tmp/ray)."""
    gcs, dashboard = free_port(), free_port()
    marker = f":{gcs}"  # every process of this cluster names its GCS address
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    ray_bin = str(Path(sys.executable).parent / "ray")
    # A free agent port: with Ray's default (52365) taken by another Ray on the machine, jobs find no agent.
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={gcs}", "--num-cpus=2",
                             f"--dashboard-port={dashboard}", f"--dashboard-agent-listen-port={free_port()}",
                             "--include-dashboard=true", "--disable-usage-stats"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    import urllib.request

    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{dashboard}/api/version", timeout=2)
            break
        except OSError as exc:  # 401 (auth on) also proves the server is up
            if getattr(exc, "code", None) == 401:
                break
            time.sleep(1)
    else:
        _kill_tree(proc.pid, marker)
        pytest.fail("ray head did not come up")
    yield {"gcs": f"127.0.0.1:{gcs}", "dashboard": f"http://127.0.0.1:{dashboard}"}
    _kill_tree(proc.pid, marker)
    recorded = Path("/tmp/ray/ray_current_cluster")
    if recorded.exists() and recorded.read_text().strip().endswith(marker):
        recorded.unlink()  # a killed cluster must not stay "current" for other Ray users


def mlops(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_apply_with_address_uses_the_existing_cluster(ray_cluster, tmp_path, example):
    spec = example("iris") / "spec.yaml"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = mlops("apply", str(spec), f"tracking.uri={uri}", "--address", ray_cluster["gcs"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model version 1" in done.stdout
    versions = MlflowClient(tracking_uri=uri).search_model_versions("name = 'iris'")
    assert len(versions) == 1


def test_submit_runs_apply_as_a_ray_job(ray_cluster, tmp_path, example):
    spec = example("iris") / "spec.yaml"
    done = mlops("submit", str(spec), "model.params.max_depth=3", "--address", ray_cluster["dashboard"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout
    # The relative default store is the spec's (beside it), pinned there for the job, whatever its directory.
    client = MlflowClient(tracking_uri=f"sqlite:///{spec.parent / '.mlops' / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("iris").experiment_id])[0]
    assert run.data.params["model.params.max_depth"] == "3"
    assert (spec.parent / "out" / "iris_predictions.parquet").exists()


def test_bad_spec_never_reaches_the_cluster(ray_cluster, tmp_path, example):
    spec = example("iris") / "spec.yaml"
    done = mlops("submit", str(spec), "model.estimator=nope", "--address", ray_cluster["dashboard"], cwd=tmp_path)
    assert done.returncode == 2 and "model.estimator" in done.stderr


def test_embedded_ray_ignores_clusters_started_with_ray_start(ray_cluster, tmp_path, example):
    # `ray start` records its address in /tmp/ray; a plain ray.init() would join that cluster (and refuse
    # num_cpus). mlops' embedded mode must always start its own instance.
    spec = example("iris") / "spec.yaml"
    done = mlops("apply", str(spec), "hardware=local_2cpu", f"tracking.uri=sqlite:///{tmp_path / 'm.db'}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
