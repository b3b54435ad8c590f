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


class Started:
    """The chosen nodes of a plan with their Ray part under way: every Ray node whose inputs are at hand was
    submitted when this was made (Ray orders them by their refs), so those run while the driver does what
    comes before `finish` (opening the tracking store: seconds on a fresh one)."""

    def __init__(self, plan: Plan, run: set[str], reused: dict[str, Any]) -> None:
        self.chosen = [node for node in plan.nodes if node.id in run]
        self.refs: dict[str, Any] = {}
        self.timing_refs: dict[str, Any] = {}
        self.out = Execution(values=dict(reused))
        self._submit_ready()

    def _submit(self, node: Node) -> None:
        args = [self.refs[i] if i in self.refs else self.out.values[i] for i in node.inputs.values()]
        self.refs[node.id], self.timing_refs[node.id] = _run_stage.options(
            **ray_options(node.resources), name=f"mlops:{node.id}").remote(node, *args)

    def _submit_ready(self) -> None:
        for node in self.chosen:
            if node.placement == "ray" and node.id not in self.refs and all(
                    i in self.refs or i in self.out.values for i in node.upstream):
                self._submit(node)

    def cancel(self) -> None:
        """Cancel what was submitted and has not finished: the apply ends before `finish`."""
        cancel_unfinished(list(self.refs.values()))

    def finish(self, run_driver: Callable[[Node, dict[str, Any]], Any],
               on_done: Callable[[Node, float, Any], None] | None = None) -> Execution:
        """Run the driver nodes here and wait for the rest, in plan order; the Ray nodes that wait for a
        driver node are submitted as soon as it finishes, before `on_done` runs for it and before the loop
        reaches them (evaluate starts while the driver still caches and records the refit that feeds it).
        `on_done(node, seconds, output)` sees each finished node, in plan order, with its output value or
        object ref."""
        out, refs = self.out, self.refs
        try:
            for node in self.chosen:
                if node.placement == "ray" and node.id not in refs:  # an upstream neither run nor reused: fails here
                    self._submit(node)
                if node.id in refs:
                    out.seconds[node.id] = ray.get(self.timing_refs[node.id])
                    output = refs[node.id]
                else:
                    inputs = {name: out.values[i] if i in out.values else ray.get(refs[i]) for name, i in node.inputs.items()}
                    start = time.perf_counter()
                    output = out.values[node.id] = run_driver(node, inputs)
                    out.seconds[node.id] = time.perf_counter() - start
                    self._submit_ready()  # the Ray nodes that waited for this one
                if on_done:
                    on_done(node, out.seconds[node.id], output)
        except ray.exceptions.RayTaskError as exc:
            self.cancel()
            raise unwrap(exc) from None
        except BaseException:
            self.cancel()
            raise
        for node_id, ref in refs.items():
            out.values.setdefault(node_id, ref)
        return out


def start(plan: Plan, run: set[str], reused: dict[str, Any]) -> Started:
    """Submit the nodes in `run` that can go to Ray now; nodes outside it give their `reused` (cached) outputs."""
    return Started(plan, run, reused)


def execute(plan: Plan, run: set[str], reused: dict[str, Any], run_driver: Callable[[Node, dict[str, Any]], Any],
            on_done: Callable[[Node, float, Any], None] | None = None) -> Execution:
    """Run the nodes in `run`, in plan order (see Started.finish); nodes outside it give their `reused` outputs."""
    return start(plan, run, reused).finish(run_driver, on_done)
