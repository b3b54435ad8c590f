"""Run the chosen nodes of a Plan on Ray: each 'ray' node a task fed its inputs' object refs (or the
cached values of inputs that did not run); 'driver' nodes run here, through their kind's function."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import ray

from mlops.errors import MlopsError
from mlops.plan import Node, Plan
from mlops.runtime.node_calls import run_task


@ray.remote(num_returns=2)
def _run_stage(node: Node, *values: Any) -> tuple[Any, float]:
    # The inputs travel as positional arguments, so that Ray resolves their object refs; by name from here.
    start = time.perf_counter()
    result = run_task(node, dict(zip(node.inputs, values)))
    return result, time.perf_counter() - start


# A task whose node or worker process died (a node lost, a worker OOM-killed) is run again, elsewhere when the
# node is gone; an exception the task raised is never retried (retry_exceptions stays off): it is the answer.
SYSTEM_FAILURE_RETRIES = 3


def ray_options(resources: dict[str, float]) -> dict[str, Any]:
    """Ray task options from a node's resources (custom ones, hardware.resources_per_task, as Ray's `resources`)."""
    opts: dict[str, Any] = {"num_cpus": resources.get("CPU", 1.0), "max_retries": SYSTEM_FAILURE_RETRIES}
    if resources.get("GPU"):
        opts["num_gpus"] = resources["GPU"]
    if resources.get("memory_gb"):
        opts["memory"] = int(resources["memory_gb"] * 1e9)
    custom = {name: amount for name, amount in resources.items() if name not in ("CPU", "GPU", "memory_gb")}
    if custom:
        opts["resources"] = custom
    return opts


@dataclass
class Execution:
    """Outputs (values or object refs) and timings of the nodes that ran, plus the reused inputs."""

    values: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def unwrap(exc: Exception) -> Exception:
    """A user error raised inside a task comes back wrapped; surface the original."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, MlopsError) else exc


def cancel_unfinished(refs: list[Any]) -> None:
    """Cancel the tasks of a failed plan that have not finished. Only those: force-cancelling a task that
    already finished (or failed) can trip a check in Ray's task manager and crash the driver's core
    worker. A gentle cancel interrupts a running task; Ray then cleans its worker up itself."""
    if not refs:
        return
    _, pending = ray.wait(refs, num_returns=len(refs), timeout=0)
    for ref in pending:
        try:
            ray.cancel(ref, force=False)
        except (ValueError, TypeError, ray.exceptions.RayError):  # finished between wait and cancel
            continue


def execute(plan: Plan, run: set[str], reused: dict[str, Any], run_driver: Callable[[Node, dict[str, Any]], Any],
            on_done: Callable[[Node, float, Any], None] | None = None) -> Execution:
    """Run the nodes in `run`, in plan order; nodes outside it give their `reused` (cached) outputs.

    Ray nodes whose inputs are at hand (values, or refs of submitted nodes) are all submitted at once (Ray
    orders them by their refs); the rest as soon as the driver nodes they wait for finish, before `on_done`
    runs for those and before the loop reaches them (evaluate starts while the driver still caches and
    records the refit that feeds it). `on_done(node, seconds, output)` sees each finished node, in plan
    order, with its output value or object ref."""
    refs: dict[str, Any] = {}
    timing_refs: dict[str, Any] = {}
    out = Execution(values=dict(reused))

    def submit(node: Node) -> None:
        args = [refs[i] if i in refs else out.values[i] for i in node.inputs.values()]
        refs[node.id], timing_refs[node.id] = _run_stage.options(**ray_options(node.resources), name=f"mlops:{node.id}").remote(
            node, *args)

    chosen = [node for node in plan.nodes if node.id in run]

    def submit_ready() -> None:
        for node in chosen:
            if node.placement == "ray" and node.id not in refs and all(i in refs or i in out.values for i in node.upstream):
                submit(node)

    submit_ready()
    try:
        for node in chosen:
            if node.placement == "ray" and node.id not in refs:  # an upstream neither run nor reused: submit fails on it
                submit(node)
            if node.id in refs:
                out.seconds[node.id] = ray.get(timing_refs[node.id])
                output = refs[node.id]
            else:
                inputs = {name: out.values[i] if i in out.values else ray.get(refs[i]) for name, i in node.inputs.items()}
                start = time.perf_counter()
                output = out.values[node.id] = run_driver(node, inputs)
                out.seconds[node.id] = time.perf_counter() - start
                submit_ready()  # the Ray nodes that waited for this one
            if on_done:
                on_done(node, out.seconds[node.id], output)
    except ray.exceptions.RayTaskError as exc:
        cancel_unfinished(list(refs.values()))
        raise unwrap(exc) from None
    except BaseException:
        cancel_unfinished(list(refs.values()))
        raise
    for node_id, ref in refs.items():
        out.values.setdefault(node_id, ref)
    return out
