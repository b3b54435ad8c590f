"""Model work an apply's driver hands to a Ray worker process on its own node: writing the bundle it registers,
scoring the champion it compares with, local batch scoring.

Why: the driver is the run's MLflow writer and the plan's orchestrator; everything it does sits on the apply's
critical path. Loading or saving a model there means importing the model's library first (scikit-learn alone
is about a second), while the workers that just ran the plan have it imported already and sit idle. The work
runs on the driver's own node (a directory the driver made is the worker's too, and a relative output lands
where it did) and reserves no CPU: it is the driver's own work, done in another process, and a head started
with `--num-cpus=0` (KubeRay's usual head) must not leave it waiting for a CPU forever.

The stages take the runner as a parameter (`work(fn, *args)`), and call it for exactly this work: without
Ray (`mlops predict --batch`, scheduled scoring inside the controller) they run it in their own process.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable


@lru_cache(maxsize=1)
def _remote_call() -> Any:
    """The Ray task, made on first use: a caller that runs the work in its own process never imports Ray."""
    import ray

    from mlops.runtime.execute import SYSTEM_FAILURE_RETRIES

    return ray.remote(num_cpus=0, max_retries=SYSTEM_FAILURE_RETRIES)(in_process)


TASK_PREFIX = "mlops-driver:"  # the work's Ray task names (a plan node's task is "mlops:<node>")


def in_process(fn: Callable[..., Any], *args: Any) -> Any:
    """The runner for callers without a Ray worker to hand to: the work runs here."""
    return fn(*args)


def on_driver_node(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in a worker process on this driver's node; its exception (an mlops error naming a field or a
    file, a ValueError a caller handles) is raised here as itself."""
    import ray
    from ray.util.client import ray as ray_client
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if ray_client.is_connected():  # a Ray Client driver (ray://) is on no node of the cluster: no shared disk
        return in_process(fn, *args)
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    try:
        return ray.get(_remote_call().options(scheduling_strategy=here, name=f"{TASK_PREFIX}{fn.__name__}").remote(fn, *args))
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise
