"""Connecting to Ray: an existing cluster by address; else mlops' local head when it runs (one Ray for
every command: `mlops up`, or an online endpoint, started it); else an embedded local instance."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mlops.errors import MlopsError
from mlops.cluster.access import LOOPBACK, is_loopback, reach_loopback_head, secure_this_process


def resolve_address(cluster: str, address: str | None) -> str | None:
    """--address wins over hardware.cluster; 'local' means start an embedded Ray."""
    chosen = address or cluster
    return None if chosen in (None, "", "local") else chosen


# Called once per process with the head's address when a command runs on mlops' local head instead of its
# own Ray: the command line prints it (mlops.cli.main sets it); a library caller is not written to.
on_local_head: Callable[[str], None] | None = None
_announced: set[str] = set()


@contextmanager
def ray_session(cluster: str = "local", address: str | None = None, local_cpus: int | None = None, *,
                local_head: bool = True) -> Iterator[None]:
    """Use the Ray already initialized in this process (a test session's shared one), else connect to the
    cluster named (--address, hardware.cluster, RAY_ADDRESS), else to mlops' local head of this directory
    when it runs (unless `local_head` is False: a caller that must own its Ray), else start an embedded Ray
    (`local_cpus` applies to it only); shut it down, or disconnect, after."""
    import ray

    if ray.is_initialized():
        yield
        return
    target = resolve_address(cluster, address)
    if target is None and os.environ.get("RAY_ADDRESS"):
        target = os.environ["RAY_ADDRESS"]  # inside a Ray job: use the cluster that runs it
    on_head = False
    if target is None and local_head:
        target = local_head_address()
        on_head = target is not None
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if target is None:
            start_embedded(local_cpus)
        else:
            if on_head or _is_our_head(target):  # started loopback-only: its clients must not dial the machine's address
                reach_loopback_head()
            use_cluster_token()
            check_listening(target)
            ray.init(address=target, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"--address {address}" if address else f"hardware.cluster={cluster!r}"
        if on_head:
            where = "mlops' local head, recorded in .mlops/ray-head.json; `mlops down` stops it"
        raise MlopsError(f"cannot connect to Ray at {target} ({where}): {exc}") from None
    if on_head:
        _announce(target)
    try:
        yield
    finally:
        ray.shutdown()


def local_head_address() -> str | None:
    """The GCS address of mlops' local head of this directory when it runs: a command that would start its
    own Ray (seconds, and a second Ray beside the head on the same cores) runs there instead. A state file
    mlops cannot read is left to `mlops status`/`stop` to report: this command starts its own Ray."""
    from mlops.cluster.local_head import read_state

    try:
        head = read_state()
    except MlopsError:
        return None
    return head.gcs if head is not None else None


def _announce(address: str) -> None:
    if on_local_head is not None and address not in _announced:
        _announced.add(address)
        on_local_head(address)


GCS_CONNECT_TIMEOUT_S = 5.0  # Ray's own client waits about two minutes for a GCS that is not there


def check_listening(target: str) -> None:
    """Something listens at a `host:port` (or `ray://host:port`) address, or a ConnectionError within
    seconds; other forms ("auto") are left to Ray."""
    import socket

    address = target.split("://", 1)[-1]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=GCS_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else \
            f"no answer within {GCS_CONNECT_TIMEOUT_S:g} s" if isinstance(exc, socket.timeout) else str(exc)
        raise ConnectionError(f"nothing listens there ({reason}): is the cluster running?") from None


def _is_our_head(target: str) -> bool:
    """The persistent head mlops started (recorded in .mlops/ray-head.json). Another Ray on a loopback
    address may be a cluster started by hand, which Ray's usual node addressing must reach."""
    from mlops.errors import MlopsError
    from mlops.cluster.local_head import read_state

    try:
        head = read_state()
    except MlopsError:
        return False
    return head is not None and head.gcs == target and is_loopback(target)


def start_embedded(num_cpus: int | None = None) -> None:
    """A fresh Ray in this process (address="local": never a cluster that `ray start` left behind), on
    loopback with token auth like every Ray mlops starts (see mlops.cluster.access)."""
    import ray

    secure_this_process()
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=True,
             configure_logging=True, _node_ip_address=LOOPBACK)


def use_cluster_token() -> bool:
    """Send the cluster token when one is available and RAY_AUTH_MODE is unset (as `ray job submit` does)."""
    if os.environ.get("RAY_AUTH_MODE"):
        return os.environ["RAY_AUTH_MODE"].lower() == "token"
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if not (os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file()):
        return False
    from ray._private.authentication.authentication_token_setup import _enable_token_auth

    _enable_token_auth()  # sets RAY_AUTH_MODE=token and refreshes Ray's cached config in this process
    return True


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of each alive node (CPU, GPU, memory in bytes)."""
    import ray

    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]
