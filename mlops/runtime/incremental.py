"""Which nodes of a plan must run, and which finished outputs can be reused (Kedro-style: a filter over
the plan). A node is reused when an output recorded under its hash is still there; a node runs when
something that must run needs its output and none is recorded. The sinks (batch scoring, deployment,
or registration) are what the spec asks for."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from mlops.dotted import flatten
from mlops.plan import Node, Plan
from mlops.plan.kinds import kind_of
from mlops.runtime.node_cache import NodeCache


def descendants(plan: Plan, roots: Iterable[str]) -> set[str]:
    """The roots and every node downstream of them."""
    found = set(roots)
    for node in plan.nodes:  # topological order: inputs come first
        if any(i in found for i in node.inputs):
            found.add(node.id)
    return found


def forced(plan: Plan, force: bool | str | None) -> set[str]:
    """--force: every node; --force NODE: that node and everything downstream."""
    if not force:
        return set()
    if force is True:
        return {n.id for n in plan.nodes}
    from mlops.errors import MlopsError, did_you_mean

    ids = [n.id for n in plan.nodes]
    if force not in ids:
        hint = did_you_mean(str(force), ids)
        raise MlopsError(f"--force {force}: no such node in this plan (nodes: {', '.join(ids)})" + (f"; {hint}" if hint else ""))
    return descendants(plan, [force])


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


def is_reusable(node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
    """An output recorded under the node's hash is still there (and, for an endpoint, still serving)."""
    how = kind_of(node.kind).cache
    if how in ("pickle", "registry"):  # a registration is kept by hash too: any earlier apply's counts
        return cache.has(node.hash)
    entry = recorded(state, node)
    if entry is None or "output" not in entry:
        return False
    if how == "output":
        return file_stat(output_path(node)) == entry.get("stat")
    if how == "endpoint":
        from mlops.serving.deploy import endpoint_unchanged

        return endpoint_unchanged(node, entry["output"]["version"])
    return False


def needed(plan: Plan, reusable: set[str]) -> set[str]:
    """The nodes to run: each sink without a reusable output, and what they need that has none."""
    consumers = {i for node in plan.nodes for i in node.inputs}
    by_id = {n.id: n for n in plan.nodes}
    run: set[str] = set()

    def need(node_id: str) -> None:
        if node_id in run or node_id in reusable:
            return
        run.add(node_id)
        for upstream in by_id[node_id].inputs:
            need(upstream)

    for node in plan.nodes:
        if node.id not in consumers:
            need(node.id)
    return run


def reused_output(node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
    """(True, output) of a reusable node, read back; (False, None) when the entry turns out damaged."""
    how = kind_of(node.kind).cache
    if how == "pickle":
        return cache.get(node.hash)
    if how == "registry":
        from dataclasses import replace

        ok, registration = cache.get(node.hash)
        # A settled decision was carried out by an earlier apply; an unsettled one is this apply's to finish.
        return ok, replace(registration, promoted=registration.promoted and not registration.settled) if ok else None
    output = recorded(state, node)["output"]
    if how == "output":
        from mlops.stages.batch_predict import BatchResult

        return True, BatchResult(**output)
    from mlops.serving.deploy import Deployed

    return True, Deployed(**output)


def entry_for(node: Node, output: Any) -> dict[str, Any]:
    """What the state records of a finished node: enough to explain a change and to find its output."""
    entry: dict[str, Any] = {"hash": node.hash, "kind": node.kind, "params": node.params, "inputs": list(node.inputs)}
    how = kind_of(node.kind).cache
    if how in ("registry", "output", "endpoint"):
        entry["output"] = asdict(output)
    if how == "output":
        entry["stat"] = file_stat(output_path(node))
    return entry


def output_path(node: Node) -> Path:
    """A batch node's output file (relative outputs are relative to the project, wherever it now is)."""
    out = Path(node.params["output"])
    return out if out.is_absolute() else Path(node.runtime["base_dir"]) / out


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between a node's recorded params and its params now, in the user's terms (the recorded
    ones are redacted: both sides are compared, and shown, with secrets hidden)."""
    from mlops.redact import redact

    before, after = flatten(redact(old)), flatten(redact(new))
    out = []
    fingerprints = ("fingerprint", "input_fingerprint")
    if any(k.startswith(fingerprints) and before.get(k) != after.get(k) for k in {*before, *after}):
        out.append("input data changed")
    for key in sorted({*before, *after}):
        if key.startswith(fingerprints) or before.get(key) == after.get(key):
            continue
        if key.startswith("code."):
            out.append(f"{key[5:]} {before.get(key, 'none')} -> {after.get(key, 'none')}")
        else:
            out.append(f"{key}: {_short(before.get(key, '(unset)'))} -> {_short(after.get(key, '(unset)'))}")
    return out


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def explain(plan: Plan, cache: NodeCache, state: dict[str, Any], force: bool | str | None = None) -> dict[str, dict[str, Any]]:
    """Per node: {"action": "run" | "cached", "reasons": [...]}: what apply would do now, and why."""
    rerun = forced(plan, force)
    reusable = {n.id for n in plan.nodes if n.id not in rerun and is_reusable(n, cache, state)}
    run = needed(plan, reusable)
    out: dict[str, dict[str, Any]] = {}
    for node in plan.nodes:
        if node.id not in run:
            out[node.id] = {"action": "cached", "reasons": []}
            continue
        entry = state.get("nodes", {}).get(node.id)
        reasons: list[str] = []
        if node.id in rerun:
            reasons.append("--force")
        elif entry is None:
            reasons.append("never applied")
        elif entry.get("hash") != node.hash:
            reasons += _changes(entry.get("params", {}), node.params)
            upstream = [i for i in node.inputs if out.get(i, {}).get("action") == "run" and out[i]["reasons"] != ["not needed"]]
            if upstream and not reasons:
                reasons.append(f"upstream changed ({', '.join(upstream)})")
            elif not reasons:
                reasons.append("upstream changed")
        else:
            how = kind_of(node.kind).cache
            reasons.append({"endpoint": "endpoint not running with these settings", "output": "output file missing or changed",
                            "none": "not kept between applies", "pickle": "output not in the cache"}.get(how, "output missing"))
        out[node.id] = {"action": "run", "reasons": reasons}
    return out
