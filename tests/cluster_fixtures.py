"""Session fixtures for what lives beyond one machine: a real two-node Ray cluster and a real MLflow tracking
server with a PostgreSQL backend store, each started once for the session and stopped at its end, failed
tests or not (tests/conftest.py imports them).

The cluster is what an operator starts by hand: `ray start --head` and a worker joined with `ray start
--address`, token auth on (RAY_AUTH_MODE=token on both; the worker reads the head's token file), each node
with a custom resource (`head_node`, `worker_node`) so that tests can pin work to a node and assert where it
ran. Every node has its own loopback address (head 127.0.0.2, workers 127.0.0.3 up): Ray rewrites 127.0.0.1
and `localhost` to the machine's address, and its local-only mode (what keeps mlops' own heads on 127.0.0.1)
refuses workers. Ray binds a multi-node cluster's servers on every interface; the token guards them.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mlops.cluster.access import LOCAL_ONLY, ensure_token
from mlops.cluster.processes import descendants, stable_port
from mlops.cluster.session import use_cluster_token

RAY_BIN = str(Path(sys.executable).parent / "ray")


def client_env() -> dict[str, str]:
    """This process' environment for a process that joins or dials the cluster: without the session Ray's
    address, and without the loopback-only switch the session's own Ray sets here (mlops.cluster.access), with
    which `ray start --address` refuses to join and a driver looks for its node at 127.0.0.1; and without the
    Serve settings the session's Ray runs with (mlops.testing): an operator's cluster has its own, and those
    name the HAProxy stats and metrics ports the session's Serve already holds."""
    return {k: v for k, v in os.environ.items()
            if k not in ("RAY_ADDRESS", LOCAL_ONLY) and not k.startswith("RAY_SERVE_")}


# The head's GCS declares a node dead after this many missed health checks this far apart: 1 s x 3 instead of
# Ray's 3 s x 5, so that a killed node's tasks are retried, and the node is gone from the state API, 3 s after
# it died, not 15 s (an operator tunes the same settings; what survives a dead node does not change).
HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}


def ray_env() -> dict[str, str]:
    """A node's environment: token auth on, no usage stats (see client_env), quick dead-node detection."""
    return {**client_env(), "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0", **HEALTH_CHECKS}


def stop_tree(proc: subprocess.Popen, marker: str) -> None:
    """Kill a node (or server) at once: its process group, its descendants that left the group, and any daemon
    that names the cluster (`marker`). Nothing it wrote is needed after the session."""
    doomed = [proc.pid, *descendants(proc.pid)]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_text(errors="ignore"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
    proc.wait(10)


HEAD_IP = "127.0.0.2"  # workers: 127.0.0.3 and up

# The cluster's own temporary root: Ray records "the current cluster" there (ray_current_cluster), and its job
# supervisor reads that record to give each job its RAY_ADDRESS. In /tmp/ray, shared by every Ray on the machine,
# a head that another test starts later would take the record over, and this cluster's jobs would dial that head.
TEMP_ROOT = "/tmp/ray-2n"  # short: Ray's socket paths live under it
# Each worker node has a root of its own, as a node on another machine would. Under one root, the nodes
# share one session folder, so one runtime_resources: a job's working_dir, unpacked for its Tune trials on
# a worker, was deleted by that worker's runtime-env agent when the trials ended, from under the job's
# driver on the head, whose working directory it was (Tune's last os.getcwd() failed).
WORKER_ROOTS = "/tmp/ray-2n-w"


def start_node(args: list[str], ip: str, log: Path, temp_root: str = TEMP_ROOT) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([RAY_BIN, "start", "--block", f"--node-ip-address={ip}", "--disable-usage-stats",
                                 f"--temp-dir={temp_root}",
                                 f"--dashboard-agent-listen-port={stable_port()}", *args],
                                env=ray_env(), start_new_session=True, stdout=out, stderr=out)


def nodes_alive(dashboard: str) -> list[dict]:
    """The cluster's alive nodes as the state API lists them (through the dashboard, with the token)."""
    from ray.util.state import list_nodes

    use_cluster_token()  # the state API client sends the token only in token mode
    return [n for n in (node.__dict__ if hasattr(node, "__dict__") else node
                        for node in list_nodes(address=dashboard, raise_on_missing_output=False))
            if n["state"] == "ALIVE"]


class TwoNodes:
    """The running cluster: its GCS address, dashboard URL, node ids by role, and a way to add a node."""

    def __init__(self, gcs: str, dashboard: str, folder: Path):
        self.gcs, self.dashboard, self.folder = gcs, dashboard, folder
        self.procs: list[subprocess.Popen] = []
        self.node_ids: dict[str, str] = {}

    def add_worker(self, resource: str, cpus: int = 2, shared: dict[str, float] | None = None) -> subprocess.Popen:
        """Join a worker with `resource` (100 units) and the `shared` resources, and wait until the state API
        lists it; its process. (One at a time: two nodes joining at once on one machine failed to join.)"""
        before = len(nodes_alive(self.dashboard))
        ip = f"127.0.0.{3 + len(self.procs) - 1}"  # the head is 127.0.0.2
        resources = {resource: 100, **(shared or {})}
        proc = start_node([f"--address={self.gcs}", f"--num-cpus={cpus}", f"--resources={json.dumps(resources)}"],
                          ip, self.folder / f"{resource}.log", f"{WORKER_ROOTS}{len(self.procs)}")
        self.procs.append(proc)
        self.wait_for(lambda nodes: len(nodes) > before, f"worker {resource} did not join")
        self.name_nodes()
        return proc

    def kill_node(self, proc: subprocess.Popen) -> None:
        """SIGKILL one node's processes (its group and descendants: its raylet and workers), as a machine that
        dies would; the rest of the cluster goes on."""
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait(10)

    def wait_for(self, ready, failure: str, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if ready(nodes_alive(self.dashboard)):
                    return
            except Exception:  # the dashboard is still starting: it refuses, or answers 5xx
                pass
            time.sleep(1)
        raise AssertionError(f"{failure} (see {self.folder})")

    def name_nodes(self) -> None:
        """node id of each custom resource's node: {'head_node': id, 'worker_node': id, ...}."""
        for node in nodes_alive(self.dashboard):
            for name in node.get("resources_total") or {}:
                if name.endswith("_node"):
                    self.node_ids[name] = node["node_id"]


@pytest.fixture(scope="session")
def ray_two_nodes(tmp_path_factory):
    """A real two-node Ray cluster on loopback with token auth (head: 2 CPUs + `head_node`; worker: 2 CPUs +
    `worker_node`), shared by the session; `ray stop`-equivalent kill of every node at the end."""
    ensure_token()  # the head and every client read ~/.ray/auth_token (or RAY_AUTH_TOKEN_PATH)
    folder = tmp_path_factory.mktemp("two-nodes")
    gcs_port, dashboard_port = stable_port(), stable_port()
    cluster = TwoNodes(f"{HEAD_IP}:{gcs_port}", f"http://{HEAD_IP}:{dashboard_port}", folder)
    marker = f":{gcs_port}"
    try:
        cluster.procs.append(start_node(["--head", f"--port={gcs_port}", "--num-cpus=2", "--include-dashboard=true",
                                         f"--dashboard-host={HEAD_IP}", f"--dashboard-port={dashboard_port}",
                                         f"--resources={json.dumps({'head_node': 100})}"], HEAD_IP, folder / "head.log"))
        cluster.wait_for(lambda nodes: len(nodes) == 1, "the head did not come up")
        cluster.add_worker("worker_node")
        yield cluster
    finally:
        for proc in reversed(cluster.procs):
            stop_tree(proc, marker)
        for root in [TEMP_ROOT, *(f"{WORKER_ROOTS}{n}" for n in range(1, len(cluster.procs)))]:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(postgres, tmp_path_factory):
    """A real `mlflow server` on loopback with a PostgreSQL backend store (the session's `postgres`, its own
    database) and artifact proxying (clients send artifacts through the server: no shared disk needed).
    Its URL; stopped at the end of the session."""
    database = postgres["mlflow_database"]  # created empty by the postgres fixture; the server migrates it
    backend = (f"postgresql+psycopg://{postgres['user']}:{postgres['password']}@{postgres['host']}:{postgres['port']}"
               f"/{database}")
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = stable_port()
    with open(folder / "server.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                                 "--backend-store-uri", backend, "--serve-artifacts",
                                 "--artifacts-destination", (folder / "artifacts").as_uri(), "--workers", "2"],
                                stdout=log, stderr=log, cwd=folder, start_new_session=True,
                                # No job runner: mlops runs no MLflow server jobs, and MLflow's starts six huey
                                # consumer processes (each importing mlflow, then polling) beside the server.
                                env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180  # the first start migrates the database's tables
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None, f"mlflow server exited: {(folder / 'server.log').read_text()[-2000:]}"
            assert time.time() < deadline, "mlflow server did not come up"
            time.sleep(0.5)
        yield url
    finally:
        stop_tree(proc, f"--port {port}")
