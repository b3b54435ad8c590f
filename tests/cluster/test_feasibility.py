"""Resource checks before anything is scheduled: a request no node can hold, and a group (workers,
replicas) whose members each fit but not all together, are refused naming the spec fields."""
from __future__ import annotations

import pytest

from mlops.cluster.feasibility import check_feasible, check_group_feasible
from mlops.errors import ResourceError

TWO_NODES = [{"CPU": 2.0, "memory": 8e9}, {"CPU": 2.0, "memory": 8e9}]
REPLICA_FIELDS = {"CPU": "hardware.cpus_per_replica", "GPU": "hardware.gpus_per_replica"}


def test_a_task_larger_than_every_node_names_its_field():
    with pytest.raises(ResourceError, match=r"hardware.cpus_per_task=4 but the largest node has 2 CPUs.*'train'"):
        check_feasible([("train", {"CPU": 4.0}, {})], TWO_NODES)
    check_feasible([("train", {"CPU": 2.0}, {})], TWO_NODES)


def test_a_group_that_fits_member_by_member_but_not_together():
    with pytest.raises(ResourceError, match=r"serving.online.replicas.min=5 x hardware.cpus_per_replica=1 needs 5 CPUs "
                                            r"but the cluster has 4"):
        check_group_feasible("deploy", {"CPU": 1.0}, 5, REPLICA_FIELDS, "serving.online.replicas.min", TWO_NODES)
    check_group_feasible("deploy", {"CPU": 1.0}, 4, REPLICA_FIELDS, "serving.online.replicas.min", TWO_NODES)


def test_a_gpu_group_on_a_cluster_without_gpus():
    with pytest.raises(ResourceError, match=r"hardware.gpus_per_replica=1 but the cluster has 0 GPUs"):
        check_group_feasible("deploy", {"CPU": 0.5, "GPU": 1.0}, 1, REPLICA_FIELDS, "serving.online.replicas.fixed", TWO_NODES)


def test_a_custom_resource_no_node_declares_names_its_field():
    pooled = [{"CPU": 2.0}, {"CPU": 2.0, "worker_pool": 4.0}]
    check_feasible([("load", {"CPU": 1.0, "worker_pool": 1.0}, {})], pooled)
    with pytest.raises(ResourceError, match=r"hardware.resources_per_task.gpu_pool=1 but no node of the cluster has it "
                                            r"\(a custom resource, declared by nodes with `ray start --resources`; "
                                            r"needed by plan node 'load'\)"):
        check_feasible([("load", {"CPU": 1.0, "gpu_pool": 1.0}, {})], pooled)
    with pytest.raises(ResourceError, match=r"resources_per_task.worker_pool=8 but the largest amount on one node is 4"):
        check_feasible([("load", {"CPU": 1.0, "worker_pool": 8.0}, {})], pooled)


def test_plan_refuses_a_custom_resource_on_this_machine(tmp_path, example):
    """The embedded Ray declares no custom resource: a task asking for one would wait forever."""
    from mlops import api
    from mlops.plan import compile_plan

    project = api.load(example("iris") / "spec.yaml", ["hardware.resources_per_task={worker_pool: 1}"])
    problems = api.local_feasibility(project, compile_plan(project))
    assert problems and all("resources_per_task.worker_pool=1 but this machine has 0 of it" in p for p in problems)
    assert {p.rsplit("'", 2)[-2] for p in problems} >= {"load", "train"}


def test_tasks_and_trials_ask_ray_for_the_custom_resources():
    from mlops.runtime.execute import ray_options
    from mlops.stages.tune import _tune_resources

    assert ray_options({"CPU": 1.0, "worker_pool": 0.5}) == {"num_cpus": 1.0, "max_retries": 3,
                                                              "resources": {"worker_pool": 0.5}}
    assert ray_options({"CPU": 2.0, "GPU": 1.0, "memory_gb": 2.0})["num_gpus"] == 1.0
    assert "resources" not in ray_options({"CPU": 2.0, "GPU": 1.0, "memory_gb": 2.0})
    params = {"trial_resources": {"CPU": 1.0, "worker_pool": 1.0}, "model": {"type": "sklearn"},
              "tuning": {"cpus_per_trial": 1}, "max_concurrent_trials": None}
    assert _tune_resources(params) == {"cpu": 1.0, "worker_pool": 1.0}
