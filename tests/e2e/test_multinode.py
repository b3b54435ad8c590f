"""The same specs on a real two-node Ray cluster (tests/cluster_fixtures.py: head + worker joined with `ray
start --address`, token auth on, each node with a custom resource), tracked by a real `mlflow server` with a
PostgreSQL backend store. Where the work ran is read back from the cluster's state API, by the apply's job."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cluster_fixtures import client_env

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


def test_apply_with_address_pins_tasks_and_records_through_the_server(ray_two_nodes, mlflow_server, tmp_path, example):
    """`hardware.resources_per_task` sends every plan task to the nodes that declare the resource; `executor:
    auto` scores the batch with Ray Data on a cluster of two; the run and version are in the server's store,
    where the CLI finds them."""
    spec = example("iris") / "spec.yaml"
    done = mlops("apply", str(spec), f"tracking.uri={mlflow_server}", "hardware.resources_per_task={worker_node: 1}",
                 "--address", ray_two_nodes.gcs, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model version 1 registered" in done.stdout
    assert "(ray_data," in done.stdout  # executor: auto on two nodes
    ran = where_tasks_ran(ray_two_nodes, job_of(ray_two_nodes, spec))
    plan_tasks = {name: nodes for name, nodes in ran.items() if name.startswith("mlops:")}
    assert {"mlops:load", "mlops:featurize", "mlops:split", "mlops:train", "mlops:evaluate"} <= set(plan_tasks)
    assert all(nodes == {ray_two_nodes.node_ids["worker_node"]} for nodes in plan_tasks.values()), plan_tasks
    listed = mlops("models", "iris", "--tracking-uri", mlflow_server, cwd=tmp_path)
    assert listed.returncode == 0 and "champion" in listed.stdout, listed.stdout + listed.stderr


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
