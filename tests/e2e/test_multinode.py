"""The same specs on a real two-node Ray cluster (tests/cluster_fixtures.py: head + worker joined with `ray
start --address`, token auth on, each node with a custom resource), tracked by a real `mlflow server` with a
PostgreSQL backend store. Where the work ran is read back from the cluster's state API, by the apply's job."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_fixtures import client_env
from mlops.cluster.processes import stable_port

pytestmark = pytest.mark.slow

TUNED = """
name: iris_tuned
defaults: [{hardware: local_cpu}, _self_]
data:
  source: {type: sklearn, name: iris}
  target: target
model: {task: classification, type: sklearn, estimator: random_forest, params: {n_estimators: 20}, metric: f1_macro}
tuning:
  num_samples: 8
  cpus_per_trial: 1
  search_space: {params.max_depth: {choice: [2, 3, 4, 5, 6, 7, 8, 9]}}
"""


def mlops(*args: str, cwd: Path, timeout: float = 400, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in client_env().items() if k not in ("RAY_AUTH_MODE", "MLOPS_TRACKING_URI")}
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def job_of(cluster, spec: Path) -> str:
    """The Ray job id of the driver whose command line names `spec` (each test's spec is in its own tmp dir)."""
    from ray.util.state import list_jobs

    jobs = [job for job in list_jobs(address=cluster.dashboard, raise_on_missing_output=False)
            if str(spec) in (job.entrypoint or "")]
    assert len(jobs) == 1, [job.entrypoint for job in list_jobs(address=cluster.dashboard)]
    return jobs[0].job_id


def where_tasks_ran(cluster, job_id: str) -> dict[str, set[str]]:
    """task name -> the ids of the nodes its attempts ran on, for one job."""
    from ray.util.state import list_tasks

    ran: dict[str, set[str]] = {}
    for task in list_tasks(address=cluster.dashboard, filters=[("job_id", "=", job_id)], limit=10_000,
                           raise_on_missing_output=False):
        if task.node_id:
            ran.setdefault(task.name, set()).add(task.node_id)
    return ran


def test_apply_with_address_pins_tasks_serves_on_both_nodes_and_records_through_the_server(
        ray_two_nodes, mlflow_server, tmp_path, example):
    """`hardware.resources_per_task` sends every plan task to the nodes that declare the resource; `executor:
    auto` scores the batch with Ray Data on a cluster of two; the endpoint's replicas run on both nodes, behind
    the head's loopback listener, and answer; the run and version are in the server's store, where the CLI
    finds them."""
    import httpx

    spec = example("iris") / "online.yaml"
    port = stable_port()
    done = mlops("apply", str(spec), f"tracking.uri={mlflow_server}", "hardware.resources_per_task={worker_node: 1}",
                 f"serving.online.port={port}", "serving.online.replicas.min=2", "--address", ray_two_nodes.gcs,
                 cwd=tmp_path)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"model version \d+ registered", done.stdout)  # the session's server keeps every test's
        assert "(ray_data," in done.stdout  # executor: auto on two nodes
        ran = where_tasks_ran(ray_two_nodes, job_of(ray_two_nodes, spec))
        plan_tasks = {name: nodes for name, nodes in ran.items() if name.startswith("mlops:")}
        assert {"mlops:load", "mlops:featurize", "mlops:split", "mlops:train", "mlops:evaluate"} <= set(plan_tasks)
        assert all(nodes == {ray_two_nodes.node_ids["worker_node"]} for nodes in plan_tasks.values()), plan_tasks
        from ray.util.state import list_actors

        replicas = [actor for actor in list_actors(address=ray_two_nodes.dashboard, filters=[("state", "=", "ALIVE")],
                                                   detail=True, limit=10_000, raise_on_missing_output=False)
                    if actor.class_name.startswith("ServeReplica:iris:endpoint")]
        assert {actor.node_id for actor in replicas} == set(ray_two_nodes.node_ids.values()), replicas
        rows = (spec.parent / "rows.json").read_text()
        answers = [httpx.post(f"http://127.0.0.1:{port}/iris/predict", content=rows, timeout=30,
                              headers={"content-type": "application/json"}) for _ in range(20)]
        assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
        assert all(a.json()["predictions"] == [0, 2] for a in answers)
        listed = mlops("models", "iris", "--tracking-uri", mlflow_server, cwd=tmp_path)
        assert listed.returncode == 0 and "champion" in listed.stdout, listed.stdout + listed.stderr
    finally:  # the cluster is the session's: Serve goes with this test
        shutdown = ("import ray\nfrom ray import serve\nray.init(address=%r, logging_level='ERROR')\nserve.shutdown()"
                    % ray_two_nodes.gcs)
        subprocess.run([sys.executable, "-c", shutdown], env=client_env(), capture_output=True, timeout=120)


def test_tune_trials_spread_over_both_nodes(ray_two_nodes, mlflow_server, tmp_path):
    spec = tmp_path / "tuned.yaml"
    spec.write_text(TUNED)
    done = mlops("apply", str(spec), f"tracking.uri={mlflow_server}", "--address", ray_two_nodes.gcs, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    from ray.util.state import list_actors

    job = job_of(ray_two_nodes, spec)
    trials = [actor for actor in list_actors(address=ray_two_nodes.dashboard, filters=[("job_id", "=", job)],
                                             detail=True, limit=10_000, raise_on_missing_output=False)
              if "ImplicitFunc" in actor.class_name or "run_trial" in actor.class_name]
    assert {actor.node_id for actor in trials} == set(ray_two_nodes.node_ids.values()), \
        [(a.class_name, a.node_id) for a in trials]


def test_a_node_local_store_is_refused_on_two_nodes(ray_two_nodes, tmp_path, example):
    """A cluster named only by --address is seen at run time: a SQLite store, written from one disk, is refused
    (naming the field and the fix) before anything runs."""
    spec = example("iris") / "spec.yaml"
    done = mlops("apply", str(spec), f"tracking.uri=sqlite:///{tmp_path / 'm.db'}", "--address", ray_two_nodes.gcs,
                 cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "tracking.uri" in done.stderr and "2 nodes" in done.stderr and "mlflow server" in done.stderr
    assert not (tmp_path / "m.db").exists()


def test_submit_ships_the_project_and_streams_its_logs(ray_two_nodes, mlflow_server, tmp_path, example):
    """`mlops submit --upload --runtime code`: the spec's directory and mlops' and its plugins' code with their
    metadata (py_modules) travel as the job's runtime_env, and the job runs that code; the logs stream while
    the job runs. (`--runtime ship` adds the pip requirements, tests/runtime/test_job_env.py; here the cluster
    has them, and two nodes on one machine would build one virtualenv in one folder at once.)"""
    from ray.job_submission import JobSubmissionClient

    spec = example("iris") / "spec.yaml"
    done = mlops("submit", str(spec), "model.params.max_depth=3", f"tracking.uri={mlflow_server}", "--upload",
                 "--runtime", "code", "--address", ray_two_nodes.dashboard, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("job ") and lines[-1].endswith(": SUCCEEDED")
    assert any("model version" in line for line in lines[:-1])  # the apply's own output, streamed before the end
    job_id = lines[-1].split()[1].rstrip(":")
    client = JobSubmissionClient(ray_two_nodes.dashboard)
    runtime_env = client.get_job_info(job_id).runtime_env
    assert len(runtime_env["py_modules"]) == 4 and "working_dir" in runtime_env and "pip" not in runtime_env
    # The job imported the shipped copy of mlops, not this machine's installed one.
    assert "runtime_resources/py_modules_files" in client.get_job_logs(job_id).split("mlops code from ", 1)[1]
    from mlflow.tracking import MlflowClient

    store = MlflowClient(tracking_uri=mlflow_server)
    runs = store.search_runs([store.get_experiment_by_name("iris").experiment_id],
                             filter_string="params.`model.params.max_depth` = '3'")
    assert runs and runs[0].info.status == "FINISHED"


def test_bad_spec_never_reaches_the_cluster(ray_two_nodes, tmp_path, example):
    spec = example("iris") / "spec.yaml"
    done = mlops("submit", str(spec), "model.estimator=nope", "--address", ray_two_nodes.dashboard, cwd=tmp_path)
    assert done.returncode == 2 and "model.estimator" in done.stderr


def test_embedded_ray_ignores_clusters_started_with_ray_start(ray_two_nodes, tmp_path):
    """`ray start` records its cluster as the machine's current one (ray_current_cluster in Ray's temporary root);
    a plain ray.init() would join it (and refuse num_cpus). mlops' embedded mode always starts its own instance."""
    from cluster_fixtures import TEMP_ROOT

    assert (Path(TEMP_ROOT) / "ray_current_cluster").read_text().strip() == ray_two_nodes.gcs
    script = ("import ray\nfrom mlops.cluster.session import ray_session\nwith ray_session('local', None, 1):\n"
              "    print(ray.get_runtime_context().gcs_address, len(ray.nodes()), ray.cluster_resources()['CPU'])")
    env = {k: v for k, v in client_env().items() if k != "RAY_AUTH_MODE"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**env, "RAY_TMPDIR": TEMP_ROOT})  # Ray's temporary root: where the cluster recorded itself
    assert done.returncode == 0, done.stderr[-2000:]
    gcs, nodes, cpus = done.stdout.split()[-3:]
    assert gcs != ray_two_nodes.gcs and nodes == "1" and float(cpus) == 1.0


def test_a_worker_node_killed_mid_apply_is_survived(ray_two_nodes, mlflow_server, tmp_path, example):
    """Two more nodes offer a `spare` resource and the apply asks every task for it; the node that runs `train`
    is killed while it trains: Ray retries the task (and rebuilds its inputs, lost with the node's object
    store) on the other node, and the apply finishes as if nothing happened."""
    from ray.util.state import list_tasks

    spares = {name: ray_two_nodes.add_worker(name, cpus=1, shared={"spare": 1}) for name in ("spare_a_node", "spare_b_node")}
    by_node = {ray_two_nodes.node_ids[name]: proc for name, proc in spares.items()}
    spec = example("iris") / "spec.yaml"
    env = {k: v for k, v in client_env().items() if k not in ("RAY_AUTH_MODE", "MLOPS_TRACKING_URI")}
    apply = subprocess.Popen([sys.executable, "-m", "mlops.cli", "apply", str(spec), f"tracking.uri={mlflow_server}",
                              "hardware.resources_per_task={spare: 1}", "model.estimator=mlp", "~model.params",
                              # seconds of training in a small model (quick to save and load): long enough to be
                              # caught running
                              "+model.params={hidden_layer_sizes: [128, 128], max_iter: 1500, tol: 0, "
                              "n_iter_no_change: 100000, random_state: 0}", "serving.batch.executor=local",
                              "--address", ray_two_nodes.gcs], cwd=tmp_path, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, victim = time.time() + 240, None
        while victim is None and time.time() < deadline and apply.poll() is None:
            running = list_tasks(address=ray_two_nodes.dashboard, raise_on_missing_output=False,
                                 filters=[("name", "=", "mlops:train"), ("state", "=", "RUNNING")])
            victim = next((task.node_id for task in running if task.node_id in by_node), None)
            time.sleep(0.2)
        assert victim is not None, "train never ran on a spare node: " + (apply.stderr.read() if apply.poll() else "")
        ray_two_nodes.kill_node(by_node[victim])
        out, err = apply.communicate(timeout=400)
        assert apply.returncode == 0, out + err
        assert re.search(r"model version \d+ registered", out)
        ran = where_tasks_ran(ray_two_nodes, job_of(ray_two_nodes, spec))
        assert ran["mlops:train"] == set(by_node), ran  # the killed attempt, then the retry on the other spare
    finally:
        if apply.poll() is None:
            apply.kill()
        for proc in spares.values():  # the survivor leaves as `ray stop` would: at once, not by missed heartbeats
            if proc.poll() is None:
                proc.terminate()
        for proc in spares.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                ray_two_nodes.kill_node(proc)
        ray_two_nodes.wait_for(lambda nodes: len(nodes) == 2, "the spare nodes did not leave")  # as the others found it
