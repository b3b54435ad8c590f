"""Finished nodes' outputs, found again by node hash, and the state of the last apply of each spec.

The cache lives beside the tracking store (a SQLite store's folder; `.mlops/` of the project for other
stores), so a project and its runs move together and two stores never share outputs. Pickled outputs
are written atomically with their sha256 beside them and verified before they are unpickled; a file
that fails the check is a cache miss, never loaded.

The state file (`state/<spec name>.json`) records, per node of the last applied plan, its hash, params
and input hashes, plus what a node kept outside the cache (the registered version, the batch output's
size and time). `mlops plan` reads it to say what changed; `apply` to skip what did not.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from mlops import stores
from mlops.files import write_atomic

STATE_FORMAT = 1


def cache_dir(tracking_uri: str, base_dir: Path) -> Path:
    """Beside a SQLite store's database file; under the project's .mlops/ for any other store."""
    database = stores.sqlite_path(tracking_uri)
    if database is not None:  # two stores in one folder keep separate caches: a cached registration names a version of its own store
        folder = database.resolve().parent
        return folder / ("node-cache" if database.stem == "mlflow" else f"node-cache-{database.stem}")
    return Path(base_dir).resolve() / ".mlops" / "node-cache"


class NodeCache:
    """Pickled node outputs and per-spec state under one folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _paths(self, node_hash: str) -> tuple[Path, Path]:
        base = self.root / "outputs" / node_hash[:2] / node_hash
        return base.with_suffix(".pkl"), base.with_suffix(".sha256")

    def has(self, node_hash: str) -> bool:
        """An output and its digest are stored under `node_hash` (not yet verified)."""
        data, digest = self._paths(node_hash)
        return data.is_file() and digest.is_file()

    def get(self, node_hash: str) -> tuple[bool, Any]:
        """(True, output) for a verified entry; (False, None) for a missing or damaged one."""
        data_path, digest_path = self._paths(node_hash)
        try:
            data, expected = data_path.read_bytes(), digest_path.read_text().strip()
        except OSError:
            return False, None
        if hashlib.sha256(data).hexdigest() != expected:
            return False, None  # truncated or altered: recompute, never unpickle it
        return True, pickle.loads(data)

    def put(self, node_hash: str, output: Any) -> None:
        """Store `output` pickled under `node_hash`, with its sha256 written last."""
        data_path, digest_path = self._paths(node_hash)
        data = pickle.dumps(output, protocol=pickle.HIGHEST_PROTOCOL)
        write_atomic(data_path, data)
        write_atomic(digest_path, hashlib.sha256(data).hexdigest().encode())  # last: an entry counts once both exist

    def _state_path(self, name: str) -> Path:
        return self.root / "state" / f"{name}.json"

    def read_state(self, name: str) -> dict[str, Any]:
        """The last applied state of spec `name` ({} when none, or unreadable: then everything reruns)."""
        try:
            state = json.loads(self._state_path(name).read_text())
        except (OSError, ValueError):
            return {}
        return state if state.get("format") == STATE_FORMAT else {}

    def write_state(self, name: str, state: dict[str, Any]) -> None:
        """Record `state` as the last applied state of spec `name` (atomically), secrets in params hidden."""
        from mlops.redact import redact

        write_atomic(self._state_path(name), json.dumps({**redact(state), "format": STATE_FORMAT}, indent=1, default=str))


class ApplyLock:
    """One apply of a plan at a time on one store (a file lock, so across processes). The second waits,
    then finds the first one's work done; after `timeout_s` it gives up naming the holder."""

    def __init__(self, root: Path, name: str, plan_hash: str, timeout_s: float | None = None):
        self.path = Path(root) / "locks" / f"{name}-{plan_hash}.lock"
        self.timeout_s = float(os.environ.get("MLOPS_LOCK_TIMEOUT_S", 3600)) if timeout_s is None else timeout_s
        self._fd: int | None = None

    def __enter__(self) -> "ApplyLock":
        import fcntl
        import time

        from mlops.errors import MlopsError

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # the store's folder (a SQLite store's, where the cache lives beside it)
            raise MlopsError(f"tracking.uri: cannot write the node cache at {self.path.parents[1]}, beside the store "
                             f"({exc.strerror or exc}); point tracking.uri at a folder this user can write") from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise MlopsError(f"another apply of this plan holds {self.path} (pid {holder}); waited "
                                     f"{self.timeout_s:g}s. If no such process runs, delete the file") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
