"""Fail before scheduling when a request fits no node: Ray would otherwise wait forever."""
from __future__ import annotations

from typing import Iterable

from mlops.errors import ResourceError

# Which spec field each resource of a node comes from, for messages a user can act on.
RESOURCE_FIELDS = {"CPU": "hardware.cpus_per_task", "GPU": "hardware.gpus_per_task", "memory_gb": "hardware.memory_per_task_gb"}


def check_feasible(requests: Iterable[tuple[str, dict[str, float], dict[str, str]]], nodes: list[dict[str, float]]) -> None:
    """Each request (node id, resources, resource -> spec field) must fit on at least one cluster node."""
    problems = []
    for node_id, resources, fields in requests:
        if any(_fits(resources, node) for node in nodes):
            continue
        for name, amount in resources.items():
            best = max((_capacity(node, name) for node in nodes), default=0.0)
            if amount > best:
                field = fields.get(name) or RESOURCE_FIELDS.get(name, name)
                unit = " GB" if name == "memory_gb" else ""
                label = "GPUs" if name == "GPU" else "CPUs" if name == "CPU" else "memory"
                where = "the cluster has" if name == "GPU" and best == 0 else "the largest node has"
                problems.append(f"{field}={_num(amount)}{unit} but {where} {_num(best)}{unit} {label} "
                                f"(needed by plan node '{node_id}')")
    if problems:
        raise ResourceError("the plan cannot be scheduled on this cluster:\n  " + "\n  ".join(dict.fromkeys(problems)))


def check_group_feasible(node_id: str, unit: dict[str, float], count: int, fields: dict[str, str], count_field: str,
                         nodes: list[dict[str, float]]) -> None:
    """`count` copies of `unit` (Ray Train workers, Serve replicas) started together: each must fit on a
    node, and all of them in the cluster, or Ray would wait forever for the last ones."""
    problems = []
    for name, amount in unit.items():
        label = "GPUs" if name == "GPU" else "CPUs" if name == "CPU" else "GB of memory"
        largest = max((_capacity(node, name) for node in nodes), default=0.0)
        total = sum(_capacity(node, name) for node in nodes)
        field = fields.get(name) or RESOURCE_FIELDS.get(name, name)
        if amount > largest + 1e-9:
            where = "the cluster has" if largest == 0 else "the largest node has"
            problems.append(f"{field}={_num(amount)} but {where} {_num(largest)} {label} (needed by plan node '{node_id}')")
        elif amount * count > total + 1e-9:
            problems.append(f"{count_field}={count} x {field}={_num(amount)} needs {_num(amount * count)} {label} "
                            f"but the cluster has {_num(total)} (needed by plan node '{node_id}')")
    if problems:
        raise ResourceError("the plan cannot be scheduled on this cluster:\n  " + "\n  ".join(problems))


def _capacity(node: dict[str, float], name: str) -> float:
    if name == "memory_gb":
        return node.get("memory", 0.0) / 1e9
    return node.get(name, 0.0)


def _fits(resources: dict[str, float], node: dict[str, float]) -> bool:
    return all(amount <= _capacity(node, name) + 1e-9 for name, amount in resources.items())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"
