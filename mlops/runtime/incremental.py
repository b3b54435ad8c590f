"""Which nodes of a plan must run, and which finished outputs can be reused (Kedro-style: a filter over
the plan). A node is reused when an output recorded under its hash is still there; a node runs when
something that must run needs its output and none is recorded. The sinks (batch scoring, deployment,
or registration) are what the spec asks for."""
from __future__ import annotations

from typing import Any, Iterable

from mlops.dotted import flatten
from mlops.errors import elide
from mlops.plan import Node, Plan
from mlops.runtime.cached_outputs import cached_output
from mlops.runtime.node_cache import NodeCache


def descendants(plan: Plan, roots: Iterable[str]) -> set[str]:
    """The roots and every node downstream of them."""
    found = set(roots)
    for node in plan.nodes:  # topological order: inputs come first
        if any(i in found for i in node.upstream):
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


def is_reusable(node: Node, cache: NodeCache, state: dict[str, Any]) -> bool:
    """An output recorded under the node's hash is still there (and, for an endpoint, still serving)."""
    return cached_output(node).find(node, cache, state)


def needed(plan: Plan, reusable: set[str]) -> set[str]:
    """The nodes to run: each sink without a reusable output (and each node whose output is held outside the
    plan, a registered version, when it is gone), and what they need that has none."""
    consumers = {i for node in plan.nodes for i in node.upstream}
    by_id = {n.id: n for n in plan.nodes}
    run: set[str] = set()

    def need(node_id: str) -> None:
        if node_id in run or node_id in reusable:
            return
        run.add(node_id)
        for upstream in by_id[node_id].upstream:
            need(upstream)

    for node in plan.nodes:
        if node.id not in consumers or cached_output(node).held_outside:
            need(node.id)
    return run


def reused_output(node: Node, cache: NodeCache, state: dict[str, Any]) -> tuple[bool, Any]:
    """(True, output) of a reusable node, read back; (False, None) when the entry turns out damaged."""
    return cached_output(node).reuse(node, cache, state)


def entry_for(node: Node, output: Any) -> dict[str, Any]:
    """What the state records of a finished node: enough to explain a change and to find its output."""
    return cached_output(node).entry(node, output)


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
    return elide(repr(value) if isinstance(value, str) else str(value), 60)


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
            reasons += _why_changed(node, entry, out)
        else:
            reasons.append(cached_output(node).why_rerun)
        out[node.id] = {"action": "run", "reasons": reasons}
    return out


def _why_changed(node: Node, entry: dict[str, Any], actions: dict[str, dict[str, Any]]) -> list[str]:
    """Why a node recorded under another hash runs: its params, its inputs' names, or what it reads changed."""
    reasons = _changes(entry.get("params", {}), node.params)
    before = entry.get("inputs")
    if not isinstance(before, dict):  # recorded by an mlops whose plans listed inputs by position
        reasons.append("recorded before node inputs were named (plan format 3): runs once")
    elif before != node.inputs:
        reasons.append(f"inputs: {_short(before)} -> {_short(node.inputs)}")
    if reasons:
        return reasons
    upstream = [i for i in node.upstream if actions.get(i, {}).get("action") == "run"
                and actions[i]["reasons"] != ["not needed"]]
    return [f"upstream changed ({', '.join(upstream)})" if upstream else "upstream changed"]
