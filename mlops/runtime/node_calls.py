"""Calling a node's code: the kinds table's 'module:function' for the node's kind, given the node's inputs
as keyword arguments by the names the node gives them (Kedro's named inputs) and its params. Imports no
Ray: a Ray task (mlops.runtime.execute) and a run in this process (the retrain's holdout) call alike."""
from __future__ import annotations

from typing import Any, Mapping

from mlops.plan import Node, Plan
from mlops.plan.kinds import kind_of
from mlops.plugins import import_reference


def inputs_of(node: Node, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The node's inputs by name, from the outputs (by node id) of the nodes they come from."""
    return {name: outputs[source] for name, source in node.inputs.items()}


def run_task(node: Node, inputs: Mapping[str, Any]) -> Any:
    """The node's stage function called with its inputs by name and its params: fn(**inputs, params=...)."""
    task = kind_of(node.kind).task
    assert task is not None, f"node kind {node.kind!r} has no task function: it runs in the driver"
    return import_reference(task)(**inputs, params=node.call_params())


def run_here(plan: Plan, *node_ids: str) -> dict[str, Any]:
    """Nodes `node_ids` and every node they need, run in this process in plan order (task nodes only; no
    cache, no Ray): their outputs by node id."""
    outputs: dict[str, Any] = {}
    for node in plan.to_nodes(*node_ids).nodes:
        outputs[node.id] = run_task(node, inputs_of(node, outputs))
    return outputs
