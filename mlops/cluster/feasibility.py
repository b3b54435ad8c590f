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


def _capacity(node: dict[str, float], name: str) -> float:
    if name == "memory_gb":
        return node.get("memory", 0.0) / 1e9
    return node.get(name, 0.0)


def _fits(resources: dict[str, float], node: dict[str, float]) -> bool:
    return all(amount <= _capacity(node, name) + 1e-9 for name, amount in resources.items())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"
