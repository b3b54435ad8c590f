"""The control plane of a rollout's traffic split. A rollout hands its routing table to the app's monitor
(`push_routing`): the replicas poll it, load the versions it names in a thread, then route by it; a weight
change reaches every answer within a poll. `deploy_routing` sends a table through the deployment's
user_config instead, as Serve redeploys do (a replica's reconfigure holds it out of the proxy's targets while
it loads: kept to compare, benchmarks/rollout_router.py). `end_routing` ends a split with a plain deploy of
one version; `version_stats` reads the per-version numbers. Every call acts on the connected Ray (the
controller's, or the local head through `on_local_head`)."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from mlops.errors import MlopsError


@contextlib.contextmanager
def on_local_head() -> Iterator[bool]:
    """Use the Ray this process has, else connect to mlops' local head; yields False when neither runs."""
    import ray

    if ray.is_initialized():
        yield True
        return
    from mlops.cluster.local_head import read_state
    from mlops.cluster.session import ray_session

    state = read_state()
    if state is None:
        yield False
        return
    with ray_session("local", state.gcs):
        yield True


def deploy_routing(name: str, table: dict[str, Any]) -> str:
    """Redeploy application `name` with its recorded deploy node and `table` in the user_config: Serve
    reconfigures the replicas in place, which load the table's versions (returns once they serve)."""
    from mlops.serving.app import build_application
    from mlops.serving.app_records import record_app, recorded_node
    from mlops.serving.deploy import Deployed, endpoint_config, run_serve_app

    node = recorded_node(name)
    if node is None:
        raise MlopsError(f"no endpoint '{name}' is recorded here: deploy it with `mlops apply` first")
    cfg = endpoint_config(node, table["champion"])
    run_serve_app(build_application(cfg, table), name, cfg.settings.route)
    settings = cfg.settings
    record_app(node, Deployed(name, f"http://{settings.host}:{settings.port}{settings.route}", cfg.version),
               cfg.token_sha256)
    return cfg.version


_HANDLES: dict[str, Any] = {}


def _monitor_handle(name: str) -> Any:
    """A handle on application `name`'s monitor, usable from plain (non-async) code. Serve's throughput mode
    runs a handle's router on the caller's event loop, and a controller tick has none: the router gets its
    own loop thread (an option Serve 2.60 keeps internal; without it, `_call` runs each call in a loop of its own)."""
    from ray import serve

    if name not in _HANDLES:
        handle = serve.get_deployment_handle("monitor", app_name=name)
        try:
            handle._init(_run_router_in_separate_loop=True)
        except (AttributeError, TypeError, RuntimeError):
            handle = None
        _HANDLES[name] = handle
    return _HANDLES[name]


def _call(name: str, method: str, *args: Any) -> Any:
    """`method(*args)` on the monitor of application `name`, waited for (30 s at most)."""
    handle = _monitor_handle(name)
    try:
        if handle is not None:
            return getattr(handle, method).remote(*args).result(timeout_s=30)
    except Exception:
        _HANDLES.pop(name, None)  # e.g. the application was deleted and deployed again: a fresh handle next time
        raise
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from ray import serve

    async def call() -> Any:
        return await getattr(serve.get_deployment_handle("monitor", app_name=name), method).remote(*args)

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whether or not the caller runs one
        return pool.submit(asyncio.run, call()).result(timeout=30)


def push_routing(name: str, table: dict[str, Any]) -> dict[str, Any]:
    """Hand `table` to the monitor of application `name`; every replica follows within a poll (about 0.2 s)."""
    return _call(name, "set_routing", table)


def version_stats(name: str, epoch: int | None = None) -> dict[str, Any]:
    """Per-version numbers of application `name` under routing epoch `epoch` (mlops.serving.version_stats)."""
    return _call(name, "version_stats", epoch)


def end_routing(name: str, version: str) -> str:
    """`version` alone: first as a table (every replica within a poll, dropping the other versions), then as
    a plain deploy, which makes it what a restarted replica loads (Serve skips a deploy whose user_config
    is unchanged, hence the table)."""
    import time

    from mlops.serving.deploy import update_version
    from mlops.serving.traffic_split import Routing

    push_routing(name, {**Routing(str(version), {str(version): 100.0}, mode="single").to_dict(), "at": time.time()})
    return update_version(name, version).version
