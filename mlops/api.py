"""The Python API the CLI wraps: load, validate, plan, apply, schema, and model-registry actions."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from mlops import stores
from mlops.project import Project



def load(spec_path: str | Path, overrides: Sequence[str] = (), check_data: bool = True) -> Project:
    """Compose, validate and probe a spec; raises SpecError with every problem found."""
    found = _load_collecting(spec_path, overrides, check_data)
    found.raise_if_any()
    return found.project


def validate(spec_path: str | Path, overrides: Sequence[str] = (), check_data: bool = False) -> Project:
    """What `mlops validate` checks: the spec, its data (headers and metadata), and the model's parameters
    (names, types, ranges), every problem of every section reported in one run. `check_data`: also read
    every row as apply will, deciding the column roles on all of them (project.roles)."""
    from mlops.errors import DataError, SpecError

    found = _load_collecting(spec_path, overrides, True)
    if found.project is not None:
        try:
            preflight(found.project)
        except SpecError as exc:
            found.add(exc.problems)
    if check_data and found.project is not None and not found.problems:
        from mlops.stages.column_roles import whole_data_roles

        try:
            found.project.roles = whole_data_roles(found.project)
        except SpecError as exc:
            found.add(exc.problems, about_data=isinstance(exc, DataError))
    found.raise_if_any()
    return found.project


def _load_collecting(spec_path: str | Path, overrides: Sequence[str], check_data: bool):
    """load_collecting plus the feature views' checks (their columns and times, the labels' entity keys)."""
    from mlops.errors import DataError, SpecError
    from mlops.project import load_collecting

    found = load_collecting(spec_path, overrides, check_data)
    if check_data and found.project is not None and found.project.spec.features.views:
        from mlops.feature_store.views import check_views

        try:
            check_views(found.project)
        except SpecError as exc:
            found.add(exc.problems, about_data=isinstance(exc, DataError))
    return found


def plan(spec_path: str | Path, overrides: Sequence[str] = ()):
    """The plan `apply` would run; pure, no Ray, no MLflow."""
    from mlops.plan import compile_plan

    return compile_plan(load(spec_path, overrides))


def local_feasibility(project: Project, plan) -> list[str]:
    """What apply's resource check would refuse when `plan` runs on this machine (no cluster address), found
    without Ray from its CPUs, GPUs and memory: one message per problem naming the spec field; [] when it
    fits, or when a cluster runs the plan (its nodes are not known here)."""
    from mlops.cluster.feasibility import feasibility_problems, group_problems, local_node
    from mlops.cluster.session import resolve_address
    from mlops.runtime.ray_train import WORKER_FIELDS, per_worker, use_gpu_on, worker_nodes
    from mlops.spec.serving import DeploymentOptions

    hardware = project.spec.hardware
    if resolve_address(hardware.cluster, None) or os.environ.get("RAY_ADDRESS"):
        return []
    node, here = local_node(hardware.local_cpus), "this machine"

    def known(resources: dict[str, float]) -> dict[str, float]:
        """What cannot be read here is not checked; custom resources are known: the embedded Ray declares none."""
        return {k: v for k, v in resources.items() if k not in ("GPU", "memory_gb") or (k if k != "memory_gb" else "memory") in node}

    problems = feasibility_problems([(n.id, known(n.resources), n.params.get("resource_fields", {}))
                                     for n in plan.nodes if n.placement == "ray" or n.kind == "tune"], [node], here)
    for n in worker_nodes(plan):
        unit = known(per_worker(n.params, use_gpu_on(n.params, [node])))
        problems += group_problems(n.id, unit, n.params["workers"], WORKER_FIELDS, "hardware.workers", [node], here)
    for n in (n for n in plan.nodes if n.kind == "deploy"):  # replicas run on mlops' local head, on this machine
        options = DeploymentOptions.model_validate(n.params["deployment_options"])
        fixed = options.fixed_replicas
        count_field = "serving.online.replicas.fixed" if fixed is not None else "serving.online.replicas.min"
        problems += group_problems(n.id, known(options.ray_actor_options.resources()),
                                   fixed if fixed is not None else max(options.replicas.min, 1),
                                   {"CPU": "hardware.cpus_per_replica", "GPU": "hardware.gpus_per_replica"},
                                   count_field, [node], here)
    return list(dict.fromkeys(problems))


def explain(plan, force: bool | str | None = None) -> dict[str, dict[str, Any]]:
    """What `apply` would do with each node of `plan` now, and why: {node: {action, reasons}}. Reads the
    node cache and the last applied state beside the tracking store; runs nothing, imports no Ray."""
    from mlops.runtime.incremental import explain as explain_nodes
    from mlops.runtime.node_cache import NodeCache, cache_dir

    register, load_node = plan.node("register"), plan.node("load")
    cache = NodeCache(cache_dir(register.runtime["tracking_uri"], Path(load_node.runtime["base_dir"])))
    state = cache.read_state(plan.name) or _state_kept_in_store(register.runtime, plan.name)
    return explain_nodes(plan, cache, state, force)


def _state_kept_in_store(runtime: dict[str, Any], name: str) -> dict[str, Any]:
    """The last applied state as MLflow keeps it, when the file beside the store is gone (another
    machine, a cleaned folder). Never creates a store: a missing one means nothing was applied."""
    from mlops.errors import RegistryError, SpecWarning, UnreachableStore
    from mlops.registry import Registry

    uri = runtime["tracking_uri"]
    if not stores.store_exists(uri):
        return {}
    try:
        return Registry(uri, create=False).applied_state(runtime["experiment"], name)
    except UnreachableStore as exc:  # say so: "never applied" alone would be a guess presented as a fact
        import warnings

        warnings.warn(f"tracking.uri: {exc}; what the last apply did is unknown, so every node reads as never "
                      f"applied", SpecWarning, stacklevel=2)
        return {}
    except RegistryError:
        return {}


def preflight(project: Project) -> None:
    """Checks that need the model libraries (parameter names, types, ranges; the search space)."""
    from mlops.stages.preflight import check_model

    check_model(project.spec)


def require_monitoring(field: str, why: str) -> None:
    """A spec error naming the field and the extra to install, instead of an ImportError mid-run."""
    from mlops.errors import SpecError
    from mlops.extras import MONITORING, missing

    problem = missing(MONITORING, field, why)
    if problem is not None:
        raise SpecError(problem)


def apply(spec_path: str | Path, overrides: Sequence[str] = (), *, address: str | None = None, force: bool | str = False,
          on_done: Callable[..., None] | None = None, on_plan: Callable[..., None] | None = None,
          started_at: float | None = None):
    """Run what the spec needs and has not done yet: nodes whose output is recorded under their hash are
    reused (an unchanged spec does nothing). `force`: rerun all, or a node id: it and what is downstream.
    `started_at` (time.time(), default now): where a budget covering the whole apply counts from (the CLI
    passes its own start)."""
    from mlops.plan import compile_plan
    from mlops.runtime.apply import apply_plan

    started_at = time.time() if started_at is None else started_at
    project = load(spec_path, overrides)
    plan = compile_plan(project)
    from mlops.registry import check_reachable

    check_reachable(plan.node("register").runtime["tracking_uri"])  # before anything starts or runs
    actions = explain(plan, force)
    _refuse_deploy_during_rollout(plan, actions)
    if any(a["action"] == "run" for a in actions.values()):
        # The parameter check imports the model's library (about a second): only worth it when something
        # will run. An unchanged spec's parameters were checked by the apply that recorded it.
        preflight(project)
    if on_plan is not None:  # shown before anything runs, as `mlops plan` shows it
        on_plan(plan, actions)
    import ray

    own_ray = ray.is_initialized()  # the caller's Ray: a controller there would die with the caller
    result = apply_plan(project, plan, address=address, force=force, on_done=on_done, started_at=started_at)
    if not own_ray and any(n.kind == "deploy" for n in plan.nodes):
        result.controller = _controller_after_apply(project, address)
    return result


def _controller_after_apply(project: Project, address: str | None) -> dict[str, Any] | None:
    """An online apply of a spec with retraining or monitoring starts (or updates) its controller where the
    endpoint runs; unchanged and running, it is left alone (no connection to the cluster)."""
    from mlops.monitoring.controller import controller_status, ensure_controller
    from mlops.monitoring.controller_actor import applied_hash, applied_project
    from mlops.monitoring.controller_state import load_state, state_file
    from mlops.spec.monitoring import MonitoringSpec

    spec = project.spec
    if spec.retraining is None and spec.monitoring is None:
        return None
    if not (spec.monitoring or MonitoringSpec()).controller.start_on_apply:
        return None
    path = state_file(spec.tracking.uri, project.base_dir, spec.name)
    running = controller_status(spec.name, state_path=path)
    if running and running["running"] and load_state(path, spec.name).spec_hash == applied_hash(applied_project(project)):
        return running
    from mlops.errors import MlopsError

    try:
        return ensure_controller(project, address)
    except MlopsError as exc:  # the apply itself succeeded: say why nothing watches it, do not undo it
        return {"running": False, "error": str(exc)}


def multirun(spec_path: str | Path, overrides: Sequence[str], *, address: str | None = None, force: bool = False,
             max_parallel: int | None = None, on_done: Callable[..., None] | None = None):
    """Hydra multirun: apply every combination of the sweep overrides (a=1,2 b=x,y), concurrently on one Ray."""
    from mlops.runtime.multirun import multirun as run_all

    return run_all(spec_path, overrides, address=address, force=force, max_parallel=max_parallel, on_done=on_done)


def submit(spec_path: str | Path, overrides: Sequence[str], address: str, *, upload: bool = False, wait: bool = True,
           include: Sequence[str] = (), runtime: str = "ship", on_output=None):
    """Validate locally, then run the apply as a Ray job on the cluster at `address` (`include`: files
    that look like credentials which the upload may ship all the same; `runtime`: ship mlops, its plugins
    and their requirements with the job, or use the cluster's `installed` mlops; `on_output`: called with
    each piece of the job's logs as it comes)."""
    from mlops.runtime.submit import submit as submit_job

    project = load(spec_path, overrides)
    preflight(project)
    return submit_job(project, overrides, address, upload=upload, include=include, wait=wait, runtime=runtime,
                      on_output=on_output)


def schema(builtin_only: bool = False) -> dict[str, Any]:
    """JSON Schema of the whole spec (for editors), registered names as enums."""
    from mlops.spec.schema import spec_schema

    return spec_schema(builtin_only)


def tracking_uri(uri: str | None = None, name: str | None = None) -> str:
    """The store a command without a spec uses: --tracking-uri, else $MLOPS_TRACKING_URI, else the store
    of the endpoint `name` that runs here (the store its recorded deploy node loads from), else the default."""
    if uri or os.environ.get("MLOPS_TRACKING_URI"):
        return uri or os.environ["MLOPS_TRACKING_URI"]
    if name is not None:
        from mlops.errors import MlopsError
        from mlops.serving.app_records import recorded_app

        try:
            app = recorded_app(name)
        except MlopsError:
            app = None
        if app is not None and app.tracking_uri:  # the store of the deploy node it runs
            return app.tracking_uri
    return stores.DEFAULT_TRACKING_URI


def registry(uri: str | None = None, name: str | None = None):
    """The registry of an existing store (commands without a spec never create one)."""
    from mlops.registry import Registry

    return Registry(tracking_uri(uri, name), create=False)


def model_versions(name: str, uri: str | None = None) -> list:
    """Every version of registered model `name`; a SpecError naming it (with a close match) when the store
    has no model of that name."""
    from mlops.errors import Problem, SpecError, did_you_mean

    store = registry(uri, name)
    found = store.versions(name)
    if not found:
        names = store.model_names()
        if name not in names:
            raise SpecError(Problem("NAME", f"no registered model of this name in {store.uri}", value=name,
                                    expected=f"one of {names[:12]}" if names else "a model registered by `mlops apply`",
                                    hint=did_you_mean(name, names)))
    return found


def search_families(name: str, uri: str | None = None, version: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """The family leaderboard (best score, trials, seconds per family) of the search that produced `version` of
    `name`, by default the newest version that came from a search; (None, []) when none did."""
    from mlops.runtime.tune_runs import version_families

    store = registry(uri, name)
    versions = [v for v in model_versions(name, uri) if version is None or v.version == str(version)]
    for found in reversed(versions):
        rows = version_families(store, found)
        if rows:
            return found, rows
    return None, []


def champion_version(plan) -> str | None:
    """The version the champion alias of the plan's model points at now; None when it has no champion."""
    from mlops.errors import RegistryError
    from mlops.registry import CHAMPION

    register = plan.node("register")
    try:
        return registry(register.runtime["tracking_uri"]).by_alias(register.params["name"], CHAMPION).version
    except RegistryError:
        return None


def promote(name: str, version: str, uri: str | None = None, *, force: bool = False,
            on_ended: Callable[[str], None] = lambda rollout: None) -> str | None:
    """Make `version` the champion; a running endpoint of `name` follows. Returns the version it now serves.
    A rollout in progress on that endpoint is refused, or with `force` ended first (`on_ended` gets it)."""
    store = registry(uri, name)
    loaded = store.verify(name, version)  # the alias only ever moves to a version that loads
    _end_rollout(name, uri, f"mlops promote {name} {version}", force, on_ended)
    store.promote(name, version)
    return follow_alias(name, uri, loaded)


def rollback(name: str, uri: str | None = None, *, force: bool = False,
             on_ended: Callable[[str], None] = lambda rollout: None) -> str:
    """Restore the previous champion (a running endpoint follows); returns its version. A rollout in
    progress on that endpoint is refused, or with `force` ended first (`on_ended` gets it)."""
    store = registry(uri, name)
    _end_rollout(name, uri, f"mlops rollback {name}", force, on_ended)
    version = store.rollback(name)
    follow_alias(name, uri)
    return version


def _refuse_deploy_during_rollout(plan, actions: dict[str, dict[str, Any]]) -> None:
    """An apply that would redeploy an endpoint while a rollout runs on it is refused before anything runs:
    its plain deploy would end the rollout's traffic split behind its back, and the rollout would wait for
    requests that no longer come (the promote/rollback rule, for apply)."""
    deploy = next((n for n in plan.nodes if n.kind == "deploy"), None)
    if deploy is None or actions.get(deploy.id, {}).get("action") != "run":
        return
    from mlops.errors import MlopsError
    from mlops.monitoring.rollout import in_progress

    name = deploy.params["name"]
    running = in_progress(deploy.runtime["tracking_uri"], deploy.runtime["base_dir"], name)
    if running:
        raise MlopsError(f"{name}: {running} is in progress, and this apply would redeploy its endpoint (ending "
                         f"the rollout's traffic split behind its back); apply again once it has ended (`mlops "
                         f"status` shows it), or end it now with `mlops promote {name} VERSION --force`")


def _end_rollout(name: str, uri: str | None, command: str, force: bool, on_ended: Callable[[str], None]) -> None:
    """The rollout of the endpoint `name` that runs here from the same store: refused, or ended (force)."""
    from mlops import stores
    from mlops.monitoring.rollout import end_by_hand
    from mlops.serving.app_records import recorded_node

    node = recorded_node(name)
    store = tracking_uri(uri, name)
    if node is None or stores.absolute(node.runtime["tracking_uri"]) != stores.absolute(store):
        return  # no endpoint of this model runs here from this store: no rollout of it to act behind
    ended = end_by_hand(node.runtime["tracking_uri"], node.runtime["base_dir"], name, command, force)
    if ended:
        on_ended(ended)


def follow_alias(name: str, uri: str | None = None, loaded: Any = None) -> str | None:
    """Hot-swap a running endpoint of `name` to its alias' current version, without dropping requests
    (`loaded`: that version's bundle, when the caller has it)."""
    from mlops.serving.control import follow_alias as follow

    return follow(name, tracking_uri(uri, name), loaded)


def serve(spec_path: str | Path, overrides: Sequence[str] = (), *, detach: bool = False, address: str | None = None,
          on_ready: Callable[..., None] = lambda deployed: None,
          on_pending: Callable[[list[str]], None] = lambda changes: None):
    """Run the spec's online endpoint as it was last applied (foreground until Ctrl-C, or detached on mlops'
    local Ray head); a spec whose endpoint was never applied serves as it compiles. Settings edited since the
    last apply are not served: `on_pending` gets them (`old -> new`), and `mlops apply` deploys them."""
    from mlops.plan.endpoint import settings_changes
    from mlops.runtime.applied import applied_deploy_node
    from mlops.serving.control import serve as run_endpoint
    from mlops.serving.deploy import endpoint_node

    project = load(spec_path, overrides)
    compiled = endpoint_node(project)
    applied = applied_deploy_node(project)
    if applied is not None and applied.params != compiled.params:
        on_pending(settings_changes(applied.params, compiled.params))
    return run_endpoint(project, applied or compiled, detach=detach, address=address, on_ready=on_ready)


def endpoint_status(name: str | None = None, *, address: str | None = None, uri: str | None = None) -> list[dict[str, Any]]:
    """Running endpoints: deployments, replicas, health, served version and champion; each row's `controller`:
    its always-on controller (monitoring.controller_status), None when none was started from here."""
    from mlops.monitoring.controller import controller_status as controller
    from mlops.serving.control import endpoint_status as status

    rows = status(name, address, uri)
    found: dict[str, Any] = {}
    for row in rows:
        app = row["application"]
        row["controller"] = found[app] if app in found else found.setdefault(app, controller(app))
    return rows


def model_health(name: str, *, uri: str | None = None) -> dict[str, Any]:
    """The champion version and the last retrain attempt with its decision."""
    from mlops.serving.control import model_health as health

    return health(name, tracking_uri(uri, name))


def predict(spec_path: str | Path, overrides: Sequence[str], input_file: str, *, local: bool = False) -> dict[str, Any]:
    """Predict the rows of a JSON/CSV file through the endpoint, or locally with the registered model."""
    from mlops.serving.control import predict as call

    return call(spec_path, overrides, input_file, local=local)


def predict_batch(spec_path: str | Path, overrides: Sequence[str], input_file: str | None = None,
                  output: str | None = None, on_error: str | None = None):
    """Score a file (default: serving.batch.input) with the version `serving.batch.model_alias` names, on the
    spec's batch executor: the plan's batch_predict node alone, with no training. `on_error` (fail, skip,
    null; default serving.batch.on_error): what a row with a bad cell gets."""
    from mlops.errors import Problem, SpecError

    def here(path: str) -> str:  # paths on the command line are relative to where the command runs
        return path if path.startswith("sklearn:") else str(Path(path).resolve())

    extra = [*([f"serving.batch.input={_quoted(here(input_file))}"] if input_file else []),
             *([f"serving.batch.output={_quoted(here(output))}"] if output else []),
             *([f"serving.batch.on_error={_quoted(on_error)}"] if on_error else [])]  # 'null', not YAML's null
    project = load(spec_path, [*overrides, *extra])
    if project.spec.serving is None or project.spec.serving.batch is None:
        raise SpecError(Problem("serving.batch", "this spec has no batch section",
                                hint="add serving: {mode: batch, batch: {input: ..., output: ...}} (or mode: both)"))
    from mlops.plan.compile import batch_node
    from mlops.runtime.batch import score_batch

    return score_batch(project, batch_node(project))


def _quoted(value: str) -> str:
    """A file name as a Hydra override value (paths may hold characters the override grammar reads)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def stop(name: str | None = None) -> str:
    """Stop endpoints (and mlops' local Ray head once nothing runs on it)."""
    import contextlib

    from mlops.cluster.local_head import read_state
    from mlops.cluster.session import ray_session
    from mlops.monitoring.controller import stop_with_endpoints
    from mlops.serving.control import stop as stop_endpoints

    head = read_state()
    # With other apps left on the head, both steps need a driver on it: one connection (seconds) for both.
    shared = head is not None and name is not None and any(app != name for app in head.apps)
    with ray_session("local", head.gcs) if shared else contextlib.nullcontext():
        controllers = stop_with_endpoints(name)  # first: they would follow an alias onto nothing
        said = stop_endpoints(name)
    return said + (f"; stopped the controller of {', '.join(controllers)}" if controllers else "")


def load_model(name: str, alias: str = "champion", version: str | None = None, uri: str | None = None):
    """A registered model, its sha256 verified before loading."""
    return registry(uri, name).load(name, alias=alias, version=version)


def check(spec_path: str | Path, overrides: Sequence[str], data: str, *, version: str | None = None):
    """Validate a batch of new data against the champion's training profile; drift and outliers too."""
    from mlops.monitoring.data_check import check_data
    from mlops.sources.files import read_table

    project = load(spec_path, overrides, check_data=False)
    require_monitoring("validation", "batch validation and drift detection need pandera and alibi-detect")
    frame = read_table(data)
    if project.spec.features.views:  # the model reads view features: join them as batch scoring does
        from mlops.feature_store.batch_join import BatchFeatureJoin
        from mlops.plan.features import view_params

        frame = BatchFeatureJoin(view_params(project), project.spec.data.timestamp, project.base_dir, "--data")(frame)
    return project, frame, check_data(project, frame, version=version)


def monitor(spec_path: str | Path, overrides: Sequence[str] = (), *, retrain: bool = True, address: str | None = None,
            on_done: Callable[..., None] | None = None, on_judged: Callable[..., None] | None = None,
            locked: bool = False):
    """Evaluate every retraining trigger once; when one fires, retrain and decide champion/challenger. Holds
    the project's controller lock meanwhile (`locked`: the caller holds it already)."""
    from mlops.monitoring.monitor import monitor_once

    project = load(spec_path, overrides, check_data=False)
    require_monitoring("retraining", "drift triggers and alerts need alibi-detect")
    if not retrain or locked:  # a dry run judges and delivers nothing: it may look while a controller runs
        return monitor_once(project, retrain=retrain, address=address, on_done=on_done, on_judged=on_judged)
    with monitor_lock(project, "mlops monitor"):
        return monitor_once(project, retrain=retrain, address=address, on_done=on_done, on_judged=on_judged)


def monitor_lock(project: Project, who: str):
    """The project's controller lock, held for a monitor run in this process (refused, naming the holder,
    while a controller or another `mlops monitor` acts on the project: they would retrain twice)."""
    from mlops.monitoring.controller_state import holder_name, holding, state_file

    spec = project.spec
    return holding(state_file(spec.tracking.uri, project.base_dir, spec.name), spec.name, holder_name(who))


def start_controller(spec_path: str | Path, overrides: Sequence[str] = (), *, address: str | None = None) -> dict[str, Any]:
    """Start the spec's always-on controller on its cluster (mlops' local head by default), or hand the
    running one this spec; returns its status."""
    from mlops.monitoring.controller import ensure_controller

    project = load(spec_path, overrides, check_data=False)
    require_monitoring("retraining", "drift triggers and alerts need alibi-detect")
    _require_controller_work(project)
    return ensure_controller(project, address)


def stop_controller(spec_path: str | Path, overrides: Sequence[str] = (), *, address: str | None = None) -> str:
    """Stop the spec's controller; says what was done."""
    from mlops.monitoring.controller import stop_controller as stop_it

    return stop_it(load(spec_path, overrides, check_data=False), address)


def controller_status(name: str) -> dict[str, Any] | None:
    """The controller of endpoint `name` started from here: running, last/next tick, last decision and why."""
    from mlops.monitoring.controller import controller_status as status

    return status(name)


def controllers() -> dict[str, dict[str, Any]]:
    """Every controller started from this directory, by project name (see controller_status)."""
    from mlops.monitoring.controller import started_here

    return started_here()


def _require_controller_work(project: Project) -> None:
    from mlops.errors import Problem, SpecError

    if project.spec.retraining is None and project.spec.monitoring is None:
        raise SpecError(Problem("monitoring", "a controller needs a retraining or monitoring section: it has nothing to do",
                                hint="monitoring: {controller: {tick: 1m}, alerts: [...]} (see docs/monitoring.md)"))


def feedback(spec_path: str | Path, overrides: Sequence[str], labels: str) -> int:
    """Store labels (request id or row key -> label) for metric_drop and retraining; returns rows stored."""
    from mlops.sources.files import read_table
    from mlops.serving.traffic_log import add_feedback, monitoring_dir

    project = load(spec_path, overrides, check_data=False)
    spec = project.spec
    frame = read_table(labels, "--labels")
    return add_feedback(monitoring_dir(project.base_dir, spec.name), frame, spec.data.target, spec.data.id_column,
                        "--labels")


def _feature_project(spec_path: str | Path, overrides: Sequence[str]) -> Project:
    """A project with feature views (a SpecError naming features.views when it has none)."""
    from mlops.errors import Problem, SpecError

    project = load(spec_path, overrides)
    if not project.spec.features.views:
        raise SpecError(Problem("features.views", "this spec has no feature views",
                                hint="add features: {entities: [...], views: [...]}"))
    return project


def online_store(project: Project, create: bool = True):
    """The project's online store (features.online_store, default .mlops/feature_store.db beside the spec)."""
    from mlops.feature_store.online_store import OnlineStore
    from mlops.plan.features import online_store_path

    return OnlineStore(online_store_path(project), create=create)


def materialize_features(spec_path: str | Path, overrides: Sequence[str] = (), *, start: str | None = None,
                         end: str | None = None, lookback: str | None = None):
    """Write the views' latest values per entity into the online store, incrementally (late events within
    `lookback`, default each view's TTL, included); one result per view."""
    from mlops.feature_store.materialize import materialize, parse_lookback, parse_time
    from mlops.plan.features import view_params

    project = _feature_project(spec_path, overrides)
    start_ns, end_ns = parse_time(start, "--start"), parse_time(end, "--end")
    lookback_s = parse_lookback(lookback)
    store = online_store(project)
    try:
        return materialize(view_params(project), project.base_dir, store, start_ns=start_ns, end_ns=end_ns,
                           lookback_s=lookback_s)
    finally:
        store.close()


def online_features(spec_path: str | Path, overrides: Sequence[str], entity: dict[str, Any], *,
                    as_of: str | None = None):
    """Each view's values (with event times and status) for an entity key from the online store."""
    from mlops.errors import Problem, SpecError
    from mlops.feature_store.lookup import lookup
    from mlops.feature_store.materialize import parse_time
    from mlops.plan.features import view_params

    project = _feature_project(spec_path, overrides)
    keys = [e.key for e in project.spec.features.entities]
    unknown = [k for k in entity if k not in keys]
    if unknown or not entity:
        from mlops.errors import did_you_mean

        raise SpecError(Problem("--entity", "not an entity key" if unknown else "no entity key given",
                                value=unknown[0] if unknown else None, expected=f"KEY=VALUE with KEY one of {keys}",
                                hint=did_you_mean(unknown[0], keys) if unknown else None))
    store = online_store(project, create=False)
    try:
        return lookup(store, view_params(project), entity, parse_time(as_of, "--as-of"))
    finally:
        store.close()


def feature_store_status(spec_path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Entities, views (source rows) and the online store's rows and freshness per view."""
    from mlops.feature_store.online_store import OnlineStore
    from mlops.plan.features import online_store_path, view_params
    from mlops.project import probe_source

    project = _feature_project(spec_path, overrides)
    views = view_params(project)
    path = online_store_path(project)
    stats = {}
    if path.is_file():
        store = OnlineStore(path, create=False)
        try:
            stats = {s.view: s for s in store.stats([v["name"] for v in views])}
        finally:
            store.close()
    rows = {v.name: getattr(probe_source(v.source, project.base_dir, "features.views"), "rows", None)
            for v in project.spec.features.views}
    return {"entities": [e.model_dump() for e in project.spec.features.entities], "store": str(path),
            "views": [{**v, "source_rows": rows[v["name"]], "online": stats.get(v["name"])} for v in views]}


def export_feast(spec_path: str | Path, overrides: Sequence[str], out_dir: str | Path) -> list[Path]:
    """Write an equivalent Feast repository (feature_store.yaml + features.py) into `out_dir`."""
    from mlops.feature_store.feast_export import export_feast as export
    from mlops.plan.features import view_params

    project = _feature_project(spec_path, overrides)
    return export(project.spec.name, project.spec.features.entities, view_params(project), project.base_dir, out_dir)


def explain_predictions(spec_path: str | Path, overrides: Sequence[str], input_file: str, *, version: str | None = None,
                        top: int | None = None) -> dict[str, Any]:
    """Each row of a CSV/JSON/parquet file explained (SHAP) by the spec's registered model (its serving alias,
    or `version`), the rows read by the model's input contract exactly as predict reads them."""
    from mlops.explain.explainer import ModelExplainer, checked_rows
    from mlops.extras import EXPLAIN, install_hint, installed
    from mlops.errors import MlopsError
    from mlops.registry import Registry
    from mlops.sources.files import read_table

    if not installed(EXPLAIN):
        raise MlopsError(f"explanations need shap, which is not installed: {install_hint(EXPLAIN)}")
    project = load(spec_path, overrides, check_data=False)
    online = project.spec.serving.online if project.spec.serving else None
    alias = online.model_alias if online is not None else "champion"
    bundle = Registry(stores.absolute(project.spec.tracking.uri), create=False).load(project.spec.name, alias=alias,
                                                                                   version=version)
    if Path(input_file).suffix == ".json":  # {"rows": [...]} or a list of objects, as `mlops predict` reads it
        import pandas as pd

        from mlops.serving.control import read_rows

        table = pd.DataFrame(read_rows(input_file))
    else:
        table = read_table(input_file, "--input")
    frame = checked_rows(bundle, table)
    explained = ModelExplainer(bundle).explain(frame, top)
    return {"model": project.spec.name, "version": bundle.meta.get("registered_version"), **explained.to_dict(top)}


def explain_traffic(spec_path: str | Path, overrides: Sequence[str], *, window_s: float = 86_400,
                    sample_rows: int | None = None) -> dict[str, Any] | None:
    """Explain a sample of the rows the spec's endpoint served over `window_s` (its prediction log), log them,
    and compare the features that drive them with training's (None when nothing was served)."""
    from mlops.extras import EXPLAIN, install_hint, installed
    from mlops.errors import MlopsError
    from mlops.monitoring.traffic_explanations import explain_traffic as explain

    if not installed(EXPLAIN):
        raise MlopsError(f"explanations need shap, which is not installed: {install_hint(EXPLAIN)}")
    project = load(spec_path, overrides, check_data=False)
    if project.spec.monitoring is None and project.spec.retraining is None:
        raise MlopsError(f"{project.spec.name} keeps no prediction log: add a monitoring or retraining section to the spec")
    if sample_rows is None:
        sample_rows = project.spec.monitoring.explain.sample_rows if project.spec.monitoring is not None else 200
    return explain(project, window_s=window_s, sample_rows=sample_rows)


def report(name: str, version: str | None = None, *, uri: str | None = None, out_dir: str | Path | None = None) -> dict[str, str]:
    """Write the model card of a version (default: the champion) to MLflow, and to `out_dir` when given."""
    from mlops.reports.build import write_card

    found = model_versions(name, uri) and registry(uri, name)
    return write_card(found, name, version, Path(out_dir) if out_dir else None)


def compare_report(name: str, champion: str, challenger: str, *, uri: str | None = None,
                   out_dir: str | Path | None = None) -> dict[str, str]:
    """Write the side-by-side comparison of two versions to MLflow (with the challenger), and to `out_dir`."""
    from mlops.reports.build import write_comparison

    found = model_versions(name, uri) and registry(uri, name)
    return write_comparison(found, name, champion, challenger, Path(out_dir) if out_dir else None)

