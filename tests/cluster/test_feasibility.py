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
