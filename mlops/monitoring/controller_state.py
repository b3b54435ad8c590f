"""The controller's memory and its lock: a JSON state file and a lock file beside the project's node cache.

The state says what `mlops status` shows (who holds the controller, its last and next tick, the last
decision and why, recent errors) and lets a restarted controller resume: the time of the last tick that
finished is recorded, and the ticks missed while nothing ran are collapsed into one (schedule.last_due).

The lock is an flock on `<name>.lock`, held for as long as a controller runs: the kernel releases it when
its process dies (kill -9, a lost node), so a crash never leaves a stale lock, and a second controller for
the same project (another cluster, a `mlops monitor --watch` in a terminal) is refused with the holder's
name, which the lock file records. No Ray here: the tick's bookkeeping is plain functions of `now`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mlops.errors import MlopsError
from mlops.monitoring.state_files import read_state, write_state

log = logging.getLogger("mlops.controller")

KEEP_ERRORS = 20  # the most recent duty errors kept in the state file
KEEP_TICKS = 50  # the most recent ticks kept (when scheduled, when run, how many were collapsed into it)

Duty = Callable[[Any, "ControllerState", float], Sequence[dict]]  # duty(project, state, now) -> events


class ControllerBusy(MlopsError):
    """Another controller holds the project's lock; the message names it."""

    def __init__(self, name: str, holder: str):
        self.holder = holder
        super().__init__(f"a controller for {name} already runs ({holder}); stop it first with "
                         f"`mlops monitor SPEC --stop`, or see `mlops status`")


@dataclass
class ControllerState:
    """What the state file holds (times are epoch seconds)."""

    name: str
    holder: str | None = None  # who runs the controller now (see holder_name)
    actor_id: str | None = None  # the Ray actor's id, which a restart keeps: how a restart is told from a start
    pid: int | None = None  # the holder's process (on the host in `holder`)
    started: float | None = None  # when the running controller started (first start, not a restart)
    restarts: int = 0  # times it was restarted since then (its process died and Ray started it again)
    stopped: float | None = None  # set by a clean stop; None while it runs or after a crash
    tick_s: float | None = None
    spec_hash: str | None = None  # of the spec it works from (controller.applied_hash), to skip an unchanged update
    ticks: int = 0
    last_tick: float | None = None  # the scheduled time of the last tick that finished
    last_tick_at: float | None = None  # when it finished
    next_tick: float | None = None
    running_tick: float | None = None  # the scheduled time of a tick in progress (left set by a crash mid-tick)
    decision: str | None = None  # the last decision a duty took, and why
    reason: str | None = None
    decided_at: float | None = None
    errors: list[dict] = field(default_factory=list)  # {at, duty, error}, newest last
    tick_log: list[dict] = field(default_factory=list)  # {scheduled, at, collapsed}, newest last
    duties: dict[str, dict] = field(default_factory=dict)  # duty name -> {runs, failures, last_ok, last_error}
    drivers: dict | None = None  # the last traffic explanation's drivers against training's (traffic_explanations)

    def to_dict(self) -> dict[str, Any]:
        """As the state file keeps it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> "ControllerState":
        """Read back; unknown keys (a newer mlops) are ignored, missing ones defaulted."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "name": name})


def state_file(tracking_uri: str, base_dir: Path, name: str) -> Path:
    """`<store folder>/controller[-<store>]/<name>.json`, beside the node cache (one per store)."""
    from mlops.monitoring.state_files import state_path

    return state_path(tracking_uri, base_dir, "controller", name)


def load_state(path: Path, name: str) -> ControllerState:
    """The recorded state; a fresh one when there is none or it is unreadable (a damaged file must not
    stop the controller: it then runs the next tick as if it never ran)."""
    data = read_state(path)
    return ControllerState.from_dict(name, data) if data else ControllerState(name)


def save_state(path: Path, state: ControllerState) -> None:
    """Write the state atomically (a crash mid-write leaves the previous file)."""
    write_state(path, state.to_dict())


def holder_name(kind: str, detail: str = "") -> str:
    """How a holder is named to a person: what it is, its process and host (and where it runs)."""
    where = f", {detail}" if detail else ""
    return f"{kind} pid {os.getpid()} on {socket.gethostname()}{where}"


class ControllerLock:
    """The one-controller-per-project lock (an flock the kernel drops when its holder dies)."""

    def __init__(self, path: Path, name: str):
        self.path = Path(path).with_suffix(".lock")
        self.name = name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """This object holds the lock."""
        return self._fd is not None

    def acquire(self, holder: str) -> None:
        """Take the lock at once, recording `holder`; ControllerBusy naming the current holder if taken."""
        import fcntl

        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ControllerBusy(self.name, self.holder() or "holder unknown") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (the holder line stays, for the record, until the next holder writes its own)."""
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> str | None:
        """The holder recorded in the lock file (the last one, if nobody holds it now)."""
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def is_held(self) -> bool:
        """Someone (maybe this object) holds the lock now; probed without keeping it."""
        import fcntl

        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's shared lock, if it got one
        return False



@contextlib.contextmanager
def holding(path: Path, name: str, holder: str) -> Iterator[ControllerLock]:
    """The project's lock held for the `with` block (ControllerBusy, naming the holder, if taken)."""
    lock = ControllerLock(path, name)
    lock.acquire(holder)
    try:
        yield lock
    finally:
        lock.release()


def due_tick(state: ControllerState, tick_s: float, now: float) -> float | None:
    """The scheduled time of the tick to run now, or None: every tick missed since the last one that
    finished is collapsed into one (the latest). A tick a crash interrupted was never recorded as
    finished, so it is among those collapsed: it runs again, once."""
    from mlops.monitoring.schedule import last_due

    return last_due({"every": tick_s}, state.last_tick, now)


def begin_tick(state: ControllerState, scheduled: float, now: float) -> int:
    """Mark the tick at `scheduled` as running; returns how many scheduled ticks it stands for (missed ones)."""
    collapsed = 1
    if state.last_tick is not None and state.tick_s:
        collapsed = max(1, int(round((scheduled - state.last_tick) / state.tick_s)))
    state.running_tick = scheduled
    return collapsed


def run_duties(duties: Sequence[tuple[str, Duty]], project: Any, state: ControllerState, now: float) -> list[dict]:
    """Run each duty in turn; one that raises is logged and recorded, and the next one runs all the same.
    Each event a duty returns that carries a `decision` becomes the state's last decision (with its reason)."""
    events: list[dict] = []
    for name, duty in duties:
        record = state.duties.setdefault(name, {"runs": 0, "failures": 0, "last_ok": None, "last_error": None})
        record["runs"] += 1
        try:
            produced = _events(duty(project, state, now))
        except Exception as exc:  # noqa: BLE001 - one failing duty must not stop the others, nor the loop
            log.exception("controller duty %s failed", name)
            message = f"{type(exc).__name__}: {exc}"
            record["failures"] += 1
            record["last_error"] = message
            state.errors = [*state.errors, {"at": now, "duty": name, "error": message}][-KEEP_ERRORS:]
            continue
        record["last_ok"] = now
        for event in produced:
            event.setdefault("duty", name)
            if event.get("decision"):
                state.decision, state.reason, state.decided_at = event["decision"], event.get("reason"), now
        events += produced
    return events


def _events(returned: Any) -> list[dict]:
    """A duty's events as a list of dicts (a duty may return one event, a list, or nothing)."""
    if returned is None:
        return []
    items = [returned] if isinstance(returned, dict) else list(returned)
    return [dict(item) for item in items if isinstance(item, dict)]


def finish_tick(state: ControllerState, scheduled: float, collapsed: int, now: float, tick_s: float) -> None:
    """Record the tick at `scheduled` as done (it is never run again) and when the next one is due."""
    state.ticks += 1
    state.last_tick, state.last_tick_at, state.running_tick = scheduled, now, None
    state.tick_s = tick_s
    state.next_tick = scheduled + tick_s
    state.tick_log = [*state.tick_log, {"scheduled": scheduled, "at": now, "collapsed": collapsed}][-KEEP_TICKS:]
