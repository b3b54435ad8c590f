"""Deploying, updating, following the alias, and inspecting the project's Serve application."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError, Problem, SpecError
from mlops.project import Project

THROUGHPUT_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}


@dataclass
class Deployed:
    name: str
    url: str
    version: str


def absolute_tracking_uri(uri: str) -> str:
    """Replicas run in other working directories: a relative SQLite path must be made absolute."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{(Path.cwd() / uri[len('sqlite:///'):]).resolve()}"
    return uri


def throughput_env() -> dict[str, str]:
    """Serve's throughput mode. HAProxy also opens a stats and a metrics port (fixed defaults 8404/9101):
    free ones are picked so two clusters on one machine do not collide."""
    from mlops.runtime.local_head import free_port

    return {**THROUGHPUT_ENV, "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port())}


def serving_env(project: Project) -> dict[str, str]:
    """Environment the Ray cluster must start with for the spec's serving mode (throughput mode)."""
    online = project.spec.serving.online if project.spec.serving else None
    return throughput_env() if online is not None and online.throughput_mode else {}


def route_of(project: Project) -> str:
    return project.spec.serving.online.route or f"/{project.spec.name}"


def endpoint_config(project: Project, version: str | None = None):
    """The replicas' config: model version (from the alias unless given), input schema, limits, options."""
    from mlops.registry import Registry
    from mlops.serving.app import EndpointConfig

    spec, online = project.spec, project.spec.serving.online
    uri = absolute_tracking_uri(spec.tracking.uri)
    registry = Registry(uri)
    if version is None:
        version = registry.by_alias(spec.name, online.model_alias).version
    bundle = registry.load(spec.name, version=version)
    token_sha = None
    if online.auth is not None:
        token = os.environ.get(online.auth.token_env)
        if not token:
            raise SpecError(Problem("serving.online.auth.token_env", f"environment variable {online.auth.token_env} is not set",
                                    hint="the endpoint refuses to start without its token"))
        token_sha = hashlib.sha256(token.encode()).hexdigest()
    options: dict[str, Any] = {"max_ongoing_requests": online.max_ongoing_requests,
                               "max_queued_requests": online.max_queued_requests,
                               "backpressure_config": {"status_code": 503, "retry_after_s": 1},
                               "ray_actor_options": {"num_cpus": spec.hardware.cpus_per_replica,
                                                     "num_gpus": spec.hardware.gpus_per_replica}}
    if hasattr(online.replicas, "fixed"):
        options["num_replicas"] = online.replicas.fixed
    else:
        options["autoscaling_config"] = {"min_replicas": online.replicas.min, "max_replicas": online.replicas.max,
                                         "target_ongoing_requests": online.replicas.target_ongoing_requests}
    return EndpointConfig(name=spec.name, tracking_uri=uri, route=route_of(project), version=str(version),
                          input_schema=bundle.meta["input_schema"], max_rows=online.max_rows,
                          max_request_bytes=online.max_request_bytes, max_batch_size=online.batching.max_batch_size,
                          wait_ms=online.batching.wait_ms, token_sha256=token_sha, deployment_options=options,
                          fast_path=online.fast_path,
                          **monitoring_options(project, uri, [c["name"] for c in bundle.meta["input_schema"]]))


def monitoring_options(project: Project, uri: str, columns: list[str]) -> dict[str, Any]:
    """The endpoint's monitor (traffic window, drift on recent inputs) and, with retraining or monitoring
    sections, the prediction log and feedback store."""
    from mlops.monitoring.store import monitoring_dir
    from mlops.spec.monitoring import MonitoringSpec
    from mlops.spec.validation import DriftSpec

    from mlops.extras import MONITORING, installed

    spec = project.spec
    monitoring = spec.monitoring or MonitoringSpec()
    # A spec's own validation.drift was checked at load (refused without the monitoring extra); with no
    # validation section the endpoint watches drift when it can, and on the core install it does not.
    if spec.validation is not None:
        drift = spec.validation.drift
    else:
        drift = DriftSpec() if installed(MONITORING) else None
    keeps_feedback = spec.monitoring is not None or spec.retraining is not None
    return {
        "monitoring_dir": str(monitoring_dir(project.base_dir.resolve(), spec.name)) if keeps_feedback else None,
        "drift_window_rows": monitoring.drift_window_rows,
        "monitor": {"name": spec.name, "tracking_uri": uri, "columns": columns,
                    "drift_window_rows": monitoring.drift_window_rows, "drift_every_s": monitoring.drift_every_s,
                    "drift": drift.model_dump() if drift is not None else None},
    }


def check_replicas_fit(project: Project) -> None:
    """The minimum replica count must fit the cluster, or Serve would wait forever."""
    from mlops.runtime.cluster import cluster_nodes
    from mlops.runtime.feasibility import check_feasible

    spec, online = project.spec, project.spec.serving.online
    need = {"CPU": spec.hardware.cpus_per_replica}
    if spec.hardware.gpus_per_replica:
        need["GPU"] = spec.hardware.gpus_per_replica
    fields = {"CPU": "hardware.cpus_per_replica", "GPU": "hardware.gpus_per_replica"}
    check_feasible([("deploy", need, fields)], cluster_nodes())
    minimum = online.replicas.fixed if hasattr(online.replicas, "fixed") else max(online.replicas.min, 1)
    total = sum(n.get("CPU", 0) for n in cluster_nodes())
    if minimum * spec.hardware.cpus_per_replica > total:
        field = "serving.online.replicas.fixed" if hasattr(online.replicas, "fixed") else "serving.online.replicas.min"
        from mlops.errors import ResourceError

        raise ResourceError(f"{field}={minimum} replicas x hardware.cpus_per_replica={spec.hardware.cpus_per_replica:g} "
                            f"but the cluster has {total:g} CPUs")


def deploy(project: Project, version: str | None = None) -> Deployed:
    """Deploy (or update in place) the application named after the project on the connected Ray."""
    from ray import serve

    online = project.spec.serving.online
    check_replicas_fit(project)
    cfg = endpoint_config(project, version)
    from mlops.serving.app import build_application

    start_http(online)
    serve.run(build_application(cfg), name=project.spec.name, route_prefix=cfg.route, blocking=False)
    return Deployed(project.spec.name, f"http://{online.host}:{online.port}{cfg.route}", cfg.version)


def start_http(online: Any) -> None:
    """Start Serve's HTTP ingress at the spec's address, or check that the running one is there.

    `serve.start` on a running Serve ignores new HTTP options (with a warning on every deploy), and a
    port another process holds surfaces as HAProxy's bare "failed to start their listeners": both are
    told here in the spec's terms instead."""
    from ray import serve
    from ray.serve.context import _get_global_client
    from ray.serve.exceptions import RayServeException

    try:
        client = _get_global_client()
    except RayServeException:
        client = None
    if client is not None:
        running = client.http_config
        if (running.host, running.port) != (online.host, online.port):
            raise MlopsError(f"Serve on this Ray already listens on {running.host}:{running.port}; serving.online "
                             f"{online.host}:{online.port} cannot be added to it. Use port {running.port}, or stop the "
                             f"endpoints there first (mlops stop)")
        return
    check_port_free(online.host, online.port)
    serve.start(http_options={"host": online.host, "port": online.port, "request_timeout_s": online.timeout_s})


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, naming it (and the mlops project that holds it, if one does)."""
    import socket

    from mlops.runtime.processes import command_line, listening_pid

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError:
            pass
    pid = listening_pid(port)
    holder = f"pid {pid} ({command_line(pid)[:120]})" if pid else "another process"
    project = _project_holding(port)
    hint = (f"the mlops endpoint of {project} serves there: `mlops stop` in that directory frees it"
            if project else "stop it, or choose another serving.online.port")
    raise MlopsError(f"serving.online.port={port} on {host} is taken by {holder}; {hint}")


def _project_holding(port: int) -> str | None:
    """The directory of the mlops project whose endpoint serves on `port`, from the index of ports."""
    entry = PORTS_DIR / str(port)
    try:
        return entry.read_text().strip() or None
    except OSError:
        return None


PORTS_DIR = Path.home() / ".mlops" / "ports"  # port -> the project directory serving on it (see record_app)


def update_version(project: Project, version: str) -> Deployed:
    """Hot swap: same app, new user_config; Serve reconfigures replicas in place, without dropping requests."""
    return deploy(project, version)


def _label(value: Any) -> str:
    return str(getattr(value, "value", value))


def app_status(name: str | None = None) -> list[dict[str, Any]]:
    """Applications on the connected Ray with their deployments, replica states and health."""
    from ray import serve

    rows = []
    for app_name, app in serve.status().applications.items():
        if name and app_name != name:
            continue
        for dep_name, dep in app.deployments.items():
            rows.append({"application": app_name, "status": _label(app.status), "deployment": dep_name,
                         "replicas": {_label(k): v for k, v in dep.replica_states.items()},
                         "health": _label(dep.status), "message": app.message or dep.message})
    return rows


def ensure_online(project: Project) -> None:
    if project.spec.serving is None or project.spec.serving.online is None:
        raise SpecError(Problem("serving.mode", "this spec has no online endpoint", value=getattr(project.spec.serving, "mode", None),
                                expected="online or both"))


def not_running(name: str) -> MlopsError:
    return MlopsError(f"no Serve application '{name}' is running on this Ray cluster; start it with `mlops serve`")


# Apps deployed from this process (tests, notebooks, the CLI run itself): where they came from.
DEPLOYED_HERE: dict[str, dict[str, Any]] = {}


def online_token_env(project: Project) -> str | None:
    """The environment variable holding the endpoint's bearer token, when auth is configured."""
    auth = project.spec.serving.online.auth if project.spec.serving and project.spec.serving.online else None
    return auth.token_env if auth is not None else None


def record_app(project: Project, deployed: Deployed) -> None:
    """Remember which spec an app came from (promote/rollback redeploy from it), in this process and,
    when it runs on mlops' local head, in the head's state file for later commands."""
    from mlops.runtime.local_head import read_state

    info = {"spec": str(project.config.spec_file), "overrides": project.config.overrides, "url": deployed.url,
            "tracking_uri": absolute_tracking_uri(project.spec.tracking.uri),
            "token_env": online_token_env(project)}  # the variable's name only: status reads the token from it
    DEPLOYED_HERE[deployed.name] = info
    state = read_state()
    if state is not None:
        import ray

        if ray.is_initialized() and ray.get_runtime_context().gcs_address.endswith(state.gcs.rsplit(":", 1)[-1]):
            state.apps[deployed.name] = info
            state.save()
            port = project.spec.serving.online.port
            try:  # so that another project asking for this port is told who holds it
                PORTS_DIR.mkdir(parents=True, exist_ok=True)
                (PORTS_DIR / str(port)).write_text(str(Path.cwd()))
            except OSError:
                pass
