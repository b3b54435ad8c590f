"""Fail before scheduling when a request fits no node: Ray would otherwise wait forever.

`apply` checks against the nodes Ray reports; `plan` runs the same checks without Ray against a description
of this machine (`local_node`), when the plan would run here.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

from mlops.errors import ResourceError

# Which spec field each resource of a node comes from, for messages a user can act on.
RESOURCE_FIELDS = {"CPU": "hardware.cpus_per_task", "GPU": "hardware.gpus_per_task", "memory_gb": "hardware.memory_per_task_gb"}


def resource_field(name: str) -> str:
    """The spec field a task's resource comes from: Ray's own have their fields, custom ones resources_per_task."""
    return RESOURCE_FIELDS.get(name, f"hardware.resources_per_task.{name}")


def check_feasible(requests: Iterable[tuple[str, dict[str, float], dict[str, str]]], nodes: list[dict[str, float]]) -> None:
    """Each request (node id, resources, resource -> spec field) must fit on at least one cluster node."""
    problems = feasibility_problems(requests, nodes)
    if problems:
        raise ResourceError("the plan cannot be scheduled on this cluster:\n  " + "\n  ".join(problems))


def feasibility_problems(requests: Iterable[tuple[str, dict[str, float], dict[str, str]]],
                         nodes: list[dict[str, float]], place: str | None = None) -> list[str]:
    """What check_feasible refuses, one message per problem (naming the spec field); [] when all fit.
    `place` names the one node checked ('this machine') instead of 'the largest node'."""
    problems = []
    for node_id, resources, fields in requests:
        if any(_fits(resources, node) for node in nodes):
            continue
        for name, amount in resources.items():
            best = max((_capacity(node, name) for node in nodes), default=0.0)
            if amount > best:
                field = fields.get(name) or resource_field(name)
                if name not in RESOURCE_FIELDS:  # a custom resource: nodes declare it with `ray start --resources`
                    has = f"{place} has {_num(best)} of it" if place else "no node of the cluster has it" if best == 0 \
                        else f"the largest amount on one node is {_num(best)}"
                    problems.append(f"{field}={_num(amount)} but {has} (a custom resource, declared by nodes with "
                                    f"`ray start --resources`; needed by plan node '{node_id}')")
                    continue
                unit = " GB" if name == "memory_gb" else ""
                label = "GPUs" if name == "GPU" else "CPUs" if name == "CPU" else "memory"
                where = f"{place} has" if place else "the cluster has" if name == "GPU" and best == 0 \
                    else "the largest node has"
                problems.append(f"{field}={_num(amount)}{unit} but {where} {_num(best)}{unit} {label} "
                                f"(needed by plan node '{node_id}')")
    return list(dict.fromkeys(problems))


def check_group_feasible(node_id: str, unit: dict[str, float], count: int, fields: dict[str, str], count_field: str,
                         nodes: list[dict[str, float]]) -> None:
    """`count` copies of `unit` (Ray Train workers, Serve replicas) started together: each must fit on a
    node, and all of them in the cluster, or Ray would wait forever for the last ones."""
    problems = group_problems(node_id, unit, count, fields, count_field, nodes)
    if problems:
        raise ResourceError("the plan cannot be scheduled on this cluster:\n  " + "\n  ".join(problems))


def group_problems(node_id: str, unit: dict[str, float], count: int, fields: dict[str, str], count_field: str,
                   nodes: list[dict[str, float]], place: str | None = None) -> list[str]:
    """What check_group_feasible refuses, one message per problem; [] when the group fits (`place`: as above)."""
    problems = []
    for name, amount in unit.items():
        label = "GPUs" if name == "GPU" else "CPUs" if name == "CPU" else "GB of memory"
        largest = max((_capacity(node, name) for node in nodes), default=0.0)
        total = sum(_capacity(node, name) for node in nodes)
        field = fields.get(name) or resource_field(name)
        if amount > largest + 1e-9:
            where = f"{place} has" if place else "the cluster has" if largest == 0 else "the largest node has"
            problems.append(f"{field}={_num(amount)} but {where} {_num(largest)} {label} (needed by plan node '{node_id}')")
        elif amount * count > total + 1e-9:
            problems.append(f"{count_field}={count} x {field}={_num(amount)} needs {_num(amount * count)} {label} "
                            f"but {place or 'the cluster'} has {_num(total)} (needed by plan node '{node_id}')")
    return problems


# Ray gives tasks the memory left after its object store, which takes 30% of what is available at start.
_RAY_TASK_MEMORY_SHARE = 0.7


def local_node(local_cpus: Optional[int] = None) -> dict[str, float]:
    """This machine as the embedded Ray would describe it, without starting Ray or importing torch: CPUs
    (hardware.local_cpus, else all), GPUs (NVIDIA devices the driver lists, limited by CUDA_VISIBLE_DEVICES)
    and task memory in bytes. A resource that cannot be read here is left out (and not checked)."""
    node: dict[str, float] = {"CPU": float(local_cpus or os.cpu_count() or 1)}
    gpus = _local_gpus()
    if gpus is not None:
        node["GPU"] = float(gpus)
    available = _meminfo_bytes("MemAvailable")
    if available is not None:
        node["memory"] = available * _RAY_TASK_MEMORY_SHARE
    return node


def _local_gpus() -> Optional[int]:
    """NVIDIA GPUs Ray would see (as Ray counts them: CUDA_VISIBLE_DEVICES when set); None when unknown."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    listed = "/proc/driver/nvidia/gpus"
    if os.path.isdir(listed):
        return len(os.listdir(listed))
    return 0 if os.path.isdir("/proc") else None  # Linux without the NVIDIA driver: none; elsewhere unknown


def _meminfo_bytes(field: str) -> Optional[float]:
    """A /proc/meminfo field in bytes (None off Linux)."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name == field:
                    return float(value.split()[0]) * 1024
    except OSError:
        return None
    return None


def _capacity(node: dict[str, float], name: str) -> float:
    if name == "memory_gb":
        return node.get("memory", 0.0) / 1e9
    return node.get(name, 0.0)


def _fits(resources: dict[str, float], node: dict[str, float]) -> bool:
    return all(amount <= _capacity(node, name) + 1e-9 for name, amount in resources.items())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"
