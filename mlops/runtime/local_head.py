"""A persistent local Ray head that mlops starts for endpoints that must outlive the command.

An embedded Ray dies with the process that started it; `mlops serve --detach` and `mlops apply` with an
online endpoint need the endpoint to keep running. They start `ray start --head --block` in its own
process session and record it in `.mlops/ray-head.json` (in the working directory), so later commands
(`status`, `predict`, `promote`, `rollback`, `stop`) find it. Token authentication stays on: the
client side sends the token Ray writes to ~/.ray/auth_token.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

STATE_FILE = Path(".mlops") / "ray-head.json"


@dataclass
class HeadState:
    gcs: str
    pid: int
    metrics_port: int
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # app name -> {spec, overrides, url}

    def save(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """True for a running process; a zombie (killed, not yet reaped) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def read_state() -> HeadState | None:
    """The recorded head, if its process is still alive."""
    if not STATE_FILE.is_file():
        return None
    state = HeadState(**json.loads(STATE_FILE.read_text()))
    return state if alive(state.pid) else None


def start_head(env: dict[str, str], num_cpus: int | None = None, timeout_s: float = 90) -> HeadState:
    """Start `ray start --head --block` detached from this process, wait until it accepts clients."""
    gcs_port, metrics_port, agent_port = free_port(), free_port(), free_port()
    ray_bin = str(Path(sys.executable).parent / "ray")
    # Ray's default agent port (52365) is taken by any other Ray on this machine; the head would then
    # run without a working agent. A free one keeps heads independent.
    cmd = [ray_bin, "start", "--head", "--block", f"--port={gcs_port}", f"--metrics-export-port={metrics_port}",
           f"--dashboard-agent-listen-port={agent_port}", "--include-dashboard=false", "--disable-usage-stats"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    log = open(STATE_FILE.parent / "ray-head.log", "ab")
    child_env = {**os.environ, **env, "RAY_USAGE_STATS_ENABLED": "0"}
    child_env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(cmd, env=child_env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MlopsError(f"`ray start --head` exited with {proc.returncode}; see {STATE_FILE.parent / 'ray-head.log'}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", gcs_port)) == 0:
                break
        time.sleep(0.5)
    else:
        stop_head(HeadState(f"127.0.0.1:{gcs_port}", proc.pid, metrics_port))
        raise MlopsError("the local Ray head did not start in time")
    state = HeadState(f"127.0.0.1:{gcs_port}", proc.pid, metrics_port)
    state.save()
    return state


def ensure_head(env: dict[str, str], num_cpus: int | None = None) -> HeadState:
    return read_state() or start_head(env, num_cpus)


def _descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def stop_head(state: HeadState) -> None:
    """Kill the head's whole process group at once and forget it (`ray start --block` would otherwise
    tear Serve down step by step, which takes tens of seconds)."""
    doomed = [state.pid, *_descendants(state.pid)]  # some (HAProxy under Serve) leave the process group
    try:
        os.killpg(state.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    port = state.gcs.rsplit(":", 1)[-1]
    recorded = Path("/tmp/ray/ray_current_cluster")
    if recorded.exists() and recorded.read_text().strip().endswith(f":{port}"):
        recorded.unlink()
    if STATE_FILE.exists():
        STATE_FILE.unlink()
