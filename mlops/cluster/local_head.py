"""A persistent local Ray head that mlops starts for endpoints that must outlive the command.

An embedded Ray dies with the process that started it; `mlops serve --detach` and `mlops apply` with an
online endpoint need the endpoint to keep running. They start `ray start --head --block` in its own
process session and record it in `.mlops/ray-head.json` (in the working directory), so later commands
(`status`, `predict`, `promote`, `rollback`, `stop`) find it. The head listens on loopback only and
requires the cluster token (mlops.cluster.access); its clients send the token from Ray's token file.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mlops.errors import MlopsError
from mlops.cluster.processes import alive, command_line, descendants, stable_port
from mlops.cluster.access import LOOPBACK, local_ray_env
from mlops.files import write_atomic

STATE_FILE = Path(".mlops") / "ray-head.json"

# The head's environment, which its Serve controller, replicas and tasks inherit, is built from this list,
# never copied whole: an endpoint's bearer token (`serving.online.auth.token_env`) must not reach the
# replicas (they get its sha256), nor must any other secret of the shell that started the head.
# Kept: what Python, Ray and mlops need to run, and what a replica needs to load a model.
HEAD_ENV_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
                  "VIRTUAL_ENV", "CONDA_PREFIX", "LD_LIBRARY_PATH", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                  "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
                  "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
HEAD_ENV_PREFIXES = ("LC_", "PYTHON", "RAY_", "MLOPS_", "MLFLOW_", "AWS_", "GOOGLE_", "AZURE_", "NVIDIA_")
# Secrets a replica needs: the Ray token (or where its file is), the store's
# credentials (an MLflow server, S3/GCS/Azure artifacts) and the signing key (replicas verify what they
# load). Any other variable under the prefixes above whose name says secret (MLOPS_EP_TOKEN) is dropped.
HEAD_SECRETS = {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCESS_KEY", "AZURE_CLIENT_SECRET",
                "AZURE_STORAGE_CONNECTION_STRING", "GOOGLE_APPLICATION_CREDENTIALS", "MLOPS_SIGNING_KEY"}


@dataclass
class HeadState:
    gcs: str
    pid: int
    metrics_port: int
    # app name -> {url, node}: the deploy node each app runs, as deployed (mlops.serving.app_records);
    # promote and rollback redeploy it with the alias' new version, never re-reading the spec
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def save(self) -> None:
        """Write the state atomically: a crash mid-write leaves the old file, never half of one. Owner-only:
        each app's deploy node keeps its store's URI verbatim (credentials included: the replicas need them)."""
        write_atomic(STATE_FILE, json.dumps(asdict(self), indent=2), mode=0o600)


def read_state() -> HeadState | None:
    """The recorded head, if its process is still alive and still that head. A PID alone proves nothing:
    after a reboot it can belong to any process, which `mlops stop` must never signal."""
    if not STATE_FILE.is_file():
        return None
    try:
        state = HeadState(**json.loads(STATE_FILE.read_text()))
    except (ValueError, TypeError) as exc:
        raise MlopsError(f"{STATE_FILE} is not a head state file mlops wrote ({exc}); "
                         f"if no mlops endpoint runs from this directory, delete it") from None
    return state if alive(state.pid) and is_our_head(state) else None


def is_our_head(state: HeadState) -> bool:
    """The process is `ray start --head` on the recorded GCS port."""
    argv = command_line(state.pid)
    port = state.gcs.rsplit(":", 1)[-1]
    return "ray" in argv and " start " in f" {argv} " and "--head" in argv and f"--port={port}" in argv


def head_env(env: dict[str, str], hidden: Iterable[str] = ()) -> dict[str, str]:
    """The head's environment: the kept part of this one (HEAD_ENV_NAMES, HEAD_ENV_PREFIXES less secrets
    other than HEAD_SECRETS), then `env` and Ray's access settings, never a variable named in `hidden`."""
    from mlops.redact import names_a_secret

    def kept(name: str) -> bool:
        if name in HEAD_SECRETS:
            return True
        return (name in HEAD_ENV_NAMES or name.startswith(HEAD_ENV_PREFIXES)) and not names_a_secret(name)

    out = {k: v for k, v in os.environ.items() if kept(k)}
    out.update({**env, **local_ray_env(), "RAY_USAGE_STATS_ENABLED": "0"})
    for name in (*hidden, "RAY_ADDRESS"):
        out.pop(name, None)
    return out


def temp_dir(gcs_port: int | str) -> Path:
    """The head's own temporary root (its sessions, sockets and logs). Not Ray's shared /tmp/ray: there a head
    records itself as the machine's current cluster (ray_current_cluster), which an operator's `ray status`
    and `ray.init(address="auto")` then dial, and which another head started later would take over from this
    one's job supervisor. Short, because Ray's socket paths live under it."""
    return Path(f"/tmp/mlops-ray-{gcs_port}")


def start_head(env: dict[str, str], num_cpus: int | None = None, timeout_s: float = 90,
               hidden: Iterable[str] = ()) -> HeadState:
    """Start `ray start --head --block` detached from this process, wait until it accepts clients. Its
    environment is head_env(env, hidden): `hidden` names variables it must never see (endpoint tokens)."""
    gcs_port, metrics_port, agent_port = stable_port(), stable_port(), stable_port()
    ray_bin = str(Path(sys.executable).parent / "ray")
    # Ray's default agent port (52365) is taken by any other Ray on this machine; the head would then
    # run without a working agent. A free one keeps heads independent.
    cmd = [ray_bin, "start", "--head", "--block", f"--node-ip-address={LOOPBACK}", f"--port={gcs_port}",
           f"--metrics-export-port={metrics_port}", f"--temp-dir={temp_dir(gcs_port)}",
           f"--dashboard-agent-listen-port={agent_port}", "--include-dashboard=false", "--disable-usage-stats"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    log = open(STATE_FILE.parent / "ray-head.log", "ab")
    proc = subprocess.Popen(cmd, env=head_env(env, hidden), stdout=log, stderr=log, start_new_session=True)
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


def ensure_head(env: dict[str, str], num_cpus: int | None = None, hidden: Iterable[str] = ()) -> HeadState:
    """The recorded head when it is still alive; else a newly started one (see start_head)."""
    return read_state() or start_head(env, num_cpus, hidden=hidden)


def stop_head(state: HeadState) -> None:
    """Kill the head's whole process group at once and forget it (`ray start --block` would otherwise
    tear Serve down step by step, which takes tens of seconds)."""
    doomed = [state.pid, *descendants(state.pid)]  # some (HAProxy under Serve) leave the process group
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
    shutil.rmtree(temp_dir(port), ignore_errors=True)
    recorded = Path("/tmp/ray/ray_current_cluster")  # what a head started by an earlier mlops wrote there
    if recorded.exists() and recorded.read_text().strip().endswith(f":{port}"):
        recorded.unlink()
    if STATE_FILE.exists():
        STATE_FILE.unlink()
