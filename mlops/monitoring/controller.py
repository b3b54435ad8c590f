"""The always-on controller, from the outside: start it, stop it, say how it is doing.

The controller itself (controller_actor.ControllerActor) is a detached, named Ray actor on the cluster that
runs the endpoint (mlops' local head, or the connected cluster): it outlives the CLI that started it, and
Ray restarts it when its process dies. `ensure_controller` hands it the spec as applied; it never reads
the spec file. Which controllers were started from a directory is kept in `.mlops/controllers.json`
(beside the local head's state), so `mlops status` and `mlops stop` find their state files.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from mlops.monitoring.controller_actor import NAMESPACE, ControllerActor, actor_name, applied_hash, applied_project
from mlops.monitoring.state_files import read_state, write_state
from mlops.monitoring.controller_state import ControllerBusy, ControllerLock, load_state, state_file

log = logging.getLogger("mlops.controller")

INDEX_FILE = Path(".mlops") / "controllers.json"  # beside ray-head.json: which controllers were started from here


def ensure_controller(project: Any, address: str | None = None) -> dict[str, Any]:
    """Start the project's controller on the cluster that runs its endpoint (a running one with another spec
    is stopped and replaced); returns its status. ControllerBusy, naming the holder, if another has the lock."""
    import ray

    from mlops.cluster.session import ray_session

    name, applied = project.spec.name, applied_project(project)
    target = controller_cluster(project, address)
    with ray_session(project.spec.hardware.cluster, target, project.spec.hardware.local_cpus):
        actor = _find(name)
        status = ray.get(actor.status.remote(), timeout=120) if actor is not None else None
        if status is not None and not (status["running"] and status["spec_hash"] == applied_hash(applied)):
            # A new spec means a new actor: Ray restarts an actor with its creation arguments, so a spec
            # handed over later would be forgotten at the next crash.
            _stop_on(None, [name])
            status = None
        if status is None:
            options = dict(name=actor_name(name), namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                           max_restarts=-1, max_task_retries=-1, max_concurrency=8, num_cpus=0)
            actor = ray.remote(ControllerActor).options(**options).remote(applied, os.getcwd())
            status = ray.get(actor.status.remote(), timeout=180)
        if not status["running"] and status.get("refused"):
            ray.kill(actor, no_restart=True)
            raise ControllerBusy(name, status["refused"])
        where = ray.get_runtime_context().gcs_address
    _remember(name, status["state_file"], where)
    return {**status, "address": where}


def controller_cluster(project: Any, address: str | None) -> str | None:
    """Where a controller runs: --address or hardware.cluster; else the Ray of this process when it has
    one (None); else mlops' local head, started when none runs (the one `apply` serves from)."""
    import ray

    from mlops.cluster.session import resolve_address

    remote = resolve_address(project.spec.hardware.cluster, address)
    if remote or ray.is_initialized():
        return remote
    from mlops.cluster.local_head import ensure_head

    env: dict[str, str] = {}
    hidden: list[str] = []
    online = project.spec.serving.online if project.spec.serving is not None else None
    if online is not None:  # the head may go on to serve the endpoint: start it as serving would
        from mlops.serving.deploy import serving_env

        env, hidden = serving_env(project), (online.auth.secret_env() if online.auth is not None else [])
    return ensure_head(env, project.spec.hardware.local_cpus, hidden=hidden).gcs


def stop_controller(project: Any, address: str | None = None) -> str:
    """Stop the project's controller (waiting for a tick in progress a little); says what it did."""
    from mlops.cluster.local_head import read_state
    from mlops.cluster.session import resolve_address
    from mlops.errors import MlopsError

    import ray

    name = project.spec.name
    target = resolve_address(project.spec.hardware.cluster, address)
    if target is None and not ray.is_initialized():
        head = read_state()
        target = head.gcs if head is not None else None
    stopped = False
    if target is not None or ray.is_initialized():
        stopped = _stop_on(target, [name])[0]
    _forget(name)
    if stopped:
        return f"stopped the controller of {name}"
    lock = ControllerLock(state_file(project.spec.tracking.uri, project.base_dir, name), name)
    if lock.is_held():
        raise MlopsError(f"the controller of {name} runs elsewhere ({lock.holder()}); stop it there "
                         f"(`mlops monitor SPEC --stop --address ADDRESS`)")
    return f"no controller of {name} runs"


def stop_with_endpoints(name: str | None) -> list[str]:
    """Stop the controllers started from here of the endpoints `mlops stop` stops (all when `name` is None)."""
    from mlops.cluster.local_head import read_state

    index = _index()
    names = [n for n in ([name] if name else list(index)) if n in index]
    head = read_state()
    if not names or head is None:
        return []
    if [app for app in head.apps if app not in names]:  # else the head stops with every actor on it
        _stop_on(head.gcs, names)
    for each in names:
        _forget(each)
    return names


def controller_status(name: str, *, state_path: str | Path | None = None) -> dict[str, Any] | None:
    """Whether the controller of `name` runs (its lock is held), its last and next tick, its last decision and
    why, its recent errors; None when no controller of `name` was started from here (and no state_path)."""
    path = Path(state_path) if state_path else _index().get(name, {}).get("state_file")
    if path is None or not Path(path).is_file():
        return None
    state = load_state(Path(path), name)
    lock = ControllerLock(Path(path), name)
    running = lock.is_held()
    overdue = bool(state.next_tick and time.time() > state.next_tick + max(2 * (state.tick_s or 0), 10))
    late = running and overdue and state.running_tick is None  # a long tick (a retrain) in progress is not late
    return {"name": name, "running": running, "holder": lock.holder() if running else None, "late": late,
            "started": state.started, "restarts": state.restarts, "stopped": state.stopped, "tick_s": state.tick_s,
            "ticks": state.ticks, "last_tick": state.last_tick_at, "next_tick": state.next_tick if running else None,
            "ticking_since": state.running_tick if running else None,
            "decision": state.decision, "reason": state.reason, "decided_at": state.decided_at,
            "errors": state.errors[-3:], "state_file": str(path), "drivers": state.drivers}


def started_here() -> dict[str, dict[str, Any]]:
    """controller_status of every controller started from this directory (`.mlops/controllers.json`)."""
    found = {name: controller_status(name) for name in _index()}
    return {name: status for name, status in found.items() if status is not None}


def _find(name: str) -> Any:
    import ray

    try:
        return ray.get_actor(actor_name(name), namespace=NAMESPACE)
    except ValueError:  # no such actor on this cluster
        return None


def _stop_on(address: str | None, names: list[str]) -> list[bool]:
    """Stop each named controller on the cluster at `address` (this process' Ray when None)."""
    import ray

    from mlops.cluster.session import ray_session

    done = []
    with ray_session("local", address):
        for name in names:
            actor = _find(name)
            if actor is not None:
                try:
                    ray.get(actor.stop.remote(), timeout=30)
                except Exception as exc:  # noqa: BLE001 - a controller that cannot stop cleanly is killed all the same
                    log.warning("controller of %s did not stop cleanly: %s", name, exc)
                ray.kill(actor, no_restart=True)
                _wait_released(name, actor)
            done.append(actor is not None)
    return done


def _wait_released(name: str, killed: Any, timeout: float = 30.0) -> None:
    """Until the killed actor no longer holds its name: ray.kill returns before the GCS has marked it dead,
    and meanwhile a get_if_exists creation with that name hands back the dying actor (an apply that replaced
    its controller then failed with 'killed by ray.kill', seen once in a CI run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _find(name)
        if found is None or found._actor_id != killed._actor_id:
            return
        time.sleep(0.1)


def _index() -> dict[str, dict[str, Any]]:
    return read_state(INDEX_FILE)


def _write_index(data: dict[str, Any]) -> None:
    write_state(INDEX_FILE, data)


def _remember(name: str, path: str, address: str) -> None:
    _write_index({**_index(), name: {"state_file": path, "address": address}})


def _forget(name: str) -> None:
    index = _index()
    if index.pop(name, None) is not None:
        _write_index(index)
