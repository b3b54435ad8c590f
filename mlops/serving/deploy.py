"""Deploying a deploy node as a Serve application (updates in place): its replicas' config, the HTTP
address, the replicas' fit on the cluster, and what Serve says when they fail. What runs is recorded by
mlops.serving.app_records."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from types import SimpleNamespace

from mlops.errors import DeployError, MlopsError, Problem, SpecError
from mlops.project import Project
# record_app: the runtime's deploy node records what it deployed through this module.
from mlops.serving.app_records import project_holding, record_app, recorded_app, recorded_node
from mlops.spec.serving import DeploymentOptions, is_loopback

# Serve's throughput mode: HAProxy ingress and what RAY_SERVE_THROUGHPUT_OPTIMIZED=1 sets (Ray 2.60's
# serve/_private/constants.py), each set by name: the umbrella switch also makes Serve's controller log a
# nine-line banner before its logging is configured, which reached the console of every first online apply.
THROUGHPUT_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
                  "RAY_SERVE_USE_GRPC_BY_DEFAULT": "1", "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
                  "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0", "RAY_SERVE_LOG_TO_STDERR": "0",
                  "RAY_SERVE_FREEZE_GC_ON_STARTUP": "1", "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1000"}
# Ports Serve would take at fixed defaults on every cluster: each cluster mlops starts gets free ones.
OWN_PORTS = ("RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_HAPROXY_METRICS_PORT", "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
             "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT")
# A stopping replica stays open this long so load balancers in front of it can deregister it (Ray's default
# is 30 s, sized for a cloud balancer). On a Ray that mlops starts, the only balancer is Serve's own HAProxy,
# which is reconfigured within a fraction of a second and retries refused connections: 2 s is ample, and
# every delete, redeploy and `mlops stop` no longer waits 30 s. A value in the environment wins.
DRAIN_ENV = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"
LOCAL_DRAIN_S = "2"


@dataclass
class Deployed:
    """A deployed endpoint: its application name, URL and the version it serves."""

    name: str
    url: str
    version: str


def absolute_tracking_uri(uri: str) -> str:
    """Replicas run in other working directories: a relative SQLite path must be made absolute."""
    from mlops import stores

    return stores.absolute(uri)


def throughput_env() -> dict[str, str]:
    """Serve's throughput mode, with every fixed port Serve would take made this cluster's own, so that two
    clusters on one machine (two projects' heads, a head and a foreground `mlops serve`) stay apart:
    HAProxy's stats and metrics ports (defaults 8404/9101; a wrapper keeps them on loopback), and the
    fallback proxy's (8500/9500), where HAProxy sends an application's requests while it has no replica
    ready (a redeploy, a restart). The fallback proxy binds with SO_REUSEPORT: on the shared default port
    the kernel spread those requests over both clusters' proxies, and a project's request was answered by
    the other project's endpoint (seen in a test run: 401s from another head's token-guarded `iris`)."""
    from mlops.cluster.processes import stable_port
    from mlops.serving.haproxy_loopback import BINARY_ENV, wrapper_path

    wrapper = os.environ.get(BINARY_ENV) or wrapper_path()  # an operator's own HAProxy wins
    ports = {name: str(stable_port()) for name in OWN_PORTS}  # fresh: this process may have started a cluster already
    return {**THROUGHPUT_ENV, DRAIN_ENV: os.environ.get(DRAIN_ENV, LOCAL_DRAIN_S), **({BINARY_ENV: wrapper} if wrapper else {}),
            **ports}


def serving_env(project: Project) -> dict[str, str]:
    """Environment the Ray cluster must start with for the spec's serving mode (throughput mode)."""
    online = project.spec.serving.online if project.spec.serving else None
    return throughput_env() if online is not None and online.throughput_mode else {}


def endpoint_env(settings: Any) -> dict[str, str]:
    """Environment the Ray cluster must start with for an endpoint of these settings (throughput mode)."""
    return throughput_env() if settings.throughput_mode else {}


def endpoint_node(project: Project):
    """The deploy node of the project's spec, as the compiler makes it (what `apply` would deploy)."""
    from mlops.plan.endpoint import deploy_node

    ensure_online(project)
    return deploy_node(project)


def token_sha256(settings: Any, base_dir: str | Path) -> str | None:
    """The sha256 of the endpoint's bearer token (None with `auth: none`): the replicas get this, never the
    token. With `token_env`, of the variable's value; without the variable, the sha256 the running application
    was deployed with, when it uses the same variable: a hot swap, a rollout step or a rollback keeps the
    endpoint's token, so the controller (whose head never sees endpoint tokens) can make them. Without
    `token_env`, of the generated token beside the spec (mlops.serving.endpoint_token), created on the first
    deploy (or after the file was deleted) on the machine that holds the spec; elsewhere (a controller on a
    remote head) the running application's."""
    from mlops.serving import endpoint_token

    if settings.auth is None:
        return None
    current = current_token_sha256(settings, base_dir)
    if current is not None:
        return current
    if settings.auth.token_env:
        raise SpecError(Problem("serving.online.auth.token_env", f"environment variable {settings.auth.token_env} is "
                                f"not set", hint="the endpoint refuses to start without its token"))
    if Path(base_dir).is_dir():
        return endpoint_token.sha256(endpoint_token.create_token(base_dir, settings.name))
    raise MlopsError(f"the endpoint '{settings.name}' has a generated token, kept beside its spec "
                     f"({endpoint_token.token_file(base_dir, settings.name)}), which is not on this machine: set "
                     f"serving.online.auth.token_env to deploy it from here")


def current_token_sha256(settings: Any, base_dir: str | Path) -> str | None:
    """The sha256 of the token the endpoint should check now, without making one: the variable's value or the
    generated file's, else (neither here) the running application's when it uses the same kind of token.
    None when there is none yet (or with `auth: none`)."""
    from mlops.serving import endpoint_token

    if settings.auth is None:
        return None
    token_env = settings.auth.token_env
    if token_env and os.environ.get(token_env):
        return hashlib.sha256(os.environ[token_env].encode()).hexdigest()
    if not token_env:
        token = endpoint_token.read_token(base_dir, settings.name)
        if token is not None:
            return endpoint_token.sha256(token)
        if Path(base_dir).is_dir():
            return None  # the spec's machine: a missing file means a new token (first deploy, or deleted to rotate)
    running = recorded_app(settings.name)
    if running is not None and running.token_sha256 and running.token_env == token_env \
            and running.settings.auth is not None:
        return running.token_sha256
    return None


def endpoint_config(node: Any, version: str | None = None, loaded: Any = None):
    """The replicas' config: the deploy node's settings as they are, plus the deploy-time facts (the model
    version, from the alias unless given; the input schema recorded with it; the token's sha256; paths).
    `loaded`: that version's bundle when the caller has loaded (and verified) it already."""
    from mlops.models.model_contract import IMPUTED_KEY
    from mlops.plan.endpoint import EndpointSettings
    from mlops.registry import Registry, version_record
    from mlops.serving.endpoint_config import EndpointConfig
    from mlops.serving.scoring import columns_taking_null
    from mlops.serving.traffic_log import monitoring_dir

    settings = EndpointSettings.of(node)
    uri = node.runtime["tracking_uri"]
    registry = Registry(uri)
    mv = (registry.by_alias(settings.name, settings.model_alias) if version is None
          else registry.version(settings.name, version))
    version = mv.version
    if loaded is not None and str(loaded.meta.get("registered_version")) == str(version):
        bundle = loaded
    else:
        # The metadata alone (verified): the replicas load the model. A version registered before mlops
        # recorded what its model imputes is loaded here to find out.
        meta = registry.meta_of(mv)
        bundle = SimpleNamespace(meta=meta) if IMPUTED_KEY in meta else registry.load(settings.name, version=version)
    sha = token_sha256(settings, node.runtime["base_dir"])
    store = node.runtime.get("online_store")
    if store is not None:
        check_online_store(store)
    feedback = str(monitoring_dir(Path(node.runtime["base_dir"]), settings.name)) if settings.keeps_feedback else None
    return EndpointConfig(
        settings=settings, tracking_uri=uri, version=str(version), input_schema=bundle.meta["input_schema"],
        id_column=bundle.meta.get("id_column"), takes_null=columns_taking_null(bundle), token_sha256=sha,
        monitoring_dir=feedback, target_column=bundle.meta.get("target"), online_store=store,
        ignored_columns=list(bundle.meta.get("ignored_columns") or []),
        model_records={str(version): version_record(mv)})


def check_online_store(path: str) -> None:
    """Refuse to deploy an endpoint filled from an online store that was never materialized (its replicas
    would fail to start, and Serve would report only DEPLOY_FAILED)."""
    if not Path(path).is_file():
        raise SpecError(Problem("serving.online.features_from_store", f"no online store at {path}",
                                hint="run `mlops features materialize SPEC` first: the endpoint fills requests from it"))


def check_replicas_fit(options: DeploymentOptions) -> None:
    """Each replica must fit on a node and the minimum replica count in the cluster, or Serve would wait forever."""
    from mlops.cluster.feasibility import check_group_feasible
    from mlops.cluster.session import cluster_nodes

    fixed = options.fixed_replicas
    minimum = fixed if fixed is not None else max(options.replicas.min, 1)
    count_field = "serving.online.replicas.fixed" if fixed is not None else "serving.online.replicas.min"
    fields = {"CPU": "hardware.cpus_per_replica", "GPU": "hardware.gpus_per_replica"}
    check_group_feasible("deploy", options.ray_actor_options.resources(), minimum, fields, count_field, cluster_nodes())


class _ServeChatter(logging.Filter):
    """Serve's driver-side INFO lines ("Started Serve in namespace", "Application 'x' is ready at ...") repeat
    what mlops prints in its own line, between the plan's; and Serve logs "New http_options/controller_options
    will not be applied" on every `serve.run` against a running Serve, while mlops passes none (start_http
    checked the address), so that warning only misleads. Warnings and errors otherwise pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep warnings and errors, less the reconnect notice."""
        return record.levelno >= logging.WARNING and "will not be applied" not in record.getMessage()


@contextlib.contextmanager
def _quiet_serve() -> Iterator[None]:
    serve_logger, chatter = logging.getLogger("ray.serve"), _ServeChatter()
    serve_logger.addFilter(chatter)
    try:
        yield
    finally:
        serve_logger.removeFilter(chatter)


def deploy_failure(name: str, message: str) -> str:
    """Serve's DEPLOY_FAILED message (a replica's whole traceback) as the lines a user needs: which
    application, the exception that ended its replicas, and where to read the rest."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*", line)]
    cause = causes[-1] if causes else (lines[-1] if lines else "no reason given")
    return (f"the endpoint '{name}' did not start: its replicas failed with {cause}\n"
            f"the replicas' logs (Serve's, under the Ray session's logs/serve/) have the whole traceback; "
            f"`mlops status {name}` shows the application's state")


def deploy(node: Any, version: str | None = None, loaded: Any = None) -> tuple[Deployed, Any]:
    """Deploy (or update in place) the application of a deploy node on the connected Ray: what runs, and the
    replicas' config (`loaded`: see endpoint_config)."""
    from mlops.plan.endpoint import EndpointSettings

    settings = EndpointSettings.of(node)
    check_replicas_fit(settings.deployment_options)
    cfg = endpoint_config(node, version, loaded)
    start_http(settings.host, settings.port, settings.timeout_s)
    run_application(settings.name, cfg)
    url = f"http://{settings.host}:{settings.port}{settings.route}"
    wait_routed(url)
    return Deployed(settings.name, url, cfg.version), cfg


def wait_routed(url: str, timeout: float = 30.0) -> bool:
    """Until Serve's proxy routes `url` (its /readyz answers anything but 404): serve.run returns once the
    replicas run, and HAProxy learns a new route a moment later, so a request sent at once could get a 404
    (a `mlops serve` that had said "serving" did, in one CI run). A proxy this process cannot reach (a
    remote cluster's loopback) is not waited for. True when routed."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code != 404:
                return True
        except httpx.HTTPError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def run_application(name: str, cfg: Any) -> None:
    """Run the endpoint application of `cfg` on the connected Serve as `name`; replicas that cannot start
    are a DeployError with the exception that ended them, not Serve's page of traceback."""
    from mlops.serving.app import build_application

    try:
        with _quiet_serve():
            run_serve_app(build_application(cfg), name, cfg.settings.route)
    except (RuntimeError, TimeoutError) as exc:
        raise DeployError(deploy_failure(name, "\n".join([str(exc), *_deployment_messages(name)]))) from None


RUNNING_POLL_S = 0.05  # Serve's own wait (serve.run) polls once a second: each deploy idled 0.5 s on average


def run_serve_app(app: Any, name: str, route_prefix: str) -> None:
    """serve.run of `app` as application `name`, returning as soon as it is RUNNING; a RuntimeError with Serve's
    message when it ends DEPLOY_FAILED (as serve.run's). Waits as long as serve.run: check_replicas_fit first."""
    from ray import serve

    serve.run_many([serve.RunTarget(app, name=name, route_prefix=route_prefix)], wait_for_applications_running=False)
    while True:
        status = serve.status().applications.get(name)
        if status is None:
            raise RuntimeError(f"application {name} is gone while it was deploying")
        if _label(status.status) == "RUNNING":
            return
        if _label(status.status) == "DEPLOY_FAILED":
            raise RuntimeError(f"Deploying application {name} failed: {status.message}")
        time.sleep(RUNNING_POLL_S)


def _deployment_messages(name: str) -> list[str]:
    """What Serve recorded about each deployment of application `name`: the replicas' traceback lives
    there, while the exception serve.run raises only says that the deployments failed."""
    from ray import serve

    app = serve.status().applications.get(name)
    return [dep.message for dep in app.deployments.values() if dep.message] if app is not None else []


def deploy_and_record(node: Any, version: str | None = None, loaded: Any = None) -> Deployed:
    """Deploy a deploy node and record it as what the application runs (mlops.serving.app_records)."""
    deployed, cfg = deploy(node, version, loaded)
    record_app(node, deployed, cfg.token_sha256)
    return deployed


def deploy_project(project: Project, version: str | None = None) -> Deployed:
    """Deploy the endpoint the project's spec compiles to, and record it (for benchmarks and tests:
    users deploy through `mlops apply`, or `mlops serve`, which serves what was applied)."""
    return deploy_and_record(endpoint_node(project), version)


def start_http(host: str, port: int, timeout_s: float) -> None:
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
        if (running.host, running.port) != (host, port):
            raise MlopsError(f"Serve on this Ray already listens on {running.host}:{running.port}; serving.online "
                             f"{host}:{port} cannot be added to it. Use port {running.port}, or stop the "
                             f"endpoints there first (mlops stop)")
        return
    check_port_free(host, port)
    # A loopback listener serves this machine only: on every node of a cluster it would answer no one but
    # that node (and hold its port there), so it runs on the head alone, which routes to every node's replicas.
    with _quiet_serve():
        serve.start(proxy_location="HeadOnly" if is_loopback(host) else "EveryNode",
                    http_options={"host": host, "port": port, "request_timeout_s": timeout_s})


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, naming it (and the mlops project that holds it, if one does)."""
    import socket

    from mlops.cluster.processes import command_line, listening_pid

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError:
            pass
    pid = listening_pid(port)
    holder = f"pid {pid} ({command_line(pid)[:120]})" if pid else "another process"
    project = project_holding(port)
    hint = (f"the mlops endpoint of {project} serves there: `mlops stop` in that directory frees it"
            if project else "stop it, or choose another serving.online.port")
    raise MlopsError(f"serving.online.port={port} on {host} is taken by {holder}; {hint}")


def endpoint_unchanged(node: Any, version: str) -> bool:
    """The node's endpoint runs with the node's settings and serves `version`: nothing to redeploy."""
    from mlops.plan.endpoint import EndpointSettings
    from mlops.plan.graph import content_hash
    from mlops.serving.client import served_version

    try:
        app = recorded_app(node.params["name"])
    except MlopsError:
        return False
    if app is None or app.node is None or content_hash(app.node.params) != content_hash(node.params):
        return False
    settings = EndpointSettings.of(node)
    if app.token_sha256 != current_token_sha256(settings, node.runtime["base_dir"]):
        return False  # a new token (the variable's value changed, or the generated file was deleted)
    return served_version(app.url) == str(version)


def update_version(name: str, version: str, loaded: Any = None) -> Deployed:
    """Hot swap the running application `name` to `version`, with the deploy node it runs: same settings,
    new user_config; Serve reconfigures the replicas in place, without dropping requests (`loaded`: see
    endpoint_config)."""
    node = recorded_node(name)
    if node is None:
        raise MlopsError(f"no endpoint '{name}' is recorded here: deploy it with `mlops apply` first")
    return deploy_and_record(node, version, loaded)


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
    """Refuse a spec without an online endpoint (a SpecError naming serving.mode)."""
    if project.spec.serving is None or project.spec.serving.online is None:
        raise SpecError(Problem("serving.mode", "this spec has no online endpoint", value=getattr(project.spec.serving, "mode", None),
                                expected="online or both"))
