"""apply: run a project's plan on Ray with one MLflow run, registering the model and batch-predicting."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

from mlops.plan import Node, Plan
from mlops.project import Project

PLAN_HASH_TAG = "mlops.plan_hash"


@dataclass
class ApplyResult:
    plan_hash: str
    run_id: str | None = None
    version: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    decision: str = ""
    batch: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    up_to_date: bool = False
    endpoint: Any = None
    tuning: Any = None  # mlops.stages.tune.TuneOutcome when the plan searched


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("mlops", "scikit-learn", "ray", "mlflow", "numpy", "pandas", "pyarrow", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_commit(directory: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def flat_params(prefix: str, value: Any) -> dict[str, Any]:
    """{'model': {'params': {'a': 1}}} -> {'model.params.a': 1}."""
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(flat_params(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def choose_batch_executor(requested: str, cluster_nodes: int) -> str:
    """auto: Ray Data only pays off when there is more than this machine (see benchmarks/batch_inference)."""
    if requested != "auto":
        return requested
    return "ray_data" if cluster_nodes > 1 else "local"


def apply_plan(project: Project, plan: Plan, *, address: str | None = None, force: bool = False,
               on_done: Callable[[Node, float], None] | None = None) -> ApplyResult:
    """Execute `plan` (compiled from `project`); skipped when an identical plan already ran."""
    from mlops.registry import Registry
    from mlops.runtime.cluster import cluster_nodes, ray_session
    from mlops.runtime.execute import execute
    from mlops.runtime.feasibility import check_feasible
    from mlops.runtime.ray_train import check_workers, train_on_ray
    from mlops.runtime.tune_runs import best_node

    spec = project.spec
    registry = Registry(spec.tracking.uri)
    experiment = spec.tracking.experiment or spec.name
    previous = None if force else registry.find_run(experiment, PLAN_HASH_TAG, plan.hash)
    if previous is not None and _outputs_exist(plan):
        return ApplyResult(plan.hash, previous.info.run_id, previous.data.tags.get("mlops.model_version"),
                           dict(previous.data.metrics), "plan unchanged since this run: nothing to do", up_to_date=True)

    address = _endpoint_cluster(project, plan, address)
    with ray_session(spec.hardware.cluster, address, spec.hardware.local_cpus):
        nodes = cluster_nodes()
        # The tune node runs in the driver, but each of its trials asks the cluster for its resources.
        check_feasible([(n.id, n.resources, n.params.get("resource_fields", {})) for n in plan.nodes
                        if n.placement == "ray" or n.kind == "tune"], nodes)
        check_workers(plan, nodes)  # driver nodes that start Ray Train workers (train_torch)
        run_id = registry.start_run(experiment, tags={PLAN_HASH_TAG: plan.hash, "mlops.spec": str(project.config.spec_file)})
        result = ApplyResult(plan.hash, run_id)
        try:
            _log_run_inputs(registry, run_id, project, plan)
            handlers = {
                "register": lambda node, inputs: _register(registry, run_id, project, plan, inputs, result),
                "batch_predict": lambda node, inputs: _batch_predict(registry, project, node, inputs, len(nodes), result),
                "deploy": lambda node, inputs: _deploy(project, result),
                "train_torch": lambda node, inputs: train_on_ray(registry, run_id, plan.name, node, inputs, nodes),
                "tune": lambda node, inputs: _tune(registry, run_id, experiment, node, inputs, result),
            }
            # A driver-run training (torch) refits the best trial through its own handler.
            handlers["train_best"] = lambda node, inputs: handlers[node.params["base_kind"]](best_node(node, inputs[-1]), inputs[:-1])
            execution = execute(plan, handlers, on_done)
            result.seconds = execution.seconds
            registry.log_metrics(run_id, {f"seconds.{k}": v for k, v in execution.seconds.items()})
        except BaseException:
            registry.end_run(run_id, ok=False)
            raise
        registry.end_run(run_id, ok=True)
    return result


def _endpoint_cluster(project: Project, plan: Plan, address: str | None) -> str | None:
    """An online endpoint must outlive this command: on a local cluster, run on mlops' persistent head."""
    import ray

    from mlops.runtime.cluster import resolve_address

    has_deploy = any(n.kind == "deploy" for n in plan.nodes)
    if not has_deploy or ray.is_initialized() or resolve_address(project.spec.hardware.cluster, address):
        return address
    from mlops.runtime.local_head import ensure_head
    from mlops.serving.deploy import serving_env

    return ensure_head(serving_env(project), project.spec.hardware.local_cpus).gcs


def _tune(registry: Any, run_id: str, experiment: str, node: Node, inputs: list[Any], result: ApplyResult):
    from mlops.runtime.tune_runs import tune_in_driver

    result.tuning = tune_in_driver(registry, run_id, experiment, node, inputs)
    return result.tuning


def _deploy(project: Project, result: ApplyResult):
    from mlops.serving.deploy import deploy, record_app

    result.endpoint = deploy(project)
    record_app(project, result.endpoint)
    return result.endpoint


def _outputs_exist(plan: Plan) -> bool:
    from pathlib import Path

    for node in plan.nodes:
        if node.kind == "batch_predict":
            out = Path(node.params["output"])
            if not (out if out.is_absolute() else Path(node.params["base_dir"]) / out).exists():
                return False
    return True


def _log_run_inputs(registry: Any, run_id: str, project: Project, plan: Plan) -> None:
    spec = project.spec
    registry.log_params(run_id, flat_params("", {"model": spec.model.model_dump(mode="json"),
                                                 "data.split": spec.data.split.model_dump(mode="json"),
                                                 "features": spec.features.model_dump(mode="json")}))
    registry.log_text(run_id, project.resolved_yaml(), "spec/resolved_spec.yaml")
    registry.log_text(run_id, plan.to_json(), "spec/plan.json")
    tags = {f"version.{k}": v for k, v in package_versions().items()}
    commit = git_commit(str(project.base_dir))
    if commit:
        tags["mlflow.source.git.commit"] = commit
    if project.config.overrides:
        tags["mlops.overrides"] = " ".join(project.config.overrides)
    registry.set_tags(run_id, tags)


def _register(registry: Any, run_id: str, project: Project, plan: Plan, inputs: list[Any], result: ApplyResult):
    from mlops.stages import register

    trained, evaluation, monitoring = inputs
    fingerprint = trained.meta.get("data_fingerprint") or {}
    registry.set_tags(run_id, {"data.sha256": fingerprint.get("sha256"), "data.rows": fingerprint.get("rows"),
                               "data.columns": ",".join(fingerprint.get("columns", []))})
    params = plan.node("register").params
    registration = register.run(registry, run_id, project.spec.name, trained, evaluation, {"plan_hash": plan.hash},
                                monitoring, auto_promote=params.get("auto_promote", True))
    result.version, result.metrics, result.decision = registration.version, evaluation.metrics, registration.decision
    return registration


def _batch_predict(registry: Any, project: Project, node: Node, inputs: list[Any], n_nodes: int, result: ApplyResult):
    from mlops.stages import batch_predict

    registration = inputs[0]
    bundle = registry.load(project.spec.name, version=registration.version)  # verifies the sha256
    executor = choose_batch_executor(node.params["executor"], n_nodes)
    result.batch = batch_predict.run(bundle, node.params, executor)
    return result.batch
