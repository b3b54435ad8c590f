"""Connecting to Ray: an embedded local instance by default, or an existing cluster by address."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from mlops.errors import MlopsError


def resolve_address(cluster: str, address: str | None) -> str | None:
    """--address wins over hardware.cluster; 'local' means start an embedded Ray."""
    chosen = address or cluster
    return None if chosen in (None, "", "local") else chosen


@contextmanager
def ray_session(cluster: str = "local", address: str | None = None, local_cpus: int | None = None) -> Iterator[None]:
    """Use the Ray already initialized in this process, else start/connect one and shut it down after."""
    import ray

    if ray.is_initialized():
        yield
        return
    target = resolve_address(cluster, address)
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if target is None:
            ray.init(num_cpus=local_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=True,
                     configure_logging=True)
        else:
            ray.init(address=target, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"--address {address}" if address else f"hardware.cluster={cluster!r}"
        raise MlopsError(f"cannot connect to Ray at {target} ({where}): {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


def cluster_nodes() -> list[dict[str, float]]:
    """Total resources of each alive node (CPU, GPU, memory in bytes)."""
    import ray

    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]
