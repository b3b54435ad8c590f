"""The nodes that run in the driver: the MLflow writer (register), Ray Train and Ray Tune drivers, batch
scoring and deployment. Each is `fn(node, inputs, context) -> output` and reads its node's params and
runtime, its inputs (a dict, by the names the node gives them), and the run's context (registry, run id,
cluster): never the Spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from mlops.plan import Node, Plan
from mlops.plan.kinds import kind_of
from mlops.plugins import import_reference


@dataclass
class RunContext:
    """What driver nodes share within one apply."""

    registry: Any
    run_id: str
    experiment: str
    plan: Plan
    cluster: list[dict[str, float]]
    registration: Any = None  # this apply's (or the cached) Registration, once `register` is done
    endpoint: Any = None
    batch: Any = None
    tuning: Any = None
    ensemble: dict[str, Any] | None = None  # {"method", "members": [trial ids]} when the model registered is one
    started_at: float | None = None  # when the apply began (time.time()): a budget covering the apply counts from it
    # Driver work left running beside the nodes that follow (the trials' logging, beside the refit): each is
    # called, and waits, before the apply concludes or fails.
    settle: list[Callable[[], None]] = field(default_factory=list)

    def wait_for_background(self) -> None:
        """Wait for the driver's background work, each piece once."""
        while self.settle:
            self.settle.pop(0)()

    def version_for(self, name: str, alias: str) -> str:
        """The version an alias will point at when this apply has succeeded: this apply's version when it
        is to become champion (the alias itself moves at the end), else the alias' current one."""
        reg = self.registration
        if alias == "champion" and reg is not None and reg.promoted:
            return reg.version
        return self.registry.by_alias(name, alias).version


def call(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Run a driver node through its kind's driver function, its inputs by name."""
    return import_reference(kind_of(node.kind).driver)(node, inputs, context)


def register(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Tag the run with the data fingerprint, register the trained model and decide the champion."""
    from mlops.runtime.model_work import on_driver_node
    from mlops.stages import register as stage

    fingerprint = inputs["trained"].meta.get("data_fingerprint") or {}
    context.ensemble = (inputs["trained"].meta.get("tuned") or {}).get("ensemble")
    context.registry.set_tags(context.run_id, {"data.sha256": fingerprint.get("sha256"), "data.rows": fingerprint.get("rows"),
                                               "data.columns": ",".join(fingerprint.get("columns", []))})
    context.registration = stage.run(**inputs, params=node.params, registry=context.registry, run_id=context.run_id,
                                     extra_meta={"plan_hash": context.plan.hash, "node_hash": node.hash},
                                     work=on_driver_node)  # the model is saved, the champion scored, in a warm worker
    return context.registration


def batch_predict(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Score the batch input with the version the node's alias will name when this apply has succeeded."""
    from mlops.runtime.batch import score_with_alias
    from mlops.runtime.model_work import on_driver_node

    context.batch = score_with_alias(node, context.registry, context.version_for, len(context.cluster), on_driver_node)
    return context.batch


def deploy(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Deploy (or update) the online endpoint with the version its alias will name, and record the app."""
    from mlops.serving.deploy import deploy_and_record

    version = context.version_for(node.params["name"], node.params["model_alias"])
    context.endpoint = deploy_and_record(node, version)
    return context.endpoint


def train_torch(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Fit the torch model on Ray Train workers, logging to the apply's run."""
    from mlops.runtime.ray_train import train_on_ray

    return train_on_ray(context.registry, context.run_id, context.plan.name, node, inputs, context.cluster)


def tune(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """Run the search on Ray Tune from the driver, each trial logged as a child of the apply's run."""
    from mlops.runtime.tune_runs import tune_in_driver

    outcome, logging = tune_in_driver(context.registry, context.run_id, context.experiment, node, inputs,
                                      context.started_at)

    def logged() -> None:
        try:
            outcome.meta["logging_s"] = logging.result()
        except Exception as exc:  # noqa: BLE001 - the search and its model are kept; the log says what is missing
            import warnings

            warnings.warn(f"the trials were not logged to MLflow: {type(exc).__name__}: {exc}", stacklevel=1)

    context.settle.append(logged)
    context.tuning = outcome
    return outcome


def train_best(node: Node, inputs: dict[str, Any], context: RunContext) -> Any:
    """A driver-run training (torch) refits the best trial through its own kind's driver function."""
    from mlops.runtime.tune_runs import best_node

    data = {name: value for name, value in inputs.items() if name != "outcome"}
    return call(best_node(node, inputs["outcome"]), data, context)
