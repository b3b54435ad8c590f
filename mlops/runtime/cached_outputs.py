"""How a finished node's output is kept between applies, one object per way (the kinds table names which
a kind uses: `NodeKind.cache`). Each finds an output recorded under a node's hash, reads it back, stores
a new one, says what the apply state records of it, and why a node whose hash was recorded runs again.

The node cache holds pickled outputs by hash; the state (`NodeCache.read_state`) holds, per node of the
last applied plan, an entry: its hash, params, named inputs, and what a node kept outside the cache.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlops.plan import Node
from mlops.plan.kinds import kind_of
from mlops.runtime.node_cache import NodeCache


def recorded(state: dict[str, Any], node: Node) -> dict[str, Any] | None:
    """The state's entry for this node when it was recorded under the same hash."""
    entry = state.get("nodes", {}).get(node.id)
    return entry if entry and entry.get("hash") == node.hash else None


def file_stat(path: Path) -> dict[str, int] | None:
    """The file's size and mtime in nanoseconds; None when it is missing (or cannot be stat'ed)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def output_path(node: Node) -> Path:
    """A batch node's output file (relative outputs are relative to the project, wherever it now is)."""
    out = Path(node.params["output"])
    return out if out.is_absolute() else Path(node.runtime["base_dir"]) / out


class CachedOutput:
    """Base: an output that is not kept (the node runs whenever it is needed)."""

    name = "none"
    why_rerun = "not kept between applies"  # the node's hash was recorded, but its output cannot be found
    records_output = False  # the state entry carries the output itself (it is not in the node cache)
    # The output is held outside the plan (a registered version in the store): when it is gone the node runs,
    # even when nothing downstream has to (sinks run when their output is gone in any case).
    held_outside = False

    def find(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
        """An output recorded under the node's hash is still there."""
        return False

    def reuse(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
        """(True, output) of a found node, read back; (False, None) when it turns out damaged."""
        return False, None

    def store(self, node: Node, cache: NodeCache, output: Any) -> None:
        """Keep a finished node's output (a value, never a Ray reference) for later applies."""

    def entry(self, node: Node, output: Any) -> dict[str, Any]:
        """What the state records of a finished node: enough to explain a change and to find its output."""
        entry = {"hash": node.hash, "kind": node.kind, "params": node.params, "inputs": dict(node.inputs)}
        if self.records_output:
            entry["output"] = asdict(output)
        return entry


class PickledOutput(CachedOutput):
    """The output pickled into the node cache under the node's hash."""

    name = "pickle"
    why_rerun = "output not in the cache"

    def find(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
        return cache.has(node.hash)

    def reuse(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
        return cache.get(node.hash)

    def store(self, node: Node, cache: NodeCache, output: Any) -> None:
        cache.put(node.hash, output)


class RegisteredVersion(PickledOutput):
    """A registered model version: its Registration is kept by hash (any earlier apply's counts), and the
    state names the version. Kept only while the store still holds that version: a user who deletes the
    SQLite store to start over (the node cache beside it stays) gets a new registration, not an apply that
    fails on a version that is gone."""

    name = "registry"
    why_rerun = "registration not in the cache, or its store no longer has it"
    records_output = True
    held_outside = True

    def find(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
        from mlops.stores import store_exists

        # The file check is all `mlops plan` affords (it never imports MLflow); reuse asks the store itself.
        return super().find(node, cache, state) and store_exists(node.runtime["tracking_uri"])

    def reuse(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
        from dataclasses import replace

        ok, registration = cache.get(node.hash)
        if not ok or not _still_registered(node, registration):
            return False, None
        # A settled decision was carried out by an earlier apply; an unsettled one is this apply's to finish.
        return True, replace(registration, promoted=registration.promoted and not registration.settled)


def _still_registered(node: Node, registration: Any) -> bool:
    """The store holds the registration's version, registered by the same run."""
    from mlops.errors import MlopsError
    from mlops.registry import Registry

    try:
        held = Registry(node.runtime["tracking_uri"], create=False).version(node.params["name"], registration.version)
    except MlopsError:
        return False
    return registration.run_id is None or held.run_id == registration.run_id


class WrittenFile(CachedOutput):
    """A file the node wrote, found again while its size and modification time are the recorded ones."""

    name = "output"
    why_rerun = "output file missing or changed"
    records_output = True

    def find(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
        entry = recorded(state, node)
        return entry is not None and "output" in entry and file_stat(output_path(node)) == entry.get("stat")

    def reuse(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
        from mlops.stages.batch_predict import BatchResult

        return True, BatchResult(**recorded(state, node)["output"])

    def entry(self, node: Node, output: Any) -> dict[str, Any]:
        return {**super().entry(node, output), "stat": file_stat(output_path(node))}


class RunningEndpoint(CachedOutput):
    """An endpoint still serving the recorded version with the node's settings."""

    name = "endpoint"
    why_rerun = "endpoint not running with these settings"
    records_output = True

    def find(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
        entry = recorded(state, node)
        if entry is None or "output" not in entry:
            return False
        from mlops.serving.deploy import endpoint_unchanged

        return endpoint_unchanged(node, entry["output"]["version"])

    def reuse(self, node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
        from mlops.serving.deploy import Deployed

        return True, Deployed(**recorded(state, node)["output"])


BY_NAME: dict[str, CachedOutput] = {way.name: way for way in (
    CachedOutput(), PickledOutput(), RegisteredVersion(), WrittenFile(), RunningEndpoint())}


def cached_output(node: Node) -> CachedOutput:
    """How the output of this node's kind is kept."""
    return BY_NAME[kind_of(node.kind).cache]
