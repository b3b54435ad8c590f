"""Plan nodes that start Ray Train workers: resolve `accelerator: auto`, check the workers fit, run, log."""
from __future__ import annotations

import warnings
from typing import Any

from mlops import tracking_tags
from mlops.plan import Node, Plan

WORKER_FIELDS = {"CPU": "hardware.cpus_per_worker", "GPU": "hardware.gpus_per_worker"}


def worker_nodes(plan: Plan) -> list[Node]:
    """Nodes that declare Ray Train workers (their resources are not a single Ray task's)."""
    return [n for n in plan.nodes if "workers" in n.params and "resources_per_worker" in n.params]


def use_gpu_on(params: dict[str, Any], cluster: list[dict[str, float]], warn: bool = False) -> bool:
    """The plan's use_gpu, with 'auto' resolved against the cluster (no GPUs: CPU, with a warning)."""
    if params["use_gpu"] != "auto":
        return bool(params["use_gpu"])
    has_gpus = any(node.get("GPU", 0) > 0 for node in cluster)
    if not has_gpus and warn:
        warnings.warn("hardware.accelerator=auto: the cluster has no GPUs, so torch training runs on CPU", stacklevel=2)
    return has_gpus


def per_worker(params: dict[str, Any], use_gpu: bool) -> dict[str, float]:
    """Ray resources of one worker: its CPUs, and its GPUs when `use_gpu`."""
    return {"CPU": params["resources_per_worker"]["CPU"], **({"GPU": params["gpus_per_worker"]} if use_gpu else {})}


def check_workers(plan: Plan, cluster: list[dict[str, float]]) -> None:
    """Every worker must fit on a node and all of them in the cluster; else Ray would wait forever."""
    from mlops.cluster.feasibility import check_group_feasible

    for node in worker_nodes(plan):
        unit = per_worker(node.params, use_gpu_on(node.params, cluster, warn=True))
        check_group_feasible(node.id, unit, node.params["workers"], WORKER_FIELDS, "hardware.workers", cluster)


def train_on_ray(registry: Any, run_id: str, plan_name: str, node: Node, inputs: dict[str, Any],
                 cluster: list[dict[str, float]]) -> Any:
    """Driver handler of train_torch: train on Ray Train, log per-epoch metrics (step=epoch), return Trained."""
    from mlops.stages import train_torch

    use_gpu = use_gpu_on(node.params, cluster)
    outcome = train_torch.run(**inputs, params=node.call_params(), use_gpu=use_gpu, run_name=f"{plan_name}-{run_id}")
    for row in outcome.history:  # only the driver writes to MLflow
        registry.log_metrics(run_id, {k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
    registry.set_tags(run_id, {tracking_tags.RAY_TRAIN_PATH: outcome.path, tracking_tags.RAY_TRAIN_USE_GPU: use_gpu,
                               tracking_tags.RAY_TRAIN_WORKERS: node.params["workers"],
                               tracking_tags.RAY_TRAIN_EPOCHS_RUN: len(outcome.history),
                               tracking_tags.RAY_TRAIN_BEST_EPOCH: outcome.best_epoch,
                               tracking_tags.RAY_TRAIN_STOPPED_EARLY: outcome.stopped_early,
                               tracking_tags.RAY_TRAIN_RESUMED_FROM_EPOCH: outcome.resumed_from_epoch or "-"})
    return outcome.trained
