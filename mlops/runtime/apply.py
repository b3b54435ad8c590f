"""apply: run a project's plan on Ray with one MLflow run, registering the model and batch-predicting."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

from mlops.dotted import flatten
from mlops.plan import Node, Plan
from mlops.project import Project
from mlops import tracking_tags



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
    ensemble: dict[str, Any] | None = None  # the registered model's ensemble of trials ({"method", "members"}), if one
    ran: list[str] = field(default_factory=list)  # nodes that ran, in plan order
    reused: list[str] = field(default_factory=list)  # nodes whose recorded output was used instead
    controller: Any = None  # the always-on controller's status when this apply started or updated it


def package_versions() -> dict[str, str]:
    """Installed versions of mlops and the packages a run depends on (those not installed left out)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("mlops", "scikit-learn", "ray", "mlflow", "numpy", "pandas", "pyarrow", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_commit(directory: str) -> str | None:
    """The commit checked out in `directory`'s git repository; None outside one or without git."""
    try:
        done = subprocess.run(["git", "-C", directory, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def apply_plan(project: Project, plan: Plan, *, address: str | None = None, force: bool | str = False,
               on_done: Callable[[Node, float], None] | None = None, started_at: float | None = None) -> ApplyResult:
    """Execute what `plan` needs and has not already done: nodes whose output is recorded under their
    hash are reused; the rest run (and what depends on them). `force`: rerun everything, or a node
    name: that node and everything downstream. `started_at`: when the apply began (time.time(); default
    now), which a budget covering the whole apply counts from."""
    import time

    from mlops.runtime.node_cache import ApplyLock, NodeCache, cache_dir

    started_at = time.time() if started_at is None else started_at

    register = plan.node("register")
    cache = NodeCache(cache_dir(register.runtime["tracking_uri"], project.base_dir))
    with ApplyLock(cache.root, plan.name, plan.hash):  # a concurrent apply of this plan finishes first
        return _apply_locked(project, plan, cache, address, force, on_done, started_at)


def _apply_locked(project: Project, plan: Plan, cache: Any, address: str | None, force: bool | str,
                  on_done: Callable[[Node, float], None] | None, started_at: float) -> ApplyResult:
    from mlops.runtime.incremental import forced, is_reusable, needed, reused_output

    state = cache.read_state(plan.name)
    rerun = forced(plan, force)
    reusable = {n.id for n in plan.nodes if n.id not in rerun and is_reusable(n, cache, state)}
    while True:  # a damaged cache entry turns out when it is read: then it runs after all
        run = needed(plan, reusable)
        reused, damaged = {}, set()
        for node in plan.nodes:
            wanted = node.id in reusable and any(node.id in n.upstream for n in plan.nodes if n.id in run)
            if wanted:
                ok, value = reused_output(node, cache, state)
                (reused.__setitem__(node.id, value) if ok else damaged.add(node.id))
        if not damaged:
            break
        reusable -= damaged
    if not run:  # report the registration this plan's model came from (read back, the store not asked again)
        ok, registration = cache.get(plan.node("register").hash)
        run_id = registration.run_id if ok else state.get("run_id")
        return ApplyResult(plan.hash, run_id, registration.version if ok else None,
                           dict(registration.metrics) if ok else {}, f"nothing changed since run {run_id}: nothing to do",
                           up_to_date=True, reused=[n.id for n in plan.nodes])
    return _run(project, plan, run, reused, cache, state, address, on_done, started_at)


def _run(project: Project, plan: Plan, run: set[str], reused: dict[str, Any], cache: Any, state: dict[str, Any],
         address: str | None, on_done: Callable[[Node, float], None] | None, started_at: float) -> ApplyResult:
    import ray

    from mlops.cluster.session import cluster_nodes, ray_session
    from mlops.runtime.driver_nodes import RunContext, call
    from mlops.runtime.execute import start
    from mlops.cluster.feasibility import check_feasible
    from mlops.runtime.cached_outputs import cached_output, recorded
    from mlops.runtime.ray_train import check_workers

    spec = project.spec
    register = plan.node("register")
    experiment = register.runtime["experiment"]
    address = _endpoint_cluster(project, plan, run, address)
    chosen = [n for n in plan.nodes if n.id in run]
    with ray_session(spec.hardware.cluster, address, spec.hardware.local_cpus):
        nodes = cluster_nodes()
        refuse_unreachable(spec, address, nodes)  # before the store is opened: a refused apply creates nothing
        # The tune node runs in the driver, but each of its trials asks the cluster for its resources.
        check_feasible([(n.id, n.resources, n.params.get("resource_fields", {})) for n in chosen
                        if n.placement == "ray" or n.kind == "tune"], nodes)
        check_workers(plan, nodes)  # driver nodes that start Ray Train workers (train_torch)
        started = start(plan, run, reused)  # the Ray nodes load and train while MLflow's store opens (seconds)
        registry, run_id = _open_run(project, plan, chosen, started)
        context = RunContext(registry, run_id, experiment, plan, nodes, registration=reused.get("register"),
                             started_at=started_at)
        result = ApplyResult(plan.hash, run_id, ran=[n.id for n in chosen], reused=sorted(reused))
        entries = dict(state.get("nodes", {}))

        def finished(node: Node, seconds: float, output: Any) -> None:
            """Record each node as it finishes, so an interrupted apply resumes after the last one."""
            value = ray.get(output) if isinstance(output, ray.ObjectRef) else output
            kept = cached_output(node)
            kept.store(node, cache, value)
            entries[node.id] = kept.entry(node, value)
            cache.write_state(plan.name, {**state, "nodes": entries})
            if on_done:
                on_done(node, seconds)

        try:
            _log_run_inputs(registry, run_id, project, plan)
            execution = started.finish(lambda node, inputs: call(node, inputs, context), finished)
            context.wait_for_background()
            result.seconds = execution.seconds
            registry.log_metrics(run_id, {f"seconds.{k}": v for k, v in execution.seconds.items()})
            _conclude(registry, run_id, plan, run, context, result, cache)
            for node in plan.nodes:  # nodes kept in the cache without a state entry yet (an older state file)
                kept = cached_output(node)
                if node.id not in run and not kept.records_output and recorded(state, node) is None:
                    entries[node.id] = kept.entry(node, None)
            applied = {"nodes": entries, "plan_hash": plan.hash, "run_id": result.run_id, "version": result.version,
                       "metrics": result.metrics, "decision": result.decision,
                       "plan": plan.to_dict()}  # what ran (params, runtime, hashes): what `serve` and monitors act on
            registry.record_applied_state(experiment, run_id, plan.name, applied)
        except BaseException:
            started.cancel()  # finish cancels on its own failures; this covers what fails around it
            context.wait_for_background()  # a failed refit keeps the search's trials logged
            registry.end_run(run_id, ok=False)
            raise
        registry.end_run(run_id, ok=True)
    cache.write_state(plan.name, applied)
    return result


def _open_run(project: Project, plan: Plan, chosen: list[Node], started: Any) -> tuple[Any, str]:
    """The tracking store (every write to it redacted) and this apply's run in it; what `started` submitted
    is cancelled when they cannot be had."""
    from mlops.registry import Registry
    from mlops.runtime.redacted_registry import RedactedRegistry

    register = plan.node("register")
    try:
        registry = RedactedRegistry(Registry(register.runtime["tracking_uri"]))
        run_id = registry.start_run(register.runtime["experiment"], tags={
            tracking_tags.PLAN_HASH: plan.hash, tracking_tags.SPEC_FILE: str(project.config.spec_file),
            tracking_tags.RAN: ",".join(n.id for n in chosen)})
    except BaseException:
        started.cancel()
        raise
    return registry, run_id


def _conclude(registry: Any, run_id: str, plan: Plan, run: set[str], context: Any, result: ApplyResult,
              cache: Any) -> None:
    """Every node succeeded: only now does a new champion take the alias (this apply's version, or a reused
    one whose apply failed before it could); then the decision is settled and the result filled in."""
    from dataclasses import replace

    register = plan.node("register")
    registration = context.registration
    if registration.promoted:
        registration.promoted = _promote_if_still_better(registry, register.params["name"], registration,
                                                         register.params["metric"])
        registry.set_tags(run_id, {tracking_tags.PROMOTED: registration.promoted})
    cache.put(register.hash, replace(registration, settled=True))
    result.metrics = dict(registration.metrics)
    result.decision = registration.decision if "register" in run else f"model unchanged: v{registration.version}"
    if "register" not in run:
        registry.set_tags(run_id, {tracking_tags.MODEL_VERSION: registration.version})
    result.version = registration.version
    result.batch, result.endpoint, result.tuning = context.batch, context.endpoint, context.tuning
    result.ensemble = context.ensemble


def _promote_if_still_better(registry: Any, name: str, registration: Any, metric: str) -> bool:
    """Move the champion alias, under the store's lock, unless another apply promoted a version since this
    apply decided: then the new champion is compared again (by its recorded score) before the alias moves."""
    from mlops.errors import RegistryError
    from mlops.metrics import better
    from mlops.registry import CHAMPION, store_lock

    with store_lock(registry.uri):
        try:
            current = registry.by_alias(name, CHAMPION)
        except RegistryError:
            current = None
        if current is not None and current.version not in (registration.version, registration.compared_with):
            theirs = current.tags.get(tracking_tags.SCORE)
            if theirs is not None and current.tags.get(tracking_tags.METRIC) == metric \
                    and better(metric, float(theirs), registration.metrics[metric]):
                registration.decision += f"; but v{current.version} was promoted meanwhile and scores better: kept it"
                return False
        registry.promote(name, registration.version)
        return True


def refuse_unreachable(spec: Any, address: str | None, nodes: list[dict[str, float]]) -> None:
    """A cluster named only on the command line is seen at run time: with more than one node, its nodes must
    reach the spec's data, store and storage, as `validate` requires of a spec whose hardware names a cluster.
    Before anything runs, so a refused apply writes nothing."""
    from mlops.errors import SpecError
    from mlops.sources.reach import cluster_problems, targets_cluster

    if len(nodes) > 1 and not targets_cluster(spec.hardware):
        named = f"--address {address}" if address else f"RAY_ADDRESS={os.environ.get('RAY_ADDRESS', '?')}"
        problems = cluster_problems(spec, f"{named}, {len(nodes)} nodes")
        if problems:
            raise SpecError(problems)


def _endpoint_cluster(project: Project, plan: Plan, run: set[str], address: str | None) -> str | None:
    """An online endpoint must outlive this command: on a local cluster, run on mlops' persistent head."""
    import ray

    from mlops.cluster.session import resolve_address

    has_deploy = any(n.kind == "deploy" and n.id in run for n in plan.nodes)
    if not has_deploy or ray.is_initialized() or resolve_address(project.spec.hardware.cluster, address):
        return address
    from mlops.cluster.local_head import ensure_head
    from mlops.serving.deploy import serving_env

    auth = project.spec.serving.online.auth
    hidden = auth.secret_env() if auth is not None else []  # replicas get the token's sha256, never the token
    return ensure_head(serving_env(project), project.spec.hardware.local_cpus, hidden=hidden).gcs


def _log_run_inputs(registry: Any, run_id: str, project: Project, plan: Plan) -> None:
    """Params, the resolved spec, the plan and the overrides of the run; the plan keeps the secrets its nodes
    need (a store's password, a token in an override), its logged copy does not."""
    import json

    from mlops.redact import redact, redact_override

    spec = project.spec
    registry.log_params(run_id, flatten({"model": spec.model.model_dump(mode="json"),
                                         "data.split": spec.data.split.model_dump(mode="json"),
                                         "features": spec.features.as_params()}))
    registry.log_text(run_id, project.resolved_yaml(), "spec/resolved_spec.yaml")
    registry.log_text(run_id, json.dumps(redact(plan.to_dict()), indent=2, default=str), "spec/plan.json")
    tags = {f"version.{k}": v for k, v in package_versions().items()}
    commit = git_commit(str(project.base_dir))
    if commit:
        tags[tracking_tags.GIT_COMMIT] = commit
    if project.config.overrides:
        tags[tracking_tags.OVERRIDES] = " ".join(redact_override(o) for o in project.config.overrides)
    registry.set_tags(run_id, tags)


