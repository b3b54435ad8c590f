"""The always-on controller itself: a detached, named Ray actor on the cluster that runs the endpoint, ticking.

Each tick runs the project's duties (judge alerts and retraining triggers and retrain, scheduled scoring,
rollout steps); a duty that raises is logged and recorded, and the next one runs. The actor is detached
(it outlives the CLI that started it, a logout, a driver crash) and restarted by Ray when its process dies
(max_restarts=-1); a restarted one resumes from its state file, running the ticks it missed once.

It never reads the spec file: `controller.ensure_controller` hands it the spec as applied (validated and resolved),
and it rebuilds the Project from that. One controller per project: see controller_state.ControllerLock.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from mlops.monitoring.controller_state import (ControllerBusy, ControllerLock, begin_tick,
                                               due_tick, finish_tick, holder_name, load_state, run_duties,
                                               save_state, state_file)

log = logging.getLogger("mlops.controller")

NAMESPACE = "mlops"  # a fixed namespace: a detached actor in a driver's anonymous one could not be found again
RESTART_WAIT_S = 30  # a restarted actor waits this long for its dead predecessor's lock to be dropped


def actor_name(name: str) -> str:
    """The controller actor's name for project `name`."""
    return f"mlops-controller:{name}"


def applied_project(project: Any) -> dict[str, Any]:
    """What the controller rebuilds the project from: the validated spec as applied and where it came from."""
    return {"spec": project.spec.model_dump(mode="json", by_alias=True),
            "spec_file": str(project.config.spec_file), "overrides": list(project.config.overrides)}


def applied_hash(applied: dict[str, Any]) -> str:
    """A digest of what `applied_project` recorded: equal digests, same work for the controller."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(applied, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rebuild_project(applied: dict[str, Any]) -> Any:
    """The Project from `applied_project`'s record (never from the spec file, which may have changed)."""
    from mlops.config import LoadedConfig
    from mlops.project import Project
    from mlops.spec import Spec

    spec = Spec.model_validate(applied["spec"])
    return Project(spec, LoadedConfig(applied["spec"], Path(applied["spec_file"]), list(applied["overrides"])))


def tick_of(project: Any) -> float:
    """The spec's controller tick in seconds (monitoring.controller.tick)."""
    from mlops.spec.monitoring import MonitoringSpec

    return (project.spec.monitoring or MonitoringSpec()).controller.tick


class ControllerActor:
    """The actor's body (wrapped with ray.remote when started): a thread runs the tick loop."""

    def __init__(self, applied: dict[str, Any], cwd: str | None = None):
        import ray

        if cwd and os.path.isdir(cwd):  # where `.mlops/ray-head.json` is: following the alias reads it
            os.chdir(cwd)
        self._project, self._hash = rebuild_project(applied), applied_hash(applied)
        self._name = self._project.spec.name
        self._path = state_file(self._project.spec.tracking.uri, self._project.base_dir, self._name)
        self._lock = ControllerLock(self._path, self._name)
        self._holder = holder_name(f"controller actor {actor_name(self._name)}",
                                   f"cluster {ray.get_runtime_context().gcs_address}")
        self._stop, self._wake, self._ticking = threading.Event(), threading.Event(), threading.Lock()
        self.refused: str | None = None
        self._actor_id = ray.get_runtime_context().get_actor_id()
        previous = load_state(self._path, self._name)
        restarted = previous.actor_id == self._actor_id and previous.stopped is None
        self._take_lock(RESTART_WAIT_S if restarted else 0)
        if self._lock.held:
            self._record_start(restarted)
        elif not restarted:
            return  # refused: ensure_controller reads status(), kills this actor and names the holder
        threading.Thread(target=self._loop, name="mlops-controller", daemon=True).start()

    def _take_lock(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._lock.acquire(self._holder)
                self.refused = None
                return
            except ControllerBusy as busy:
                self.refused = busy.holder
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.2)

    def _record_start(self, restarted: bool) -> None:
        state = load_state(self._path, self._name)
        state.holder, state.stopped, state.tick_s = self._holder, None, tick_of(self._project)
        state.spec_hash, state.actor_id, state.pid = self._hash, self._actor_id, os.getpid()
        if restarted:
            state.restarts += 1
            state.started = state.started or time.time()
        else:
            state.started, state.restarts = time.time(), 0
        save_state(self._path, state)
        if restarted:
            log.warning("controller for %s restarted (%d restarts)", self._name, state.restarts)
            _send(self._project, "controller_restarted", f"the controller of {self._name} was restarted "
                  f"(restart {state.restarts}); ticks missed meanwhile run once", restarts=state.restarts)

    def _loop(self) -> None:
        while not self._stop.is_set():
            tick_s = tick_of(self._project)
            try:
                if not self._lock.held:
                    self._take_lock(0)  # a predecessor that outlived the restart wait: keep trying
                    if self._lock.held:
                        self._record_start(True)
                if self._lock.held:
                    self._tick_if_due(tick_s)
            except Exception:  # noqa: BLE001 - the loop outlives anything (a full disk, a damaged file)
                log.exception("controller loop of %s", self._name)
            state = load_state(self._path, self._name)
            wait = (state.next_tick or time.time() + tick_s) - time.time()
            self._wake.wait(timeout=min(max(wait, 0.05), tick_s))
            self._wake.clear()

    def _tick_if_due(self, tick_s: float) -> None:
        with self._ticking:
            now = time.time()
            state = load_state(self._path, self._name)
            scheduled = due_tick(state, tick_s, now)
            if scheduled is None or self._stop.is_set():
                return
            collapsed = begin_tick(state, scheduled, now)
            save_state(self._path, state)  # a crash from here on leaves running_tick set: it shows
            from mlops.monitoring.controller_duties import duties

            run_duties(duties(), self._project, state, now)
            finish_tick(state, scheduled, collapsed, time.time(), tick_s)
            save_state(self._path, state)

    def status(self) -> dict[str, Any]:
        """The state file, plus whether this actor holds the lock (and, if not, who does)."""
        state = load_state(self._path, self._name).to_dict()
        return {**state, "running": self._lock.held, "refused": self.refused, "pid": os.getpid(),
                "spec_hash": self._hash, "state_file": str(self._path)}

    def stop(self, timeout_s: float = 20) -> dict[str, Any]:
        """Stop ticking (waiting up to `timeout_s` for a tick in progress), record the stop, drop the lock."""
        self._stop.set()
        self._wake.set()
        finished = self._ticking.acquire(timeout=timeout_s)
        try:
            if self._lock.held:
                state = load_state(self._path, self._name)
                state.stopped, state.holder, state.next_tick = time.time(), None, None
                save_state(self._path, state)
                self._lock.release()
        finally:
            if finished:
                self._ticking.release()
        return self.status()


def _send(project: Any, kind: str, message: str, **fields: Any) -> None:
    """An event on the project's alert sink; a sink that fails is logged, never raised."""
    from mlops.monitoring import alerts
    from mlops.spec.monitoring import MonitoringSpec

    sink = (project.spec.monitoring or MonitoringSpec()).sink
    try:
        problems = alerts.send_event(sink, project.base_dir, kind, project.spec.name, message, **fields)
    except Exception as exc:  # noqa: BLE001 - an event that cannot be sent must not stop the controller
        problems = [str(exc)]
    for problem in problems:
        log.warning("event %s not delivered: %s", kind, problem)
