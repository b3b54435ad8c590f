"""Small JSON state files beside the project's node cache (the store's folder), shared by `mlops monitor`
runs and the always-on controller: the alerts' firing state, the scheduled-scoring ledger.

Files are written atomically and read-modify-written under an advisory lock, so a CLI run and the
controller never lose each other's updates; a damaged file reads as empty state (monitoring goes on)."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

from mlops.files import write_atomic


def state_path(tracking_uri: str, base_dir: Path, kind: str, name: str) -> Path:
    """`<store folder>/<kind>[-<store>]/<name>.json`: beside the node cache, one per store like the cache."""
    from mlops.runtime.node_cache import cache_dir

    cache = cache_dir(tracking_uri, Path(base_dir))
    return cache.parent / cache.name.replace("node-cache", kind, 1) / f"{name}.json"


def read_state(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; {} when missing or unreadable (a damaged file must not stop monitoring)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # missing, unreadable or half-written by a crashed older writer
        return {}
    return data if isinstance(data, dict) else {}


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with `data` as JSON."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=str))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `<path>.lock` (one writer at a time on this host)."""
    import fcntl

    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
